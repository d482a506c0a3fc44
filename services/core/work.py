"""One unit of work per use case.

A use case is one public method of an area's service (``AuthService.find_account``,
``ApplicationService.set_field`` …). Its caller — a dialog, a command handler, a
worker — runs it in a unit of work of its own, which commits before the caller
goes on to talk to Telegram. So no transaction is open while the bot calls the
Bot API, downloads a file, asks a registry, hashes a password or checks a file.

A domain error is an answer, not a failure: what the use case wrote before
refusing (a wrong password counted, its audit row, the push that tells the
owner) is committed with it. Any other exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from services.core.context import AppContext
from services.core.errors import DomainError
from storage.uow import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
S = TypeVar("S")

# What callers above the services hold to open units of work (they never see storage).
Work = UnitOfWorkFactory

__all__ = ["UseCases", "Work", "in_unit"]


async def in_unit(work: UnitOfWorkFactory, use_case: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `use_case` in a fresh unit of work and commit it (also on a domain error)."""
    async with work() as uow:
        try:
            result = await use_case(uow)
        except DomainError:
            await uow.commit()
            raise
        await uow.commit()
        return result


class UseCases(Generic[S]):
    """An area's service, each call of which is a use case in its own unit of work.

    ``await UseCases(work, ctx, AuthService).run(lambda auth: auth.find_account(...))``
    """

    def __init__(
        self,
        work: UnitOfWorkFactory,
        ctx: AppContext,
        make: Callable[[UnitOfWork, AppContext], S],
    ) -> None:
        self.work = work
        self.ctx = ctx
        self.make = make

    async def run(self, call: Callable[[S], Awaitable[T]]) -> T:
        return await in_unit(self.work, lambda uow: call(self.make(uow, self.ctx)))
