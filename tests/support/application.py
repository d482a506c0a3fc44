"""Helpers for the application, document and processor tests (not a test module).

Every use case runs in a unit of work of its own that is committed, as the
per-update middleware does.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from PIL import Image
from pypdf import PdfWriter

from services.core.access import CurrentUser
from services.core.gateways import EncryptedDirectoryStore, LocalRegistry
from services.demo import PETROV_APPLICATION, seed_demo
from services.enrolment.application import ApplicationService, DraftView
from services.enrolment.documents import DocumentService
from services.enrolment.processing import Finished, ProcessingService, RegistryAnswer
from services.identity.otp import OtpService
from storage.models import Account, TelegramBinding
from storage.uow import UnitOfWork
from tests.support.services import Env

T = TypeVar("T")

FILE_KEY = bytes(range(32))
PETROV_PHONE = "+79990000002"
SMIRNOVA_PHONE = "+79990000003"
KUZNETSOV_PHONE = "+79990000004"


# Uploads are judged readable from 600 px on the short side (MIN_IMAGE_SIDE):
# the builders make a picture a phone or a scanner would, 800×600 by default.
# A picture is one colour, so different colours stay different files after the
# upload re-encodes them.


def make_png(color: str = "navy", width: int = 800, height: int = 600) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def make_jpeg(color: str = "white", width: int = 800, height: int = 600) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_pdf(pages: int = 1) -> bytes:
    """A PDF of blank A4 pages (the same bytes for the same number of pages)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def use_file_store(env: Env, directory: Path) -> EncryptedDirectoryStore:
    store = EncryptedDirectoryStore(directory, FILE_KEY)
    env.ctx.gateways.files = store
    return store


def files_on_disk(directory: Path) -> list[Path]:
    """Everything in the store directory that is a file (temporary files included)."""
    if not directory.exists():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file())


