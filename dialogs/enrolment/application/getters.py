"""What the form windows show, read through ApplicationService."""

from __future__ import annotations

import re
from typing import Any

from aiogram_dialog import DialogManager

from dialogs.core.common import MAX_MESSAGE, applications, clip, current_user, split_pages
from dialogs.enrolment.documents.getters import slot_line
from services.enrolment.application import (
    FIELDS,
    ApplicationService,
    DraftView,
    FieldSpec,
)
from services.enrolment.statuses import EDITABLE_STATUSES
from services.enrolment.statuses import ApplicationStatus as Status

FIELD_BY_NAME: dict[str, FieldSpec] = {spec.name: spec for spec in FIELDS}
FIELD_INDEX: dict[str, int] = {spec.name: index for index, spec in enumerate(FIELDS)}

# Room left in a message for the header, the question and an error under the text.
CONSENT_PAGE = MAX_MESSAGE - 800
REVIEW_TEXT = MAX_MESSAGE - 500
# A value longer than this is shortened on the review screen (it is kept whole).
REVIEW_VALUE = 300
CURRENT_VALUE = 1100
# A value offered on a button («Использовать: …») is shortened past this.
BUTTON_VALUE = 60

_RU_PHONE = re.compile(r"\+7(\d{3})(\d{3})(\d{2})(\d{2})")


def display_phone(phone: str) -> str:
    """«+79990000002» → «+7 999 000-00-02»; other numbers as they are."""
    match = _RU_PHONE.fullmatch(phone)
    if match is None:
        return phone
    a, b, c, d = match.groups()
    return f"+7 {a} {b}-{c}-{d}"


def _field_name(manager: DialogManager, next_field: str | None) -> str:
    name = manager.dialog_data.get("field")
    if name in FIELD_BY_NAME:
        return str(name)
    return next_field or FIELDS[0].name


# Where a handler leaves the draft its use case just returned, for this update only.
DRAFT_VIEW = "application_draft_view"


async def _draft(dialog_manager: DialogManager) -> DraftView:
    """The draft as this update left it, or read afresh (another update, a push)."""
    view = dialog_manager.middleware_data.get(DRAFT_VIEW)
    if isinstance(view, DraftView):
        return view
    user = current_user(dialog_manager)
    return await applications(dialog_manager).run(lambda s: s.draft(user))


async def field_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    view = await _draft(dialog_manager)
    name = _field_name(dialog_manager, view.next_field)
    spec = FIELD_BY_NAME[name]
    index = FIELD_INDEX[name]
    editing = bool(dialog_manager.dialog_data.get("editing"))
    current = view.values.get(name)
    # What the portal account knows for this question, unless it is already the answer.
    known = ""
    if spec.from_account is not None:
        value = await applications(dialog_manager).run(lambda s: s.account_value(user, name))
        shown = display_phone(value) if value and name == "phone" else value
        if shown and shown != current:
            known = shown
    has_value = current is not None
    given = has_value and name not in view.not_given
    return {
        "step": index + 1,
        "total": len(FIELDS),
        "label": spec.label,
        "question": spec.question,
        "current": clip(current, CURRENT_VALUE) if current else "",
        "choices": list(spec.choices),
        "presets": list(enumerate(spec.presets)),
        # «Пропустить» where nothing is answered yet; an answer is kept with «Далее»
        # and, for an optional field, removed with «Не указывать».
        "can_skip": spec.optional and not has_value,
        "can_next": has_value and not editing,
        "can_clear": spec.optional and given,
        "is_phone": name == "phone" and bool(known),
        "account_phone": known if name == "phone" else "",
        "offer_account": name != "phone" and bool(known),
        "account_value": clip(known, BUTTON_VALUE) if known else "",
        "can_back": index > 0 and not editing,
        "editing": editing,
        "notice": dialog_manager.dialog_data.get("notice") or "",
    }


async def consent_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    view = await applications(dialog_manager).run(lambda s: s.draft(user))
    pages = split_pages(ApplicationService.consent_text(), CONSENT_PAGE)
    page = min(max(int(dialog_manager.dialog_data.get("consent_page", 0)), 0), len(pages) - 1)
    spec = FIELD_BY_NAME["consent"]
    editing = bool(dialog_manager.dialog_data.get("editing"))
    last = page == len(pages) - 1
    return {
        "step": FIELD_INDEX["consent"] + 1,
        "total": len(FIELDS),
        "page_text": pages[page],
        "page_no": page + 1,
        "pages": len(pages),
        "paged": len(pages) > 1,
        "has_next": not last,
        "has_prev": page > 0,
        "last": last,
        "question": spec.question,
        "given": view.values.get("consent", ""),
        "can_back": page == 0 and not editing,
        "editing": editing,
        "notice": dialog_manager.dialog_data.get("notice") or "",
    }


async def review_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    user = current_user(dialog_manager)
    service = applications(dialog_manager)
    view = await service.run(lambda s: s.draft(user))
    review = await service.run(lambda s: s.review(user))
    editable = view.status in EDITABLE_STATUSES
    lines = ["Проверьте заявление на ЭМК"]
    if review.number:
        lines.append(f"Заявка № {review.number}")
    if view.status == Status.NEEDS_FIX:
        status = await service.run(lambda s: s.status(user))
        if status is not None and status.reasons:
            lines += ["", "Что нужно исправить:"]
            lines += [f"• {reason}" for reason in status.reasons]
    lines.append("")
    lines += [f"{label}: {clip(value, REVIEW_VALUE)}" for _name, label, value in review.rows]
    lines += ["", "Документы:"]
    lines += [slot_line(slot) for slot in review.documents]
    lines.append("")
    if not editable:
        lines.append("Заявление отправлено, изменить его сейчас нельзя.")
    else:
        if review.missing_fields:
            lines.append("Не заполнены поля: " + "; ".join(review.missing_fields) + ".")
        if review.missing_documents:
            lines.append("Не загружены документы: " + ", ".join(review.missing_documents) + ".")
        if review.can_submit:
            lines.append("Если всё верно, нажмите «Отправить».")
        lines.append("Чтобы исправить значение, нажмите «Изменить» с названием поля.")
    return {
        "text": clip("\n".join(lines), REVIEW_TEXT),
        "fields": [(name, label) for name, label, _value in review.rows],
        "editable": editable,
        "needs_fix": view.status == Status.NEEDS_FIX,
    }


async def accepted_getter(dialog_manager: DialogManager, **_: Any) -> dict[str, Any]:
    current_user(dialog_manager)
    return {"number": dialog_manager.dialog_data.get("number", "")}
