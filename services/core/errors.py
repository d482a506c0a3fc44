"""Domain errors.

Every error a use case raises carries a Russian message that a dialog can show
to the person as it is.
"""


class DomainError(Exception):
    """An expected failure of a use case, with a message for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(DomainError):
    """A value the person entered does not meet the rules; ask again."""


class NotFoundError(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""


class AccessDenied(DomainError):
    """The asker has no right to do this at this moment."""


class SessionRequired(DomainError):
    """The person is not signed in (or the session has expired)."""
