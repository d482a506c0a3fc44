"""What the windows of «Доступ для близких» show, read through SharingService."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx, current_user, set_error, work
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases
from services.sharing.grants import (
    LEVEL_HINTS,
    LEVELS,
    RELATIONSHIP_TEXT,
    RELATIONSHIPS,
    GrantView,
    SharingService,
)

EMPTY = (
    "Вы ещё никому не открыли доступ к своей медкарте. Нажмите «Пригласить», чтобы "
    "пригласить близкого человека."
)
LEVEL_LINES = "\n".join(f"• {name} — {LEVEL_HINTS[key]}" for key, name in LEVELS)


def sharing(manager: DialogManager) -> UseCases[SharingService]:
    return UseCases(work(manager), ctx(manager), SharingService)


def _button(view: GrantView) -> str:
    return f"{view.short_name} — {view.state_text}"[:60]


def grant_text(view: GrantView) -> str:
    lines = [
        f"{view.name or view.short_name} ({view.relationship_text})",
        f"Телефон: {view.phone}",
        f"Уровень: {view.level_text}",
        "Чувствительные результаты: " + ("показываются" if view.include_sensitive else "скрыты"),
        f"Состояние: {view.state_text}",
        f"Открыт: {view.since}",
        f"Последний доступ: {view.last_access or 'ещё не было'}",
    ]
    if view.request_pending:
        lines.append("\nЭтот человек просит снова открыть ему доступ.")
    return "\n".join(lines)


async def list_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    try:
        views = await sharing(dialog_manager).run(lambda s: s.list_grants(user))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        views = []
    lines = [
        f"• {v.short_name} ({v.relationship_text}) — {v.level_text}, {v.state_text}" for v in views
    ]
    return {
        "lines": "\n".join(lines) if lines else EMPTY,
        "grants": [(str(v.id), _button(v)) for v in views],
    }


async def grant_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    grant_id = int(dialog_manager.dialog_data.get("grant_id", 0))
    empty = {
        "text": "",
        "can_change": False,
        "can_revoke": False,
        "pending": False,
        "sensitive": False,
        "not_sensitive": False,
    }
    try:
        view = await sharing(dialog_manager).run(lambda s: s.grant(user, grant_id))
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(dialog_manager, exc.message)
        return empty
    return {
        "text": grant_text(view),
        "name": view.short_name,
        "can_change": view.can_change,
        "can_revoke": view.can_revoke,
        "pending": view.pending,
        "sensitive": view.include_sensitive,
        "not_sensitive": not view.include_sensitive,
        "level_lines": LEVEL_LINES,
        "levels": list(LEVELS),
    }


def _draft_lines(data: dict[str, Any]) -> str:
    lines = []
    if data.get("full_name"):
        lines.append(f"ФИО: {data['full_name']}")
    if data.get("phone"):
        lines.append(f"Телефон: {data['phone']}")
    if data.get("relationship"):
        lines.append(f"Кем приходится: {RELATIONSHIP_TEXT.get(data['relationship'], '')}")
    if data.get("level"):
        lines.append(f"Уровень: {dict(LEVELS).get(data['level'], '')}")
    if data.get("term_set"):
        until = data.get("until")
        lines.append(f"Срок: до {_day(until)}" if until else "Срок: бессрочно")
    if data.get("sensitive_set"):
        shown = "показывать" if data.get("include_sensitive") else "не показывать"
        lines.append(f"Чувствительные результаты: {shown}")
    return "\n".join(lines)


def _day(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}.{month}.{year}"


async def invite_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data.get("draft", {})
    return {
        "entered": _draft_lines(data),
        "relationships": list(RELATIONSHIPS),
        "levels": list(LEVELS),
        "level_lines": LEVEL_LINES,
        "link": dialog_manager.dialog_data.get("link", ""),
        "sms_line": dialog_manager.dialog_data.get("sms_line", ""),
    }
