"""Documents of the application: checks, what is stored, encryption at rest, duplicates,
replacement."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from sqlalchemy import select

from services.core.access import CurrentUser
from services.core.errors import DomainError, ValidationError
from services.core.files import MAX_UPLOAD_BYTES, UploadRejected, inspect_upload
from services.core.gateways import EncryptedDirectoryStore
from services.enrolment.documents import (
    MSG_NO_APPLICATION,
    MSG_NOT_EDITABLE,
    DocumentService,
    DocumentUploads,
    DuplicateDocument,
    SlotView,
    UploadResult,
    sweep_orphan_files,
)
from storage.models import Application, ApplicationDocument, AuditEntry, LabResult, RecordDocument
from storage.uow import UnitOfWork
from tests.support.application import (
    PETROV_PHONE,
    call,
    draft,
    files_on_disk,
    fill_form,
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
    # Анна's demo record is seeded without its files, so that the store holds
    # only what these tests upload.
    env.ctx.gateways.files = None
    await seed(env)
    env.ctx.gateways.files = store
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
    # What is stored is the re-encoded picture (here the same bytes: a plain PNG).
    data = inspect_upload(make_png("navy", 900, 600)).data
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


# ---------------------------------------------------------------------------
# The same file in two slots
# ---------------------------------------------------------------------------


def _with_metadata_and_a_zip(picture: bytes) -> bytes:
    """The same pixels as `picture` (a JPEG), with EXIF/GPS, a comment and a ZIP after it."""
    with Image.open(io.BytesIO(picture)) as image:
        exif = Image.Exif()
        exif[0x010F] = "Phone"
        exif[0x8825] = {1: "N", 2: (55.0, 45.0, 0.0)}
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90, exif=exif.tobytes(), comment=b"scan")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    return buf.getvalue() + archive.getvalue()


SAME_FILE = {
    "the same picture sent twice": (make_png("navy"), make_png("navy")),
    "the same PDF sent twice": (make_pdf(pages=2), make_pdf(pages=2)),
    "one picture, one copy with metadata and a ZIP after it": (
        make_jpeg("white"),
        _with_metadata_and_a_zip(make_jpeg("white")),
    ),
}


@pytest.mark.parametrize("case", list(SAME_FILE))
async def test_sending_the_passport_file_as_the_policy_is_refused(
    env: Env, petrov: CurrentUser, store_dir: Path, case: str
) -> None:
    first, second = SAME_FILE[case]
    await upload(env, petrov, "passport", first)
    await upload(env, petrov, "snils", make_png("maroon"))
    revision = await _revision(env)
    before = files_on_disk(store_dir)
    with pytest.raises(DuplicateDocument) as caught:
        await upload(env, petrov, "policy", second)
    assert caught.value.message == (
        "Этот файл уже загружен в раздел «Паспорт (страница с фото)». "
        "Пришлите в этот раздел нужный документ."
    )
    assert caught.value.other_slot == "passport"
    assert isinstance(caught.value, ValidationError)
    assert files_on_disk(store_dir) == before  # nothing stored
    assert sorted(d.slot for d in await _documents(env)) == ["passport", "snils"]
    assert await _revision(env) == revision
    # Into its own slot the same file is a plain replacement, not a duplicate.
    again = await upload(env, petrov, "passport", second)
    assert isinstance(again, UploadResult) and again.duplicate_of_label is None


async def test_replacing_the_policy_with_the_passport_file_keeps_the_policy(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore
) -> None:
    await upload(env, petrov, "passport", make_png("navy"))
    await upload(env, petrov, "policy", make_png("green"))
    (policy,) = [d for d in await _documents(env) if d.slot == "policy"]
    with pytest.raises(DuplicateDocument):
        await upload(env, petrov, "policy", make_png("navy"))
    (kept,) = [d for d in await _documents(env) if d.slot == "policy"]
    assert (kept.storage_key, kept.sha256) == (policy.storage_key, policy.sha256)
    assert await store.get(kept.storage_key) == make_png("green")


async def test_the_passport_file_as_proof_of_residence_is_taken_and_pointed_out(
    env: Env, petrov: CurrentUser, store_dir: Path
) -> None:
    # The optional slot may hold a required slot's file (the passport's
    # registration page is a proof of residence, often in one PDF with the photo).
    scan = make_pdf(pages=2)
    first = await upload(env, petrov, "passport", scan)
    assert isinstance(first, UploadResult) and first.duplicate_of_label is None
    second = await upload(env, petrov, "residence", scan)
    assert isinstance(second, UploadResult)
    assert second.duplicate_of_label == "Паспорт (страница с фото)"
    assert len(await _documents(env)) == 2
    assert len(files_on_disk(store_dir)) == 2
    # ...and the other way round: into a required slot after the optional one.
    await in_uow(env, lambda uow: DocumentService(uow, env.ctx).remove(petrov, "passport"))
    third = await upload(env, petrov, "passport", scan)
    assert isinstance(third, UploadResult)
    assert third.duplicate_of_label == "Подтверждение места жительства"


async def test_a_third_copy_is_refused_though_the_optional_slot_holds_it_too(
    env: Env, petrov: CurrentUser
) -> None:
    await upload(env, petrov, "residence", make_png("olive"))
    await upload(env, petrov, "passport", make_png("olive"))  # pointed out, taken
    with pytest.raises(DuplicateDocument) as caught:
        await upload(env, petrov, "snils", make_png("olive"))
    assert caught.value.other_slot == "passport"


async def test_one_picture_for_all_three_documents_can_not_be_submitted(
    env: Env, petrov: CurrentUser
) -> None:
    await fill_form(env, petrov)
    picture = make_png("navy")
    await upload(env, petrov, "passport", picture)
    for slot in ("policy", "snils"):
        with pytest.raises(DuplicateDocument):
            await upload(env, petrov, slot, picture)
    with pytest.raises(DomainError) as caught:
        await call(env, "prepare_submit", petrov)
    assert caught.value.message == "Не хватает документов: полис ОМС, СНИЛС."


# ---------------------------------------------------------------------------
# What is stored is what inspect_upload gives back
# ---------------------------------------------------------------------------


async def test_a_jpeg_with_a_zip_after_it_is_stored_as_a_plain_picture(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore
) -> None:
    sent = _with_metadata_and_a_zip(make_jpeg("white"))
    assert zipfile.is_zipfile(io.BytesIO(sent))
    result = await upload(env, petrov, "policy", sent, "полис.jpg")
    (document,) = await _documents(env)
    stored = await store.get(document.storage_key)
    assert stored == inspect_upload(sent).data
    assert stored != sent and not zipfile.is_zipfile(io.BytesIO(stored))
    assert b"PK\x03\x04" not in stored and b"Phone" not in stored and b"Exif" not in stored
    assert document.sha256 == hashlib.sha256(stored).hexdigest()
    assert document.size == len(stored)
    assert isinstance(result, UploadResult) and result.size == len(stored)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (800, 600)


async def test_the_upload_use_case_stores_the_reencoded_file(
    env: Env, petrov: CurrentUser, store: EncryptedDirectoryStore
) -> None:
    # DocumentUploads judges in the CPU pool, then stores what the check gave back.
    sent = make_png("teal") + b"<html><script>alert(1)</script></html>"
    result = await DocumentUploads(env.uow_factory, env.ctx).upload(petrov, "passport", sent)
    (document,) = await _documents(env)
    stored = await store.get(document.storage_key)
    assert stored == make_png("teal")
    assert document.sha256 == hashlib.sha256(stored).hexdigest() != hashlib.sha256(sent).hexdigest()
    assert result.size == len(stored)


async def test_a_one_pixel_png_is_not_taken_as_a_passport_scan(
    env: Env, petrov: CurrentUser, store_dir: Path
) -> None:
    await fill_form(env, petrov)
    with pytest.raises(UploadRejected) as caught:
        await upload(env, petrov, "passport", make_png("navy", 1, 1))
    assert caught.value.reason == "too_small"
    assert caught.value.message == (
        "Изображение слишком маленькое: по короткой стороне нужно не меньше 600 точек. "
        "Сфотографируйте документ крупнее."
    )
    await upload(env, petrov, "policy", make_jpeg("white"))
    await upload(env, petrov, "snils", make_pdf())
    assert [d.slot for d in await _documents(env)] == ["policy", "snils"]
    # Without the passport the application can't be sent, let alone approved.
    with pytest.raises(DomainError) as missing:
        await call(env, "prepare_submit", petrov)
    assert missing.value.message == "Не хватает документов: паспорт."


async def test_a_pdf_with_javascript_is_refused_and_stores_nothing(
    env: Env, petrov: CurrentUser, store_dir: Path
) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_open_action(JavaScript("app.launchURL('https://example.invalid');"))
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(UploadRejected) as caught:
        await upload(env, petrov, "snils", buf.getvalue(), "снилс.pdf")
    assert caught.value.reason == "active_content"
    assert files_on_disk(store_dir) == []
    assert await _documents(env) == []


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
    assert await store.get(old.storage_key) == inspect_upload(old_data).data


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
    before = files_on_disk(store_dir)  # Анна's record files, seeded by the demo
    with pytest.raises(DomainError) as caught:
        await upload(env, user, "passport", make_png())
    assert caught.value.message == MSG_NO_APPLICATION
    assert files_on_disk(store_dir) == before


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


async def test_sweep_spares_the_files_of_the_record_and_of_lab_results(
    env: Env, store: EncryptedDirectoryStore, store_dir: Path
) -> None:
    # The demo seeds Анна's record into this store: her discharge summary and
    # each lab result's PDF. A sweep run long after must keep every one of them.
    await seed(env)

    async def record_keys(uow: UnitOfWork) -> set[str]:
        docs = await uow.session.execute(select(RecordDocument.storage_key))
        labs = await uow.session.execute(select(LabResult.storage_key))
        return {k for k in [*docs.scalars(), *labs.scalars()] if k is not None}

    kept = await in_uow(env, record_keys)
    assert len(kept) >= 10
    orphan = await store.put(b"left behind by a crash")
    long_ago = (datetime.now(UTC) - timedelta(hours=3)).timestamp()
    for path in files_on_disk(store_dir):
        os.utime(path, (long_ago, long_ago))

    cutoff = datetime.now(UTC) - timedelta(hours=1)
    deleted = await in_uow(env, lambda uow: sweep_orphan_files(uow, store, older_than=cutoff))
    assert deleted == 1
    names = {p.name for p in files_on_disk(store_dir)}
    assert orphan not in names and kept <= names


async def test_a_file_stored_before_re_encoding_is_still_found_as_a_duplicate(
    env: Env, petrov: CurrentUser
) -> None:
    # Rows written before uploads were re-encoded hold the digest of the bytes
    # as sent; the same bytes sent again into another required slot are refused.
    sent = make_png("navy") + b"trailing bytes"
    await upload(env, petrov, "passport", sent)

    async def as_before(uow: UnitOfWork) -> None:
        document = await uow.enrolment.documents.in_slot(
            await _application_id(uow, petrov), "passport"
        )
        assert document is not None
        document.sha256 = hashlib.sha256(sent).hexdigest()

    await in_uow(env, as_before)
    with pytest.raises(DuplicateDocument):
        await upload(env, petrov, "snils", sent)


async def _application_id(uow: UnitOfWork, user: CurrentUser) -> int:
    application = await uow.enrolment.applications.in_progress_for(user.account_id)
    assert application is not None
    return application.id
