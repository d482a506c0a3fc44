"""The commands of `python -m bot`, each a coroutine returning an exit status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from aiogram import Bot
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.app import Runtime, build_runtime, create_bot, register_commands
from bot.cli import install_stop_signals
from bot.config import ConfigError, Settings
from bot.workers import start_workers
from services.core.errors import DomainError
from services.demo import seed_demo
from services.identity.admin import AdminService, NewAccount
from storage.fsm import ping_redis
from storage.migrate import upgrade_async

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
        await upgrade_async(url)
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
    settings.require_token()
    runtime = await _with_runtime(settings)
    bot = create_bot(settings)
    stop = asyncio.Event()
    install_stop_signals(stop)
    workers: list[asyncio.Task[None]] = []
    if not args.no_workers:
        # Started by the dispatcher's startup, after aiogram-dialog has registered
        # its dialogs: a worker's background update must find them.
        async def start_background(**_: object) -> None:
            workers.extend(start_workers(runtime, bot, stop))

        runtime.dispatcher.startup.register(start_background)
    try:
        await register_commands(bot)
        if settings.webhook_url:
            await _serve_webhook(runtime, bot, stop)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            polling = asyncio.create_task(
                runtime.dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
            )
            await stop.wait()
            await runtime.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        await bot.session.close()
        await runtime.close()
    return 0


async def _serve_webhook(runtime: Runtime, bot: Bot, stop: asyncio.Event) -> None:
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    settings = runtime.settings
    if settings.webhook_secret is None:
        raise ConfigError("WEBHOOK_URL is set but WEBHOOK_SECRET is not: set a random secret")
    secret = settings.webhook_secret.get_secret_value()
    assert settings.webhook_url is not None
    path = make_url_path(settings.webhook_url)
    app = web.Application()
    SimpleRequestHandler(runtime.dispatcher, bot, secret_token=secret).register(app, path=path)
    setup_application(app, runtime.dispatcher, bot=bot)
    web_runner = web.AppRunner(app)
    await web_runner.setup()
    site = web.TCPSite(web_runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    await bot.set_webhook(settings.webhook_url, secret_token=secret, drop_pending_updates=False)
    log.info("webhook server on %s:%s%s", settings.webhook_host, settings.webhook_port, path)
    try:
        await stop.wait()
    finally:
        await web_runner.cleanup()


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


def _ask_password() -> str:
    import getpass

    first = getpass.getpass("Пароль: ")
    if getpass.getpass("Ещё раз: ") != first:
        raise ConfigError("the passwords differ")
    return first


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_console

    return await run_console(settings, phone=args.phone, user_id=args.user_id)
