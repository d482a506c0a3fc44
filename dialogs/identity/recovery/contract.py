"""What «Восстановить доступ» is started with."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.core.contract import JsonData, Malformed, fields_of, optional_int_field

__all__ = ["RecoveryStart"]


@dataclass(frozen=True)
class RecoveryStart:
    """The account the sign-in had found; without one the login is asked first."""

    account_id: int | None = None

    def to_data(self) -> JsonData:
        return {"account_id": self.account_id}

    @classmethod
    def from_data(cls, data: object) -> RecoveryStart:
        """Anything of another shape (or nothing) starts from the login."""
        try:
            return cls(account_id=optional_int_field(fields_of(data), "account_id"))
        except Malformed:
            return cls()
