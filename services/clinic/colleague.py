"""The recipient of «Отправить выписку врачу»: a doctor of any organisation, by surname.

The directory holds no patient data: the search is journaled with its kind only.
Sending itself is the record's (services.record.colleague).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.clinic.patients import ClinicService, parse_query
from services.core import audit
from services.core.access import AccountPrincipal, actor_of
from services.core.errors import ValidationError
from services.core.journal import short_name

__all__ = ["MSG_SURNAME", "Colleague", "ColleagueDirectory"]

MSG_SURNAME = "Напишите фамилию врача, например: Белов."


@dataclass(frozen=True)
class Colleague:
    staff_id: int
    label: str


class ColleagueDirectory(ClinicService):
    async def find(self, user: AccountPrincipal, staff_id: int, text: str) -> list[Colleague]:
        """Confirmed doctors of any organisation with this surname (not the asker)."""
        _staff, doctor = await self._doctor(user, staff_id, "doctor.colleague.search")
        try:
            query = parse_query(text)
        except ValidationError:
            raise ValidationError(MSG_SURNAME) from None
        if query.kind != "surname":
            raise ValidationError(MSG_SURNAME)
        rows = await self.uow.clinic.staff.doctors_named(query.surnames)
        found = []
        for row in rows:
            if row.id == staff_id:
                continue
            specialty = None
            if row.specialty:
                spec = await self.uow.booking.catalog.specialty(row.specialty)
                specialty = spec.name if spec is not None else row.specialty
            name = short_name(
                " ".join(p for p in (row.last_name, row.first_name, row.middle_name) if p)
            )
            label = ", ".join(p for p in (name, specialty, row.organisation) if p)
            found.append(Colleague(row.id, label[:60]))
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(doctor),
            action="doctor.colleague.search",
            actor_account_id=user.account_id,
            found=len(found),
        )
        return found
