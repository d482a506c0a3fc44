"""Confirm an action with a one-time code: a sub-dialog that returns {"confirmed": True}."""
