"""Repositories: requests for signed extracts and their history.

Besides the requests themselves, the reads an extract needs: the documents of
«Выписки и заключения» (paged), the person's hospitalisations, and the entries
of each section and the lab results within a period (what goes into the PDF).

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select

from storage.models import (
    Diagnosis,
    ExtractRequest,
    Hospitalisation,
    LabObservation,
    LabResult,
    Medication,
    Procedure,
    RecordDocument,
    RecordVisit,
    Screening,
    Vaccination,
)
from storage.repositories.base import Repo

# The kinds listed in «Выписки и заключения».
LISTED_KINDS = ("conclusion", "discharge_summary", "extract")


def _between(column: object, start: date | None, end: date | None) -> list[object]:
    conditions: list[object] = []
    if start is not None:
        conditions.append(column >= start)  # type: ignore[operator]
    if end is not None:
        conditions.append(column <= end)  # type: ignore[operator]
    return conditions


class ExtractRequestRepo(Repo):
    """Requests for extracts, newest first; and what an extract is built from."""

    # -- requests ---------------------------------------------------------------------

    async def add(self, request: ExtractRequest) -> ExtractRequest:
        self.session.add(request)
        await self.session.flush()
        return request

    async def get(self, account_id: int, request_id: int) -> ExtractRequest | None:
        stmt = select(ExtractRequest).where(
            ExtractRequest.id == request_id, ExtractRequest.account_id == account_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(self, account_id: int, *, offset: int, limit: int) -> list[ExtractRequest]:
        """A page of the account's requests, newest first (`limit` rows at most)."""
        stmt = (
            select(ExtractRequest)
            .where(ExtractRequest.account_id == account_id)
            .order_by(ExtractRequest.requested_at.desc(), ExtractRequest.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    # -- documents --------------------------------------------------------------------

    async def documents_page(
        self, account_id: int, *, offset: int, limit: int
    ) -> list[RecordDocument]:
        """Conclusions, discharge summaries and extracts, newest first."""
        stmt = (
            select(RecordDocument)
            .where(RecordDocument.account_id == account_id, RecordDocument.kind.in_(LISTED_KINDS))
            .order_by(RecordDocument.document_date.desc(), RecordDocument.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def document(self, account_id: int, document_id: int) -> RecordDocument | None:
        """One document of the account (of any kind: a hospitalisation's summary too)."""
        stmt = select(RecordDocument).where(
            RecordDocument.id == document_id, RecordDocument.account_id == account_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def documents_by_id(
        self, account_id: int, ids: Sequence[int]
    ) -> dict[int, RecordDocument]:
        if not ids:
            return {}
        stmt = select(RecordDocument).where(
            RecordDocument.account_id == account_id, RecordDocument.id.in_(list(ids))
        )
        return {d.id: d for d in (await self.session.execute(stmt)).scalars()}

    async def add_document(self, document: RecordDocument) -> RecordDocument:
        self.session.add(document)
        await self.session.flush()
        return document

    # -- hospitalisations -------------------------------------------------------------

    async def hospitalisations(self, account_id: int, *, limit: int) -> list[Hospitalisation]:
        stmt = (
            select(Hospitalisation)
            .where(Hospitalisation.account_id == account_id)
            .order_by(Hospitalisation.admitted_on.desc(), Hospitalisation.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def hospitalisation(self, account_id: int, stay_id: int) -> Hospitalisation | None:
        stmt = select(Hospitalisation).where(
            Hospitalisation.id == stay_id, Hospitalisation.account_id == account_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    # -- the content of an extract ----------------------------------------------------

    async def diagnoses(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[Diagnosis]:
        """Diagnoses set in the period, and those set before it still active within it."""
        conditions: list[object] = [Diagnosis.account_id == account_id]
        if end is not None:
            conditions.append(Diagnosis.set_on <= end)
        if start is not None:
            conditions.append(
                or_(
                    Diagnosis.set_on >= start,
                    Diagnosis.resolved_on.is_(None),
                    Diagnosis.resolved_on >= start,
                )
            )
        stmt = (
            select(Diagnosis)
            .where(*conditions)  # type: ignore[arg-type]
            .order_by(Diagnosis.set_on.desc(), Diagnosis.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def medications(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[Medication]:
        """Courses that overlap the period."""
        conditions: list[object] = [Medication.account_id == account_id]
        if end is not None:
            conditions.append(Medication.start_on <= end)
        if start is not None:
            conditions.append(or_(Medication.end_on.is_(None), Medication.end_on >= start))
        stmt = (
            select(Medication)
            .where(*conditions)  # type: ignore[arg-type]
            .order_by(Medication.start_on.desc(), Medication.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def vaccinations(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[Vaccination]:
        stmt = (
            select(Vaccination)
            .where(
                Vaccination.account_id == account_id,
                *_between(Vaccination.given_on, start, end),  # type: ignore[arg-type]
            )
            .order_by(Vaccination.given_on.desc(), Vaccination.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def stays(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[Hospitalisation]:
        """Hospitalisations that overlap the period."""
        conditions: list[object] = [Hospitalisation.account_id == account_id]
        if end is not None:
            conditions.append(Hospitalisation.admitted_on <= end)
        if start is not None:
            conditions.append(
                or_(Hospitalisation.discharged_on.is_(None), Hospitalisation.discharged_on >= start)
            )
        stmt = (
            select(Hospitalisation)
            .where(*conditions)  # type: ignore[arg-type]
            .order_by(Hospitalisation.admitted_on.desc(), Hospitalisation.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def procedures(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[Procedure]:
        stmt = (
            select(Procedure)
            .where(
                Procedure.account_id == account_id,
                *_between(Procedure.performed_on, start, end),  # type: ignore[arg-type]
            )
            .order_by(Procedure.performed_on.desc(), Procedure.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def screenings(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[Screening]:
        stmt = (
            select(Screening)
            .where(
                Screening.account_id == account_id,
                *_between(Screening.measured_on, start, end),  # type: ignore[arg-type]
            )
            .order_by(Screening.measured_on.desc(), Screening.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def visits(
        self, account_id: int, start: date | None, end: date | None, *, limit: int
    ) -> list[RecordVisit]:
        stmt = (
            select(RecordVisit)
            .where(
                RecordVisit.account_id == account_id,
                *_between(RecordVisit.visited_on, start, end),  # type: ignore[arg-type]
            )
            .order_by(RecordVisit.visited_on.desc(), RecordVisit.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def lab_results(
        self,
        account_id: int,
        start: datetime | None,
        end: datetime | None,
        *,
        include_sensitive: bool,
        limit: int,
    ) -> list[tuple[LabResult, list[LabObservation]]]:
        """Results issued in [start, end), newest first, each with its analytes in order."""
        conditions: list[object] = [LabResult.account_id == account_id]
        if start is not None:
            conditions.append(LabResult.issued_at >= start)
        if end is not None:
            conditions.append(LabResult.issued_at < end)
        if not include_sensitive:
            conditions.append(LabResult.sensitive.is_(False))
        stmt = (
            select(LabResult)
            .where(and_(*conditions))  # type: ignore[arg-type]
            .order_by(LabResult.issued_at.desc(), LabResult.id.desc())
            .limit(limit)
        )
        results = list((await self.session.execute(stmt)).scalars())
        if not results:
            return []
        observations: dict[int, list[LabObservation]] = {r.id: [] for r in results}
        obs_stmt = (
            select(LabObservation)
            .where(LabObservation.result_id.in_(list(observations)))
            .order_by(LabObservation.result_id, LabObservation.position, LabObservation.id)
        )
        for observation in (await self.session.execute(obs_stmt)).scalars():
            observations[observation.result_id].append(observation)
        return [(r, observations[r.id]) for r in results]

    async def count_requests(self, account_id: int) -> int:
        stmt = select(func.count()).where(ExtractRequest.account_id == account_id)
        return int((await self.session.execute(stmt)).scalar_one())
