"""«Выписки и заключения» as use cases: the list, requests, the PDF, e-mail, access, failure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.core.access import LEVEL_REASONS, AccessDenied, CurrentUser, Permission
from services.core.errors import DomainError, NotFoundError, ValidationError
from services.core.gateways import Attachment
from services.record.extracts import (
    ExtractFailed,
    ExtractOrder,
    ExtractRequests,
    ExtractService,
    Period,
    check_period,
    last_year,
    parse_day,
    today_msk,
)
from services.record.signing import DemoPki, verify_pdf
from storage.models import Account, AuditEntry, ExtractRequest, RecordDocument, RelativeGrant
from tests.support.extracts import ORGANISATION, anna_id, pdf_text
from tests.support.services import Env


def user(account_id: int, acting_for: int | None = None) -> CurrentUser:
    return CurrentUser(account_id, 1, "Анна", acting_for=acting_for)


async def run(env: Env, call: Callable[[ExtractService], Awaitable[Any]]) -> Any:
    """One use case in a unit of work of its own (committed also on a domain error)."""
    async with env.uow() as uow:
        try:
            result = await call(ExtractService(uow, env.ctx))
        except DomainError:
            await uow.commit()
            raise
        await uow.commit()
        return result


async def audit_rows(env: Env, action: str) -> list[AuditEntry]:
    async with env.uow() as uow:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list((await uow.session.execute(stmt)).scalars())


async def requests_of(env: Env, account_id: int) -> list[ExtractRequest]:
    async with env.uow() as uow:
        stmt = select(ExtractRequest).where(ExtractRequest.account_id == account_id)
        return list((await uow.session.execute(stmt)).scalars())


def all_time(env: Env) -> ExtractOrder:
    return ExtractOrder("period", period=Period(None, today_msk(env.ctx)))


async def test_the_list_holds_the_discharge_summary_newest_first_and_pages(
    record_env: Env,
) -> None:
    env = record_env
    anna = await anna_id(env)
    first = await run(env, lambda s: s.documents(user(anna)))
    assert [(i.kind, i.title) for i in first.items] == [("discharge_summary", "Выписной эпикриз")]
    assert not first.has_next

    async with env.uow() as uow:
        for days in range(7):
            await uow.record.extracts.add_document(
                RecordDocument(
                    account_id=anna,
                    kind="conclusion",
                    title=f"Заключение {days}",
                    document_date=today_msk(env.ctx) - timedelta(days=days),
                    source="doctor",
                    created_at=env.clock.now(),
                )
            )
        await uow.commit()
    page0 = await run(env, lambda s: s.documents(user(anna), 0))
    page1 = await run(env, lambda s: s.documents(user(anna), 1))
    assert [i.title for i in page0.items] == [f"Заключение {d}" for d in range(5)]
    assert page0.has_next and not page1.has_next and page1.has_previous
    assert [i.title for i in page1.items] == ["Заключение 5", "Заключение 6", "Выписной эпикриз"]
    assert len(await audit_rows(env, "extract.list")) == 3

    summary = page1.items[-1]
    detail = await run(env, lambda s: s.document(user(anna), summary.id))
    assert detail.author_name and detail.organisation_name and detail.body
    assert detail.has_file
    file = await run(env, lambda s: s.document_file(user(anna), summary.id))
    assert file.data.startswith(b"%PDF") and file.mime_type == "application/pdf"
    downloads = await audit_rows(env, "record.document.download")
    assert downloads[-1].details == {"document_id": summary.id}


async def test_another_persons_document_is_not_found(record_env: Env) -> None:
    env = record_env
    anna = await anna_id(env)
    async with env.uow() as uow:
        petrov = await uow.identity.accounts.find_by_login("phone", "+79990000002")
        assert petrov is not None
    page = await run(env, lambda s: s.documents(user(anna)))
    with pytest.raises(NotFoundError):
        await run(env, lambda s: s.document(user(petrov.id), page.items[0].id))
    with pytest.raises(NotFoundError):
        await run(env, lambda s: s.document_file(user(petrov.id), page.items[0].id))


async def test_a_period_extract_is_built_signed_stored_and_mailed(
    record_env: Env, demo_pki: DemoPki
) -> None:
    env = record_env
    anna = await anna_id(env)
    result = await ExtractRequests(env.uow_factory, env.ctx).request(
        user(anna), all_time(env), email=True
    )
    verdict = verify_pdf(result.data, demo_pki.root_cert_file.read_bytes())
    assert verdict.ok and verdict.signer and ORGANISATION in verdict.signer

    text = pdf_text(result.data)
    async with env.uow() as uow:
        diagnoses = await uow.record.extracts.diagnoses(anna, None, None, limit=10)
        visits = await uow.record.extracts.visits(anna, None, None, limit=10)
    assert len(diagnoses) == 3 and visits
    for expected in (
        "Выписка из электронной медицинской карты",
        "Иванова Анна Сергеевна",
        "05.03.1990",
        "112-233-445 95",
        *(f"{d.icd10_code} — {d.name}" for d in diagnoses),
        visits[0].doctor_name,
        "Глюкоза",
    ):
        assert expected in text, expected

    (request,) = await requests_of(env, anna)
    assert request.status == "done" and request.requested_by == f"account:{anna}"
    assert request.document_id == result.document_id and request.emailed_at is not None
    async with env.uow() as uow:
        document = await uow.record.extracts.document(anna, result.document_id)
        assert document is not None and document.kind == "extract"
        assert document.organisation_name == ORGANISATION and document.source == "import"
    file = await run(env, lambda s: s.document_file(user(anna), result.document_id))
    assert file.data == result.data and file.file_name == result.file_name
    assert (await audit_rows(env, "extract.download"))[-1].details == {
        "document_id": result.document_id
    }

    assert result.emailed_to == "a***@example.ru"
    email, subject, _text = env.mail.sent[-1]
    assert email == "anna.ivanova@example.ru" and "Выписка" in subject
    assert env.mail.attachments[-1] == (
        Attachment(result.file_name, "application/pdf", result.data),
    )
    (asked,) = await audit_rows(env, "extract.request")
    assert asked.details == {"request_id": request.id, "kind": "period", "email": True}
    assert asked.permission == "record.download" and asked.basis == "self"
    assert [r.outcome for r in await audit_rows(env, "extract.issue")] == ["ok"]
    assert len(await audit_rows(env, "extract.email")) == 1

    history = await run(env, lambda s: s.history(user(anna)))
    (item,) = history.items
    assert item.status_label == "готова" and item.document_id == result.document_id
    assert item.emailed and "за всё время" in item.subject


async def test_a_discharge_summary_and_a_lab_summary(record_env: Env) -> None:
    env = record_env
    anna = await anna_id(env)
    (stay,) = await run(env, lambda s: s.hospitalisations(user(anna)))
    assert stay.has_summary
    requests = ExtractRequests(env.uow_factory, env.ctx)
    discharge = await requests.request(
        user(anna), ExtractOrder("discharge", hospitalisation_id=stay.id)
    )
    text = pdf_text(discharge.data)
    async with env.uow() as uow:
        row = await uow.record.extracts.hospitalisation(anna, stay.id)
        assert row is not None and row.summary_document_id is not None
        summary = await uow.record.extracts.document(anna, row.summary_document_id)
        assert summary is not None and summary.body
    assert "Выписной эпикриз" in text and row.organisation_name in text
    words = " ".join(text.split())  # lines wrap wherever the page ends them
    assert " ".join(summary.body.split("\n")[0].split()) in words
    assert env.mail.sent == []  # no copy asked for

    labs = await requests.request(
        user(anna), ExtractOrder("lab_summary", period=last_year(today_msk(env.ctx)))
    )
    text = pdf_text(labs.data)
    assert "Сводка результатов анализов" in text and "Глюкоза" in text
    assert "Диагнозы" not in text
    history = await run(env, lambda s: s.history(user(anna)))
    assert [i.kind for i in history.items] == ["lab_summary", "discharge"]


async def test_a_relative_who_may_only_view_is_refused_and_journaled(record_env: Env) -> None:
    env = record_env
    anna = await anna_id(env)
    async with env.uow() as uow:
        # Not Петров: the demo has him granted «просмотр и скачивание» already.
        petrov = await uow.identity.accounts.find_by_login("phone", "+79990000003")
        assert isinstance(petrov, Account)
        uow.session.add(
            RelativeGrant(
                patient_account_id=anna,
                relative_phone=petrov.phone,
                relative_account_id=petrov.id,
                relationship="spouse",
                level="view",
                include_sensitive=False,
                status="active",
                created_at=env.clock.now(),
                accepted_at=env.clock.now(),
            )
        )
        await uow.commit()
    relative = user(petrov.id, acting_for=anna)
    # Viewing is allowed…
    listed = await run(env, lambda s: s.documents(relative))
    assert listed.items
    # …requesting an extract is not.
    with pytest.raises(AccessDenied) as refused:
        await ExtractRequests(env.uow_factory, env.ctx).request(relative, all_time(env))
    assert refused.value.message == LEVEL_REASONS[Permission.DOWNLOAD]
    assert await requests_of(env, anna) == []
    (denied,) = await audit_rows(env, "extract.request")
    assert denied.outcome == "denied" and denied.subject_account_id == anna
    assert denied.actor == f"account:{petrov.id}" and denied.permission == "record.download"
    with pytest.raises(AccessDenied):
        await run(env, lambda s: s.document_file(relative, listed.items[0].id))


async def test_a_failure_while_signing_marks_the_request_failed(record_env: Env) -> None:
    env = record_env
    anna = await anna_id(env)

    class Broken:
        organisation = ORGANISATION

        def sign(self, pdf: bytes, *, reason: str) -> bytes:
            raise RuntimeError("the token is unplugged")

    env.ctx.signer = Broken()
    with pytest.raises(ExtractFailed) as failed:
        await ExtractRequests(env.uow_factory, env.ctx).request(user(anna), all_time(env))
    assert "попробуйте ещё раз" in failed.value.message
    (request,) = await requests_of(env, anna)
    assert request.status == "failed" and request.document_id is None
    assert [r.outcome for r in await audit_rows(env, "extract.issue")] == ["failed"]
    history = await run(env, lambda s: s.history(user(anna)))
    assert history.items[0].status_label == "не удалось подготовить"
    assert history.items[0].document_id is None


async def test_without_a_signer_nothing_is_requested(record_env: Env) -> None:
    env = record_env
    anna = await anna_id(env)
    env.ctx.signer = None
    with pytest.raises(DomainError, match="Подписание выписок сейчас недоступно"):
        await ExtractRequests(env.uow_factory, env.ctx).request(user(anna), all_time(env))
    assert await requests_of(env, anna) == []


def test_dates_and_periods_are_checked_in_russian() -> None:
    today = date(2026, 11, 26)
    assert parse_day("01.02.2025") == date(2025, 2, 1)
    assert parse_day(" 1/2/2025 ") == date(2025, 2, 1)
    for bad in ("2025-02-01x", "1.2.25", "завтра", ""):
        with pytest.raises(ValidationError, match=r"дд\.мм\.гггг"):
            parse_day(bad)
    with pytest.raises(ValidationError, match="Такой даты нет"):
        parse_day("31.02.2025")
    with pytest.raises(ValidationError, match="позже сегодняшней"):
        check_period(date(2026, 1, 1), date(2026, 12, 1), today)
    with pytest.raises(ValidationError, match="раньше даты начала"):
        check_period(date(2026, 1, 1), date(2025, 12, 1), today)
    with pytest.raises(ValidationError, match="ранняя"):
        check_period(date(1812, 1, 1), today, today)
    assert last_year(today) == Period(date(2025, 11, 26), today)
    assert last_year(date(2028, 2, 29)).start == date(2027, 2, 28)
    assert Period(None, today).label == "за всё время (по 26.11.2026)"
    assert Period(date(2025, 1, 1), today).label == "с 01.01.2025 по 26.11.2026"
