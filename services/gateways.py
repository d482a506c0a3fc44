"""External systems behind small Protocols, with offline default implementations.

Production implementations (the portal's identity provider, a real SMS
gateway, mail) plug in here by implementing the same Protocols; the defaults
run on one machine with no network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock the tests move by hand."""

    current: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class MailSender(Protocol):
    async def send(self, email: str, subject: str, text: str) -> None: ...


Listener = Callable[[str, str], None]


class ConsoleSms:
    """The offline SMS gateway: writes the message to the log (and to listeners).

    The only place where a phone number and a code may be printed: showing the
    code is this backend's whole job in the offline demo.
    """

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))
        log.info("console SMS to %s: %s", phone, text)
        for listener in self.listeners:
            listener(f"SMS на {phone}", text)


class ConsoleMail:
    """The offline mail gateway, like `ConsoleSms`."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, email: str, subject: str, text: str) -> None:
        self.sent.append((email, subject, text))
        log.info("console mail to %s: %s: %s", email, subject, text)
        for listener in self.listeners:
            listener(f"Письмо на {email}: {subject}", text)


@dataclass
class Gateways:
    clock: Clock
    sms: SmsSender
    mail: MailSender
