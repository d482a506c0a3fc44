"""Documents attached to the application for the ЭМК.

Slots: the passport (the page with the photo), the ОМС policy and the СНИЛС are
required; a proof of residence is optional. A file is accepted when
``inspect_upload`` finds a JPG, PNG or PDF of at most 5 MB by its content (and
readable, inactive, nothing but a document); what is stored is the file it
gives back (``UploadInfo.data``: an image re-encoded without metadata), encrypted
in the file store (``ctx.gateways.files``) under a random key, and the database
keeps the metadata and SHA-256 of those stored bytes.

Files and transactions. The blob is written before the row that points to it,
so a committed row always has its file:

* a new blob is deleted again if the unit of work is rolled back or never
  committed (``uow.after_rollback``);
* a replaced or removed slot's old blob is deleted only after the commit
  (``uow.after_commit``), so a rolled-back replacement keeps the old file;
* a process that dies between the two leaves an unreferenced blob behind:
  ``sweep_orphan_files`` removes those (run it now and then; it spares files
  younger than a grace period, which may belong to an upload in flight).

The same file in two required slots is refused (:class:`DuplicateDocument`):
a passport, a policy and a СНИЛС are three documents, and one picture can't be
two of them — accepting it let an application go through with one scan for
all three. "The same" is the same stored SHA-256: re-encoding is deterministic,
so the same bytes sent twice give the same stored file, and two copies of one
picture that differ only in metadata or trailing bytes do too; the digest of
the bytes as sent is compared as well (rows stored before re-encoding hold it).
The optional proof of residence may hold the same file as a required slot (the
passport's registration page is such a proof, often in one PDF with the photo
page): that is accepted and pointed out (``duplicate_of_label``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.core import audit
from services.core.access import CurrentUser, Decision, Permission, require
from services.core.context import AppContext
from services.core.errors import DomainError, ValidationError
from services.core.files import MAX_UPLOAD_BYTES, UploadInfo, UploadRejected, inspect_upload
from services.core.gateways import FileStore
from services.core.work import Work, in_unit
from services.enrolment.statuses import EDITABLE_STATUSES
from storage.models import Application, ApplicationDocument
from storage.uow import UnitOfWork

__all__ = [
    "SLOTS",
    "DocumentService",
    "DuplicateDocument",
    "SlotSpec",
    "SlotView",
    "UploadResult",
    "missing_required",
    "slot_views",
    "sweep_orphan_files",
]

MAX_FILE_NAME = 255


@dataclass(frozen=True)
class SlotSpec:
    slot: str
    label: str
    short: str  # how a list of missing documents names it: «паспорт, полис ОМС»
    required: bool


SLOTS: tuple[SlotSpec, ...] = (
    SlotSpec("passport", "Паспорт (страница с фото)", "паспорт", True),
    SlotSpec("policy", "Полис ОМС", "полис ОМС", True),
    SlotSpec("snils", "СНИЛС", "СНИЛС", True),
    SlotSpec(
        "residence", "Подтверждение места жительства", "подтверждение места жительства", False
    ),
)
SLOT_BY_NAME = {spec.slot: spec for spec in SLOTS}


@dataclass(frozen=True)
class SlotView:
    slot: str
    label: str
    required: bool
    filled: bool
    kind: str | None  # "jpeg", "png" or "pdf"
    size: int | None  # bytes
    uploaded_at: datetime | None


@dataclass(frozen=True)
class UploadResult:
    slot: str
    label: str
    kind: str
    size: int
    # The label of another slot holding the very same file, to point it out.
    duplicate_of_label: str | None


MSG_NO_APPLICATION = "Сначала откройте заявление на ЭМК, затем добавьте документы."
MSG_NOT_EDITABLE = (
    "Документы можно добавить или заменить, пока заявление не отправлено или когда "
    "по нему требуются исправления."
)


class DuplicateDocument(ValidationError):
    """The file is already in another required slot (``other_slot``); nothing is stored."""

    def __init__(self, other: SlotSpec) -> None:
        super().__init__(
            f"Этот файл уже загружен в раздел «{other.label}». "
            "Пришлите в этот раздел нужный документ."
        )
        self.other_slot = other.slot


def slot_views(documents: Sequence[ApplicationDocument]) -> list[SlotView]:
    by_slot = {d.slot: d for d in documents}
    views = []
    for spec in SLOTS:
        doc = by_slot.get(spec.slot)
        views.append(
            SlotView(
                slot=spec.slot,
                label=spec.label,
                required=spec.required,
                filled=doc is not None,
                kind=doc.kind if doc else None,
                size=doc.size if doc else None,
                uploaded_at=doc.uploaded_at if doc else None,
            )
        )
    return views


def missing_required(documents: Sequence[ApplicationDocument]) -> list[SlotSpec]:
    filled = {d.slot for d in documents}
    return [spec for spec in SLOTS if spec.required and spec.slot not in filled]


def _slot(slot: str) -> SlotSpec:
    try:
        return SLOT_BY_NAME[slot]
    except KeyError:
        raise ValueError(f"unknown document slot {slot!r}") from None


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _clean_file_name(file_name: str | None) -> str | None:
    """The name as the person's device gave it, without a path or control characters."""
    if not file_name:
        return None
    name = re.split(r"[\\/]", file_name)[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name).strip()
    return name[:MAX_FILE_NAME] or None


