"""The commands of `python -m bot`, each a coroutine returning an exit status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.app import Runtime, build_runtime, create_bot, register_commands
from bot.cli import install_stop_signals
from bot.config import ConfigError, Settings
from bot.inbox import UpdateInbox, inbox_for
from bot.outage import Outage, is_outage, sleep_or_stop
from bot.workers import start_workers
from handlers.errors import tell_unavailable
from services.core.errors import DomainError
from services.demo import seed_demo
from services.identity.admin import AdminService, NewAccount
from storage.fsm import ping_redis
from storage.migrate import upgrade_async
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("bot")


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite at {parsed.database}"
    return f"{parsed.get_backend_name()} at {parsed.host}:{parsed.port or 5432}/{parsed.database}"


async def prepare(settings: Settings) -> None:
    """Fail fast with one clear line: the database and Redis must answer."""
    url = settings.effective_database_url
    try:
        await upgrade_async(url, audit_key=settings.audit_key_bytes())
    except (OSError, OperationalError, DBAPIError) as exc:
        raise ConfigError(
            f"the database ({_where(url)}) does not answer: {type(exc).__name__}"
        ) from None
    if settings.redis_url:
        try:
            await ping_redis(settings.redis_url)
        except ConnectionError as exc:
            raise ConfigError(str(exc)) from None


async def _with_runtime(settings: Settings) -> Runtime:
    await prepare(settings)
    return build_runtime(settings)


async def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    """Serve Telegram: every update is stored before it is acknowledged, then handled once.

    On SIGTERM (or SIGINT) the bot takes no new updates, finishes those it has
    within SHUTDOWN_GRACE_SECONDS and exits; what is left is handled after the
    next start (bot.inbox).
    """
    settings.require_token()
    if settings.webhook_url and settings.webhook_secret is None:
        raise ConfigError("WEBHOOK_URL is set but WEBHOOK_SECRET is not: set a random secret")
    runtime = await _with_runtime(settings)
    bot = create_bot(settings)
    stop = asyncio.Event()
    install_stop_signals(stop)
    dispatcher = runtime.dispatcher
    inbox = inbox_for(runtime, bot)
    workers: list[asyncio.Task[None]] = []
    if not args.no_workers:
        # Started by the dispatcher's startup, after aiogram-dialog has registered
        # its dialogs: a worker's background update must find them.
        async def start_background(**_: object) -> None:
            workers.extend(start_workers(runtime, bot, stop))

        dispatcher.startup.register(start_background)
    workflow = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    workflow.pop("bot", None)
    handling: asyncio.Task[None] | None = None
    started = False
    api_runner: web.AppRunner | None = None
    try:
        await register_commands(bot)
        await dispatcher.emit_startup(bot=bot, **workflow)
        started = True
        # Also the updates a crashed or stopped process left in the inbox.
        handling = asyncio.create_task(inbox.run(), name="update-inbox")
        # The laboratories' API (bot.api): a server of its own when API_PORT is set;
        # in webhook mode its routes are on the webhook's server (_serve_webhook).
        if settings.api_port and not settings.webhook_url:
            from bot.api import api_config, serve_api

            api_runner = await serve_api(api_config(runtime), settings.api_host, settings.api_port)
        if settings.webhook_url:
            await _serve_webhook(runtime, bot, inbox, stop)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            await _poll(runtime, bot, inbox, stop)
        log.info(
            "stopping: %d update(s) in flight, up to %s s to finish",
            inbox.in_flight,
            settings.shutdown_grace_seconds,
        )
        await inbox.shutdown(handling, settings.shutdown_grace_seconds)
    finally:
        stop.set()
        if api_runner is not None:
            await api_runner.cleanup()
        if handling is not None and not handling.done():
            handling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handling
        await asyncio.gather(*workers, return_exceptions=True)
        if started:
            await dispatcher.emit_shutdown(bot=bot, **workflow)
        await bot.session.close()
        await runtime.close()
        log.info("stopped")
    return 0


# Seconds a getUpdates request waits for news (long polling).
POLL_TIMEOUT = 10


async def _poll(runtime: Runtime, bot: Bot, inbox: UpdateInbox, stop: asyncio.Event) -> None:
    """Long polling: getUpdates → store the batch → only then move the offset past it.

    The offset is what acknowledges updates to Telegram, so an update is never
    confirmed before its row is committed; a batch that could not be stored is
    asked for again. A getUpdates in progress is abandoned on `stop` (what it
    would have returned stays with Telegram).
    """
    allowed = runtime.dispatcher.resolve_used_update_types()
    backoff = Backoff(BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1))
    storing = Outage("polling", logger=log)
    told: set[int] = set()  # people answered «Сервис временно недоступен» in this outage
    offset: int | None = None
    request_timeout = int((bot.session.timeout or 60) + POLL_TIMEOUT)
    stopped = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            request = GetUpdates(offset=offset, timeout=POLL_TIMEOUT, allowed_updates=allowed)
            fetch = asyncio.create_task(bot(request, request_timeout=request_timeout))
            await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await fetch
                break
            problem = None
            try:
                updates = fetch.result()
            except Exception as exc:
                problem = f"getUpdates failed: {type(exc).__name__}"
            else:
                try:
                    if updates:
                        raw = [
                            u.model_dump(mode="json", by_alias=True, exclude_unset=True)
                            for u in updates
                        ]
                        await inbox.receive(raw)
                        offset = updates[-1].update_id + 1
                        storing.recovered()
                        told.clear()
                except Exception as exc:
                    # Not acknowledged: Telegram gives the same updates again.
                    if not is_outage(exc):
                        problem = f"could not store updates: {type(exc).__name__}"
                    else:
                        # Logged once per outage; each person told once, a typed text deleted.
                        storing.failed(exc)
                        await _tell_unavailable_once(bot, updates, told)
                        await sleep_or_stop(stop, next(backoff))
                        continue
            if problem is not None:
                delay = next(backoff)
                log.error("polling: %s; trying again in %.1f s", problem, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stopped), delay)
                continue
            backoff.reset()
    finally:
        stopped.cancel()


async def _tell_unavailable_once(bot: Bot, updates: list[Update], told: set[int]) -> None:
    """«Сервис временно недоступен…» to each person of a batch that could not be stored,
    once per outage (Telegram gives the batch again until it is stored); a typed text is
    deleted from the chat first (handlers.errors.tell_unavailable)."""
    for update in updates:
        person = _person_of(update)
        if person is None or person in told:
            continue
        told.add(person)
        try:
            await tell_unavailable(update, bot)
        except Exception as exc:
            log.warning("update %s: could not answer (%s)", update.update_id, type(exc).__name__)


def _person_of(update: Update) -> int | None:
    """Who sent a message or pressed a button (the bot answers nothing else)."""
    event = update.message or update.callback_query
    return event.from_user.id if event is not None and event.from_user is not None else None


async def _serve_webhook(
    runtime: Runtime, bot: Bot, inbox: UpdateInbox, stop: asyncio.Event
) -> None:
    from aiohttp import web

    settings = runtime.settings
    assert settings.webhook_secret is not None  # checked by run_bot
    secret = settings.webhook_secret.get_secret_value()
    assert settings.webhook_url is not None
    path = make_url_path(settings.webhook_url)
    app = web.Application()
    app.router.add_post(path, webhook_handler(inbox, secret, bot))
    from bot.api import add_api_routes, api_config

    add_api_routes(app, api_config(runtime))  # the laboratories' API on the same server
    web_runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await web_runner.setup()
    site = web.TCPSite(web_runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    try:
        await bot.set_webhook(settings.webhook_url, secret_token=secret, drop_pending_updates=False)
        log.info("webhook server on %s:%s%s", settings.webhook_host, settings.webhook_port, path)
        await stop.wait()
    finally:
        # No new updates: the listener closes, requests storing an update finish.
        await web_runner.cleanup()


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_handler(
    inbox: UpdateInbox, secret: str, bot: Bot | None = None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Answer Telegram 200 only once the update is committed to the inbox.

    Anything else (the database is down or slow past its timeout) is a 503, and
    Telegram sends the update again later; the inbox drops a second copy.
    """
    from aiohttp import web

    storing = Outage("webhook", logger=log)
    told: set[int] = set()  # people answered «Сервис временно недоступен» in this outage

    async def handle(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=401, text="Unauthorized")
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400, text="Bad Request")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="Bad Request")
        try:
            await inbox.receive([update])
        except Exception as exc:
            if not is_outage(exc) or bot is None:
                log.error(
                    "webhook: could not store update %s (%s)",
                    update["update_id"],
                    type(exc).__name__,
                )
            else:
                # Telegram sends it again later; the person is told once per outage.
                storing.failed(exc)
                with contextlib.suppress(ValueError):
                    parsed = Update.model_validate(update, context={"bot": bot})
                    await _tell_unavailable_once(bot, [parsed], told)
            return web.Response(status=503, text="Service Unavailable")
        storing.recovered()
        told.clear()
        return web.Response(status=200)

    return handle


