"""Accounts, Telegram bindings, sessions, one-time codes, sign-in events and attempts.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Account(Base):
    """A portal account as the local identity provider keeps it."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    snils: Mapped[str | None] = mapped_column(String(11), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Sealed with AES-GCM (services.core.sealing), never in clear.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_password_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class TelegramBinding(Base):
    """A Telegram account that proved it holds the portal account's phone."""

    __tablename__ = "telegram_bindings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    bot_blocked_at: Mapped[datetime | None]


class AuthSession(Base):
    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_tg_open", "telegram_user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))


class OtpChallenge(Base):
    """One one-time code: bound to an account, a purpose and the action it confirms."""

    __tablename__ = "otp_challenges"
    __table_args__ = (Index("ix_otp_challenges_account_purpose", "account_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    action_ref: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]


class LoginEvent(Base):
    __tablename__ = "login_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))


class SignInAttempt(Base):
    """One attempt that counts toward a sign-in limit (services.identity.limits).

    `kind` is ``password`` (a wrong password), ``code`` (a wrong one-time or
    authenticator code, any purpose and channel) or ``recovery`` (a recovery
    code asked for). `account_id` is empty for a login that names no account;
    `login_digest` (an HMAC of the login as typed, normalised) then stands for
    it, so that such a login is answered exactly as an existing one would be.
    Rows are only added; the limits count them in a time window.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_account", "account_id", "kind", "at"),
        Index("ix_sign_in_attempts_login", "login_digest", "kind", "at"),
        Index("ix_sign_in_attempts_telegram", "telegram_user_id", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    login_digest: Mapped[str | None] = mapped_column(String(64))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