class DocumentService:
    SLOTS = SLOTS

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    @property
    def store(self) -> FileStore:
        store = self.ctx.gateways.files
        if store is None:
            raise RuntimeError("no file store configured: set Gateways.files")
        return store

    def _actor(self, user: CurrentUser) -> str:
        return f"account:{user.account_id}"

    async def _require(self, user: CurrentUser, action: str) -> Decision:
        """May the person work with these documents now? Only their own (APPLY).

        Raises AccessDenied (journaled) otherwise. Once allowed, the subject is
        the person themself, so the use cases go on with ``user.account_id``.
        """
        return await require(
            self.uow, self.ctx, user, user.subject_account_id, Permission.APPLY, action=action
        )

    async def _editable(self, user: CurrentUser) -> Application:
        application = await self.uow.enrolment.applications.in_progress_for(
            user.account_id, for_update=True
        )
        if application is None:
            raise DomainError(MSG_NO_APPLICATION)
        if application.status not in EDITABLE_STATUSES:
            raise DomainError(MSG_NOT_EDITABLE)
        return application

    @staticmethod
    def check_declared_size(size: int | None) -> None:
        """Refuse a file by the size its sender declares, before fetching it.

        The same refusal (``UploadRejected``, «файл больше 5 МБ») as ``upload``
        gives for the content, so a person is told the same either way and a big
        file is never downloaded. ``None`` (size not declared) passes: ``upload``
        judges the content then.
        """
        if size is not None and size > MAX_UPLOAD_BYTES:
            raise UploadRejected("too_large")

    async def slots(self, user: CurrentUser) -> list[SlotView]:
        """The slots of the application in progress (all empty when there is none)."""
        await self._require(user, "document.list")
        application = await self.uow.enrolment.applications.in_progress_for(user.account_id)
        if application is None:
            return slot_views([])
        return slot_views(await self.uow.enrolment.documents.for_application(application.id))

    async def upload(
        self,
        user: CurrentUser,
        slot: str,
        data: bytes,
        file_name: str | None = None,
        *,
        info: UploadInfo | None = None,
    ) -> UploadResult:
        """Check the file, store it encrypted in the slot (replacing what was there).

        Raises ``UploadRejected`` (a ValidationError) for a file that
        ``inspect_upload`` refuses, ``DuplicateDocument`` for the file of
        another required slot, and DomainError when the application can't take
        documents now; in each case nothing is stored. `info` is the verdict of
        :func:`check_upload` when the caller judged the file before opening this
        unit of work (as :class:`DocumentUploads` does); what is stored is
        ``info.data`` (the re-encoded file), never `data` as sent.
        """
        decision = await self._require(user, "document.upload")
        spec = _slot(slot)
        application = await self._editable(user)
        if info is None:
            info = await check_upload(self.ctx, data)
        documents = await self.uow.enrolment.documents.for_application(application.id)
        # A row stored before uploads were re-encoded holds the digest of the
        # bytes as sent: compare with both.
        digests = {info.sha256, info.original_sha256}
        duplicates = [d for d in documents if d.sha256 in digests and d.slot != spec.slot]
        if spec.required:
            for other in duplicates:
                if SLOT_BY_NAME[other.slot].required:
                    raise DuplicateDocument(SLOT_BY_NAME[other.slot])
        duplicate = duplicates[0] if duplicates else None
        now = self.ctx.gateways.clock.now()
        store = self.store
        key = await store.put(info.data)
        self.uow.after_rollback(functools.partial(store.delete, key))
        existing = next((d for d in documents if d.slot == spec.slot), None)
        if existing is not None:
            self.uow.after_commit(functools.partial(store.delete, existing.storage_key))
            existing.storage_key = key
            existing.sha256 = info.sha256
            existing.size = info.size
            existing.kind = info.kind
            existing.mime_type = info.mime_type
            existing.file_name = _clean_file_name(file_name)
            existing.uploaded_at = now
            document = existing
            await self.uow.flush()
        else:
            document = await self.uow.enrolment.documents.add(
                ApplicationDocument(
                    application_id=application.id,
                    slot=spec.slot,
                    storage_key=key,
                    sha256=info.sha256,
                    size=info.size,
                    kind=info.kind,
                    mime_type=info.mime_type,
                    file_name=_clean_file_name(file_name),
                    uploaded_at=now,
                )
            )
        application.revision += 1
        application.updated_at = now
        await audit.record(
            self.uow,
            self.ctx,
            actor=self._actor(user),
            action="document.upload",
            actor_account_id=user.account_id,
            subject_account_id=decision.subject_account_id,
            **decision.audit_fields(),
            application_id=application.id,
            document_id=document.id,
            slot=spec.slot,
            kind=info.kind,
            size=info.size,
            replaced=existing is not None,
            duplicate_of=duplicate.slot if duplicate else None,
        )
        return UploadResult(
            slot=spec.slot,
            label=spec.label,
            kind=info.kind,
            size=info.size,
            duplicate_of_label=SLOT_BY_NAME[duplicate.slot].label if duplicate else None,
        )

    async def remove(self, user: CurrentUser, slot: str) -> list[SlotView]:
        """Empty the slot (its file is deleted after the commit); returns the slots."""
        decision = await self._require(user, "document.remove")
        spec = _slot(slot)
        application = await self._editable(user)
        document = await self.uow.enrolment.documents.in_slot(application.id, spec.slot)
        if document is None:
            raise DomainError(f"В разделе «{spec.label}» нет загруженного документа.")
        store = self.store
        document_id, key = document.id, document.storage_key
        await self.uow.enrolment.documents.delete(document)
        self.uow.after_commit(functools.partial(store.delete, key))
        application.revision += 1
        application.updated_at = self.ctx.gateways.clock.now()
        await audit.record(
            self.uow,
            self.ctx,
            actor=self._actor(user),
            action="document.remove",
            actor_account_id=user.account_id,
            subject_account_id=decision.subject_account_id,
            application_id=application.id,
            document_id=document_id,
            slot=spec.slot,
            **decision.audit_fields(),
        )
        return slot_views(await self.uow.enrolment.documents.for_application(application.id))


