"""Results sent by laboratories: one report in, stored once, the patient told.

The HTTP layer (bot.api) runs the steps in this order, each between or inside
units of work as the transaction rule asks:

1. ``LabIntake.client(issuer)`` — a short unit that reads the laboratory's key;
2. ``tokens.verify`` in ``ctx.cpu`` — the signature and the times;
3. ``fhir.parse_bundle`` and ``check_file`` in ``ctx.cpu`` — the body;
4. ``LabIntake.receive(...)`` — one unit that finds the patient, asks the
   access rule, and stores the result with its analytes, its file, the spent
   token, the audit row and the push — or nothing.

Release rules: a result is sensitive when the laboratory marked it (``meta.security``
R or V) or its test code or one of its analytes' codes is in
``ctx.record.sensitive_test_codes``; a push about a sensitive result does not
name the test. A final report for a stored preliminary one replaces it in place
(analytes replaced, new again until opened) and the patient is told; a
preliminary one after the final is refused. The same report sent again is
answered as the first time, and stored once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.core import audit, notify
from services.core.access import ApiClientPrincipal, Permission, actor_of, require
from services.core.context import AppContext
from services.core.errors import DomainError
from services.core.files import UploadInfo, UploadRejected, inspect_upload
from services.core.work import Work, in_unit
from services.integration.fhir import LabReport
from services.integration.tokens import LEEWAY_SECONDS, TokenClaims
from storage.models import LabObservation, LabResult
from storage.uow import UnitOfWork

__all__ = [
    "Accepted",
    "ClientKey",
    "IntakeRefused",
    "LabIntake",
    "check_file",
    "push_text",
]

MSK = ZoneInfo("Europe/Moscow")
PUSH_KIND = "lab_result"
OPEN_RESULT = "Открыть результат"

_FILE_KINDS = {"application/pdf": "pdf", "image/jpeg": "jpeg", "image/png": "png"}


class IntakeRefused(DomainError):
    """The report is refused: ``code`` and ``status`` for the answer, ``detail`` says why."""

    def __init__(self, code: str, detail: str, status: int) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class ClientKey:
    """What verifying a laboratory's token needs, read from its row."""

    id: int
    name: str
    public_key_pem: str
    algorithm: str
    revoked: bool


@dataclass(frozen=True)
class Accepted:
    """The answer to an accepted report; the same report sent again gets the same one."""

    result_id: int
    report_identifier: str
    status: str
    sensitive: bool
    # created | replaced | duplicate (not part of the body: a repeat is answered the same)
    outcome: str

    def body(self) -> dict[str, Any]:
        return {
            "result_id": self.result_id,
            "report_identifier": self.report_identifier,
            "status": self.status,
            "sensitive": self.sensitive,
        }


def check_file(report: LabReport) -> UploadInfo | None:
    """The report's PDF or picture under the uploads' checks (CPU work: run it in ctx.cpu)."""
    if report.file is None:
        return None
    try:
        info = inspect_upload(report.file)
    except UploadRejected as exc:
        raise IntakeRefused(
            "invalid_file",
            f"DiagnosticReport.presentedForm: the file is refused ({exc.reason}).",
            422,
        ) from None
    if _FILE_KINDS.get(report.file_type or "") != info.kind:
        raise IntakeRefused(
            "invalid_file",
            "DiagnosticReport.presentedForm.contentType does not match the file's content.",
            422,
        )
    return info


def push_text(
    test_name: str, on: datetime, *, final_after_preliminary: bool, sensitive: bool
) -> str:
    """What the lock screen shows: the test and the date, never a value.

    A sensitive result is not named at all.
    """
    day = on.astimezone(MSK).strftime("%d.%m.%Y")
    head = "Готов окончательный результат" if final_after_preliminary else "Готов результат"
    if sensitive:
        return f"{head} анализа от {day}"
    return f"{head}: {test_name} от {day}"


def _observations(report: LabReport) -> list[LabObservation]:
    return [
        LabObservation(
            code=o.code,
            name=o.name,
            value=o.value,
            value_text=o.value_text,
            unit=o.unit,
            ref_low=o.ref_low,
            ref_high=o.ref_high,
            ref_text=o.ref_text,
            flag=o.flag,
        )
        for o in report.observations
    ]


class LabIntake:
    """The laboratories' use cases, each in a unit of work of its own."""

    def __init__(self, work: Work, ctx: AppContext) -> None:
        self.work = work
        self.ctx = ctx

    async def client(self, issuer: str) -> ClientKey | None:
        """The laboratory registered with this issuer (None: no such)."""

        async def read(uow: UnitOfWork) -> ClientKey | None:
            row = await uow.integration.clients.by_issuer(issuer)
            if row is None or not row.public_key_pem or not row.algorithm:
                return None
            now = self.ctx.gateways.clock.now()
            revoked = row.revoked_at is not None and row.revoked_at <= now
            return ClientKey(row.id, row.name, row.public_key_pem, row.algorithm, revoked)

        return await in_unit(self.work, read)

    async def receive(
        self,
        client: ClientKey,
        claims: TokenClaims,
        report: LabReport,
        file: UploadInfo | None,
    ) -> Accepted:
        """Store the report (or recognise it), spending the token; IntakeRefused otherwise."""
        return await in_unit(
            self.work, lambda uow: _Receive(uow, self.ctx, client, claims, report, file).run()
        )


