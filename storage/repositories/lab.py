"""Repositories: lab results and their analytes, as the person reads them.

They flush when they need ids and never commit. (What laboratories send is
written by storage.repositories.integration.LabReportRepo.)

``include_sensitive`` False leaves out the results marked sensitive (and their
analytes) everywhere: in pages, counts, the test filter and series. The
caller decides it with the access rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select

from storage.models import LabObservation, LabResult
from storage.repositories.base import Repo


class SeriesPoint(NamedTuple):
    """One numeric value of an analyte, with what the chart needs about it."""

    result_id: int
    issued_at: datetime
    value: float
    name: str
    unit: str | None
    ref_low: float | None
    ref_high: float | None


def _visible(stmt: Any, account_id: int, test_code: str | None, include_sensitive: bool) -> Any:
    stmt = stmt.where(LabResult.account_id == account_id)
    if test_code is not None:
        stmt = stmt.where(LabResult.test_code == test_code)
    if not include_sensitive:
        stmt = stmt.where(LabResult.sensitive.is_(False))
    return stmt


class LabResultRepo(Repo):
    """Pages of results, one result with its analytes, an analyte's series."""

    async def page(
        self,
        account_id: int,
        *,
        offset: int,
        limit: int,
        test_code: str | None = None,
        include_sensitive: bool = True,
    ) -> list[LabResult]:
        """Newest first (issued_at, then id, descending): one page of the account's results."""
        stmt = _visible(select(LabResult), account_id, test_code, include_sensitive)
        stmt = (
            stmt.order_by(LabResult.issued_at.desc(), LabResult.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def count(
        self, account_id: int, *, test_code: str | None = None, include_sensitive: bool = True
    ) -> int:
        stmt = _visible(
            select(func.count()).select_from(LabResult), account_id, test_code, include_sensitive
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def tests(
        self, account_id: int, *, include_sensitive: bool = True
    ) -> list[tuple[str, str]]:
        """The distinct tests (code, name) among the account's results, by name."""
        stmt = _visible(
            select(LabResult.test_code, func.max(LabResult.test_name)),
            account_id,
            None,
            include_sensitive,
        ).group_by(LabResult.test_code)
        rows = [(str(code), str(name)) for code, name in (await self.session.execute(stmt)).all()]
        return sorted(rows, key=lambda row: (row[1].casefold(), row[0]))

    async def get(self, result_id: int) -> LabResult | None:
        return await self.session.get(LabResult, result_id)

    async def observations(self, result_id: int) -> list[LabObservation]:
        stmt = (
            select(LabObservation)
            .where(LabObservation.result_id == result_id)
            .order_by(LabObservation.position, LabObservation.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def numeric_counts(
        self, account_id: int, codes: Iterable[str], *, include_sensitive: bool = True
    ) -> dict[str, int]:
        """How many numeric values each analyte code has among the account's results."""
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        stmt = (
            select(LabObservation.code, func.count())
            .where(
                LabObservation.account_id == account_id,
                LabObservation.code.in_(wanted),
                LabObservation.value.is_not(None),
            )
            .group_by(LabObservation.code)
        )
        if not include_sensitive:
            stmt = stmt.join(LabResult, LabResult.id == LabObservation.result_id).where(
                LabResult.sensitive.is_(False)
            )
        return {str(code): int(n) for code, n in (await self.session.execute(stmt)).all()}

    async def series(
        self, account_id: int, code: str, *, include_sensitive: bool = True, limit: int = 200
    ) -> list[SeriesPoint]:
        """The analyte's numeric values over time, oldest first (the newest `limit` of them)."""
        stmt = select(
            LabObservation.result_id,
            LabObservation.issued_at,
            LabObservation.value,
            LabObservation.name,
            LabObservation.unit,
            LabObservation.ref_low,
            LabObservation.ref_high,
        ).where(
            LabObservation.account_id == account_id,
            LabObservation.code == code,
            LabObservation.value.is_not(None),
        )
        if not include_sensitive:
            stmt = stmt.join(LabResult, LabResult.id == LabObservation.result_id).where(
                LabResult.sensitive.is_(False)
            )
        stmt = stmt.order_by(LabObservation.issued_at.desc(), LabObservation.id.desc()).limit(limit)
        rows = [
            SeriesPoint(rid, at, float(value), name, unit, low, high)
            for rid, at, value, name, unit, low, high in (await self.session.execute(stmt)).all()
            if value is not None
        ]
        rows.reverse()
        return rows

    async def any_for(self, account_id: int) -> bool:
        """Has the account any result at all (sensitive ones included)?"""
        stmt = select(LabResult.id).where(LabResult.account_id == account_id).limit(1)
        return (await self.session.execute(stmt)).first() is not None

    async def add(self, result: LabResult, observations: Iterable[LabObservation]) -> LabResult:
        """Store a result with its analytes (the demo's import; laboratories use LabReportRepo)."""
        self.session.add(result)
        await self.session.flush()
        for position, observation in enumerate(observations):
            observation.result_id = result.id
            observation.account_id = result.account_id
            observation.issued_at = result.issued_at
            observation.position = position
            self.session.add(observation)
        await self.session.flush()
        return result

    async def mark_seen(self, result: LabResult, now: datetime) -> None:
        result.seen_at = now
        await self.session.flush()
