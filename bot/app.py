"""Composition root: builds the application from settings.

Everything that talks to the outside world is made here and nowhere else:
the database engine, the FSM storage, the gateways and the Bot session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand
from aiogram_dialog import BgManagerFactory, setup_dialogs
from sqlalchemy.ext.asyncio import AsyncEngine

import dialogs
import handlers
from bot import dialog_ids
from bot.config import Settings
from bot.middlewares import SessionMiddleware
from bot.outage import OutageMiddleware, install_outage_middleware
from bot.private_only import install_private_only
from bot.signing import build_signer
from dialogs.core.guard import protect_background
from services.core.context import AppContext, BookingPolicy, RecordPolicy, SecurityPolicy
from services.core.cpu import CpuPool
from services.core.gateways import (
    ConsoleMail,
    ConsoleSms,
    EncryptedDirectoryStore,
    Gateways,
    HttpSms,
    MailSender,
    SmsSender,
    SmtpMail,
    SystemClock,
)
from services.core.hashing import PasswordHasher
from storage.db import create_engine, create_session_factory
from storage.fsm import (
    SqlStorage,
    conversation_isolation,
    create_redis_isolation,
    create_redis_storage,
)
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

BOT_COMMANDS = [
    BotCommand(command="start", description="Начать работу с ботом"),
    BotCommand(command="menu", description="Главное меню"),
    BotCommand(command="logout", description="Выйти из учётной записи"),
]


@dataclass
class Runtime:
    """The application's long-lived parts, shared by the bot and the workers."""

    settings: Settings
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    ctx: AppContext
    storage: BaseStorage
    isolation: BaseEventIsolation
    dispatcher: Dispatcher = field(init=False)
    bg_factory: BgManagerFactory = field(init=False)

    async def close(self) -> None:
        await self.storage.close()
        await self.isolation.close()
        await self.engine.dispose()
        self.ctx.cpu.close()


def policy_from(settings: Settings) -> SecurityPolicy:
    return SecurityPolicy(
        session_idle_minutes=settings.session_idle_minutes,
        otp_ttl_seconds=settings.otp_ttl_seconds,
        otp_max_attempts=settings.otp_max_attempts,
        otp_resend_seconds=settings.otp_resend_seconds,
        password_max_failures=settings.password_max_failures,
        doctor_step_up_minutes=settings.doctor_step_up_minutes,
        staff_password_days=settings.staff_password_days,
        session_max_hours=settings.session_max_hours,
        second_factor_max_failures=settings.second_factor_max_failures,
        second_factor_lock_minutes=settings.second_factor_lock_minutes,
        sign_in_limit_window_minutes=settings.sign_in_limit_window_minutes,
        password_max_failures_per_telegram=settings.password_max_failures_per_telegram,
        recovery_max_per_login=settings.recovery_max_per_login,
        recovery_max_per_telegram=settings.recovery_max_per_telegram,
    )


def default_gateways(settings: Settings) -> Gateways:
    """The SMS and mail senders SMS_BACKEND and MAIL_BACKEND name (ConfigError if one lacks
    a setting); the other gateways are the offline defaults."""
    sms: SmsSender = ConsoleSms()
    if settings.sms_backend == "http":
        gateway = settings.sms_gateway()
        sms = HttpSms(gateway.url, gateway.token, gateway.sender, timeout=gateway.timeout)
    mail: MailSender = ConsoleMail()
    if settings.mail_backend == "smtp":
        smtp = settings.smtp()
        mail = SmtpMail(
            smtp.host,
            smtp.port,
            smtp.sender,
            security=smtp.security,
            username=smtp.username,
            password=smtp.password,
            timeout=smtp.timeout,
        )
    return Gateways(clock=SystemClock(), sms=sms, mail=mail)


