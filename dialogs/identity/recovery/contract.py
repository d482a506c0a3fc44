"""What «Восстановить доступ» is started with."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.core.contract import (
    JsonData,
    Malformed,
    fields_of,
    optional_int_field,
    optional_str_field,
)

__all__ = ["RecoveryStart"]


@dataclass(frozen=True)
class RecoveryStart:
    """The login the sign-in had been given; without one the login is asked first.

    `account_id` is the account it names (None when it names none) and
    `login_ref` stands for the login itself (`AccountRef.login_ref`).
    """

    account_id: int | None = None
    login_ref: str | None = None

    def to_data(self) -> JsonData:
        return {"account_id": self.account_id, "login_ref": self.login_ref}

    @classmethod
    def from_data(cls, data: object) -> RecoveryStart:
        """Anything of another shape (or nothing) starts from the login."""
        try:
            fields = fields_of(data)
            return cls(
                account_id=optional_int_field(fields, "account_id"),
                login_ref=optional_str_field(fields, "login_ref"),
            )
        except Malformed:
            return cls()

    @property
    def known(self) -> bool:
        """Whether a login was given (whether or not it names an account)."""
        return self.login_ref is not None or self.account_id is not None
