"""External systems behind small Protocols, with offline default implementations.

Production implementations (the portal's identity provider, a real SMS
gateway, mail, the state registry, an object store) plug in here by
implementing the same Protocols; the defaults run on one machine with no
network.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

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
