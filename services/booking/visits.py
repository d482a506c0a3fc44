"""«Записаться к врачу» and «Мои записи»: booking, moving and cancelling visits.

``BookingService`` holds the use cases, each run in a unit of work of its own.
Everything about a person's visits goes through the access rule
(``MANAGE_VISITS``: the person themself, or a relative with full access) and is
journaled (``visit.book``, ``visit.move``, ``visit.cancel``, ``visit.list``,
``visit.view``, ``visit.calendar``, ``visit.file``, ``waitlist.*``). Free times
of a doctor are not personal data: the calendar and the day's times are read
without a journal row, and checked again when a time is booked.

Rules, each refused with its reason (``BookingRefused``): not in the past; a
doctor of the organisation the patient is attached to; a referral for the
specialties that need one; at most one upcoming visit per specialty; moving or
cancelling no later than ``ctx.booking.change_min_minutes`` before. A time
taken by someone else between showing it and pressing «Записаться» is
``SlotTaken``; the database's partial unique index is what keeps two visits
out of one slot (``VisitRepo.try_book``).

A move books the new time and only then lets the old one go, in one unit of
work: interrupted anywhere, the person has exactly the visit they had.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.booking import reminders, waitlist
from services.booking.texts import (
    MSK,
    doctor_full,
    doctor_short,
    msk_today,
    when_text,
)
from services.core import notify
from services.core.access import (
    CardUser,
    Decision,
    Permission,
    Principal,
    actor_of,
    journal,
    require,
)
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from services.core.files import MAX_UPLOAD_BYTES, UploadInfo, UploadRejected, inspect_upload
from services.core.work import Work, in_unit
from storage.models import Appointment, Doctor, Organisation, Slot, Specialty, WaitlistEntry
from storage.uow import UnitOfWork

__all__ = [
    "BookingRefused",
    "BookingService",
    "BookingStart",
    "DoctorOption",
    "OfferView",
    "SlotTaken",
    "SpecialtyOption",
    "TimeOption",
    "VisitUploads",
    "VisitView",
    "WaitlistView",
    "preset_range",
    "waitlist_range",
]

MSG_NOT_ATTACHED = (
    "Вы не прикреплены к поликлинике, поэтому записаться к врачу здесь нельзя. "
    "Прикрепиться можно в регистратуре поликлиники с паспортом и полисом ОМС."
)
MSG_NO_SPECIALTY = "Такой специальности нет. Выберите специальность кнопкой."
MSG_NO_DOCTOR = "Этот врач не ведёт приём. Выберите другого врача."
MSG_TAKEN = "Это время только что заняли. Выберите другое время."
MSG_PAST = "Это время уже прошло. Выберите другое время."
MSG_OTHER_ORG = "Записаться можно только к врачам поликлиники, к которой вы прикреплены."
MSG_NO_VISIT = "Такой записи нет."
MSG_NOT_BOOKED = "Эта запись уже отменена или перенесена."
MSG_DONE = "Приём уже прошёл: изменить эту запись нельзя."
MSG_SAME_TIME = "Вы уже записаны на это время."
MSG_NO_STORE = "Сейчас не получается сохранить файл. Попробуйте ещё раз немного позже."
MSG_RANGE = "Проверьте даты: начало периода не может быть позже его конца."
MSG_RANGE_PAST = "Период должен начинаться не раньше сегодняшнего дня."
MSG_ALREADY_WAITING = (
    "Вы уже в листе ожидания к этому врачу. Мы сообщим, как только появится время."
)
MSG_NO_ENTRY = "Такой заявки в листе ожидания нет."
MSG_RANGE_FORMAT = (
    "Не получилось прочитать даты. Напишите период в формате ДД.ММ.ГГГГ–ДД.ММ.ГГГГ, "
    "например 01.12.2026–15.12.2026."
)
MSG_RANGE_NO_DAY = "Такой даты нет в календаре. Проверьте число и месяц."
_DAY = r"(\d{1,2})\.(\d{1,2})\.(\d{4})"
_RANGE = re.compile(rf"^\s*(?:с\s+)?{_DAY}\s*(?:[-–—]|по)\s*{_DAY}\s*$", re.IGNORECASE)


class BookingRefused(DomainError):
    """A rule of booking says no; the message says which and what to do."""


class SlotTaken(BookingRefused):
    """The time was taken (or held for someone on the waitlist) before this person got it."""

    def __init__(self, message: str = MSG_TAKEN) -> None:
        super().__init__(message)


def _referral_needed(specialty: Specialty) -> str:
    return (
        f"Для записи к {specialty.to_whom} нужно направление терапевта. "
        "Запишитесь к терапевту: он выдаст направление, если оно нужно."
    )


def _one_per_specialty(specialty: Specialty, visit: Appointment) -> str:
    return (
        f"У вас уже есть запись к {specialty.to_whom} на {when_text(visit.starts_at)}. "
        "Можно быть записанным только на один приём к врачу одной специальности: "
        "перенесите или отмените эту запись в разделе «Мои записи»."
    )


def _too_late(minutes: int, phone: str | None) -> str:
    hours = minutes / 60
    span = f"{hours:g} ч" if minutes % 60 == 0 else f"{minutes} мин"
    call = f" по телефону {phone}" if phone else ""
    return (
        f"Изменить или отменить запись можно не позднее чем за {span} до приёма. "
        f"Если вы не можете прийти, позвоните в регистратуру{call}."
    )


# -- what the screens show ----------------------------------------------------------------


@dataclass(frozen=True)
class SpecialtyOption:
    code: str
    name: str
    referral_required: bool
    has_referral: bool


@dataclass(frozen=True)
class BookingStart:
    """Where the person books (their attached organisation) and the specialties there."""

    organisation_id: int
    organisation_name: str
    specialties: list[SpecialtyOption]


@dataclass(frozen=True)
class DoctorOption:
    id: int
    name: str
    short: str
    cabinet: str


@dataclass(frozen=True)
class TimeOption:
    slot_id: int
    starts_at: datetime
    doctor_id: int
    doctor_short: str

    @property
    def time_text(self) -> str:
        return self.starts_at.astimezone(MSK).strftime("%H:%M")


@dataclass(frozen=True)
class VisitView:
    """A visit as the confirmation screen, «Мои записи» and the push show it."""

    id: int | None
    slot_id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    doctor_id: int
    doctor_name: str
    doctor_short: str
    specialty_code: str
    specialty_name: str
    specialty_to_whom: str
    organisation_name: str
    address: str
    cabinet: str
    what_to_bring: str
    file_name: str | None = None
    cancel_reason: str | None = None
    can_change: bool = True
    registry_phone: str | None = None

    @property
    def when(self) -> str:
        return when_text(self.starts_at)


@dataclass(frozen=True)
class WaitlistView:
    id: int
    specialty_name: str
    doctor_short: str | None
    date_from: date
    date_to: date


@dataclass(frozen=True)
class OfferView:
    """A freed time held for the person: the visit it would be, and until when it is held."""

    visit: VisitView
    expires_at: datetime
    # When the person has a later visit of this specialty: it is moved to the offered time.
    replaces: VisitView | None = None


# -- the service ----------------------------------------------------------------------------


class BookingService:
    """The use cases of booking; each is run in a unit of work of its own."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx
        self.catalog = uow.booking.catalog
        self.schedule = uow.booking.schedule
        self.visits = uow.booking.visits

    # -- helpers --------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    async def _require(
        self, user: Principal, subject: int, action: str, **details: Any
    ) -> Decision:
        return await require(
            self.uow, self.ctx, user, subject, Permission.MANAGE_VISITS, action=action, **details
        )

    async def _journal(
        self, user: Principal, subject: int, decision: Decision, action: str, **details: Any
    ) -> None:
        await journal(self.uow, self.ctx, user, subject, decision, action, **details)

    async def _attached(self, subject: int) -> Organisation:
        """The organisation the patient is attached to now, or the refusal."""
        attachment = await self.uow.clinic.attachments.current_any(subject, self.now)
        if attachment is None:
            raise BookingRefused(MSG_NOT_ATTACHED)
        organisation = await self.catalog.organisation(attachment.organisation_id)
        if organisation is None:
            raise BookingRefused(MSG_NOT_ATTACHED)
        return organisation

    async def _specialty(self, code: str) -> Specialty:
        specialty = await self.catalog.specialty(code)
        if specialty is None:
            raise BookingRefused(MSG_NO_SPECIALTY)
        return specialty

    async def _view(self, visit: Appointment) -> VisitView:
        slot = await self.schedule.slot(visit.slot_id)
        assert slot is not None
        doctor = await self.catalog.doctor(visit.doctor_id)
        assert doctor is not None
        specialty = await self._specialty(visit.specialty_code)
        organisation = await self.catalog.organisation(doctor.organisation_id)
        return _visit_view(
            visit.id,
            slot,
            doctor,
            specialty,
            organisation,
            status=visit.status,
            file_name=visit.file_name,
            cancel_reason=visit.cancel_reason,
            can_change=visit.status == "booked" and self._changeable(visit.starts_at),
        )

    def _changeable(self, starts_at: datetime) -> bool:
        return starts_at - self.now >= timedelta(minutes=self.ctx.booking.change_min_minutes)

    async def _own_visit(self, subject: int, appointment_id: int, *, lock: bool) -> Appointment:
        visit = await (
            self.visits.for_update(appointment_id) if lock else self.visits.get(appointment_id)
        )
        if visit is None or visit.patient_account_id != subject:
            raise NotFoundError(MSG_NO_VISIT)
        return visit

    async def _check_slot(
        self,
        subject: int,
        slot_id: int,
        *,
        replacing: Appointment | None = None,
    ) -> tuple[Slot, Doctor, Specialty, Organisation]:
        """Every rule for booking `slot_id` for `subject` (a move: `replacing` is let go)."""
        slot = await self.schedule.slot(slot_id)
        if slot is None or slot.status != "open":
            raise SlotTaken()
        if slot.starts_at <= self.now:
            raise BookingRefused(MSG_PAST)
        doctor = await self.catalog.doctor(slot.doctor_id)
        if doctor is None or not doctor.active:
            raise BookingRefused(MSG_NO_DOCTOR)
        organisation = await self._attached(subject)
        if doctor.organisation_id != organisation.id:
            raise BookingRefused(MSG_OTHER_ORG)
        specialty = await self._specialty(doctor.specialty_code)
        if replacing is not None and replacing.slot_id == slot_id:
            raise BookingRefused(MSG_SAME_TIME)
        for other in await self.visits.upcoming(subject, self.now, specialty.code):
            if replacing is None or other.id != replacing.id:
                raise BookingRefused(_one_per_specialty(specialty, other))
        if (
            specialty.referral_required
            and (replacing is None or replacing.specialty_code != specialty.code)
            and await self.uow.booking.referrals.usable(
                subject, specialty.code, msk_today(self.ctx)
            )
            is None
        ):
            raise BookingRefused(_referral_needed(specialty))
        if not await self.schedule.is_free(slot_id, self.now, subject):
            raise SlotTaken()
        return slot, doctor, specialty, organisation

    async def _hold(
        self,
        user: Principal,
        subject: int,
        slot: Slot,
        doctor: Doctor,
        specialty: Specialty,
        *,
        referral_id: int | None,
        file: tuple[str, str, str] | None = None,
    ) -> Appointment:
        """Insert the booked visit; SlotTaken if another booking holds the slot already."""
        visit_id = await self.visits.try_book(
            {
                "slot_id": slot.id,
                "doctor_id": doctor.id,
                "patient_account_id": subject,
                "specialty_code": specialty.code,
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "status": "booked",
                "booked_by": actor_of(user),
                "referral_id": referral_id,
                "created_at": self.now,
                "storage_key": file[0] if file else None,
                "file_name": file[1] if file else None,
                "file_mime": file[2] if file else None,
            }
        )
        if visit_id is None:
            raise SlotTaken()
        visit = await self.visits.get(visit_id)
        assert visit is not None
        return visit

    async def _after_booked(
        self, user: Principal, subject: int, visit: Appointment, view: VisitView, *, moved: bool
    ) -> None:
        """The visit's reminders, the waitlist entries it fulfils, and the push."""
        await reminders.schedule(self.uow, self.ctx, visit, view)
        for entry in await self.uow.booking.waitlist.waiting_of(subject):
            if entry.specialty_code == visit.specialty_code and (
                entry.doctor_id is None or entry.doctor_id == visit.doctor_id
            ):
                await waitlist.close_entry(self.uow, self.ctx, entry, "booked")
        title = "Запись перенесена" if moved else "Вы записаны на приём"
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=subject,
            kind="visit_moved" if moved else "visit_booked",
            text=(
                f"{title}: {view.specialty_name} {view.doctor_short}, {view.when}, "
                f"кабинет {view.cabinet}, {view.organisation_name}."
            ),
            buttons=[notify.Button("Мои записи", notify.ButtonAction.VISIT, str(visit.id))],
            topic=f"visit:{visit.id}",
        )

    # -- «Записаться к врачу» ----------------------------------------------------------

    async def start(self, user: CardUser) -> BookingStart:
        """The patient's organisation and its specialties (with the referrals they have)."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, "booking.start")
        organisation = await self._attached(subject)
        today = msk_today(self.ctx)
        options = []
        for specialty in await self.catalog.specialties():
            if not await self.catalog.doctors(organisation.id, specialty.code):
                continue
            has_referral = (
                specialty.referral_required
                and await self.uow.booking.referrals.usable(subject, specialty.code, today)
                is not None
            )
            options.append(
                SpecialtyOption(
                    specialty.code, specialty.name, specialty.referral_required, has_referral
                )
            )
        await self._journal(user, subject, decision, "booking.start")
        return BookingStart(organisation.id, organisation.name, options)

    async def check_specialty(self, user: CardUser, code: str) -> SpecialtyOption:
        """The specialty the person chose, or why they cannot book it (told before the calendar).

        The same rules are checked again on the confirmation screen and on «Записаться».
        """
        subject = user.subject_account_id
        await self._require(user, subject, "booking.specialty", specialty=code)
        await self._attached(subject)
        specialty = await self._specialty(code)
        for other in await self.visits.upcoming(subject, self.now, specialty.code):
            raise BookingRefused(_one_per_specialty(specialty, other))
        has_referral = False
        if specialty.referral_required:
            referral = await self.uow.booking.referrals.usable(
                subject, specialty.code, msk_today(self.ctx)
            )
            if referral is None:
                raise BookingRefused(_referral_needed(specialty))
            has_referral = True
        return SpecialtyOption(
            specialty.code, specialty.name, specialty.referral_required, has_referral
        )

    async def doctors(self, organisation_id: int, specialty: str) -> list[DoctorOption]:
        """The doctors of the specialty at the organisation (no personal data: no journal)."""
        await self._specialty(specialty)
        return [
            DoctorOption(d.id, doctor_full(d), doctor_short(d), d.cabinet)
            for d in await self.catalog.doctors(organisation_id, specialty)
        ]

    async def free_days(
        self,
        organisation_id: int,
        specialty: str,
        doctor_id: int | None,
        first: date,
        last: date,
        *,
        for_account: int | None = None,
    ) -> list[date]:
        """The days of [first, last] with free time: the calendar's month."""
        today = msk_today(self.ctx)
        first = max(first, today)
        last = min(last, today + timedelta(days=self.ctx.booking.horizon_days))
        if last < first:
            return []
        return await self.schedule.free_days(
            organisation_id=organisation_id,
            specialty=specialty,
            doctor_id=doctor_id,
            first=first,
            last=last,
            now=self.now,
            patient_account_id=for_account,
        )

    async def free_times(
        self,
        organisation_id: int,
        specialty: str,
        doctor_id: int | None,
        day: date,
        *,
        for_account: int | None = None,
    ) -> list[TimeOption]:
        """The free times of one day (every doctor of the specialty, for «Любой врач»)."""
        rows = await self.schedule.free_slots(
            organisation_id=organisation_id,
            specialty=specialty,
            doctor_id=doctor_id,
            day=day,
            now=self.now,
            patient_account_id=for_account,
        )
        return [TimeOption(s.id, s.starts_at, d.id, doctor_short(d)) for s, d in rows]

    async def preview(
        self, user: CardUser, slot_id: int, *, moving: int | None = None
    ) -> VisitView:
        """The confirmation screen: every rule is checked now, and again on «Записаться»."""
        subject = user.subject_account_id
        await self._require(user, subject, "visit.preview", slot_id=slot_id)
        replacing = await self._own_visit(subject, moving, lock=False) if moving else None
        slot, doctor, specialty, organisation = await self._check_slot(
            subject, slot_id, replacing=replacing
        )
        return _visit_view(None, slot, doctor, specialty, organisation, status="new")

    async def book(self, user: CardUser, slot_id: int) -> VisitView:
        """«Записаться»: the visit, its reminders and the push, or the reason why not."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.book", slot_id=slot_id)
        slot, doctor, specialty, organisation = await self._check_slot(subject, slot_id)
        referral = None
        if specialty.referral_required:
            referral = await self.uow.booking.referrals.usable(
                subject, specialty.code, msk_today(self.ctx)
            )
        visit = await self._hold(
            user,
            subject,
            slot,
            doctor,
            specialty,
            referral_id=referral.id if referral else None,
        )
        if referral is not None:
            referral.used_by_appointment_id = visit.id
        await waitlist.settle_offer_for(self.uow, self.ctx, slot.id, subject)
        view = _visit_view(visit.id, slot, doctor, specialty, organisation, status="booked")
        await self._after_booked(user, subject, visit, view, moved=False)
        await self._journal(
            user, subject, decision, "visit.book", visit_id=visit.id, slot_id=slot.id
        )
        return view

    # -- «Мои записи» --------------------------------------------------------------------

    async def upcoming(self, user: CardUser) -> list[VisitView]:
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.list")
        views = [await self._view(v) for v in await self.visits.upcoming(subject, self.now)]
        await self._journal(user, subject, decision, "visit.list", shown=[v.id for v in views])
        return views

    async def past(self, user: CardUser) -> list[VisitView]:
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.list_past")
        views = [await self._view(v) for v in await self.visits.past(subject, self.now)]
        await self._journal(user, subject, decision, "visit.list_past", shown=[v.id for v in views])
        return views

    async def visit(self, user: CardUser, appointment_id: int) -> VisitView:
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.view", visit_id=appointment_id)
        view = await self._view(await self._own_visit(subject, appointment_id, lock=False))
        await self._journal(user, subject, decision, "visit.view", visit_id=appointment_id)
        return view

    async def check_change(self, user: CardUser, appointment_id: int) -> VisitView:
        """The visit «Перенести» was pressed for, or why it can no longer be changed."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.view", visit_id=appointment_id)
        visit = await self._own_visit(subject, appointment_id, lock=False)
        await self._check_changeable(visit)
        await self._journal(user, subject, decision, "visit.view", visit_id=appointment_id)
        return await self._view(visit)

    async def cancel(self, user: CardUser, appointment_id: int) -> VisitView:
        """«Отменить»: the time is freed (and offered to the waitlist), reminders withdrawn."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.cancel", visit_id=appointment_id)
        visit = await self._own_visit(subject, appointment_id, lock=True)
        await self._check_changeable(visit)
        visit.status = "cancelled"
        visit.cancelled_at = self.now
        visit.cancel_reason = "отменена пациентом"
        await self._release(visit)
        await self._journal(user, subject, decision, "visit.cancel", visit_id=visit.id)
        return await self._view(visit)

    async def move(self, user: CardUser, appointment_id: int, slot_id: int) -> VisitView:
        """«Перенести»: the new time is held first; only then is the old one let go."""
        subject = user.subject_account_id
        decision = await self._require(
            user, subject, "visit.move", visit_id=appointment_id, slot_id=slot_id
        )
        old = await self._own_visit(subject, appointment_id, lock=True)
        await self._check_changeable(old)
        slot, doctor, specialty, organisation = await self._check_slot(
            subject, slot_id, replacing=old
        )
        new = await self._hold(
            user,
            subject,
            slot,
            doctor,
            specialty,
            referral_id=old.referral_id,
            file=(old.storage_key, old.file_name or "", old.file_mime or "")
            if old.storage_key
            else None,
        )
        await waitlist.settle_offer_for(self.uow, self.ctx, slot.id, subject)
        # The new time is held (the same transaction): now the old one goes.
        old.status = "moved"
        old.moved_to_id = new.id
        old.cancelled_at = self.now
        await self.uow.flush()
        if old.referral_id is not None:
            referral = await self.uow.booking.referrals.get(old.referral_id)
            if referral is not None:
                referral.used_by_appointment_id = new.id
        await self._release(old)
        view = _visit_view(new.id, slot, doctor, specialty, organisation, status="booked")
        await self._after_booked(user, subject, new, view, moved=True)
        await self._journal(
            user,
            subject,
            decision,
            "visit.move",
            visit_id=old.id,
            new_visit_id=new.id,
            slot_id=slot.id,
        )
        return view

    async def _check_changeable(self, visit: Appointment) -> None:
        if visit.status != "booked":
            raise BookingRefused(MSG_NOT_BOOKED)
        if visit.starts_at <= self.now:
            raise BookingRefused(MSG_DONE)
        if not self._changeable(visit.starts_at):
            doctor = await self.catalog.doctor(visit.doctor_id)
            organisation = (
                await self.catalog.organisation(doctor.organisation_id) if doctor else None
            )
            raise BookingRefused(
                _too_late(
                    self.ctx.booking.change_min_minutes,
                    organisation.phone if organisation else None,
                )
            )

    async def _release(self, visit: Appointment) -> None:
        """A visit no longer holds its slot: reminders withdrawn, referral back, waitlist told."""
        await self.uow.flush()
        await notify.withdraw(self.uow, f"visit:{visit.id}")
        if visit.referral_id is not None and visit.status == "cancelled":
            referral = await self.uow.booking.referrals.get(visit.referral_id)
            if referral is not None and referral.used_by_appointment_id == visit.id:
                referral.used_by_appointment_id = None
        slot = await self.schedule.slot(visit.slot_id)
        if slot is not None:
            await waitlist.offer_freed(self.uow, self.ctx, slot)

    async def calendar_file(self, user: CardUser, appointment_id: int) -> tuple[str, bytes]:
        """«Добавить в календарь»: the visit as an .ics file (name, bytes)."""
        from services.booking.ics import visit_event

        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.calendar", visit_id=appointment_id)
        visit = await self._own_visit(subject, appointment_id, lock=False)
        if visit.status != "booked":
            raise BookingRefused(MSG_NOT_BOOKED)
        view = await self._view(visit)
        await self._journal(user, subject, decision, "visit.calendar", visit_id=visit.id)
        local = visit.starts_at.astimezone(MSK)
        return f"priyom-{local:%Y-%m-%d-%H%M}.ics", visit_event(view)

    async def attach_file(
        self, user: CardUser, appointment_id: int, info: UploadInfo, file_name: str
    ) -> VisitView:
        """«Прикрепить файл»: a referral or results for the doctor, checked like documents."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, "visit.file", visit_id=appointment_id)
        visit = await self._own_visit(subject, appointment_id, lock=True)
        if visit.status != "booked" or visit.starts_at <= self.now:
            raise BookingRefused(MSG_NOT_BOOKED)
        store = self.ctx.gateways.files
        if store is None:
            raise DomainError(MSG_NO_STORE)
        key = await store.put(info.data)
        self.uow.after_rollback(functools.partial(store.delete, key))
        old_key = visit.storage_key
        visit.storage_key = key
        visit.file_name = file_name
        visit.file_mime = info.mime_type
        if old_key:
            self.uow.after_commit(functools.partial(store.delete, old_key))
        await self._journal(
            user,
            subject,
            decision,
            "visit.file",
            visit_id=visit.id,
            file_kind=info.kind,
            size=info.size,
        )
        return await self._view(visit)

    # -- the waitlist ---------------------------------------------------------------------

    async def join_waitlist(
        self,
        user: CardUser,
        specialty: str,
        doctor_id: int | None,
        date_from: date,
        date_to: date,
    ) -> WaitlistView:
        """«Сообщить, если появится время раньше» for a doctor or the whole specialty."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, "waitlist.join")
        organisation = await self._attached(subject)
        spec = await self._specialty(specialty)
        doctor = None
        if doctor_id is not None:
            doctor = await self.catalog.doctor(doctor_id)
            if doctor is None or doctor.organisation_id != organisation.id:
                raise BookingRefused(MSG_NO_DOCTOR)
        today = msk_today(self.ctx)
        if date_from > date_to:
            raise BookingRefused(MSG_RANGE)
        if date_from < today:
            raise BookingRefused(MSG_RANGE_PAST)
        if spec.referral_required and (
            await self.uow.booking.referrals.usable(subject, spec.code, today) is None
            and not await self.visits.upcoming(subject, self.now, spec.code)
        ):
            raise BookingRefused(_referral_needed(spec))
        for entry in await self.uow.booking.waitlist.waiting_of(subject):
            if entry.specialty_code == spec.code and entry.doctor_id == doctor_id:
                raise BookingRefused(MSG_ALREADY_WAITING)
        entry = await self.uow.booking.waitlist.add(
            WaitlistEntry(
                patient_account_id=subject,
                organisation_id=organisation.id,
                specialty_code=spec.code,
                doctor_id=doctor_id,
                date_from=date_from,
                date_to=date_to,
                status="waiting",
                created_at=self.now,
            )
        )
        await self._journal(user, subject, decision, "waitlist.join", entry_id=entry.id)
        return WaitlistView(
            entry.id, spec.name, doctor_short(doctor) if doctor else None, date_from, date_to
        )

    async def waitlist(self, user: CardUser) -> list[WaitlistView]:
        subject = user.subject_account_id
        decision = await self._require(user, subject, "waitlist.list")
        views = []
        for entry in await self.uow.booking.waitlist.waiting_of(subject):
            spec = await self._specialty(entry.specialty_code)
            doctor = await self.catalog.doctor(entry.doctor_id) if entry.doctor_id else None
            views.append(
                WaitlistView(
                    entry.id,
                    spec.name,
                    doctor_short(doctor) if doctor else None,
                    entry.date_from,
                    entry.date_to,
                )
            )
        await self._journal(user, subject, decision, "waitlist.list")
        return views

    async def leave_waitlist(self, user: CardUser, entry_id: int) -> None:
        subject = user.subject_account_id
        decision = await self._require(user, subject, "waitlist.leave", entry_id=entry_id)
        entry = await self.uow.booking.waitlist.entry(entry_id)
        if entry is None or entry.patient_account_id != subject or entry.status != "waiting":
            raise NotFoundError(MSG_NO_ENTRY)
        await waitlist.close_entry(self.uow, self.ctx, entry, "cancelled")
        await self._journal(user, subject, decision, "waitlist.leave", entry_id=entry.id)

    async def offer(self, user: CardUser, offer_id: int) -> VisitView:
        """The freed time held for the person (the push's «Записаться»), or why it is gone."""
        subject = user.subject_account_id
        await self._require(user, subject, "waitlist.offer", offer_id=offer_id)
        offer = await waitlist.live_offer(self.uow, self.ctx, offer_id, subject)
        replacing = await self._replaced_by_offer(subject, offer.slot_id)
        slot, doctor, specialty, organisation = await self._check_slot(
            subject, offer.slot_id, replacing=replacing
        )
        return _visit_view(None, slot, doctor, specialty, organisation, status="offered")

    async def held_offer(self, user: CardUser, offer_id: int) -> OfferView:
        """`offer` with the moment the hold ends and the visit accepting it would move."""
        subject = user.subject_account_id
        view = await self.offer(user, offer_id)
        held = await self.uow.booking.waitlist.offer(offer_id)
        assert held is not None
        replacing = await self._replaced_by_offer(subject, held.slot_id)
        return OfferView(view, held.expires_at, await self._view(replacing) if replacing else None)

    async def accept_offer(self, user: CardUser, offer_id: int) -> VisitView:
        """Book the held time; a later visit of the same specialty is moved to it."""
        subject = user.subject_account_id
        await self._require(user, subject, "waitlist.accept", offer_id=offer_id)
        offer = await waitlist.live_offer(self.uow, self.ctx, offer_id, subject)
        replacing = await self._replaced_by_offer(subject, offer.slot_id)
        if replacing is not None:
            return await self.move(user, replacing.id, offer.slot_id)
        return await self.book(user, offer.slot_id)

    async def _replaced_by_offer(self, subject: int, slot_id: int) -> Appointment | None:
        slot = await self.schedule.slot(slot_id)
        doctor = await self.catalog.doctor(slot.doctor_id) if slot else None
        if doctor is None:
            return None
        later = await self.visits.upcoming(subject, self.now, doctor.specialty_code)
        return later[0] if later else None


class VisitUploads:
    """«Прикрепить файл» as one use case: the file is judged before any unit of work opens.

    The same checks as the application's documents (``inspect_upload``: JPG, PNG or
    PDF up to 5 MB, judged by its content in the CPU pool); only then is it stored.
    """

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    @staticmethod
    def check_declared_size(size: int | None) -> None:
        """Refuse a file by the size Telegram declares, before it is downloaded."""
        if size is not None and size > MAX_UPLOAD_BYTES:
            raise UploadRejected("too_large")

    async def attach(
        self, user: CardUser, appointment_id: int, data: bytes, file_name: str | None
    ) -> VisitView:
        info = await self.ctx.cpu.run(inspect_upload, data)
        name = _file_name(file_name, info)
        return await in_unit(
            self.work,
            lambda uow: BookingService(uow, self.ctx).attach_file(user, appointment_id, info, name),
        )


def _file_name(file_name: str | None, info: UploadInfo) -> str:
    """The name the person's file is shown by: theirs without a path, or a made-up one."""
    name = re.split(r"[\\/]", file_name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:100]
    return name or f"файл.{info.extension}"


def preset_range(today: date, days: int) -> tuple[date, date]:
    """«В ближайшие N дней»: from today to today + `days` (inclusive)."""
    return today, today + timedelta(days=days)


def waitlist_range(text: str, today: date, horizon_days: int) -> tuple[date, date]:
    """«ДД.ММ.ГГГГ–ДД.ММ.ГГГГ» typed by the person; BookingRefused with the reason otherwise."""
    match = _RANGE.match(text)
    if match is None:
        raise BookingRefused(MSG_RANGE_FORMAT)
    parts = [int(p) for p in match.groups()]
    try:
        first = date(parts[2], parts[1], parts[0])
        last = date(parts[5], parts[4], parts[3])
    except ValueError:
        raise BookingRefused(MSG_RANGE_NO_DAY) from None
    if first > last:
        raise BookingRefused(MSG_RANGE)
    if first < today:
        raise BookingRefused(MSG_RANGE_PAST)
    limit = today + timedelta(days=horizon_days)
    if last > limit:
        raise BookingRefused(
            f"Записаться можно не дальше чем на {horizon_days} дней вперёд: "
            f"период должен закончиться не позднее {limit:%d.%m.%Y}."
        )
    return first, last


def _visit_view(
    visit_id: int | None,
    slot: Slot,
    doctor: Doctor,
    specialty: Specialty,
    organisation: Organisation | None,
    *,
    status: str,
    file_name: str | None = None,
    cancel_reason: str | None = None,
    can_change: bool = True,
) -> VisitView:
    return VisitView(
        id=visit_id,
        slot_id=slot.id,
        status=status,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        doctor_id=doctor.id,
        doctor_name=doctor_full(doctor),
        doctor_short=doctor_short(doctor),
        specialty_code=specialty.code,
        specialty_name=specialty.name,
        specialty_to_whom=specialty.to_whom,
        organisation_name=organisation.name if organisation else "",
        address=(organisation.address or "") if organisation else "",
        cabinet=doctor.cabinet,
        what_to_bring=specialty.what_to_bring,
        file_name=file_name,
        cancel_reason=cancel_reason,
        can_change=can_change,
        registry_phone=organisation.phone if organisation else None,
    )
