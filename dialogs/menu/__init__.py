"""The main menu of a signed-in person, and the sign-in history."""
