"""«Результаты анализов»: the list, one result, its file and an analyte's «Динамика».

``LabResultsService`` holds the use cases, each run in a unit of work of its
own, each through the access rule (READ_RECORD; DOWNLOAD for the file) and
journaled (``lab_result.list``, ``.view``, ``.download``, ``.trend``).
Sensitive results: the owner sees them; anyone else only with READ_SENSITIVE
(decided with ``authorize``), otherwise they are left out of the list, the
filter and the series, and refused by id.

``LabFiles`` and ``LabCharts`` add the work done between units: reading the
stored file, rendering the chart in ``ctx.cpu`` (cached by the data's hash).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.core import audit
from services.core.access import (
    CardUser,
    Decision,
    Permission,
    Principal,
    actor_account_id,
    actor_of,
    authorize,
    require,
)
from services.core.context import AppContext
from services.core.errors import DomainError, NotFoundError
from services.core.work import Work, in_unit
from services.record import charts
from services.record.charts import TrendPoint, TrendSeries, number, range_text
from storage.models import LabObservation, LabResult
from storage.uow import UnitOfWork

__all__ = [
    "PAGE_SIZE",
    "STATUS_TEXT",
    "AnalyteView",
    "Chart",
    "FileToSend",
    "LabCharts",
    "LabFiles",
    "LabResultsService",
    "ResultLine",
    "ResultView",
    "ResultsPage",
    "TestOption",
]

MSK = ZoneInfo("Europe/Moscow")
PAGE_SIZE = 6
STATUS_TEXT = {"preliminary": "предварительный", "final": "окончательный"}
FLAG_MARK = {"high": "↑", "low": "↓", "abnormal": "!"}

MSG_NOT_FOUND = "Такого результата анализа в карте нет."
MSG_NO_FILE = "У этого результата нет файла от лаборатории."
MSG_FILE_GONE = "Файл результата сейчас недоступен. Попробуйте позже."
MSG_NO_TREND = "Для динамики нужно хотя бы два числовых значения этого показателя."
MSG_BAD_CODE = "Такого показателя в результатах нет."


@dataclass(frozen=True)
class ResultLine:
    id: int
    issued_at: datetime
    test_code: str
    test_name: str
    ordered_by: str | None
    laboratory_name: str
    status: str
    new: bool

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)


@dataclass(frozen=True)
class TestOption:
    code: str
    name: str


@dataclass(frozen=True)
class ResultsPage:
    """One page (``page`` from 0) of ``pages``; ``test`` is the filter's code, if any."""

    items: list[ResultLine]
    page: int
    pages: int
    total: int
    test: str | None
    test_name: str | None
    tests: list[TestOption]

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages


@dataclass(frozen=True)
class AnalyteView:
    code: str
    name: str
    value: float | None
    value_text: str | None
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    ref_text: str | None
    flag: str | None
    trend: bool

    @property
    def shown_value(self) -> str:
        if self.value is not None:
            return number(self.value)
        return self.value_text or "—"

    @property
    def range(self) -> str | None:
        band = range_text(self.ref_low, self.ref_high)
        if band is None and self.ref_text:
            return f"норма: {self.ref_text}"
        return band

    @property
    def mark(self) -> str:
        return FLAG_MARK.get(self.flag or "", "")

    def line(self) -> str:
        """«Глюкоза: 6,4 ммоль/л ↑ (норма 3,9–6,1)»."""
        text = f"{self.name}: {self.shown_value}"
        if self.value is not None and self.unit:
            text += f" {self.unit}"
        if self.mark:
            text += f" {self.mark}"
        if self.range:
            text += f" ({self.range})"
        return text


@dataclass(frozen=True)
class ResultView:
    id: int
    test_code: str
    test_name: str
    issued_at: datetime
    collected_at: datetime | None
    status: str
    laboratory_name: str
    ordered_by: str | None
    lab_comment: str | None
    doctor_comment: str | None
    has_file: bool
    can_download: bool
    analytes: list[AnalyteView]

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)

    @property
    def preliminary(self) -> bool:
        return self.status == "preliminary"

    @property
    def trends(self) -> list[AnalyteView]:
        return [a for a in self.analytes if a.trend]


@dataclass(frozen=True)
class FileToSend:
    data: bytes
    file_name: str
    mime_type: str | None