def make_url_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


async def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    settings.require_token()
    runtime = await _with_runtime(settings)
    bot = create_bot(settings)
    stop = asyncio.Event()
    install_stop_signals(stop)
    try:
        await asyncio.gather(*start_workers(runtime, bot, stop))
    finally:
        await bot.session.close()
        await runtime.close()
    return 0


async def migrate(args: argparse.Namespace, settings: Settings) -> int:
    await prepare(settings)
    print(f"database is up to date ({_where(settings.effective_database_url)})")
    return 0


async def seed(args: argparse.Namespace, settings: Settings) -> int:
    runtime = await _with_runtime(settings)
    try:
        async with runtime.uow_factory() as uow:
            created = await seed_demo(uow, runtime.ctx)
            await uow.commit()
    finally:
        await runtime.close()
    print(f"demo data: {len(created)} accounts created" if created else "demo data already there")
    return 0


async def admin(args: argparse.Namespace, settings: Settings) -> int:
    if args.admin_command == "add-lab":
        from bot.api import add_lab

        return await add_lab(args, settings)
    if args.admin_command in BOOKING_COMMANDS:
        return await _admin_booking(args, settings)
    if args.admin_command in STAFF_COMMANDS:
        return await _admin_staff(args, settings)
    runtime = await _with_runtime(settings)
    try:
        async with runtime.uow_factory() as uow:
            service = AdminService(uow, runtime.ctx, operator=args.operator)
            try:
                if args.admin_command == "create-account":
                    password = (
                        sys.stdin.readline().rstrip("\n")
                        if args.password_stdin
                        else _ask_password()
                    )
                    account = await service.create_account(
                        NewAccount(
                            phone=args.phone,
                            password=password,
                            last_name=args.last_name,
                            first_name=args.first_name,
                            middle_name=args.middle_name,
                            email=args.email,
                            snils=args.snils,
                            totp_secret=args.totp_secret,
                        )
                    )
                    message = f"account {account.id} created"
                elif args.admin_command == "unlock":
                    account = await service.unlock(args.login)
                    message = f"account {account.id} unlocked"
                else:
                    temporary = await service.reset_password(args.login)
                    message = f"temporary password (tell it to the person, once): {temporary}"
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            await uow.commit()
    finally:
        await runtime.close()
    print(message)
    return 0


