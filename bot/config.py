"""Settings, read from the environment and `.env` (pydantic-settings).

Every setting is listed with a comment in `.env.example`. Secrets are
`SecretStr` so that they never reach a log or a repr.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.core.gateways import check_gateway_url, is_loopback_host, parse_mailbox


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class SmsGatewaySettings:
    """What `HttpSms` needs, checked (`Settings.sms_gateway`)."""

    url: str
    token: str
    sender: str
    timeout: float


@dataclass(frozen=True)
class SmtpSettings:
    """What `SmtpMail` needs, checked (`Settings.smtp`)."""

    host: str
    port: int
    sender: str
    security: Literal["starttls", "tls", "none"]
    username: str | None
    password: str | None
    timeout: float


_SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Telegram
    bot_token: SecretStr | None = None
    telegram_api_base: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 - a webhook server listens on all interfaces
    webhook_port: int = 8080

    # Storage
    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    redis_max_connections: int = Field(default=50, ge=1)
    # Conversation state in Redis expires after this many idle minutes.
    conversation_ttl_minutes: int = Field(default=1440, ge=1)

    # Security
    secret_key: SecretStr | None = None
    file_encryption_key: SecretStr | None = None
    # The audit journal (services.core.audit): the HMAC key of its hash chain, kept
    # outside the database. Empty: generated into DATA_DIR/audit.key.
    audit_key: SecretStr | None = None
    session_idle_minutes: int = Field(default=30, ge=1)
    otp_ttl_seconds: int = Field(default=300, ge=30)
    otp_max_attempts: int = Field(default=5, ge=1)
    otp_resend_seconds: int = Field(default=60, ge=0)
    password_max_failures: int = Field(default=3, ge=1)
    doctor_step_up_minutes: int = Field(default=15, ge=1)
    # Staff passwords expire after this many days and are changed at sign-in.
    staff_password_days: int = Field(default=90, ge=1)
    # Sign-in limits and the session's lifetime (the second factor and sign-in).
    session_max_hours: int = Field(default=12, ge=1)
    second_factor_max_failures: int = Field(default=10, ge=1)
    second_factor_lock_minutes: int = Field(default=60, ge=1)
    sign_in_limit_window_minutes: int = Field(default=60, ge=1)
    password_max_failures_per_telegram: int = Field(default=5, ge=1)
    recovery_max_per_login: int = Field(default=3, ge=1)
    recovery_max_per_telegram: int = Field(default=5, ge=1)

    # Booking (services.booking): how late a visit can be changed, the reminders'
    # times, how long a freed time is held for the first person on the waitlist.
    visit_change_min_minutes: int = Field(default=120, ge=0)
    reminder_day_before_hour: int = Field(default=18, ge=0, le=23)
    reminder_before_minutes: int = Field(default=120, ge=1)
    waitlist_hold_minutes: int = Field(default=15, ge=1)
    booking_horizon_days: int = Field(default=60, ge=1, le=366)

    # Threads for CPU work kept off the event loop (password hashing, file checks).
    cpu_workers: int = Field(default=2, ge=1)

    # Outgoing channels: `console` logs the message (offline set-up); see `sms_gateway`, `smtp`.
    sms_backend: Literal["console", "http"] = "console"
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_sender_name: str | None = None
    sms_gateway_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_backend: Literal["console", "smtp"] = "console"
    smtp_host: str | None = None
    # Empty: 587 for starttls, 465 for tls, 25 for none.
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    # Workers
    notify_rate_per_second: float = Field(default=25.0, gt=0)
    notify_per_chat_interval: float = Field(default=1.0, ge=0)
    notify_max_attempts: int = Field(default=5, ge=1)
    processing_delay_seconds: float = Field(default=5.0, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)

    # Outages: how long a call to Redis or PostgreSQL may take before the update gives up
    # and the person is told the service is unavailable; how far workers back off.
    redis_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    redis_socket_timeout_seconds: float = Field(default=3.0, gt=0)
    redis_pool_timeout_seconds: float = Field(default=3.0, gt=0)
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    database_command_timeout_seconds: float = Field(default=2.0, gt=0)
    database_pool_timeout_seconds: float = Field(default=3.0, gt=0)
    worker_outage_backoff_max_seconds: float = Field(default=30.0, gt=0)

    # Updates and crashes (bot.inbox): on SIGTERM the bot takes no new updates and finishes
    # those it has within this many seconds; a process that handles an update holds it for
    # INBOX_LEASE_SECONDS (renewed while it works), after which another may take it.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    inbox_lease_seconds: float = Field(default=60.0, ge=1)

    # The record (services.record): test codes (LOINC) whose results are sensitive whatever
    # the laboratory says — HIV, hepatitis, STI, genetic and psychiatric tests; comma-separated.
    sensitive_test_codes: str = (
        "7917-8,56888-1,68961-2,5196-1,16128-1,13955-0,5292-8,20507-0,"
        "21613-5,43304-5,21198-7,51967-5,55233-1,94500-6"
    )
    # Signed extracts: the medical organisation's key and certificate (PEM) and the root the
    # certificate chains to. Empty: the demo makes a self-signed root and an organisation
    # certificate in DATA_DIR/signing at first start.
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None
    signing_root_cert_file: Path | None = None
    signing_key_password: SecretStr | None = None
    # The name that signs extracts (the organisation certificate's subject in the demo).
    signing_organisation: str = "ГБУЗ «Городская поликлиника № 1»"

    # The laboratories' HTTP API (bot.api): `python -m bot api`, and inside `run` when
    # API_PORT is set (in webhook mode the webhook's own server serves it).
    api_host: str = "127.0.0.1"
    api_port: int | None = Field(default=None, ge=1, le=65535)
    # The JWT audience laboratories sign for; a token lives at most this many seconds.
    api_audience: str = "emk-bot"
    api_token_max_age_seconds: int = Field(default=300, ge=10, le=3600)
    # A request body larger than this is refused with 413.
    api_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    log_level: str = "INFO"

    @field_validator(
        "telegram_api_base",
        "webhook_url",
        "database_url",
        "redis_url",
        "sms_gateway_url",
        "sms_gateway_token",
        "sms_sender_name",
        "smtp_host",
        "smtp_port",
        "smtp_username",
        "smtp_password",
        "smtp_from",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    # -- derived values -------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'emk.sqlite3').resolve()}"

    def check_database_url(self) -> None:
        try:
            url = make_url(self.effective_database_url)
        except ArgumentError as exc:
            raise ConfigError(f"DATABASE_URL is malformed: {exc}") from None
        if url.drivername not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ConfigError(
                "DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://, "
                f"not {url.drivername}://"
            )

    def require_token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise ConfigError("BOT_TOKEN is not set: put the token from @BotFather into BOT_TOKEN")
        return self.bot_token.get_secret_value().strip()

    def sms_gateway(self) -> SmsGatewaySettings:
        """The HTTPS SMS gateway's settings (SMS_BACKEND=http), or ConfigError naming a gap."""
        if not self.sms_gateway_url:
            raise ConfigError("SMS_BACKEND=http needs SMS_GATEWAY_URL: the gateway's https:// URL")
        try:
            url = check_gateway_url(self.sms_gateway_url.strip())
        except ValueError as exc:
            raise ConfigError(f"SMS_GATEWAY_URL {exc}") from None
        token = self.sms_gateway_token.get_secret_value().strip() if self.sms_gateway_token else ""
        if not token:
            raise ConfigError("SMS_BACKEND=http needs SMS_GATEWAY_TOKEN: the gateway's API token")
        if not self.sms_sender_name or not self.sms_sender_name.strip():
            raise ConfigError(
                "SMS_BACKEND=http needs SMS_SENDER_NAME: the sender name registered at the gateway"
            )
        return SmsGatewaySettings(
            url=url,
            token=token,
            sender=self.sms_sender_name.strip(),
            timeout=self.sms_gateway_timeout_seconds,
        )

    def smtp(self) -> SmtpSettings:
        """The SMTP server's settings (MAIL_BACKEND=smtp), or ConfigError naming a gap."""
        if not self.smtp_host or not self.smtp_host.strip():
            raise ConfigError("MAIL_BACKEND=smtp needs SMTP_HOST: the mail server's host name")
        host = self.smtp_host.strip()
        if not self.smtp_from:
            raise ConfigError(
                "MAIL_BACKEND=smtp needs SMTP_FROM: the sender, e.g. ЭМК <noreply@example.ru>"
            )
        try:
            parse_mailbox(self.smtp_from)
        except ValueError as exc:
            raise ConfigError(f"SMTP_FROM {exc}") from None
        password = self.smtp_password.get_secret_value() if self.smtp_password else None
        if self.smtp_username and not password:
            raise ConfigError("SMTP_USERNAME is set but SMTP_PASSWORD is not")
        if password and not self.smtp_username:
            raise ConfigError("SMTP_PASSWORD is set but SMTP_USERNAME is not")
        if password and self.smtp_security == "none" and not is_loopback_host(host):
            raise ConfigError(
                "SMTP_SECURITY=none would send SMTP_PASSWORD unencrypted: use starttls or tls"
            )
        return SmtpSettings(
            host=host,
            port=self.smtp_port or _SMTP_PORTS[self.smtp_security],
            sender=self.smtp_from.strip(),
            security=self.smtp_security,
            username=self.smtp_username.strip() if self.smtp_username else None,
            password=password,
            timeout=self.smtp_timeout_seconds,
        )

    def check_channels(self) -> None:
        """Fail with one line if the chosen SMS or mail backend lacks a setting."""
        if self.sms_backend == "http":
            self.sms_gateway()
        if self.mail_backend == "smtp":
            self.smtp()

    def _key_file(self, name: str, size: int) -> bytes:
        """A key kept in DATA_DIR, made on first use (for the offline set-up)."""
        path = self.data_dir / name
        if path.exists():
            return base64.urlsafe_b64decode(path.read_bytes().strip())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(size)
        path.write_bytes(base64.urlsafe_b64encode(key))
        path.chmod(0o600)
        return key

    def secret_key_bytes(self) -> bytes:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return self._key_file("secret.key", 32)

    def file_key_bytes(self) -> bytes:
        """The AES-256-GCM key for documents at rest (urlsafe base64 of 32 bytes)."""
        if self.file_encryption_key is not None:
            try:
                key = base64.urlsafe_b64decode(self.file_encryption_key.get_secret_value())
            except ValueError:
                raise ConfigError("FILE_ENCRYPTION_KEY is not valid base64") from None
            if len(key) != 32:
                raise ConfigError("FILE_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
            return key
        return self._key_file("file.key", 32)

    def audit_key_bytes(self) -> bytes:
        """The audit journal's HMAC key: AUDIT_KEY, else a key file in DATA_DIR."""
        if self.audit_key is not None and self.audit_key.get_secret_value().strip():
            return self.audit_key.get_secret_value().strip().encode()
        return self._key_file("audit.key", 32)
