"""External systems behind small Protocols, with offline default implementations.

Production implementations (the portal's identity provider, a real SMS
gateway, mail, the state registry, an object store) plug in here by
implementing the same Protocols; the defaults run on one machine with no
network. SMS through an HTTPS gateway (`HttpSms`) and mail through SMTP
(`SmtpMail`) are here too.

No log record of a sender names the phone number, the e-mail address or what
the message says; the console senders, whose job is to show the code in the
offline demo, print the destination masked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import secrets
import ssl
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.models import RegistryPerson
from storage.uow import UnitOfWorkFactory

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


@dataclass(frozen=True)
class Attachment:
    """A file sent with a letter (a signed extract): its name, MIME type and bytes."""

    file_name: str
    mime_type: str
    data: bytes


class MailSender(Protocol):
    async def send(
        self, email: str, subject: str, text: str, attachments: Sequence[Attachment] = ()
    ) -> None: ...


class DeliveryError(Exception):
    """The SMS gateway or the mail server did not accept a message.

    Its text says why in the operator's terms (an HTTP status, an SMTP reply
    code, a connection error's type) and never names the destination or the
    message; no library exception that might (an SMTP refusal quotes the
    address) is chained to it. It is not a `DomainError` on purpose: a use
    case that meets it should not commit as if the code had gone out.
    `message` is what to tell the person.
    """

    message = "Не удалось отправить код. Попробуйте ещё раз через несколько минут."

    def __init__(self, channel: Literal["SMS", "mail"], reason: str) -> None:
        super().__init__(f"{channel} not delivered: {reason}")
        self.channel = channel
        self.reason = reason


def mask_phone(phone: str) -> str:
    """``+79990000001`` → ``+7 *** ***-**-01``: enough to tell numbers apart, not to call."""
    return f"{phone[:2]} *** ***-**-{phone[-2:]}" if len(phone) >= 4 else "***"


def mask_email(email: str) -> str:
    """``anna@example.ru`` → ``a***@example.ru``."""
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


Listener = Callable[[str, str], None]


class ConsoleSms:
    """The offline SMS gateway: writes the message to the log (and to listeners).

    Showing the code is this backend's whole job in the offline demo; the phone
    number is shown masked. `sent` keeps what was sent in full, for the tests.
    """

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))
        destination = mask_phone(phone)
        log.info("console SMS to %s: %s", destination, text)
        for listener in self.listeners:
            listener(f"SMS на {destination}", text)


class ConsoleMail:
    """The offline mail gateway, like `ConsoleSms`."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.sent: list[tuple[str, str, str]] = []
        # The attachments of each letter in `sent` (same index; empty for most).
        self.attachments: list[tuple[Attachment, ...]] = []

    async def send(
        self, email: str, subject: str, text: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        self.sent.append((email, subject, text))
        self.attachments.append(tuple(attachments))
        destination = mask_email(email)
        log.info("console mail to %s: %s: %s", destination, subject, text)
        if attachments:
            log.info("console mail to %s: %d attachment(s)", destination, len(attachments))
        for listener in self.listeners:
            listener(f"Письмо на {destination}: {subject}", text)


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (``127.0.0.1``, ``::1``)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_gateway_url(url: str) -> str:
    """The URL if it is ``https://host…``; plain ``http://`` only for this machine (tests)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError("must be an https:// URL with a host")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must be https:// (plain http:// only for localhost)")
    return url


class HttpSms:
    """SMS through an HTTPS gateway: one JSON POST per message, no retries.

    The request is ``POST url`` with ``Authorization: Bearer <token>`` and the
    body ``{"to": phone, "text": text, "sender": sender}``; any 2xx answer means
    the gateway took the message. Anything else — another status (redirects are
    not followed, so the token never goes elsewhere), a connection error, the
    timeout — raises `DeliveryError`. There are no retries: the person asks for
    a new code, and a retried code might arrive twice.
    """

    def __init__(self, url: str, token: str, sender: str, *, timeout: float = 10.0) -> None:
        self.url = check_gateway_url(url)
        self._token = token
        self.sender = sender
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:
        return f"HttpSms(url={self.url!r}, sender={self.sender!r})"

    async def send(self, phone: str, text: str) -> None:
        body = {"to": phone, "text": text, "sender": self.sender}
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.post(self.url, json=body, headers=headers, allow_redirects=False) as reply,
            ):
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"the gateway could not be reached ({type(exc).__name__})"
        else:
            if 200 <= status < 300:
                log.debug("SMS accepted by the gateway (HTTP %s)", status)
                return
            reason = f"the gateway answered HTTP {status}"
        # Raised outside the handler, so nothing of the library's is chained to it.
        log.warning("SMS not delivered: %s", reason)
        raise DeliveryError("SMS", reason)


SmtpSecurity = Literal["starttls", "tls", "none"]


class SmtpMail:
    """Mail through an SMTP server (aiosmtplib), one connection per message.

    `security`: ``starttls`` (upgrade a plain connection; fails if the server
    can't), ``tls`` (TLS from the first byte, usually port 465) or ``none``
    (a relay on this machine or a private network). The message is a UTF-8
    text/plain `EmailMessage`, so a Russian subject and sender name are encoded
    as the standards want. A refusal, a connection error or the timeout raises
    `DeliveryError`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = parse_mailbox(sender)
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.tls_context = tls_context

    def __repr__(self) -> str:
        return f"SmtpMail(host={self.host!r}, port={self.port}, security={self.security!r})"

    def build(
        self, email: str, subject: str, text: str, attachments: Sequence[Attachment] = ()
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self.sender.domain or None)
        message.set_content(text, charset="utf-8", cte="base64")
        for attachment in attachments:
            maintype, _, subtype = attachment.mime_type.partition("/")
            message.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.file_name,
            )
        return message

    async def send(
        self, email: str, subject: str, text: str, attachments: Sequence[Attachment] = ()
    ) -> None:
        try:
            message = self.build(email, subject, text, attachments)
            await aiosmtplib.send(
                message,
                sender=self.sender.addr_spec,
                recipients=[email],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                timeout=self.timeout,
                tls_context=self.tls_context,
            )
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"the mail server answered {exc.code} ({type(exc).__name__})"
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = ", ".join(str(refusal.code) for refusal in exc.recipients)
            reason = f"the mail server refused the recipient ({codes})"
        except aiosmtplib.SMTPException as exc:
            # aiosmtplib's own words (no server text: that is the branch above), e.g.
            # "STARTTLS extension not supported"; kept unless it might hold an address.
            reason = type(exc).__name__
            if exc.message and "@" not in exc.message:
                reason += f": {exc.message}"
        except (OSError, TimeoutError, ValueError) as exc:
            reason = type(exc).__name__
        else:
            log.debug("mail accepted by the mail server")
            return
        # Raised outside the handler, so no library exception (an SMTP refusal
        # quotes the address) is chained to it.
        log.warning("mail not delivered: %s", reason)
        raise DeliveryError("mail", reason)


def parse_mailbox(value: str) -> Address:
    """``ЭМК <noreply@emk.example.ru>`` or a bare address, as an `Address`; ValueError if not."""
    message = EmailMessage()
    try:
        message["From"] = value
        mailboxes: tuple[Address, ...] = message["From"].addresses
    except (ValueError, IndexError):
        raise ValueError("must be an e-mail address, e.g. ЭМК <noreply@example.ru>") from None
    if len(mailboxes) != 1 or not mailboxes[0].username or not mailboxes[0].domain:
        raise ValueError("must be one e-mail address, e.g. ЭМК <noreply@example.ru>")
    return mailboxes[0]


# -- The file store ------------------------------------------------------------


class FileStoreError(Exception):
    """A stored file can't be read: missing, of an unknown format or key, or tampered with."""


class FileStore(Protocol):
    """Keeps blobs under opaque keys; never sees or keeps a person's file name."""

    async def put(self, data: bytes) -> str: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


_MAGIC = b"EMKF"
_FORMAT_VERSION = 1
_NONCE_BYTES = 12
_STORE_KEY = re.compile(r"[0-9a-f]{32}")
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")


class EncryptedDirectoryStore:
    """Files encrypted with AES-256-GCM in a directory (the offline default).

    A stored file is ``header || ciphertext+tag`` where the header is
    ``b"EMKF"``, a format version byte, the key id (one length byte and ASCII)
    and a random 96-bit nonce. The header and the file's own key are the
    associated data, so a header edited or a file moved under another key
    fails the check like edited ciphertext does. The key id lets keys rotate:
    new files use ``key``/``key_id``, older ones are read with
    ``previous_keys`` (key id → key).

    File names are random (128 bits, hex), spread over 256 subdirectories.
    A write goes to a temporary file that is flushed, synced and renamed into
    place, so a reader never sees half a file. File I/O and the cipher run in
    a worker thread, off the event loop.
    """

    def __init__(
        self,
        directory: Path | str,
        key: bytes,
        *,
        key_id: str = "1",
        previous_keys: Mapping[str, bytes] | None = None,
    ) -> None:
        if len(key) != 32:
            raise ValueError("the file encryption key must be 32 bytes (AES-256)")
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError("key id: 1 to 32 ASCII letters, digits, '.', '_' or '-'")
        self.directory = Path(directory)
        self.key_id = key_id
        self._keys: dict[str, AESGCM] = {
            kid: AESGCM(k) for kid, k in (previous_keys or {}).items() if len(k) == 32
        }
        self._keys[key_id] = AESGCM(key)

    def _path(self, key: str) -> Path:
        if not _STORE_KEY.fullmatch(key):
            raise FileStoreError("malformed file key")
        return self.directory / key[:2] / key

    def _header(self, key_id: str, nonce: bytes) -> bytes:
        kid = key_id.encode("ascii")
        return _MAGIC + struct.pack("BB", _FORMAT_VERSION, len(kid)) + kid + nonce

    def _encrypt(self, key: str, data: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        header = self._header(self.key_id, nonce)
        sealed = self._keys[self.key_id].encrypt(nonce, data, header + key.encode("ascii"))
        return header + sealed

    def _decrypt(self, key: str, blob: bytes) -> bytes:
        if len(blob) < len(_MAGIC) + 2 or not blob.startswith(_MAGIC):
            raise FileStoreError("not a stored file")
        version, kid_len = struct.unpack_from("BB", blob, len(_MAGIC))
        if version != _FORMAT_VERSION:
            raise FileStoreError(f"unknown stored file format {version}")
        start = len(_MAGIC) + 2
        kid = blob[start : start + kid_len].decode("ascii", errors="replace")
        nonce = blob[start + kid_len : start + kid_len + _NONCE_BYTES]
        header_len = start + kid_len + _NONCE_BYTES
        cipher = self._keys.get(kid)
        if cipher is None:
            raise FileStoreError(f"no key with id {kid!r} to read this file")
        if len(nonce) != _NONCE_BYTES:
            raise FileStoreError("stored file is truncated")
        try:
            return cipher.decrypt(nonce, blob[header_len:], blob[:header_len] + key.encode("ascii"))
        except InvalidTag:
            raise FileStoreError("stored file failed the integrity check") from None

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = self._encrypt(key, data)
        tmp = path.parent / f".{key}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(blob)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes:
        try:
            blob = self._path(key).read_bytes()
        except FileNotFoundError:
            raise FileStoreError("stored file is missing") from None
        return self._decrypt(key, blob)

    async def put(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        await asyncio.to_thread(self._write, key, data)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def _keys_before(self, cutoff: datetime | None) -> list[str]:
        found: list[str] = []
        if not self.directory.is_dir():
            return found
        for path in self.directory.glob("??/*"):
            if not _STORE_KEY.fullmatch(path.name):
                continue
            if cutoff is not None:
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                if modified >= cutoff:
                    continue
            found.append(path.name)
        return sorted(found)

    async def keys(self, *, modified_before: datetime | None = None) -> list[str]:
        """Keys of the stored files (written before ``modified_before``): for the sweep."""
        return await asyncio.to_thread(self._keys_before, modified_before)


# -- The state registry of persons ----------------------------------------------


@dataclass(frozen=True)
class RegistryRecord:
    """What the state registry knows of a person."""

    snils: str
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date
    legal_restriction: str | None = None


class Registry(Protocol):
    """The state registry: who a СНИЛС belongs to, and whether the law restricts them."""

    async def find(self, snils: str) -> RegistryRecord | None: ...

    async def find_person(
        self, last_name: str, first_name: str, middle_name: str | None, birth_date: date
    ) -> RegistryRecord | None: ...


def name_key(name: str | None) -> str:
    """A name as registries compare it: case, «ё»/«е» and spacing around hyphens ignored."""
    if not name:
        return ""
    text = name.casefold().replace("ё", "е")
    return re.sub(r"\s*-\s*", "-", re.sub(r"\s+", " ", text)).strip()


def _record(person: RegistryPerson) -> RegistryRecord:
    return RegistryRecord(
        snils=person.snils,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        legal_restriction=person.legal_restriction,
    )


class LocalRegistry:
    """The offline registry: the ``registry_persons`` table.

    Each question is read in a short transaction of its own, as a remote
    registry answers apart from the caller's work; so the Protocol stays free
    of units of work, and a production registry drops in unchanged. Like a
    remote one, ask it with no transaction of yours open: on SQLite (one
    writer, ``BEGIN IMMEDIATE``) its connection would wait for yours.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self.uow_factory = uow_factory

    async def find(self, snils: str) -> RegistryRecord | None:
        async with self.uow_factory() as uow:
            person = await uow.enrolment.registry.by_snils(snils)
            return _record(person) if person is not None else None

    async def find_person(
        self, last_name: str, first_name: str, middle_name: str | None, birth_date: date
    ) -> RegistryRecord | None:
        wanted = (name_key(last_name), name_key(first_name), name_key(middle_name))
        async with self.uow_factory() as uow:
            for person in await uow.enrolment.registry.born_on(birth_date):
                found = (
                    name_key(person.last_name),
                    name_key(person.first_name),
                    name_key(person.middle_name),
                )
                if found == wanted:
                    return _record(person)
        return None


@dataclass
class Gateways:
    clock: Clock
    sms: SmsSender
    mail: MailSender
    # Where uploaded documents are kept; the composition root sets an
    # EncryptedDirectoryStore. Document use cases refuse to run without one.
    files: FileStore | None = None
    # The state registry; None means the local registry table (LocalRegistry).
    registry: Registry | None = None
