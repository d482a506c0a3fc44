"""Documents of the application: checks, encryption at rest, duplicates, replacement."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.core.access import CurrentUser
from services.core.errors import DomainError
from services.core.files import MAX_UPLOAD_BYTES, UploadRejected
from services.core.gateways import EncryptedDirectoryStore
from services.enrolment.documents import (
    MSG_NO_APPLICATION,
    MSG_NOT_EDITABLE,
    DocumentService,
    SlotView,
    UploadResult,
    sweep_orphan_files,
)
from storage.models import Application, ApplicationDocument, AuditEntry
from storage.uow import UnitOfWork
from tests.support.application import (
    PETROV_PHONE,
    draft,
    files_on_disk,
    in_uow,
    make_jpeg,
    make_pdf,
    make_png,
    seed,
    sign_in,
    submitted_application,
    upload,
    use_file_store,
)
from tests.support.services import Env


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
async def store(env: Env, store_dir: Path) -> EncryptedDirectoryStore:
    return use_file_store(env, store_dir)


@pytest.fixture
async def petrov(env: Env, store: EncryptedDirectoryStore) -> CurrentUser:
    await seed(env)
    user = await sign_in(env, PETROV_PHONE)
    await draft(env, user)
    return user


async def _documents(env: Env) -> list[ApplicationDocument]:
    async with env.uow() as uow:
        rows = await uow.session.execute(select(ApplicationDocument))
        return list(rows.scalars().all())


async def _slots(env: Env, user: CurrentUser) -> list[SlotView]:
    return await in_uow(env, lambda uow: DocumentService(uow, env.ctx).slots(user))


async def _revision(env: Env) -> int:
    async with env.uow() as uow:
        application = (await uow.session.execute(select(Application))).scalar_one()
        return application.revision


def test_slots() -> None:
    assert [(s.slot, s.label, s.required) for s in DocumentService.SLOTS] == [
        ("passport", "Паспорт (страница с фото)", True),
        ("policy", "Полис ОМС", True),
        ("snils", "СНИЛС", True),
        ("residence", "Подтверждение места жительства", False),
    ]


async def test_slots_before_any_upload(env: Env, petrov: CurrentUser) -> None:
    slots = await _slots(env, petrov)
    assert [s.slot for s in slots] == ["passport", "policy", "snils", "residence"]
    assert not any(s.filled for s in slots)
    assert all(s.kind is None and s.size is None and s.uploaded_at is None for s in slots)


BAD_FILES = [
    pytest.param(b"", "файл пустой", id="empty"),
    pytest.param("Паспорт гражданина".encode(), "формат не поддерживается", id="text"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "файл повреждён", id="broken-png"),
    pytest.param(b"%PDF-" + b"x" * MAX_UPLOAD_BYTES, "больше 5 МБ", id="too-large"),
]


@pytest.mark.parametrize(("data", "reason"), BAD_FILES)
async def test_a_refused_file_stores_nothing(
    env: Env, petrov: CurrentUser, store_dir: Path, data: bytes, reason: str
) -> None:
    revision = await _revision(env)
    with pytest.raises(UploadRejected) as caught:
        await upload(env, petrov, "passport", data, "passport.png")
    assert reason in caught.value.message
    assert files_on_disk(store_dir) == []
    assert await _documents(env) == []
    assert await _revision(env) == revision


def test_declared_size_over_the_limit_is_refused_before_download() -> None:
    DocumentService.check_declared_size(None)  # not declared: the content decides
    DocumentService.check_declared_size(0)
    DocumentService.check_declared_size(MAX_UPLOAD_BYTES)
    with pytest.raises(UploadRejected) as caught:
        DocumentService.check_declared_size(MAX_UPLOAD_BYTES + 1)
    assert caught.value.reason == "too_large"
    assert "файл больше 5 МБ" in caught.value.message


async def test_upload_is_encrypted_at_rest_and_decrypts_back(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    data = make_png("navy", 300, 200)
    env.clock.advance(minutes=3)
    result = await upload(env, petrov, "passport", data, "C:\\fakepath\\Петров паспорт.png")
    assert result == UploadResult(
        slot="passport",
        label="Паспорт (страница с фото)",
        kind="png",
        size=len(data),
        duplicate_of_label=None,
    )
    (document,) = await _documents(env)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.size == len(data)
    assert (document.kind, document.mime_type) == ("png", "image/png")
    assert document.file_name == "Петров паспорт.png"
    assert document.uploaded_at == env.clock.now()

    (path,) = files_on_disk(store_dir)
    assert path.name == document.storage_key  # a random id, never the person's file name
    on_disk = path.read_bytes()
    assert data not in on_disk and data[:64] not in on_disk
    assert b"IHDR" not in on_disk  # not even the PNG structure shows
    assert await store.get(document.storage_key) == data

    slots = await _slots(env, petrov)
    assert slots[0] == SlotView(
        "passport", "Паспорт (страница с фото)", True, True, "png", len(data), env.clock.now()
    )


async def test_upload_is_audited_without_personal_data(env: Env, petrov: CurrentUser) -> None:
    await upload(env, petrov, "snils", make_pdf(), "снилс Петрова.pdf")
    async with env.uow() as uow:
        (entry,) = await uow.core.audit.all("document.upload")
    assert isinstance(entry, AuditEntry)
    assert entry.subject_account_id == petrov.account_id
    assert entry.details["slot"] == "snils" and entry.details["kind"] == "pdf"
    assert "Петров" not in repr(entry.details)


async def test_the_same_file_in_two_slots_is_pointed_out(
    env: Env, petrov: CurrentUser, store_dir: Path
) -> None:
    data = make_jpeg("white")
    first = await upload(env, petrov, "passport", data)
    assert isinstance(first, UploadResult) and first.duplicate_of_label is None
    second = await upload(env, petrov, "policy", data)
    assert isinstance(second, UploadResult)
    assert second.duplicate_of_label == "Паспорт (страница с фото)"
    # Still stored: one scan may honestly hold two documents.
    assert len(await _documents(env)) == 2
    assert len(files_on_disk(store_dir)) == 2
    # Re-sending the same file into its own slot is not a duplicate.
    again = await upload(env, petrov, "passport", data)
    assert isinstance(again, UploadResult)
    assert again.duplicate_of_label == "Полис ОМС"


async def test_replacing_a_slot_deletes_the_old_file_after_commit(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    await upload(env, petrov, "passport", make_png("navy"))
    (old,) = await _documents(env)
    revision = await _revision(env)
    new_data = make_pdf()
    await upload(env, petrov, "passport", new_data)
    (new,) = await _documents(env)
    assert new.id == old.id and new.slot == "passport"
    assert new.storage_key != old.storage_key
    assert new.kind == "pdf"
    assert [p.name for p in files_on_disk(store_dir)] == [new.storage_key]
    assert await store.get(new.storage_key) == new_data
    assert await _revision(env) == revision + 1


async def test_a_rolled_back_upload_leaves_no_file_and_keeps_the_old_one(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    old_data = make_png("navy")
    await upload(env, petrov, "passport", old_data)
    (old,) = await _documents(env)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with env.uow() as uow:
            await DocumentService(uow, env.ctx).upload(petrov, "passport", make_pdf(), None)
            assert len(files_on_disk(store_dir)) == 2  # the new file was written...
            raise Boom

    # ...and removed again; the committed one is untouched.
    assert [p.name for p in files_on_disk(store_dir)] == [old.storage_key]
    (document,) = await _documents(env)
    assert document.storage_key == old.storage_key
    assert await store.get(old.storage_key) == old_data


async def test_an_upload_never_committed_leaves_no_file(
    env: Env, petrov: CurrentUser, store_dir: Path
) -> None:
    async with env.uow() as uow:
        await DocumentService(uow, env.ctx).upload(petrov, "passport", make_png(), None)
    assert files_on_disk(store_dir) == []
    assert await _documents(env) == []


async def test_remove_a_document(env: Env, petrov: CurrentUser, store_dir: Path) -> None:
    await upload(env, petrov, "residence", make_png("green"))
    await upload(env, petrov, "passport", make_png("navy"))
    slots = await in_uow(env, lambda uow: DocumentService(uow, env.ctx).remove(petrov, "residence"))
    assert [s.filled for s in slots] == [True, False, False, False]
    (left,) = await _documents(env)
    assert [p.name for p in files_on_disk(store_dir)] == [left.storage_key]
    with pytest.raises(DomainError, match="нет загруженного документа"):
        await in_uow(env, lambda uow: DocumentService(uow, env.ctx).remove(petrov, "residence"))
    async with env.uow() as uow:
        assert len(await uow.core.audit.all("document.remove")) == 1


async def test_unknown_slot_is_a_programming_error(env: Env, petrov: CurrentUser) -> None:
    with pytest.raises(ValueError):
        await upload(env, petrov, "diploma", make_png())


async def test_upload_without_an_application(
    env: Env, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    await seed(env)
    user = await sign_in(env, PETROV_PHONE)
    with pytest.raises(DomainError) as caught:
        await upload(env, user, "passport", make_png())
    assert caught.value.message == MSG_NO_APPLICATION
    assert files_on_disk(store_dir) == []


async def test_no_upload_while_the_application_is_processed(
    env: Env, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    await seed(env)
    user = await submitted_application(env)
    before = files_on_disk(store_dir)
    documents = await _documents(env)
    with pytest.raises(DomainError) as caught:
        await upload(env, user, "residence", make_png("green"))
    assert caught.value.message == MSG_NOT_EDITABLE
    with pytest.raises(DomainError):
        await in_uow(env, lambda uow: DocumentService(uow, env.ctx).remove(user, "passport"))
    assert files_on_disk(store_dir) == before
    assert [d.id for d in await _documents(env)] == [d.id for d in documents]


async def test_documents_can_be_added_when_corrections_are_asked(
    env: Env, store: EncryptedDirectoryStore
) -> None:
    await seed(env)
    user = await submitted_application(env)

    async def needs_fix(uow: UnitOfWork) -> None:
        application = await uow.enrolment.applications.in_progress_for(user.account_id)
        assert application is not None
        application.status = "needs_fix"

    await in_uow(env, needs_fix)
    result = await upload(env, user, "residence", make_png("green"))
    assert isinstance(result, UploadResult) and result.slot == "residence"
    assert [s.filled for s in await _slots(env, user)] == [True, True, True, True]


async def test_without_a_file_store_documents_refuse_to_run(env: Env, petrov: CurrentUser) -> None:
    env.ctx.gateways.files = None
    with pytest.raises(RuntimeError, match="file store"):
        await upload(env, petrov, "passport", make_png())


async def test_sweep_deletes_only_old_unreferenced_files(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    await upload(env, petrov, "passport", make_png())
    (kept,) = await _documents(env)
    old_orphan = await store.put(b"left behind by a crash")
    young_orphan = await store.put(b"an upload in flight")
    long_ago = (datetime.now(UTC) - timedelta(hours=3)).timestamp()
    for key in (kept.storage_key, old_orphan):
        os.utime(store_dir / key[:2] / key, (long_ago, long_ago))

    cutoff = datetime.now(UTC) - timedelta(hours=1)
    deleted = await in_uow(env, lambda uow: sweep_orphan_files(uow, store, older_than=cutoff))
    assert deleted == 1
    names = {p.name for p in files_on_disk(store_dir)}
    assert names == {kept.storage_key, young_orphan}
