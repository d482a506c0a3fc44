"""The embedded chat: patients ask doctors, doctors answer."""
