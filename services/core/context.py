"""What every use case needs besides the unit of work: gateways, keys and policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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
    # A staff member's password must be changed at sign-in once it is this many days old.
    staff_password_days: int = 90
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


# Test codes (LOINC) whose results are sensitive whatever the laboratory says: HIV,
# hepatitis B and C, syphilis and other STI, genetic and psychiatric tests.
DEFAULT_SENSITIVE_TEST_CODES = frozenset(
    {
        "7917-8",
        "56888-1",
        "68961-2",
        "5196-1",
        "16128-1",
        "13955-0",
        "5292-8",
        "20507-0",
        "21613-5",
        "43304-5",
        "21198-7",
        "51967-5",
        "55233-1",
        "94500-6",
    }
)


class PdfSigner(Protocol):
    """Signs a PDF with the medical organisation's certificate (PAdES).

    ``sign`` is CPU work: callers run it in ``ctx.cpu``. The implementation is
    services.record.signing.Signer.
    """

    @property
    def organisation(self) -> str: ...

    def sign(self, pdf: bytes, *, reason: str) -> bytes: ...


@dataclass(frozen=True)
class RecordPolicy:
    """Release rules of the record (SENSITIVE_TEST_CODES)."""

    sensitive_test_codes: frozenset[str] = DEFAULT_SENSITIVE_TEST_CODES


@dataclass(frozen=True)
class BookingPolicy:
    """Booking's rules and reminders (VISIT_CHANGE_MIN_MINUTES, REMINDER_*, WAITLIST_*)."""

    # A visit can be cancelled or moved no later than this many minutes before it.
    change_min_minutes: int = 120
    # The reminder the day before goes at this hour (Moscow time) …
    reminder_day_before_hour: int = 18
    # … and the second one this many minutes before the visit.
    reminder_before_minutes: int = 120
    # A freed time offered from the waitlist is held for the person this long.
    waitlist_hold_minutes: int = 15
    # How far ahead a person can book (the calendar's last day).
    horizon_days: int = 60


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
    record: RecordPolicy = field(default_factory=RecordPolicy)
    booking: BookingPolicy = field(default_factory=BookingPolicy)
    # Signs extracts and conclusions (services.record.signing.Signer); the composition
    # root sets it. Extract use cases refuse to run without one.
    signer: PdfSigner | None = None
