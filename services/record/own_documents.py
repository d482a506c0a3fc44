"""«Добавить документ»: a document of the person's own in their record («добавлено вами»).

The kind, the title and the date are checked as they are typed
(:func:`parse_kind`, :func:`validate_title`, :func:`validate_document_date`);
the file under exactly the checks of the application's documents
(services.core.files.inspect_upload: JPG, PNG or PDF up to 5 MB, judged by its
content, an image re-encoded without metadata), in the CPU pool before any unit
of work opens. Then one unit stores the file encrypted in the file store
(``ctx.gateways.files``), writes the RecordDocument (source ``patient``) and its
audit row ``record.document.add``. A blob written by a unit that is rolled back
is deleted again (``uow.after_rollback``).

Access: adding to one's own record is the owner's alone. The access rule has no
permission of its own for it; ``APPLY`` (the documents a person files
themself, oneself only) is the one that says exactly that.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from services.core import audit
from services.core.access import Permission, Principal, actor_account_id, actor_of, require
from services.core.context import AppContext
from services.core.errors import DomainError, ValidationError
from services.core.files import MAX_UPLOAD_BYTES, UploadInfo, UploadRejected, inspect_upload
from services.core.validators import add_years, parse_date
from services.core.work import Work, in_unit
from services.record.sections import DOCUMENT_KIND_LABELS, MSG_NO_RECORD, msk_today
from storage.models import RecordDocument
from storage.uow import UnitOfWork

__all__ = [
    "OWN_KINDS",
    "AddedDocument",
    "OwnDocuments",
    "check_declared_size",
    "parse_kind",
    "validate_document_date",
    "validate_title",
]

# The kinds a person may give their document, in the order the buttons show them.
OWN_KINDS: tuple[tuple[str, str], ...] = tuple(
    (kind, DOCUMENT_KIND_LABELS[kind]) for kind in ("result", "conclusion", "extract", "other")
)
MAX_TITLE = 200
MAX_FILE_NAME = 255
OLDEST_YEARS = 120

MSG_KIND = "Выберите вид документа кнопкой под сообщением."
MSG_TITLE_EMPTY = "Напишите название документа, например «МРТ коленного сустава»."
MSG_TITLE_LONG = f"Название слишком длинное: напишите его короче, до {MAX_TITLE} символов."
MSG_DATE_FUTURE = "Дата документа не может быть позже сегодняшнего дня. Проверьте её."
MSG_DATE_OLD = "Проверьте год: дата документа слишком давняя."
MSG_NO_STORE = "Сейчас не получается сохранить файл. Попробуйте ещё раз немного позже."


@dataclass(frozen=True)
class AddedDocument:
    document_id: int
    title: str
    kind: str  # jpeg / png / pdf
    size: int


def parse_kind(kind: str) -> str:
    if kind not in dict(OWN_KINDS):
        raise ValidationError(MSG_KIND)
    return kind


def validate_title(raw: str) -> str:
    title = " ".join(raw.split())
    if not title:
        raise ValidationError(MSG_TITLE_EMPTY)
    if len(title) > MAX_TITLE:
        raise ValidationError(MSG_TITLE_LONG)
    return title


def validate_document_date(raw: str, today: date) -> date:
    """``дд.мм.гггг``, not after `today`, not older than 120 years."""
    value = parse_date(raw)
    if value > today:
        raise ValidationError(MSG_DATE_FUTURE)
    if add_years(value, OLDEST_YEARS) < today:
        raise ValidationError(MSG_DATE_OLD)
    return value


def check_declared_size(size: int | None) -> None:
    """Refuse a file by the size its sender declares, before it is fetched (as the
    application's documents do: the same «файл больше 5 МБ»)."""
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise UploadRejected("too_large")


_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _clean_file_name(file_name: str | None) -> str | None:
    if not file_name:
        return None
    name = re.split(r"[\\/]", file_name)[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name).strip()
    return name[:MAX_FILE_NAME] or None


class OwnDocuments:
    """Adding a document of one's own as one use case: the file is judged before any unit."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def add(
        self,
        principal: Principal,
        subject_account_id: int,
        *,
        kind: str,
        title: str,
        document_date: str,
        data: bytes,
        file_name: str | None = None,
    ) -> AddedDocument:
        """Check everything, then store the file and the document in one unit of work.

        Raises ValidationError (``UploadRejected`` for the file) with the reason;
        nothing is stored then.
        """
        kind = parse_kind(kind)
        title = validate_title(title)
        when = validate_document_date(document_date, msk_today(self.ctx))
        info = await self.ctx.cpu.run(inspect_upload, data)
        return await in_unit(
            self.work,
            lambda uow: self._store(
                uow, principal, subject_account_id, kind, title, when, info, file_name
            ),
        )

    async def _store(
        self,
        uow: UnitOfWork,
        principal: Principal,
        subject: int,
        kind: str,
        title: str,
        when: date,
        info: UploadInfo,
        file_name: str | None,
    ) -> AddedDocument:
        decision = await require(
            uow, self.ctx, principal, subject, Permission.APPLY, action="record.document.add"
        )
        if await uow.record.records.for_account(subject) is None:
            raise DomainError(MSG_NO_RECORD)
        store = self.ctx.gateways.files
        if store is None:
            raise DomainError(MSG_NO_STORE)
        key = await store.put(info.data)
        uow.after_rollback(functools.partial(store.delete, key))
        document = RecordDocument(
            account_id=subject,
            kind=kind,
            title=title,
            document_date=when,
            source="patient",
            storage_key=key,
            sha256=info.sha256,
            size=info.size,
            mime_type=info.mime_type,
            file_name=_clean_file_name(file_name) or f"{title[:100]}.{info.extension}",
            created_at=self.ctx.gateways.clock.now(),
        )
        await uow.record.sections.add(document)
        await audit.record(
            uow,
            self.ctx,
            actor=actor_of(principal),
            action="record.document.add",
            actor_account_id=actor_account_id(principal),
            subject_account_id=subject,
            **decision.audit_fields(),
            document_id=document.id,
            kind=kind,
            file_kind=info.kind,
            size=info.size,
        )
        return AddedDocument(document.id, title, info.kind, info.size)
