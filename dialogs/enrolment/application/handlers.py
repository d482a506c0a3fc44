"""What each answer or button of the form does, written through ApplicationService.

A wrong value raises a domain error whose message is shown in the same window
with the same question (``text_input`` and ``guarded``); nothing answered
before is lost, as every accepted answer is already in the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.widgets.kbd import Button

from dialogs.core.common import applications, clear_error, current_user, guarded
from dialogs.core.otp.contract import CodeRequest, code_confirmed
from dialogs.core.otp.states import Otp
from dialogs.enrolment.application.contract import FormStart
from dialogs.enrolment.application.getters import DRAFT_VIEW, FIELD_BY_NAME, FIELD_INDEX
from dialogs.enrolment.application.states import ApplicationForm
from dialogs.enrolment.status.contract import StatusStart
from dialogs.enrolment.status.states import ApplicationStatus
from services.enrolment.application import FIELDS, SUBMIT_PURPOSE, DraftView
from services.enrolment.statuses import ApplicationStatus as Status
from services.enrolment.statuses import FieldKind
from services.identity.otp import Channel, Purpose

# The enrolment area names the purpose itself (areas do not import each other);
# a purpose the code service does not know would fail here, at import.
SUBMIT = Purpose(SUBMIT_PURPOSE)

ALREADY_SENT = (
    "Ваше заявление уже отправлено на проверку. Новое заявление можно подать после "
    "решения по этому."
)
NEEDS_FIX = (
    "По вашему заявлению требуются исправления. Исправьте его и отправьте снова — "
    "новое заявление подавать не нужно."
)
RECORD_OPEN = "Электронная медицинская карта уже открыта. Новое заявление подавать не нужно."


async def open_application(
    manager: DialogManager,
    *,
    mode: StartMode = StartMode.NORMAL,
    show_mode: ShowMode | None = None,
) -> None:
    """«Заявление на ЭМК»: the form of the draft, or the status when one was sent.

    A person has one application in progress: once it is sent, the status
    screen stands in for the form until it is decided. Once the record is open
    the status stands in for it too: no blank draft is started.
    """
    user = current_user(manager)
    service = applications(manager)
    if await service.run(lambda s: s.record_open(user)):
        status = await service.run(lambda s: s.status(user))
        waiting = status is not None and status.status in (Status.ACCEPTED, Status.IN_WORK)
        notice = RECORD_OPEN
        if status is not None and status.status == Status.NEEDS_FIX:
            notice = NEEDS_FIX
        elif waiting:
            notice = ALREADY_SENT
        await manager.start(
            ApplicationStatus.main,
            data=StatusStart(notice=notice).to_data(),
            mode=mode,
            show_mode=show_mode,
        )
        return
    view = await service.run(lambda s: s.draft(user))
    if view.status == Status.DRAFT:
        await manager.start(ApplicationForm.field, mode=mode, show_mode=show_mode)
        return
    notice = NEEDS_FIX if view.status == Status.NEEDS_FIX else ALREADY_SENT
    await manager.start(
        ApplicationStatus.main,
        data=StatusStart(notice=notice).to_data(),
        mode=mode,
        show_mode=show_mode,
    )


# -- moving through the form ------------------------------------------------------


async def _ask(manager: DialogManager, name: str) -> None:
    """Show the question of field `name`."""
    manager.dialog_data["field"] = name
    if FieldKind(FIELD_BY_NAME[name].kind) == FieldKind.CONSENT:
        manager.dialog_data["consent_page"] = 0
        await manager.switch_to(ApplicationForm.consent)
    else:
        await manager.switch_to(ApplicationForm.field)


async def _review(manager: DialogManager) -> None:
    for key in ("editing", "notice", "field"):
        manager.dialog_data.pop(key, None)
    await manager.switch_to(ApplicationForm.review)


def _following(name: str) -> str | None:
    """The question after `name` in the form's order; None after the last one."""
    index = FIELD_INDEX[name] + 1
    return FIELDS[index].name if index < len(FIELDS) else None


async def _after_answer(
    manager: DialogManager, view: DraftView, *, after: str | None = None
) -> None:
    """After an accepted answer: the next question, or back to the review.

    The next question is the first one not answered yet — or, with `after`, the
    one that follows `after` in the form (walking on from a question reached
    with «Назад» without retyping what comes next).
    """
    # The view the answer's own use case returned is this update's fresh state of
    # the draft: the next window shows it instead of reading the draft again.
    manager.middleware_data[DRAFT_VIEW] = view
    if view.notice:
        manager.dialog_data["notice"] = view.notice
    else:
        manager.dialog_data.pop("notice", None)
    if view.notice and view.next_field:
        # A change voided another answer (e.g. the passport's issue date): ask it now.
        await _ask(manager, view.next_field)
    elif manager.dialog_data.get("editing"):
        await _review(manager)
    elif after is not None:
        following = _following(after)
        if following is None:
            await _review(manager)
        else:
            await _ask(manager, following)
    elif view.next_field is None:
        await _review(manager)
    else:
        await _ask(manager, view.next_field)


async def _answer(
    manager: DialogManager,
    action: Callable[[], Awaitable[DraftView]],
    *,
    after: str | None = None,
) -> None:
    """Run a button's answer; an error stays in the window, success moves on."""
    answered: list[DraftView] = []

    async def run() -> None:
        answered.append(await action())

    if await guarded(manager, run):
        await _after_answer(manager, answered[0], after=after)


async def _field(manager: DialogManager) -> str:
    """The field being asked (the first unanswered one if the window lost track)."""
    name = manager.dialog_data.get("field")
    if name in FIELD_BY_NAME:
        return str(name)
    view = await applications(manager).run(lambda s: s.draft(current_user(manager)))
    name = view.next_field or FIELDS[0].name
    manager.dialog_data["field"] = name
    return name


