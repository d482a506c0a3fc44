"""The encrypted directory store: AES-256-GCM at rest, tamper detection, key rotation."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from services.core.gateways import EncryptedDirectoryStore, FileStore, FileStoreError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
SECRET = "Паспорт гражданина РФ 45 05 123456, Петров Сергей Иванович".encode() * 20


def _path(store: EncryptedDirectoryStore, key: str) -> Path:
    return store.directory / key[:2] / key


@pytest.fixture
def store(tmp_path: Path) -> EncryptedDirectoryStore:
    return EncryptedDirectoryStore(tmp_path / "files", KEY)


def test_it_is_a_file_store(store: EncryptedDirectoryStore) -> None:
    assert isinstance(store, EncryptedDirectoryStore)
    _: FileStore = store


async def test_round_trip_and_nothing_readable_on_disk(store: EncryptedDirectoryStore) -> None:
    key = await store.put(SECRET)
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    on_disk = _path(store, key).read_bytes()
    assert SECRET not in on_disk
    assert "Петров".encode() not in on_disk
    assert on_disk.startswith(b"EMKF\x01\x011")  # magic, format 1, key id "1"
    # header (4 + 2 + 1 + 12 nonce) + ciphertext + 16-byte tag
    assert len(on_disk) == 19 + len(SECRET) + 16
    assert await store.get(key) == SECRET


async def test_same_data_twice_gets_new_keys_and_nonces(store: EncryptedDirectoryStore) -> None:
    first, second = await store.put(SECRET), await store.put(SECRET)
    assert first != second
    assert _path(store, first).read_bytes() != _path(store, second).read_bytes()


async def test_no_temporary_files_are_left(store: EncryptedDirectoryStore) -> None:
    for _ in range(5):
        await store.put(b"x")
    names = [p.name for p in store.directory.rglob("*") if p.is_file()]
    assert len(names) == 5
    assert all(re.fullmatch(r"[0-9a-f]{32}", n) for n in names)


async def test_files_are_private(store: EncryptedDirectoryStore) -> None:
    key = await store.put(b"x")
    assert _path(store, key).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("where", ["ciphertext", "tag", "nonce", "key id"])
async def test_tampering_is_detected(store: EncryptedDirectoryStore, where: str) -> None:
    key = await store.put(SECRET)
    path = _path(store, key)
    blob = bytearray(path.read_bytes())
    index = {"ciphertext": 40, "tag": len(blob) - 1, "nonce": 10, "key id": 6}[where]
    blob[index] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(FileStoreError):
        await store.get(key)


async def test_a_file_moved_under_another_key_is_refused(store: EncryptedDirectoryStore) -> None:
    first, second = await store.put(b"first"), await store.put(b"second")
    _path(store, second).write_bytes(_path(store, first).read_bytes())
    with pytest.raises(FileStoreError, match="integrity"):
        await store.get(second)


async def test_truncated_and_foreign_files_are_refused(store: EncryptedDirectoryStore) -> None:
    key = await store.put(SECRET)
    path = _path(store, key)
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(FileStoreError):
        await store.get(key)
    path.write_bytes(b"%PDF-1.4 plain file")
    with pytest.raises(FileStoreError, match="not a stored file"):
        await store.get(key)


async def test_the_wrong_key_cannot_read(tmp_path: Path) -> None:
    writer = EncryptedDirectoryStore(tmp_path, KEY)
    key = await writer.put(SECRET)
    with pytest.raises(FileStoreError):
        await EncryptedDirectoryStore(tmp_path, OTHER_KEY).get(key)


async def test_key_rotation(tmp_path: Path) -> None:
    old = EncryptedDirectoryStore(tmp_path, KEY, key_id="2026a")
    old_file = await old.put(b"old")
    new = EncryptedDirectoryStore(tmp_path, OTHER_KEY, key_id="2026b", previous_keys={"2026a": KEY})
    new_file = await new.put(b"new")
    assert await new.get(old_file) == b"old"
    assert await new.get(new_file) == b"new"
    assert b"2026b" in _path(new, new_file).read_bytes()[:16]
    # The old store alone does not know the new key.
    with pytest.raises(FileStoreError, match="no key"):
        await old.get(new_file)


async def test_missing_and_delete(store: EncryptedDirectoryStore) -> None:
    key = await store.put(b"x")
    await store.delete(key)
    await store.delete(key)  # deleting twice is fine
    with pytest.raises(FileStoreError, match="missing"):
        await store.get(key)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABCDEF", "", "0" * 31, "0" * 32 + "/x"])
async def test_malformed_keys_are_refused(store: EncryptedDirectoryStore, bad: str) -> None:
    with pytest.raises(FileStoreError):
        await store.get(bad)
    with pytest.raises(FileStoreError):
        await store.delete(bad)


def test_key_must_be_256_bits(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EncryptedDirectoryStore(tmp_path, b"short")
    with pytest.raises(ValueError):
        EncryptedDirectoryStore(tmp_path, KEY, key_id="no spaces")


async def test_file_io_runs_off_the_event_loop(
    store: EncryptedDirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    write, read = store._write, store._read

    def spy_write(key: str, data: bytes) -> None:
        seen.append(threading.get_ident())
        write(key, data)

    def spy_read(key: str) -> bytes:
        seen.append(threading.get_ident())
        return read(key)

    monkeypatch.setattr(store, "_write", spy_write)
    monkeypatch.setattr(store, "_read", spy_read)
    key = await store.put(b"x")
    assert await store.get(key) == b"x"
    assert len(seen) == 2 and loop_thread not in seen


async def test_keys_lists_stored_files(store: EncryptedDirectoryStore) -> None:
    assert await store.keys() == []
    keys = sorted([await store.put(b"a"), await store.put(b"b")])
    assert await store.keys() == keys