@dataclass(frozen=True)
class Chart:
    png: bytes
    caption: str
    series: TrendSeries


def flag_of(observation: LabObservation) -> str | None:
    """The stored flag, or one from the range: high, low; None when normal or unknown."""
    if observation.flag in ("high", "low", "abnormal"):
        return observation.flag
    if observation.flag == "normal" or observation.value is None:
        return None
    if observation.ref_high is not None and observation.value > observation.ref_high:
        return "high"
    if observation.ref_low is not None and observation.value < observation.ref_low:
        return "low"
    return None


def local_day(moment: datetime) -> str:
    return moment.astimezone(MSK).strftime("%d.%m.%Y")


_EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "image/webp": "webp",
    "image/tiff": "tiff",
}


def file_name_of(result: LabResult) -> str:
    extension = _EXTENSIONS.get(result.mime_type or "", "bin")
    return (
        f"Результат анализа {result.issued_at.astimezone(MSK):%Y-%m-%d} № {result.id}.{extension}"
    )


class LabResultsService:
    """The person's lab results, each method a use case in its own unit of work."""

    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx
        self.labs = uow.record.labs

    # -- helpers ---------------------------------------------------------------------

    async def _require(
        self, user: Principal, subject: int, permission: Permission, action: str, **details: Any
    ) -> Decision:
        return await require(
            self.uow, self.ctx, user, subject, permission, action=action, **details
        )

    async def _sensitive_allowed(self, user: Principal, subject: int) -> bool:
        decision = await authorize(self.uow, self.ctx, user, subject, Permission.READ_SENSITIVE)
        return decision.allowed

    async def _journal(
        self, user: Principal, subject: int, decision: Decision, action: str, **details: Any
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(user),
            action=action,
            actor_account_id=actor_account_id(user),
            subject_account_id=subject,
            **decision.audit_fields(),
            **details,
        )

    async def _visible_result(
        self, user: Principal, subject: int, result_id: int, action: str
    ) -> LabResult:
        """The result if it is in `subject`'s card and the principal may see it; refused else."""
        result = await self.labs.get(result_id)
        if result is None or result.account_id != subject:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor_of(user),
                action=action,
                outcome="denied",
                actor_account_id=actor_account_id(user),
                subject_account_id=subject,
                denied="not_found",
                result_id=result_id,
            )
            raise NotFoundError(MSG_NOT_FOUND)
        if result.sensitive:
            await self._require(
                user, subject, Permission.READ_SENSITIVE, action, result_id=result_id
            )
        return result

    # -- use cases -------------------------------------------------------------------

    async def results_page(
        self, user: CardUser, page: int = 0, test: str | None = None
    ) -> ResultsPage:
        """«Результаты анализов»: newest first, PAGE_SIZE a page; `test` filters by its code."""
        subject = user.subject_account_id
        decision = await self._require(user, subject, Permission.READ_RECORD, "lab_result.list")
        sensitive = await self._sensitive_allowed(user, subject)
        tests = [
            TestOption(code, name)
            for code, name in await self.labs.tests(subject, include_sensitive=sensitive)
        ]
        names = {t.code: t.name for t in tests}
        if test is not None and test not in names:
            test = None
        total = await self.labs.count(subject, test_code=test, include_sensitive=sensitive)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(max(0, page), pages - 1)
        rows = await self.labs.page(
            subject,
            offset=page * PAGE_SIZE,
            limit=PAGE_SIZE,
            test_code=test,
            include_sensitive=sensitive,
        )
        await self._journal(user, subject, decision, "lab_result.list", page=page + 1)
        return ResultsPage(
            items=[
                ResultLine(
                    id=r.id,
                    issued_at=r.issued_at,
                    test_code=r.test_code,
                    test_name=r.test_name,
                    ordered_by=r.ordered_by,
                    laboratory_name=r.laboratory_name,
                    status=r.status,
                    new=r.seen_at is None,
                )
                for r in rows
            ],
            page=page,
            pages=pages,
            total=total,
            test=test,
            test_name=names.get(test) if test else None,
            tests=tests,
        )

    async def result(self, user: CardUser, result_id: int) -> ResultView:
        """One result with its analytes; the owner opening it makes it no longer new."""
        subject = user.subject_account_id
        decision = await self._require(
            user, subject, Permission.READ_RECORD, "lab_result.view", result_id=result_id
        )
        result = await self._visible_result(user, subject, result_id, "lab_result.view")
        observations = await self.labs.observations(result.id)
        sensitive = await self._sensitive_allowed(user, subject)
        counts = await self.labs.numeric_counts(
            subject,
            [o.code for o in observations if o.value is not None],
            include_sensitive=sensitive,
        )
        can_download = (
            await authorize(self.uow, self.ctx, user, subject, Permission.DOWNLOAD)
        ).allowed
        if result.seen_at is None and user.account_id == result.account_id:
            await self.labs.mark_seen(result, self.ctx.gateways.clock.now())
        await self._journal(user, subject, decision, "lab_result.view", result_id=result.id)
        return ResultView(
            id=result.id,
            test_code=result.test_code,
            test_name=result.test_name,
            issued_at=result.issued_at,
            collected_at=result.collected_at,
            status=result.status,
            laboratory_name=result.laboratory_name,
            ordered_by=result.ordered_by,
            lab_comment=result.lab_comment,
            doctor_comment=result.doctor_comment,
            has_file=result.storage_key is not None,
            can_download=can_download,
            analytes=[
                AnalyteView(
                    code=o.code,
                    name=o.name,
                    value=o.value,
                    value_text=o.value_text,
                    unit=o.unit,
                    ref_low=o.ref_low,
                    ref_high=o.ref_high,
                    ref_text=o.ref_text,
                    flag=flag_of(o),
                    trend=o.value is not None and counts.get(o.code, 0) >= 2,
                )
                for o in observations
            ],
        )

    async def download(self, user: CardUser, result_id: int) -> tuple[str, str, str | None]:
        """The stored file's key, the name to send it under and its type (DOWNLOAD)."""
        subject = user.subject_account_id
        decision = await self._require(
            user, subject, Permission.DOWNLOAD, "lab_result.download", result_id=result_id
        )
        result = await self._visible_result(user, subject, result_id, "lab_result.download")
        if result.storage_key is None:
            raise NotFoundError(MSG_NO_FILE)
        await self._journal(user, subject, decision, "lab_result.download", result_id=result.id)
        return result.storage_key, file_name_of(result), result.mime_type

    async def trend(self, user: CardUser, analyte_code: str) -> TrendSeries:
        """An analyte's numeric values over the person's results, oldest first (≥ 2)."""
        subject = user.subject_account_id
        code = analyte_code.strip()[:32]
        decision = await self._require(
            user, subject, Permission.READ_RECORD, "lab_result.trend", analyte=code
        )
        if not code:
            raise DomainError(MSG_BAD_CODE)
        sensitive = await self._sensitive_allowed(user, subject)
        points = await self.labs.series(subject, code, include_sensitive=sensitive)
        if len(points) < 2:
            raise DomainError(MSG_NO_TREND)
        last = points[-1]
        await self._journal(user, subject, decision, "lab_result.trend", analyte=code)
        return TrendSeries(
            name=last.name,
            unit=last.unit,
            ref_low=last.ref_low,
            ref_high=last.ref_high,
            points=tuple(
                TrendPoint(p.issued_at.astimezone(MSK).date(), float(p.value)) for p in points
            ),
        )


class LabFiles:
    """«Скачать файл»: the access and the journal in a unit, then the file read outside it."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def download(self, user: CardUser, result_id: int) -> FileToSend:
        key, name, mime = await in_unit(
            self.work, lambda uow: LabResultsService(uow, self.ctx).download(user, result_id)
        )
        store = self.ctx.gateways.files
        if store is None:
            raise DomainError(MSG_FILE_GONE)
        try:
            data = await store.get(key)
        except Exception as exc:
            raise DomainError(MSG_FILE_GONE) from exc
        return FileToSend(data, name, mime)


class LabCharts:
    """«Динамика»: the series in a unit of work, then the chart rendered in ``ctx.cpu``."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def chart(self, user: CardUser, analyte_code: str) -> Chart:
        series = await in_unit(
            self.work, lambda uow: LabResultsService(uow, self.ctx).trend(user, analyte_code)
        )
        png = await self.ctx.cpu.run(charts.cached_render, series)
        return Chart(png, charts.caption(series), series)
