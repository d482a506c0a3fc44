"""Settings, read from the environment and `.env` (pydantic-settings).

Every setting is listed with a comment in `.env.example`. Secrets are
`SecretStr` so that they never reach a log or a repr.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


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
    session_idle_minutes: int = Field(default=30, ge=1)
    otp_ttl_seconds: int = Field(default=300, ge=30)
    otp_max_attempts: int = Field(default=5, ge=1)
    otp_resend_seconds: int = Field(default=60, ge=0)
    password_max_failures: int = Field(default=3, ge=1)
    doctor_step_up_minutes: int = Field(default=15, ge=1)

    # Threads for CPU work kept off the event loop (password hashing, file checks).
    cpu_workers: int = Field(default=2, ge=1)

    # Outgoing channels
    sms_backend: Literal["console"] = "console"
    mail_backend: Literal["console"] = "console"

    # Workers
    notify_rate_per_second: float = Field(default=25.0, gt=0)
    notify_per_chat_interval: float = Field(default=1.0, ge=0)
    notify_max_attempts: int = Field(default=5, ge=1)
    processing_delay_seconds: float = Field(default=5.0, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)

    log_level: str = "INFO"

    @field_validator("telegram_api_base", "webhook_url", "database_url", "redis_url", mode="before")
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