BOOKING_COMMANDS = ("doctors", "schedule", "cancel-day", "change-day")
STAFF_COMMANDS = ("create-staff", "confirm-staff")


async def _admin_staff(args: argparse.Namespace, settings: Settings) -> int:
    """`admin create-staff|confirm-staff`: one unit of work, audited."""
    from services.clinic.staff import NewStaff, StaffAdmin

    runtime = await _with_runtime(settings)
    lines: list[str] = []
    try:
        async with runtime.uow_factory() as uow:
            service = StaffAdmin(uow, runtime.ctx, operator=args.operator)
            try:
                if args.admin_command == "create-staff":
                    created = await service.create_staff(
                        NewStaff(
                            organisation=args.org,
                            role=args.role,
                            phone=args.phone,
                            last_name=args.last_name,
                            first_name=args.first_name,
                            middle_name=args.middle_name,
                            specialty=args.specialty,
                            organisation_name=args.org_name,
                            organisation_address=args.org_address,
                        )
                    )
                    state = "confirmed" if created.confirmed else "pending confirmation"
                    lines = [
                        f"staff {created.staff_id} created (account {created.account_id}, "
                        f"organisation {created.organisation_id}, {created.role}, {state})"
                    ]
                    if created.booking_doctor_id is not None:
                        lines.append(f"linked to booking doctor {created.booking_doctor_id}")
                    if created.temporary_password is not None:
                        lines.append(
                            "temporary password (tell it to the person, once; it is changed "
                            f"at the first sign-in): {created.temporary_password}"
                        )
                else:
                    staff = await service.confirm_staff(args.staff_id)
                    lines = [f"staff {staff.id} confirmed"]
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            await uow.commit()
    finally:
        await runtime.close()
    print("\n".join(lines))
    return 0