def build_runtime(
    settings: Settings,
    *,
    gateways: Gateways | None = None,
    hasher: PasswordHasher | None = None,
    storage: BaseStorage | None = None,
) -> Runtime:
    settings.check_database_url()
    engine = create_engine(
        settings.effective_database_url,
        connect_timeout=settings.database_connect_timeout_seconds,
        command_timeout=settings.database_command_timeout_seconds,
        pool_timeout=settings.database_pool_timeout_seconds,
    )
    session_factory = create_session_factory(engine)
    gateways = gateways or default_gateways(settings)
    if gateways.files is None:
        gateways.files = EncryptedDirectoryStore(
            settings.data_dir / "files", settings.file_key_bytes()
        )
    ctx = AppContext(
        gateways=gateways,
        hasher=hasher or PasswordHasher(),
        secret_key=settings.secret_key_bytes(),
        audit_key=settings.audit_key_bytes(),
        policy=policy_from(settings),
        processing_delay_seconds=settings.processing_delay_seconds,
        cpu=CpuPool(settings.cpu_workers),
        record=RecordPolicy(
            sensitive_test_codes=frozenset(
                code.strip() for code in settings.sensitive_test_codes.split(",") if code.strip()
            )
        ),
        booking=BookingPolicy(
            change_min_minutes=settings.visit_change_min_minutes,
            reminder_day_before_hour=settings.reminder_day_before_hour,
            reminder_before_minutes=settings.reminder_before_minutes,
            waitlist_hold_minutes=settings.waitlist_hold_minutes,
            horizon_days=settings.booking_horizon_days,
        ),
    )
    # Extracts are signed with the organisation's certificate (or the demo's, made once).
    ctx.signer = build_signer(settings)
    isolation: BaseEventIsolation
    if storage is None and settings.redis_url:
        redis_storage = create_redis_storage(
            settings.redis_url,
            settings.redis_max_connections,
            ttl=settings.conversation_ttl_minutes * 60,
            pool_timeout=settings.redis_pool_timeout_seconds,
            socket_timeout=settings.redis_socket_timeout_seconds,
            connect_timeout=settings.redis_connect_timeout_seconds,
        )
        storage, isolation = redis_storage, create_redis_isolation(redis_storage)
    elif storage is None:
        storage = SqlStorage(session_factory, key_builder=DefaultKeyBuilder(with_destiny=True))
        isolation = SimpleEventIsolation()
    else:
        isolation = SimpleEventIsolation()
    # One lock per conversation, held for the whole update, inside which its
    # state is read once and written at most once (storage.fsm).
    isolation = conversation_isolation(storage, isolation)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        uow_factory=UnitOfWorkFactory(session_factory),
        ctx=ctx,
        storage=storage,
        isolation=isolation,
    )
    runtime.dispatcher, runtime.bg_factory = build_dispatcher(runtime)
    return runtime


def build_dispatcher(runtime: Runtime) -> tuple[Dispatcher, BgManagerFactory]:
    dialog_ids.install()
    dp = Dispatcher(storage=runtime.storage, events_isolation=runtime.isolation)
    dp["runtime"] = runtime
    install_private_only(dp)  # first: outside a private chat nothing else runs
    # A database or Redis outage is answered before aiogram-dialog sees it (bot.outage).
    install_outage_middleware(dp, OutageMiddleware())
    dp.update.outer_middleware(SessionMiddleware(runtime.uow_factory, runtime.ctx))
    dp.include_router(handlers.build_router())
    dp.include_router(dialogs.build_router())
    dp.include_router(handlers.build_fallback_router())
    bg_factory = setup_dialogs(dp, events_isolation=runtime.isolation)
    protect_background(dp)
    dp["bg_factory"] = bg_factory
    return dp, bg_factory


def create_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    """A Bot for Telegram, or for the Bot API server at TELEGRAM_API_BASE."""
    token = settings.require_token()
    if session is None:
        session = AiohttpSession()
        if settings.telegram_api_base:
            session.api = TelegramAPIServer.from_base(settings.telegram_api_base.rstrip("/"))
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


async def register_commands(bot: Bot) -> None:
    await bot.set_my_commands(BOT_COMMANDS)
