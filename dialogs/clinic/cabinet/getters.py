"""What the windows of «Кабинет врача» show, read through services.clinic."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.clinic.common import clinic, org_admin
from dialogs.core.common import ctx, current_user, set_error, work
from services.chat.service import ChatService
from services.clinic.patients import PURPOSES, PatientsPage, StaffView
from services.clinic.staff import ROLE_NAMES
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases

PENDING = (
    "Ваша работа в организации ещё не подтверждена. Карты пациентов откроются, когда "
    "администратор организации подтвердит её."
)


def _line(view: StaffView) -> str:
    what = view.specialty if view.is_doctor and view.specialty else ROLE_NAMES[view.role]
    line = f"• {what}, {view.organisation}"
    return line if view.confirmed else f"{line} — ожидает подтверждения"


async def _rows(manager: DialogManager) -> list[StaffView]:
    user = current_user(manager)
    return await clinic(manager).run(lambda s: s.cabinet(user))


async def doctor_staff_id(manager: DialogManager) -> int | None:
    """The doctor row the cabinet works as: the chosen one, else the first confirmed one."""
    chosen = manager.dialog_data.get("staff_id")
    if isinstance(chosen, int):
        return chosen
    doctors = [r for r in await _rows(manager) if r.is_doctor and r.confirmed]
    if not doctors:
        return None
    manager.dialog_data["staff_id"] = doctors[0].staff_id
    return doctors[0].staff_id


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    rows = await _rows(dialog_manager)
    doctors = [r for r in rows if r.is_doctor and r.confirmed]
    admins = [r for r in rows if r.role == "org_admin" and r.confirmed]
    several = len(doctors) > 1
    return {
        "name": user.display_name,
        "lines": "\n".join(_line(r) for r in rows) or "Вы не числитесь сотрудником организации.",
        "pending": PENDING if any(r.is_doctor and not r.confirmed for r in rows) else "",
        "doctors": [
            (str(r.staff_id), f"Пациенты: {r.organisation}"[:60] if several else "Пациенты")
            for r in doctors
        ],
        "questions": [
            (str(r.staff_id), await _questions_label(dialog_manager, r, several)) for r in doctors
        ],
        "admins": [
            (str(r.staff_id), f"Сотрудники на подтверждении: {r.organisation}"[:60]) for r in admins
        ],
    }


async def _questions_label(manager: DialogManager, row: StaffView, several: bool) -> str:
    """«Вопросы пациентов (N)»: how many questions wait for this doctor's answer."""
    user = current_user(manager)
    waiting = await UseCases(work(manager), ctx(manager), ChatService).run(
        lambda s: s.waiting(user, row.staff_id)
    )
    label = f"Вопросы пациентов ({waiting})"
    return f"{label}: {row.organisation}"[:60] if several else label


def _notice(manager: DialogManager) -> str:
    start = manager.start_data
    notice = start.get("notice") if isinstance(start, dict) else None
    if not notice or manager.dialog_data.get("notice_seen"):
        return ""
    return str(notice)


async def patients_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    data = dialog_manager.dialog_data
    staff_id = await doctor_staff_id(dialog_manager)
    page: PatientsPage | None = None
    if staff_id is None:
        set_error(dialog_manager, PENDING)
    else:
        query = data.get("query")
        number = int(data.get("page", 1))
        try:
            page = await clinic(dialog_manager).run(
                lambda s: s.patients(user, staff_id, query, number)
            )
        except SessionRequired:
            raise
        except DomainError as exc:
            set_error(dialog_manager, exc.message)
    if page is not None:
        data["page"] = page.number
    if page is None:
        summary = ""
    elif page.total == 0:
        summary = (
            "Никого не нашлось. Проверьте фамилию, СНИЛС или номер полиса."
            if page.query
            else "К вашей организации пока не прикреплён ни один пациент с открытой ЭМК."
        )
    else:
        summary = f"Найдено: {page.total}."
        if page.pages > 1:
            summary += f" Страница {page.number} из {page.pages}."
    return {
        "notice": _notice(dialog_manager),
        "organisation": page.organisation if page else "",
        "query": page.query if page and page.query else "",
        "summary": summary,
        "items": [(str(p.account_id), p.label[:60]) for p in page.items] if page else [],
        "has_previous": bool(page and page.has_previous),
        "has_next": bool(page and page.has_next),
    }


async def purpose_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "patient": data.get("patient_name", ""),
        "purposes": [(str(i), p) for i, p in enumerate(PURPOSES)],
        "purpose": data.get("purpose", ""),
        "minutes": ctx(dialog_manager).policy.doctor_step_up_minutes,
    }


async def pending_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    admin_id = dialog_manager.dialog_data.get("admin_id")
    rows = []
    if isinstance(admin_id, int):
        try:
            rows = await org_admin(dialog_manager).run(lambda s: s.pending(user, admin_id))
        except SessionRequired:
            raise
        except DomainError as exc:
            set_error(dialog_manager, exc.message)
    lines = [
        f"• {r.name} — {r.specialty or ROLE_NAMES.get(r.role, r.role)}, с {r.created_at:%d.%m.%Y}"
        for r in rows
    ]
    return {
        "lines": "\n".join(lines) if lines else "Сотрудников, ожидающих подтверждения, нет.",
        "rows": [(str(r.staff_id), f"Подтвердить: {r.name}"[:60]) for r in rows],
        "result": dialog_manager.dialog_data.get("result", ""),
    }