async def _admin_booking(args: argparse.Namespace, settings: Settings) -> int:
    """`admin doctors|schedule|cancel-day|change-day`: one unit of work, audited."""
    from services.booking import schedule

    runtime = await _with_runtime(settings)
    operator = f"admin:{args.operator}"
    lines: list[str] = []
    try:
        async with runtime.uow_factory() as uow:
            try:
                if args.admin_command == "doctors":
                    lines = await _list_doctors(uow, args.org)
                elif args.admin_command == "schedule":
                    lines = await _make_schedule(uow, runtime, args, operator)
                elif args.admin_command == "cancel-day":
                    told = await schedule.cancel_day(
                        uow,
                        runtime.ctx,
                        args.doctor,
                        args.day,
                        args.reason.strip(),
                        operator=operator,
                    )
                    lines = [f"day {args.day} of doctor {args.doctor} cancelled; {told} told"]
                else:
                    start, end = args.hours
                    change = await schedule.change_day(
                        uow,
                        runtime.ctx,
                        args.doctor,
                        args.day,
                        start,
                        end,
                        args.reason.strip(),
                        operator=operator,
                    )
                    lines = [
                        f"day {args.day} of doctor {args.doctor} now {start:%H:%M}-{end:%H:%M}: "
                        f"{change.closed} slots closed, {change.opened} opened, "
                        f"{change.told} told"
                    ]
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            await uow.commit()
    finally:
        await runtime.close()
    for line in lines:
        print(line)
    return 0


async def _list_doctors(uow: UnitOfWork, organisation: str | None) -> list[str]:
    catalog = uow.booking.catalog
    doctors = list(await catalog.all_doctors())
    if organisation is not None:
        found = await catalog.organisation_by_name(organisation)
        if found is None:
            raise DomainError(f"Организации «{organisation}» нет.")
        doctors = [d for d in doctors if d.organisation_id == found.id]
    names: dict[int, str] = {}
    specialties = {s.code: s.name for s in await catalog.specialties()}
    rows = []
    for doctor in doctors:
        if doctor.organisation_id not in names:
            org = await catalog.organisation(doctor.organisation_id)
            names[doctor.organisation_id] = org.name if org else str(doctor.organisation_id)
        name = " ".join(p for p in (doctor.last_name, doctor.first_name, doctor.middle_name) if p)
        if not doctor.active:
            name += " (не ведёт приём)"
        rows.append(
            [
                str(doctor.id),
                name,
                specialties.get(doctor.specialty_code, doctor.specialty_code),
                names[doctor.organisation_id],
                doctor.cabinet,
            ]
        )
    if not rows:
        return ["no doctors"]
    return _table(["id", "doctor", "specialty", "organisation", "cabinet"], rows)


async def _make_schedule(
    uow: UnitOfWork, runtime: Runtime, args: argparse.Namespace, operator: str
) -> list[str]:
    from services.booking import schedule

    start, end = args.hours
    made = await schedule.add_days(
        uow,
        runtime.ctx,
        args.doctor,
        args.first,
        args.last,
        start,
        end,
        args.days,
        operator=operator,
    )
    lines = [f"{day} skipped: the doctor has a schedule that day already" for day in made.skipped]
    lines.append(
        f"doctor {args.doctor}: {made.made} working days made ({made.slots} slots, "
        f"{start:%H:%M}-{end:%H:%M}), {len(made.skipped)} skipped"
    )
    return lines


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


async def audit(args: argparse.Namespace, settings: Settings) -> int:
    """`audit verify`: walk the journal's hash chain; 1 and the first bad row if it broke."""
    from services.core.audit import verify

    runtime = await _with_runtime(settings)
    try:
        async with runtime.uow_factory() as uow:
            report = await verify(uow, runtime.ctx)
    finally:
        await runtime.close()
    if report.problem is not None:
        print(
            f"the journal is damaged: {report.problem} ({report.rows} rows before it hold)",
            file=sys.stderr,
        )
        return 1
    print(
        f"the journal is intact: {report.rows} rows "
        f"(last #{report.last_seq}, hash {report.last_hash[:16]})"
    )
    return 0


def _ask_password() -> str:
    import getpass

    first = getpass.getpass("Пароль: ")
    if getpass.getpass("Ещё раз: ") != first:
        raise ConfigError("the passwords differ")
    return first


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_console

    return await run_console(settings, phone=args.phone, user_id=args.user_id)
