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


@dataclass
class AppContext:
    gateways: Gateways
    hasher: PasswordHasher
    secret_key: bytes
    policy: SecurityPolicy = field(default_factory=SecurityPolicy)
    # How long an application stays «В работе» (PROCESSING_DELAY_SECONDS); the
    # status screen's wait estimate falls back on it before any history exists.
    processing_delay_seconds: float = 5.0
    # Password hashing, file checks and other CPU work run here, off the event loop.
    cpu: CpuPool = field(default_factory=CpuPool)