class ListableFileStore(FileStore, Protocol):
    async def keys(self, *, modified_before: datetime | None = None) -> list[str]: ...


async def sweep_orphan_files(
    uow: UnitOfWork, store: ListableFileStore, *, older_than: datetime
) -> int:
    """Delete stored files no row of any area points to, written before `older_than`.

    Such files are left by a process that died between writing a file and
    committing (or after committing a replacement and before deleting the old
    file). Give `older_than` a margin (an hour ago, say) so that an upload in
    flight is not swept. Returns how many files were deleted.
    """
    candidates = await store.keys(modified_before=older_than)
    if not candidates:
        return 0
    referenced = await uow.core.files.referenced()
    orphans = [key for key in candidates if key not in referenced]
    for key in orphans:
        await store.delete(key)
    return len(orphans)


async def check_upload(ctx: AppContext, data: bytes) -> UploadInfo:
    """Judge an uploaded file by its content, in the CPU pool (decoding is CPU work)."""
    return await ctx.cpu.run(inspect_upload, data)


class DocumentUploads:
    """Uploading a document as one use case: the file is judged before any transaction.

    The check (decoding the whole image or PDF) runs in the CPU pool with no unit
    of work open; only then is the file stored and its row written, in one unit.
    """

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def upload(
        self, user: CurrentUser, slot: str, data: bytes, file_name: str | None = None
    ) -> UploadResult:
        _slot(slot)
        info = await check_upload(self.ctx, data)
        return await in_unit(
            self.work,
            lambda uow: DocumentService(uow, self.ctx).upload(
                user, slot, data, file_name, info=info
            ),
        )