async def on_start(start_data: Any, manager: DialogManager) -> None:
    view = await applications(manager).run(lambda s: s.draft(current_user(manager)))
    to_review = FormStart.from_data(start_data).review
    if to_review or view.next_field is None or view.status != Status.DRAFT:
        await _review(manager)
    else:
        await _ask(manager, view.next_field)


async def on_text(message: Message, manager: DialogManager, text: str) -> None:
    name = await _field(manager)
    user = current_user(manager)
    view = await applications(manager).run(lambda s: s.set_field(user, name, text))
    await _after_answer(manager, view)


async def on_choice(_c: CallbackQuery, _w: Any, manager: DialogManager, key: str) -> None:
    name = await _field(manager)
    user = current_user(manager)
    await _answer(
        manager, lambda: applications(manager).run(lambda s: s.set_field(user, name, key))
    )


async def on_skip(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Пропустить» a question not answered yet. An answer already given is kept:
    skipping a question is not erasing it (that is «Не указывать»)."""
    name = await _field(manager)
    user = current_user(manager)
    view = await applications(manager).run(lambda s: s.draft(user))
    if name in view.values:
        await _keep(manager, name, view)
        return
    await _answer(manager, lambda: applications(manager).run(lambda s: s.skip_field(user, name)))


async def on_next(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Далее»: keep the answer shown and go on to the question after it."""
    name = await _field(manager)
    view = await applications(manager).run(lambda s: s.draft(current_user(manager)))
    await _keep(manager, name, view)


async def _keep(manager: DialogManager, name: str, view: DraftView) -> None:
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    await _after_answer(manager, view, after=name)


async def on_clear(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Не указывать»: remove the answer of an optional field, then go on."""
    name = await _field(manager)
    user = current_user(manager)
    await _answer(
        manager,
        lambda: applications(manager).run(lambda s: s.skip_field(user, name)),
        after=name,
    )


async def on_preset(_c: CallbackQuery, _w: Any, manager: DialogManager, item: str) -> None:
    """A button with a ready answer (e.g. «Бессрочный»): as if its label were typed."""
    name = await _field(manager)
    presets = FIELD_BY_NAME[name].presets
    if not item.isdigit() or int(item) >= len(presets):  # a stale or forged button
        return
    text = presets[int(item)]
    user = current_user(manager)
    await _answer(
        manager, lambda: applications(manager).run(lambda s: s.set_field(user, name, text))
    )


async def on_account_value(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """«Использовать: …» — the value the portal account already has for this question."""
    name = await _field(manager)
    user = current_user(manager)
    await _answer(
        manager,
        lambda: applications(manager).run(lambda s: s.use_account_value(user, name)),
    )


async def on_account_phone(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await _answer(
        manager,
        lambda: applications(manager).run(lambda s: s.use_account_phone(current_user(manager))),
    )


async def on_consent(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    await _answer(
        manager,
        lambda: applications(manager).run(lambda s: s.accept_consent(current_user(manager))),
    )


async def on_consent_page(_c: CallbackQuery, button: Button, manager: DialogManager) -> None:
    step = 1 if button.widget_id == "consent_next" else -1
    manager.dialog_data["consent_page"] = max(0, manager.dialog_data.get("consent_page", 0) + step)


async def on_back(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """The previous question of the form (its answer can be changed there)."""
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    index = FIELD_INDEX.get(str(manager.dialog_data.get("field")), 0)
    await _ask(manager, FIELDS[max(index - 1, 0)].name)


async def on_to_review(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    clear_error(manager)
    await _review(manager)


async def on_edit(_c: CallbackQuery, _w: Any, manager: DialogManager, name: str) -> None:
    if name not in FIELD_BY_NAME:  # a stale or forged button
        return
    clear_error(manager)
    manager.dialog_data.pop("notice", None)
    manager.dialog_data["editing"] = True
    await _ask(manager, name)


# -- submitting ---------------------------------------------------------------------


async def on_submit(_c: CallbackQuery, _b: Button, manager: DialogManager) -> None:
    """Check that nothing is missing, then confirm the sending with a code by SMS."""
    user = current_user(manager)
    refs: list[str] = []

    async def prepare() -> None:
        refs.append(await applications(manager).run(lambda s: s.prepare_submit(user)))

    if not await guarded(manager, prepare):
        return
    manager.dialog_data["action_ref"] = refs[0]
    # An authenticator code can't confirm a submission: the code goes by SMS
    # (or, without the phone at hand, by e-mail).
    request = CodeRequest(
        account_id=user.account_id,
        purpose=SUBMIT,
        channel=Channel.SMS,
        action_ref=refs[0],
        can_use_email=True,
    )
    await manager.start(Otp.code, data=request.to_data())


async def on_result(start_data: Any, result: Any, manager: DialogManager) -> None:
    """A sub-dialog ended: after a confirmed code, send the application."""
    action_ref = manager.dialog_data.pop("action_ref", None)
    if not isinstance(action_ref, str) or not code_confirmed(
        start_data, result, purpose=SUBMIT, action_ref=action_ref
    ):
        return  # the documents' list or a cancelled code: the review shows again
    numbers: list[str] = []

    async def submit() -> None:
        sent = await applications(manager).run(
            lambda s: s.submit(current_user(manager), action_ref)
        )
        numbers.append(sent.number)

    if await guarded(manager, submit):
        manager.dialog_data["number"] = numbers[0]
        await manager.switch_to(ApplicationForm.accepted)