async def in_uow(env: Env, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `action` in a unit of work and commit it (an exception rolls it back)."""
    async with env.uow() as uow:
        result = await action(uow)
        await uow.commit()
        return result


async def seed(env: Env) -> None:
    await in_uow(env, lambda uow: seed_demo(uow, env.ctx))


async def sign_in(env: Env, phone: str, chat_id: int | None = None) -> CurrentUser:
    """The demo account with this phone, bound to a Telegram chat (for the pushes)."""

    async def run(uow: UnitOfWork) -> CurrentUser:
        account = await uow.identity.accounts.find_by_login("phone", phone)
        assert account is not None, phone
        if not await uow.identity.bindings.for_account(account.id):
            await uow.identity.bindings.add(
                TelegramBinding(
                    telegram_user_id=chat_id or 5000 + account.id,
                    chat_id=chat_id or 5000 + account.id,
                    account_id=account.id,
                    created_at=env.clock.now(),
                )
            )
        return CurrentUser(account_id=account.id, session_id=1, display_name=account.first_name)

    return await in_uow(env, run)


async def call(env: Env, method: str, user: CurrentUser, *args: object) -> object:
    """ApplicationService(uow, ctx).method(user, *args) in a committed unit of work."""

    async def run(uow: UnitOfWork) -> object:
        return await getattr(ApplicationService(uow, env.ctx), method)(user, *args)

    return await in_uow(env, run)


async def draft(env: Env, user: CurrentUser) -> DraftView:
    result = await call(env, "draft", user)
    assert isinstance(result, DraftView)
    return result


async def set_field(env: Env, user: CurrentUser, name: str, raw: str) -> DraftView:
    result = await call(env, "set_field", user, name, raw)
    assert isinstance(result, DraftView)
    return result


async def fill_form(env: Env, user: CurrentUser, values: dict[str, str] | None = None) -> DraftView:
    """Answer every field as a person would: type, skip an empty optional one, consent."""
    values = dict(PETROV_APPLICATION if values is None else values)
    view: DraftView | None = None
    for spec in ApplicationService.FIELDS:
        if spec.kind == "consent":
            result = await call(env, "accept_consent", user)
        elif spec.optional and not values.get(spec.name):
            result = await call(env, "skip_field", user, spec.name)
        else:
            result = await call(env, "set_field", user, spec.name, values[spec.name])
        assert isinstance(result, DraftView)
        view = result
    assert view is not None
    return view


async def upload(
    env: Env, user: CurrentUser, slot: str, data: bytes, file_name: str | None = None
) -> object:
    async def run(uow: UnitOfWork) -> object:
        return await DocumentService(uow, env.ctx).upload(user, slot, data, file_name)

    return await in_uow(env, run)


async def upload_required(env: Env, user: CurrentUser) -> None:
    await upload(env, user, "passport", make_png("navy"), "паспорт.png")
    await upload(env, user, "policy", make_jpeg("white"), "полис.jpg")
    await upload(env, user, "snils", make_pdf(), "снилс.pdf")


async def confirm_code(env: Env, user: CurrentUser, action_ref: str) -> None:
    """Issue and verify the one-time SMS code for `action_ref`, as the code dialog does."""

    async def issue(uow: UnitOfWork) -> int:
        account = await uow.identity.accounts.get(user.account_id)
        assert isinstance(account, Account)
        issued = await OtpService(uow, env.ctx).issue(
            account, "application_submit", "sms", action_ref=action_ref, actor="test"
        )
        return issued.challenge_id

    challenge_id = await in_uow(env, issue)

    async def verify(uow: UnitOfWork) -> None:
        await OtpService(uow, env.ctx).verify(
            challenge_id,
            account_id=user.account_id,
            purpose="application_submit",
            action_ref=action_ref,
            raw_code=env.last_code(),
            actor="test",
        )

    await in_uow(env, verify)


async def submit(env: Env, user: CurrentUser) -> object:
    """prepare_submit → confirm the code → submit."""
    action_ref = await call(env, "prepare_submit", user)
    assert isinstance(action_ref, str)
    await confirm_code(env, user, action_ref)
    return await call(env, "submit", user, action_ref)


async def submitted_application(
    env: Env, phone: str = PETROV_PHONE, values: dict[str, str] | None = None
) -> CurrentUser:
    """A demo person whose complete application (documents included) was submitted."""
    user = await sign_in(env, phone)
    await draft(env, user)
    await fill_form(env, user, values)
    await upload_required(env, user)
    await submit(env, user)
    return user


async def claim_and_start(env: Env, lease: timedelta = timedelta(minutes=10)) -> int:
    """One worker step pair, as the processor commits them: claim, then start."""
    registry = LocalRegistry(env.uow_factory)

    async def claim(uow: UnitOfWork) -> int | None:
        return await ProcessingService(uow, env.ctx, registry).claim(env.clock.now(), lease)

    application_id = await in_uow(env, claim)
    assert application_id is not None

    async def start(uow: UnitOfWork) -> object:
        return await ProcessingService(uow, env.ctx, registry).start(application_id)

    assert await in_uow(env, start) is not None
    return application_id


async def registry_answer(env: Env, application_id: int) -> RegistryAnswer:
    """Read the applicant, then ask the registry with no transaction open."""
    registry = LocalRegistry(env.uow_factory)
    async with env.uow() as uow:
        service = ProcessingService(uow, env.ctx, registry)
        applicant = await service.applicant(application_id)
    assert applicant is not None
    return await service.ask_registry(applicant)


async def finish(
    env: Env, application_id: int, answer: RegistryAnswer | None = None
) -> Finished | None:
    """The decision step of the processor (asking the registry first unless given)."""
    answer = answer or await registry_answer(env, application_id)
    registry = LocalRegistry(env.uow_factory)

    async def run(uow: UnitOfWork) -> Finished | None:
        return await ProcessingService(uow, env.ctx, registry).finish(application_id, answer)

    return await in_uow(env, run)
