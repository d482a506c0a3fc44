"""What the status window «Статус заявки» is started with."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.core.contract import JsonData, Malformed, fields_of, optional_str_field

__all__ = ["StatusStart"]


@dataclass(frozen=True)
class StatusStart:
    """`notice`: a line above the status (why the status is shown instead of the form)."""

    notice: str | None = None

    def to_data(self) -> JsonData:
        return {"notice": self.notice}

    @classmethod
    def from_data(cls, data: object) -> StatusStart:
        """Anything of another shape (or nothing) shows the status without a notice."""
        try:
            return cls(notice=optional_str_field(fields_of(data), "notice"))
        except Malformed:
            return cls()
