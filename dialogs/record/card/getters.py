"""What the windows of «Моя медкарта» show, read through services.record.sections.

Each getter is one use case (its own unit of work); a refusal (no access, no
record, no such entry) is shown in the window instead of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram_dialog import DialogManager

from dialogs.core.card import card_access, principal
from dialogs.core.common import MAX_MESSAGE, clip, ctx, set_error, work
from services.core.errors import DomainError, SessionRequired
from services.core.work import UseCases
from services.record.own_documents import OWN_KINDS, OwnDocuments
from services.record.sections import (
    SECTIONS,
    EntryView,
    ProfileView,
    RecordFiles,
    RecordSections,
    SectionPage,
)

T = TypeVar("T")

EMPTY_RECORD = (
    "В вашей медкарте пока нет записей. Они появятся после приёмов у врачей, обследований "
    "и анализов. Свои документы вы можете добавить в разделе «Мои документы»."
)
RULES = (
    "Подойдут фото или скан в формате JPG, PNG или PDF размером до 5 МБ. Снимок — не меньше "
    "600 точек по короткой стороне, PDF — до 20 страниц."
)
KIND_LABELS = dict(OWN_KINDS)
# On someone else's card «Мои документы» are the owner's: named without «мои».
CARD_TITLES = {"documents": "Документы владельца карты"}
CARD_EMPTY_RECORD = "В этой медкарте пока нет записей."
CARD_EMPTY_SECTION = "В этой медкарте пока нет записей в разделе «{title}»."


def _titles(on_card: bool) -> list[tuple[str, str]]:
    return [
        (spec.key, CARD_TITLES.get(spec.key, spec.title) if on_card else spec.title)
        for spec in SECTIONS
    ]


def sections(manager: DialogManager) -> UseCases[RecordSections]:
    """Reading the record's sections, each call in a unit of work of its own."""
    return UseCases(work(manager), ctx(manager), RecordSections)


def record_files(manager: DialogManager) -> RecordFiles:
    return RecordFiles(work(manager), ctx(manager))


def own_documents(manager: DialogManager) -> OwnDocuments:
    """Adding a document (the file is judged before any unit of work opens)."""
    return OwnDocuments(work(manager), ctx(manager))


async def _read(manager: DialogManager, call: Callable[[], Awaitable[T]]) -> T | None:
    try:
        return await call()
    except SessionRequired:
        raise
    except DomainError as exc:
        set_error(manager, exc.message)
        return None


async def main_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    overview = await _read(
        dialog_manager,
        lambda: sections(dialog_manager).run(lambda s: s.overview(user, user.subject_account_id)),
    )
    is_open = overview is not None and overview.open
    access = await card_access(dialog_manager)
    return {
        "title": "Моя медкарта" if access is None else "Медкарта",
        "own_open": is_open and access is None,
        "can_extracts": is_open and (access is None or access.can_download),
        "open": is_open,
        "closed": overview is not None and not overview.open,
        "empty": is_open and overview is not None and overview.empty,
        "empty_text": EMPTY_RECORD if access is None else CARD_EMPTY_RECORD,
        "sections": _titles(access is not None),
    }


def _profile_text(view: ProfileView) -> str:
    lines = [
        f"ФИО: {view.full_name}",
        f"Дата рождения: {view.birth_date}",
        f"Пол: {view.sex}",
        f"СНИЛС: {view.snils}",
    ]
    if view.contacts_shown:
        lines.append(f"Телефон: {view.phone or 'не указан'}")
        lines.append(f"Электронная почта: {view.email or 'не указана'}")
    lines.append("")
    if view.policies:
        lines.append("Полисы:")
        for policy in view.policies:
            insurer = f", {policy.insurer}" if policy.insurer else ""
            lines.append(f"• {policy.kind} № {policy.number}{insurer} — {policy.valid}")
    else:
        lines.append("Полисов в медкарте нет.")
    return "\n".join(lines)


async def profile_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    view = await _read(
        dialog_manager,
        lambda: sections(dialog_manager).run(lambda s: s.profile(user, user.subject_account_id)),
    )
    return {"text": _profile_text(view) if view is not None else ""}


async def section_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    data = dialog_manager.dialog_data
    section = str(data.get("section", SECTIONS[0].key))
    number = int(data.get("page", 1))
    page: SectionPage | None = await _read(
        dialog_manager,
        lambda: sections(dialog_manager).run(
            lambda s: s.page(user, user.subject_account_id, section, number)
        ),
    )
    if page is None:
        return {
            "title": dict((s.key, s.title) for s in SECTIONS).get(section, ""),
            "lines": [],
            "empty": False,
            "empty_text": "",
            "page_line": "",
            "has_previous": False,
            "has_next": False,
            "is_documents": False,
            "result": None,
        }
    data["page"] = page.number
    on_card = await card_access(dialog_manager) is not None
    title = dict(_titles(on_card)).get(section, page.title)
    return {
        "title": title,
        "lines": [(str(line.entry_id), line.label) for line in page.lines],
        "empty": not page.lines,
        "empty_text": CARD_EMPTY_SECTION.format(title=title) if on_card else page.empty_text,
        "page_line": f"Страница {page.number} из {page.pages}" if page.pages > 1 else "",
        "has_previous": page.has_previous,
        "has_next": page.has_next,
        "is_documents": section == "documents" and not on_card,
        "result": data.get("result"),
    }


def _entry_text(view: EntryView) -> str:
    parts = [view.title, ""]
    parts += [f"{f.label}: {f.value}" for f in view.fields]
    if view.body:
        parts += ["", f"{view.body_title}:" if view.body_title else "Текст документа:", view.body]
    if view.source_note:
        parts += ["", f"({view.source_note})"]
    return clip("\n".join(parts), MAX_MESSAGE - 300)


async def entry_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = await principal(dialog_manager)
    data = dialog_manager.dialog_data
    section = str(data.get("section", SECTIONS[0].key))
    entry_id = int(data.get("entry_id", 0))
    view = await _read(
        dialog_manager,
        lambda: sections(dialog_manager).run(
            lambda s: s.entry(user, user.subject_account_id, section, entry_id)
        ),
    )
    data["file_document_id"] = view.file.document_id if view and view.file else None
    access = await card_access(dialog_manager)
    return {
        "text": _entry_text(view) if view is not None else "",
        "has_file": bool(view and view.file) and (access is None or access.can_download),
        "file_label": view.file.label if view and view.file else "",
    }


async def add_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    kind = data.get("add_kind")
    lines = []
    if kind:
        lines.append(f"Вид: {KIND_LABELS.get(kind, kind)}")
    if data.get("add_title"):
        lines.append(f"Название: {data['add_title']}")
    if data.get("add_date"):
        lines.append(f"Дата: {data['add_date']}")
    return {
        "kinds": list(OWN_KINDS),
        "entered": "\n".join(lines),
        "rules": RULES,
    }
