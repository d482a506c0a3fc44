"""What every use case needs besides the unit of work: gateways, keys and policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.gateways import Gateways
from services.passwords import PasswordHasher


@dataclass(frozen=True)
class SecurityPolicy:
    session_idle_minutes: int = 30
    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 5
    otp_resend_seconds: int = 60
    password_max_failures: int = 3


@dataclass
class AppContext:
    gateways: Gateways
    hasher: PasswordHasher
    secret_key: bytes
    policy: SecurityPolicy = field(default_factory=SecurityPolicy)
    # How long an application stays «В работе» (PROCESSING_DELAY_SECONDS); the
    # status screen's wait estimate falls back on it before any history exists.
    processing_delay_seconds: float = 5.0
