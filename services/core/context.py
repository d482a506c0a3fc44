"""What every use case needs besides the unit of work: gateways, keys and policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.core.cpu import CpuPool
from services.core.gateways import Gateways
from services.core.hashing import PasswordHasher


@dataclass(frozen=True)
class SecurityPolicy:
    session_idle_minutes: int = 30
    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 5
    otp_resend_seconds: int = 60
    password_max_failures: int = 3
    # How long a doctor's step-up (a fresh authenticator code) opens one card.
    doctor_step_up_minutes: int = 15
    # A session ends this many hours after sign-in, however active it is.
    session_max_hours: int = 12
    # Wrong codes (every channel and purpose) of one account within the window
    # that block its second factor for `second_factor_lock_minutes`.
    second_factor_max_failures: int = 10
    second_factor_lock_minutes: int = 60
    # The window the sign-in limits count in.
    sign_in_limit_window_minutes: int = 60
    # Wrong passwords from one Telegram account, over any accounts, within the window.
    password_max_failures_per_telegram: int = 5
    # Recovery codes asked for one login, and from one Telegram account, within the window.
    recovery_max_per_login: int = 3
    recovery_max_per_telegram: int = 5


@dataclass
class AppContext:
    gateways: Gateways
    hasher: PasswordHasher
    secret_key: bytes
    # The HMAC key of the audit journal's hash chain (AUDIT_KEY); None: derived from
    # secret_key (services.core.audit.audit_key).
    audit_key: bytes | None = None
    policy: SecurityPolicy = field(default_factory=SecurityPolicy)
    # How long an application stays «В работе» (PROCESSING_DELAY_SECONDS); the
    # status screen's wait estimate falls back on it before any history exists.
    processing_delay_seconds: float = 5.0
    # Password hashing, file checks and other CPU work run here, off the event loop.
    cpu: CpuPool = field(default_factory=CpuPool)
