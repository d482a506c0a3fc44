"""What the booking dialogs are started with (push buttons, «Перенести», «Выбрать другое время»)."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.core.contract import (
    JsonData,
    Malformed,
    bool_field,
    fields_of,
    optional_int_field,
    optional_str_field,
)

__all__ = ["BookStart", "OfferStart", "VisitsStart"]


@dataclass(frozen=True)
class BookStart:
    """«Записаться к врачу»: from the start, or for a visit being moved or booked again.

    `move_visit_id`: the visit «Перенести» was pressed for (its specialty and doctor
    preselected; the confirmation moves it). `rebook_visit_id`: a visit the clinic
    cancelled (the booking starts at its specialty and doctor). `specialty` and
    `doctor_id` preselect those directly.
    """

    move_visit_id: int | None = None
    rebook_visit_id: int | None = None
    specialty: str | None = None
    doctor_id: int | None = None

    def to_data(self) -> JsonData:
        return {
            "move_visit_id": self.move_visit_id,
            "rebook_visit_id": self.rebook_visit_id,
            "specialty": self.specialty,
            "doctor_id": self.doctor_id,
        }

    @classmethod
    def from_data(cls, data: object) -> BookStart:
        """Anything of another shape (or nothing) starts the booking from the beginning."""
        try:
            fields = fields_of(data)
            return cls(
                move_visit_id=optional_int_field(fields, "move_visit_id"),
                rebook_visit_id=optional_int_field(fields, "rebook_visit_id"),
                specialty=optional_str_field(fields, "specialty"),
                doctor_id=optional_int_field(fields, "doctor_id"),
            )
        except Malformed:
            return cls()


@dataclass(frozen=True)
class VisitsStart:
    """«Мои записи»: the list, or one visit (`visit_id`), or its «Отменить запись?» (`cancel`)."""

    visit_id: int | None = None
    cancel: bool = False

    def to_data(self) -> JsonData:
        return {"visit_id": self.visit_id, "cancel": self.cancel}

    @classmethod
    def from_data(cls, data: object) -> VisitsStart:
        try:
            fields = fields_of(data)
            return cls(
                visit_id=optional_int_field(fields, "visit_id"),
                cancel=bool_field(fields, "cancel", False),
            )
        except Malformed:
            return cls()


@dataclass(frozen=True)
class OfferStart:
    """The waitlist's offer (a freed time held for the person): its id from the push."""

    offer_id: int | None = None

    def to_data(self) -> JsonData:
        return {"offer_id": self.offer_id}

    @classmethod
    def from_data(cls, data: object) -> OfferStart:
        try:
            return cls(offer_id=optional_int_field(fields_of(data), "offer_id"))
        except Malformed:
            return cls()