class _Receive:
    def __init__(
        self,
        uow: UnitOfWork,
        ctx: AppContext,
        client: ClientKey,
        claims: TokenClaims,
        report: LabReport,
        file: UploadInfo | None,
    ) -> None:
        self.uow = uow
        self.ctx = ctx
        self.client = client
        self.claims = claims
        self.report = report
        self.file = file
        self.principal = ApiClientPrincipal(client.id)
        self.now = ctx.gateways.clock.now()

    async def run(self) -> Accepted:
        uow, report = self.uow, self.report
        if await uow.integration.token_uses.seen(self.client.id, self.claims.jti):
            raise IntakeRefused(
                "replay", "This token was used already: sign a new one (a new jti).", 409
            )
        account_id = await uow.integration.reports.patient(
            snils=report.snils, policy_number=report.policy_number
        )
        if account_id is None:
            raise IntakeRefused(
                "unknown_patient",
                "No open medical record has this СНИЛС or ОМС policy number.",
                422,
            )
        existing = await uow.integration.reports.find(self.client.id, report.report_identifier)
        replacing = (
            existing is not None and existing.status == "preliminary" and report.status == "final"
        )
        action = "lab_result.replace" if replacing else "lab_result.receive"
        decision = await require(
            uow,
            self.ctx,
            self.principal,
            account_id,
            Permission.SUBMIT_LAB_RESULTS,
            action=action,
            report_status=report.status,
        )
        sensitive = self.report.marked_sensitive or bool(
            report.codes() & self.ctx.record.sensitive_test_codes
        )
        if existing is not None and existing.account_id != account_id:
            raise IntakeRefused(
                "identifier_conflict",
                "This report identifier was sent for another patient.",
                409,
            )
        if existing is not None and not replacing:
            if existing.status == "final" and report.status == "preliminary":
                raise IntakeRefused(
                    "final_exists",
                    "The final report with this identifier is stored: "
                    "a preliminary one can't replace it.",
                    409,
                )
            await self._spend()
            await self._journal(action, account_id, decision.audit_fields(), existing, "duplicate")
            return self._answer(existing, "duplicate")
        await self._spend()
        if existing is not None:
            result = await self._replace(existing, sensitive)
        else:
            result = await self._create(account_id, sensitive)
        await self._journal(action, account_id, decision.audit_fields(), result, "ok")
        await notify.to_account(
            uow,
            self.ctx,
            account_id=account_id,
            text=push_text(
                result.test_name,
                result.collected_at or result.issued_at,
                final_after_preliminary=replacing,
                sensitive=result.sensitive,
            ),
            kind=PUSH_KIND,
            buttons=[notify.Button(OPEN_RESULT, notify.ButtonAction.RESULT, str(result.id))],
        )
        return self._answer(result, "replaced" if replacing else "created")

    def _answer(self, result: LabResult, outcome: str) -> Accepted:
        return Accepted(
            result.id, result.report_identifier, result.status, result.sensitive, outcome
        )

    async def _spend(self) -> None:
        tokens = self.uow.integration.token_uses
        await tokens.forget_expired(self.client.id, self.now - timedelta(seconds=LEEWAY_SECONDS))
        await tokens.spend(self.client.id, self.claims.jti, self.claims.expires_at, self.now)

    async def _store_file(self) -> tuple[str | None, str | None, int | None, str | None]:
        if self.file is None:
            return None, None, None, None
        store = self.ctx.gateways.files
        assert store is not None, "the composition root sets the file store"
        key = await store.put(self.file.data)
        self.uow.after_rollback(functools.partial(store.delete, key))
        return key, self.file.sha256, self.file.size, self.file.mime_type

    def _laboratory(self) -> str:
        return self.report.laboratory_name or self.client.name

    async def _create(self, account_id: int, sensitive: bool) -> LabResult:
        report = self.report
        key, sha256, size, mime = await self._store_file()
        result = LabResult(
            account_id=account_id,
            api_client_id=self.client.id,
            report_identifier=report.report_identifier,
            test_code=report.test_code,
            test_name=report.test_name,
            ordered_by=report.ordered_by,
            laboratory_name=self._laboratory(),
            status=report.status,
            collected_at=report.collected_at,
            issued_at=report.issued_at,
            sensitive=sensitive,
            lab_comment=report.lab_comment,
            doctor_comment=None,
            storage_key=key,
            sha256=sha256,
            size=size,
            mime_type=mime,
            seen_at=None,
            source="lab",
            created_at=self.now,
            updated_at=self.now,
        )
        return await self.uow.integration.reports.add(result, _observations(report))

    async def _replace(self, result: LabResult, sensitive: bool) -> LabResult:
        """The final report in place of the preliminary one: the same row, new again."""
        report = self.report
        old_key = result.storage_key
        key, sha256, size, mime = await self._store_file()
        result.test_code = report.test_code
        result.test_name = report.test_name
        result.ordered_by = report.ordered_by or result.ordered_by
        result.laboratory_name = self._laboratory()
        result.status = report.status
        result.collected_at = report.collected_at or result.collected_at
        result.issued_at = report.issued_at
        # Once sensitive, a result stays so: a final report can't make it public by omission.
        result.sensitive = result.sensitive or sensitive
        result.lab_comment = report.lab_comment
        # The preliminary report's file described the preliminary values: it goes too.
        result.storage_key, result.sha256, result.size, result.mime_type = key, sha256, size, mime
        result.seen_at = None
        result.updated_at = self.now
        await self.uow.flush()
        await self.uow.integration.reports.replace_observations(result, _observations(report))
        store = self.ctx.gateways.files
        if old_key is not None and store is not None:
            self.uow.after_commit(functools.partial(store.delete, old_key))
        return result

    async def _journal(
        self,
        action: str,
        account_id: int,
        access: dict[str, Any],
        result: LabResult,
        outcome: str,
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(self.principal),
            action=action,
            outcome=outcome,
            subject_account_id=account_id,
            **access,
            result_id=result.id,
            report_status=result.status,
        )
