"""What the form «Заявление на ЭМК» is started with."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.core.contract import JsonData, Malformed, bool_field, fields_of

__all__ = ["FormStart"]


@dataclass(frozen=True)
class FormStart:
    """`review`: open at the review (to correct a sent application), not at a question."""

    review: bool = False

    def to_data(self) -> JsonData:
        return {"review": self.review}

    @classmethod
    def from_data(cls, data: object) -> FormStart:
        """Anything of another shape (or nothing) opens the form where the draft stands."""
        try:
            return cls(review=bool_field(fields_of(data), "review", False))
        except Malformed:
            return cls()
