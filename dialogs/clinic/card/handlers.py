"""What the buttons and inputs of a doctor's changes do, through services.record.

Every change is a use case that asks the access rule for WRITE_RECORD with the
doctor's live step-up at that moment; a refusal or a bad answer is shown in the
same window and the question is asked again.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Button

from dialogs.clinic.card.common import (
    colleague_sending,
    conclusions,
    doctor,
    entries,
)
from dialogs.clinic.card.states import DoctorActions
from dialogs.clinic.common import clinic
from dialogs.core.card import DOCTOR
from dialogs.core.common import clear_error, current_user, guarded
from services.clinic.colleague import ColleagueDirectory
from services.core.errors import ValidationError
from services.core.work import UseCases
from services.record.authored import SHORT_LIMIT, ConclusionDraft, check_text
from services.record.colleague import check_note
from services.record.sections import icd10_name

DAYS_HINT = "Напишите длительность курса в днях числом, например 10, или нажмите «Без срока»."


async def _done(manager: DialogManager, text: str) -> None:
    for key in ("icd_query", "for", "colleagues"):
        manager.dialog_data.pop(key, None)
    manager.dialog_data["result"] = text
    await manager.switch_to(DoctorActions.done)


# -- the menu -------------------------------------------------------------------------------


async def on_add_diagnosis(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.update({"for": "diagnosis", "icd_query": None})
    await manager.switch_to(DoctorActions.diagnosis)


async def on_conclusion(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.update({"for": "conclusion", "icd_query": None})
    await manager.switch_to(DoctorActions.diagnosis)


async def on_note(_c: CallbackQuery, button: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data["note_kind"] = "plan" if button.widget_id == "plan" else "anamnesis"
    await manager.switch_to(DoctorActions.note)


async def on_send(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("colleagues", None)
    await manager.switch_to(DoctorActions.recipient)


# -- diagnoses ------------------------------------------------------------------------------


async def on_icd_query(_message: Message, manager: DialogManager, text: str) -> None:
    value = " ".join(text.split())
    if len(value) < 2:
        raise ValidationError("Напишите код МКБ-10 (например, J06) или слова из названия диагноза.")
    manager.dialog_data["icd_query"] = value[:100]


async def on_icd_pick(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    code = item_id.strip().upper()
    if manager.dialog_data.get("for") == "conclusion":
        name = await entries(manager).run(lambda s: icd10_name(s.uow, code))
        manager.dialog_data["conclusion_code"] = code
        manager.dialog_data["conclusion_label"] = f"{code} — {name}" if name else code
        clear_error(manager)
        await manager.switch_to(DoctorActions.findings)
        return
    user = await doctor(manager)
    added: dict[str, int] = {}

    async def add() -> None:
        added["id"] = await entries(manager).run(lambda s: s.add_diagnosis(user, code))

    if await guarded(manager, add):
        await _done(manager, f"Диагноз {code} добавлен в карту пациента.")


async def on_resolve(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    user = await doctor(manager)
    resolved: dict[str, str] = {}

    async def resolve() -> None:
        resolved["name"] = await entries(manager).run(
            lambda s: s.resolve_diagnosis(user, int(item_id))
        )

    if await guarded(manager, resolve):
        await _done(manager, f"Диагноз снят: {resolved['name']}.")


# -- a prescription -------------------------------------------------------------------------


async def on_rx_name(_message: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["rx_name"] = check_text(text, "название препарата", limit=SHORT_LIMIT)
    await manager.switch_to(DoctorActions.rx_dose)


async def on_rx_dose(_message: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["rx_dose"] = check_text(text, "дозировку", limit=100)
    await manager.switch_to(DoctorActions.rx_how)


async def on_rx_how(_message: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["rx_how"] = check_text(text, "как принимать", limit=500)
    await manager.switch_to(DoctorActions.rx_days)


async def _prescribe(manager: DialogManager, days: int | None) -> None:
    data = manager.dialog_data
    user = await doctor(manager)
    name, dose, how = str(data.get("rx_name")), str(data.get("rx_dose")), str(data.get("rx_how"))
    await entries(manager).run(lambda s: s.add_prescription(user, name, dose, how, days))
    course = f"курс {days} дн." if days is not None else "без даты окончания"
    await _done(manager, f"Назначение добавлено в карту: {name} {dose}, {course}.")


async def on_rx_days(_message: Message, manager: DialogManager, text: str) -> None:
    value = text.strip().lower().removesuffix("дней").removesuffix("дня").strip()
    if not value.isdigit():
        raise ValidationError(DAYS_HINT)
    await _prescribe(manager, int(value))


async def on_rx_no_end(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await guarded(manager, lambda: _prescribe(manager, None))


# -- a note -------------------------------------------------------------------------------------


async def on_note_text(_message: Message, manager: DialogManager, text: str) -> None:
    user = await doctor(manager)
    kind = str(manager.dialog_data.get("note_kind", "plan"))
    await entries(manager).run(lambda s: s.add_note(user, kind, text))
    what = "План лечения" if kind == "plan" else "Анамнез"
    await _done(manager, f"{what} добавлен в карту пациента.")


# -- a referral ------------------------------------------------------------------------------


async def on_specialty(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    clear_error(manager)
    user = await doctor(manager)
    names = dict(await entries(manager).run(lambda s: s.specialties(user)))
    if item_id not in names:
        return
    manager.dialog_data.update(specialty=item_id, specialty_name=names[item_id])
    await manager.switch_to(DoctorActions.referral_reason)


async def _refer(manager: DialogManager, reason: str | None) -> None:
    user = await doctor(manager)
    code = str(manager.dialog_data.get("specialty", ""))
    to_whom = await entries(manager).run(lambda s: s.add_referral(user, code, reason))
    await _done(
        manager,
        f"Направление к {to_whom} выдано. Пациент может записаться на приём по нему "
        "в разделе «Записаться к врачу».",
    )


async def on_referral_reason(_message: Message, manager: DialogManager, text: str) -> None:
    await _refer(manager, text)


async def on_referral_no_reason(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await guarded(manager, lambda: _refer(manager, None))


# -- a conclusion --------------------------------------------------------------------------


async def on_findings(_message: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["findings"] = check_text(text, "результаты осмотра")
    await manager.switch_to(DoctorActions.recommendations)


async def on_recommendations(_message: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["recommendations"] = check_text(text, "рекомендации")
    await manager.switch_to(DoctorActions.follow_up)


async def on_follow_up(_message: Message, manager: DialogManager, text: str) -> None:
    manager.dialog_data["follow_up"] = check_text(text, "когда прийти повторно", limit=300)
    await manager.switch_to(DoctorActions.conclusion_confirm)


async def on_issue(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    data = manager.dialog_data
    draft = ConclusionDraft(
        icd10_code=str(data.get("conclusion_code", "")),
        findings=str(data.get("findings", "")),
        recommendations=str(data.get("recommendations", "")),
        follow_up=str(data.get("follow_up", "")),
    )

    async def issue() -> None:
        user = await doctor(manager)
        await conclusions(manager).issue(user, draft)

    if await guarded(manager, issue):
        await _done(
            manager,
            "Заключение подписано электронной подписью организации и добавлено в раздел "
            "пациента «Выписки и заключения». Пациенту отправлено уведомление.",
        )


# -- an extract to a colleague -----------------------------------------------------------


async def on_recipient_query(_message: Message, manager: DialogManager, text: str) -> None:
    user = current_user(manager)
    staff_id = manager.start_data.get(DOCTOR) if isinstance(manager.start_data, dict) else None
    if not isinstance(staff_id, int):
        return
    directory = UseCases(clinic(manager).work, clinic(manager).ctx, ColleagueDirectory)
    found = await directory.run(lambda s: s.find(user, staff_id, text))
    manager.dialog_data["colleagues"] = [(c.staff_id, c.label) for c in found]


async def on_recipient(_c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str) -> None:
    if not item_id.isdigit():
        return
    found = dict(manager.dialog_data.get("colleagues") or [])
    label = found.get(int(item_id))
    if label is None:
        return
    clear_error(manager)
    manager.dialog_data.update(recipient=int(item_id), recipient_label=label)
    await manager.switch_to(DoctorActions.content)


async def on_content_extract(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.update(content="extract", content_label="выписка из карты за год")
    manager.dialog_data.pop("content_id", None)
    await manager.switch_to(DoctorActions.send_note)


async def on_content_conclusion(
    _c: CallbackQuery, _w: Any, manager: DialogManager, item_id: str
) -> None:
    if not item_id.isdigit():
        return
    clear_error(manager)
    manager.dialog_data.update(
        content="conclusion", content_id=int(item_id), content_label="заключение врача"
    )
    await manager.switch_to(DoctorActions.send_note)


async def _send(manager: DialogManager, note: str | None) -> None:
    data = manager.dialog_data
    user = await doctor(manager)
    recipient = data.get("recipient")
    if not isinstance(recipient, int):
        await manager.switch_to(DoctorActions.recipient)
        return
    service = colleague_sending(manager)
    if data.get("content") == "conclusion":
        document_id = int(data.get("content_id", 0))
        sent = await service.send_conclusion(user, recipient, document_id, note)
    else:
        sent = await service.send_extract(user, recipient, note)
    await _done(
        manager,
        f"Выписка отправлена врачу: {sent.recipient}. Она придёт в его «Входящие выписки»; "
        "карту пациента получатель не увидит.",
    )


async def on_send_note(_message: Message, manager: DialogManager, text: str) -> None:
    check_note(text)
    await _send(manager, text)


async def on_send_no_note(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await guarded(manager, lambda: _send(manager, None))


async def on_more(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    manager.dialog_data.pop("result", None)
    await manager.switch_to(DoctorActions.main)
