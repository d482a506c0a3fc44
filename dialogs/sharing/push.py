"""The buttons under the sharing pushes: «Запросить доступ снова», «Разрешить», «Отклонить».

``handlers/push.py`` registers them; the argument is the grant's id, and the
service checks it belongs to whoever pressed.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery

from services.core.access import CurrentUser
from services.core.errors import DomainError
from services.core.work import UseCases
from services.sharing.grants import SharingService

SIGN_IN_TO_ANSWER = "Чтобы ответить на запрос, войдите в учётную запись."
NO_SUCH_GRANT = "Такого доступа нет."


def _grant_id(arg: str) -> int | None:
    return int(arg) if arg.isdigit() and len(arg) <= 18 else None


async def on_request_again(
    callback: CallbackQuery, arg: str, current_user: CurrentUser | None, data: dict[str, Any]
) -> None:
    grant_id = _grant_id(arg)
    if grant_id is None:
        await callback.answer(NO_SUCH_GRANT, show_alert=True)
        return
    tg = callback.from_user.id
    service = UseCases(data["work"], data["ctx"], SharingService)
    try:
        text = await service.run(lambda s: s.request_again(tg, current_user, grant_id))
    except DomainError as exc:
        text = exc.message
    await callback.answer(text, show_alert=True)


async def on_answer(
    callback: CallbackQuery,
    arg: str,
    current_user: CurrentUser | None,
    data: dict[str, Any],
    *,
    allow: bool,
) -> None:
    if current_user is None:
        await callback.answer(SIGN_IN_TO_ANSWER, show_alert=True)
        return
    grant_id = _grant_id(arg)
    if grant_id is None:
        await callback.answer(NO_SUCH_GRANT, show_alert=True)
        return
    user = current_user
    service = UseCases(data["work"], data["ctx"], SharingService)
    try:
        text = await service.run(lambda s: s.answer_request(user, grant_id, allow))
    except DomainError as exc:
        text = exc.message
    await callback.answer(text, show_alert=True)
