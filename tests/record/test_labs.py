"""«Результаты анализов» through LabResultsService: the list, one result, file, trend, access.

Анна's demo results (services.record.demo_labs) on SQLite and PostgreSQL: ten
ordinary results and one sensitive one (antibodies to HIV).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from services.core.access import (
    LEVEL_REASONS,
    MSG_NOT_SENSITIVE,
    CurrentUser,
    Permission,
)
from services.core.context import AppContext
from services.core.errors import AccessDenied, DomainError, NotFoundError
from services.core.gateways import (
    ConsoleMail,
    ConsoleSms,
    EncryptedDirectoryStore,
    FrozenClock,
    Gateways,
)
from services.core.hashing import PasswordHasher
from services.core.work import UseCases
from services.identity.admin import AdminService, NewAccount
from services.record import charts
from services.record.demo_labs import DEMO_RESULTS, seed_lab_results
from services.record.labs import (
    MSG_NOT_FOUND,
    PAGE_SIZE,
    LabCharts,
    LabFiles,
    LabResultsService,
)
from storage.models import AuditEntry, LabObservation, LabResult, RelativeGrant
from storage.uow import UnitOfWorkFactory

GLUCOSE = "14749-6"
HIV = "56888-1"
STORED_GLUCOSE = [d.analytes[0].value for d in DEMO_RESULTS if d.test_code == GLUCOSE]


@dataclass
class LabEnv:
    work: UnitOfWorkFactory
    ctx: AppContext
    clock: FrozenClock
    anna: CurrentUser
    other: CurrentUser  # another account, no grant to Анна's card

    def labs(self) -> UseCases[LabResultsService]:
        return UseCases(self.work, self.ctx, LabResultsService)

    async def grant(self, level: str = "view", *, sensitive: bool = False) -> CurrentUser:
        """A relative's accepted grant to the other account; the principal acting on it."""
        now = self.clock.now()
        async with self.work() as uow:
            await uow.sharing.grants.add(
                RelativeGrant(
                    patient_account_id=self.anna.account_id,
                    relative_phone="+79990000002",
                    relative_account_id=self.other.account_id,
                    relationship="spouse",
                    level=level,
                    include_sensitive=sensitive,
                    status="active",
                    created_at=now - timedelta(days=2),
                    accepted_at=now - timedelta(days=1),
                )
            )
            await uow.commit()
        return replace(self.other, acting_for=self.anna.account_id)

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.work() as uow:
            stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            return list((await uow.session.execute(stmt)).scalars())


async def _account(work: UnitOfWorkFactory, ctx: AppContext, phone: str, name: str) -> int:
    async with work() as uow:
        account = await AdminService(uow, ctx, operator="test").create_account(
            NewAccount(phone=phone, password="Demo-Passw0rd", last_name=name, first_name="Тест")
        )
        await uow.commit()
        return account.id


async def _make(work: UnitOfWorkFactory, files: Path) -> LabEnv:
    clock = FrozenClock()
    ctx = AppContext(
        gateways=Gateways(
            clock=clock,
            sms=ConsoleSms(),
            mail=ConsoleMail(),
            files=EncryptedDirectoryStore(files, b"f" * 32),
        ),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    anna = await _account(work, ctx, "+79990000001", "Иванова")
    other = await _account(work, ctx, "+79990000002", "Петров")
    async with work() as uow:
        await seed_lab_results(uow, ctx, anna)
        await uow.commit()
    return LabEnv(
        work,
        ctx,
        clock,
        CurrentUser(account_id=anna, session_id=1, display_name="Анна"),
        CurrentUser(account_id=other, session_id=2, display_name="Пётр"),
    )


@pytest.fixture
async def labs_env(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[LabEnv]:
    """Анна's demo results, on SQLite and on PostgreSQL."""
    env = await _make(uow_factory, tmp_path / "files")
    yield env
    env.ctx.cpu.close()


@pytest.fixture
async def lab_env(sqlite_uow_factory: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[LabEnv]:
    """The same on SQLite only."""
    env = await _make(sqlite_uow_factory, tmp_path / "files")
    yield env
    env.ctx.cpu.close()


# -- the list ----------------------------------------------------------------------


async def test_the_list_is_newest_first_and_paged_in_the_database(labs_env: LabEnv) -> None:
    labs, anna = labs_env.labs(), labs_env.anna
    first = await labs.run(lambda s: s.results_page(anna, page=0))
    assert first.total == len(DEMO_RESULTS) == 11
    assert (first.page, first.pages) == (0, 2)
    assert len(first.items) == PAGE_SIZE
    assert not first.has_previous and first.has_next
    second = await labs.run(lambda s: s.results_page(anna, page=1))
    assert len(second.items) == 11 - PAGE_SIZE and not second.has_next
    items = first.items + second.items
    moments = [i.issued_at for i in items]
    assert moments == sorted(moments, reverse=True)
    assert len({i.id for i in items}) == 11
    newest = items[0]
    assert newest.test_name == "Глюкоза" and newest.new
    assert newest.laboratory_name == "КДЛ Городской поликлиники № 1"
    assert newest.ordered_by == "Соколова М. А."
    assert newest.status_text == "окончательный"
    assert [i.new for i in items[1:]] == [False] * 10
    # A page past the end shows the last one.
    beyond = await labs.run(lambda s: s.results_page(anna, page=7))
    assert beyond.page == 1 and [i.id for i in beyond.items] == [i.id for i in second.items]


async def test_equal_dates_are_ordered_by_id(lab_env: LabEnv) -> None:
    async with lab_env.work() as uow:
        newest = (await uow.record.labs.page(lab_env.anna.account_id, offset=0, limit=1))[0]
        twin = LabResult(
            **{
                c: getattr(newest, c)
                for c in LabResult.__table__.columns.keys()
                if c not in ("id", "storage_key", "report_identifier")
            },
            report_identifier="twin",
        )
        await uow.record.labs.add(twin, [])
        await uow.commit()
        twin_id = twin.id
    page = await lab_env.labs().run(lambda s: s.results_page(lab_env.anna, page=0))
    assert [i.id for i in page.items[:2]] == [twin_id, newest.id]


async def test_the_filter_offers_each_test_once_and_narrows_the_list(labs_env: LabEnv) -> None:
    labs, anna = labs_env.labs(), labs_env.anna
    page = await labs.run(lambda s: s.results_page(anna))
    assert [t.name for t in page.tests] == [
        "Антитела к ВИЧ 1/2 и антиген p24",
        "Глюкоза",
        "Общий анализ крови",
        "Холестерин общий",
    ]
    glucose = await labs.run(lambda s: s.results_page(anna, test=GLUCOSE))
    assert glucose.total == 5 and glucose.pages == 1 and glucose.test_name == "Глюкоза"
    assert {i.test_name for i in glucose.items} == {"Глюкоза"}
    blood = await labs.run(lambda s: s.results_page(anna, test="58410-2"))
    assert blood.total == 2
    # An unknown test is no filter at all.
    unknown = await labs.run(lambda s: s.results_page(anna, test="nonsense"))
    assert unknown.test is None and unknown.total == 11


# -- one result --------------------------------------------------------------------


async def test_one_result_shows_values_units_ranges_and_flags(lab_env: LabEnv) -> None:
    labs, anna = lab_env.labs(), lab_env.anna
    newest = (await labs.run(lambda s: s.results_page(anna))).items[0]
    view = await labs.run(lambda s: s.result(anna, newest.id))
    assert view.test_name == "Глюкоза" and not view.preliminary
    [glucose] = view.analytes
    assert glucose.line() == "Глюкоза: 6,4 ммоль/л ↑ (норма 3,9–6,1)"
    assert glucose.trend
    assert view.lab_comment == "Рекомендуется повторить исследование натощак."
    assert view.doctor_comment and "эндокринолог" in view.doctor_comment
    assert view.has_file and view.can_download
    # Opened by Анна: no longer new.
    again = (await labs.run(lambda s: s.results_page(anna))).items[0]
    assert again.id == newest.id and not again.new

    blood = (await labs.run(lambda s: s.results_page(anna, test="58410-2"))).items[0]
    cbc = await labs.run(lambda s: s.result(anna, blood.id))
    lines = [a.line() for a in cbc.analytes]
    assert lines == [
        "Гемоглобин: 131 г/л (норма 120–140)",
        "Эритроциты: 4,5 ×10¹²/л (норма 3,8–5,1)",
        "Лейкоциты: 5,6 ×10⁹/л (норма 4–9)",
        "Тромбоциты: 260 ×10⁹/л (норма 150–400)",
        "СОЭ: 9 мм/ч (норма 2–20)",
    ]
    assert all(a.trend for a in cbc.analytes)  # each measured twice

    cholesterol = (await labs.run(lambda s: s.results_page(anna, test="14647-2"))).items
    second = await labs.run(lambda s: s.result(anna, cholesterol[1].id))
    assert second.analytes[0].line() == "Холестерин общий: 5,4 ммоль/л ↑ (норма до 5,2)"

    hiv = (await labs.run(lambda s: s.results_page(anna, test=HIV))).items[0]
    sensitive = await labs.run(lambda s: s.result(anna, hiv.id))
    assert sensitive.analytes[0].line() == (
        "Антитела к ВИЧ 1/2 и антиген p24: не обнаружено (норма: не обнаружено)"
    )
    assert not sensitive.analytes[0].trend


async def test_a_preliminary_result_and_a_flag_from_the_range(lab_env: LabEnv) -> None:
    now = lab_env.clock.now()
    async with lab_env.work() as uow:
        result = await uow.record.labs.add(
            LabResult(
                account_id=lab_env.anna.account_id,
                api_client_id=None,
                report_identifier="pre-1",
                test_code="2951-2",
                test_name="Натрий",
                ordered_by=None,
                laboratory_name="Лаборатория «Тест»",
                status="preliminary",
                collected_at=None,
                issued_at=now,
                sensitive=False,
                lab_comment=None,
                doctor_comment=None,
                storage_key=None,
                sha256=None,
                size=None,
                mime_type=None,
                seen_at=None,
                source="lab",
                created_at=now,
                updated_at=now,
            ),
            [
                LabObservation(
                    code="2951-2",
                    name="Натрий",
                    value=128.5,
                    unit="ммоль/л",
                    ref_low=136,
                    ref_high=145,
                    flag=None,
                )
            ],
        )
        await uow.commit()
    view = await lab_env.labs().run(lambda s: s.result(lab_env.anna, result.id))
    assert view.preliminary and view.status_text == "предварительный"
    assert view.analytes[0].line() == "Натрий: 128,5 ммоль/л ↓ (норма 136–145)"
    assert not view.analytes[0].trend and not view.has_file


async def test_another_accounts_result_is_refused_and_journaled(lab_env: LabEnv) -> None:
    anna_first = (await lab_env.labs().run(lambda s: s.results_page(lab_env.anna))).items[0]
    with pytest.raises(NotFoundError) as refused:
        await lab_env.labs().run(lambda s: s.result(lab_env.other, anna_first.id))
    assert refused.value.message == MSG_NOT_FOUND
    with pytest.raises(NotFoundError):
        await lab_env.labs().run(lambda s: s.result(lab_env.anna, 999_999))
    denied = [e for e in await lab_env.audit("lab_result.view") if e.outcome == "denied"]
    assert [e.details["result_id"] for e in denied] == [anna_first.id, 999_999]
    assert denied[0].subject_account_id == lab_env.other.account_id
    # Anna's result stays new: nobody but her opened it.
    again = (await lab_env.labs().run(lambda s: s.results_page(lab_env.anna))).items[0]
    assert again.new


async def test_views_pages_and_trends_are_journaled_with_their_basis(lab_env: LabEnv) -> None:
    labs, anna = lab_env.labs(), lab_env.anna
    first = (await labs.run(lambda s: s.results_page(anna))).items[0]
    await labs.run(lambda s: s.result(anna, first.id))
    await labs.run(lambda s: s.trend(anna, GLUCOSE))
    [listed] = await lab_env.audit("lab_result.list")
    [viewed] = await lab_env.audit("lab_result.view")
    [trend] = await lab_env.audit("lab_result.trend")
    for entry in (listed, viewed, trend):
        assert entry.outcome == "ok" and entry.basis == "self"
        assert entry.permission == Permission.READ_RECORD.value
        assert entry.subject_account_id == anna.account_id
    assert viewed.details == {"result_id": first.id}
    assert trend.details == {"analyte": GLUCOSE}


# -- the file ----------------------------------------------------------------------


async def test_the_file_is_the_stored_pdf_and_its_download_is_journaled(lab_env: LabEnv) -> None:
    first = (await lab_env.labs().run(lambda s: s.results_page(lab_env.anna))).items[0]
    file = await LabFiles(lab_env.work, lab_env.ctx).download(lab_env.anna, first.id)
    assert file.data.startswith(b"%PDF") and file.mime_type == "application/pdf"
    assert file.file_name.endswith(".pdf")
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(file.data)).pages[0].extract_text()
    assert "Глюкоза" in text and "6,4" in text and "КДЛ Городской поликлиники № 1" in text
    [entry] = await lab_env.audit("lab_result.download")
    assert entry.permission == Permission.DOWNLOAD.value
    assert entry.details == {"result_id": first.id}


# -- the trend ---------------------------------------------------------------------


async def test_the_series_are_the_stored_values_oldest_first(labs_env: LabEnv) -> None:
    series = await labs_env.labs().run(lambda s: s.trend(labs_env.anna, GLUCOSE))
    assert [p.value for p in series.points] == STORED_GLUCOSE == [5.1, 5.4, 5.6, 5.9, 6.4]
    days = [p.on for p in series.points]
    assert days == sorted(days) and (days[-1] - days[0]).days == 700
    assert (series.name, series.unit, series.ref_low, series.ref_high) == (
        "Глюкоза",
        "ммоль/л",
        3.9,
        6.1,
    )
    with pytest.raises(DomainError):
        await labs_env.labs().run(lambda s: s.trend(labs_env.anna, HIV))


async def test_the_chart_renders_the_stored_series_once_and_then_from_the_cache(
    lab_env: LabEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[charts.TrendSeries] = []

    def spy(series: charts.TrendSeries) -> bytes:
        rendered.append(series)
        return charts.render_trend(series)

    monkeypatch.setattr(charts, "CACHE", charts.ChartCache(spy, size=4))
    chart = await LabCharts(lab_env.work, lab_env.ctx).chart(lab_env.anna, GLUCOSE)
    [series] = rendered
    assert [p.value for p in series.points] == STORED_GLUCOSE
    with Image.open(io.BytesIO(chart.png)) as image:
        assert image.format == "PNG" and image.size == (1000, 600)
    assert "Первое: 5,1 ммоль/л" in chart.caption
    assert "Последнее: 6,4 ммоль/л" in chart.caption
    assert "Направление: растёт." in chart.caption
    assert "Последнее значение выше нормы (норма 3,9–6,1)." in chart.caption
    again = await LabCharts(lab_env.work, lab_env.ctx).chart(lab_env.anna, GLUCOSE)
    assert again.png == chart.png and len(rendered) == 1
    assert len(await lab_env.audit("lab_result.trend")) == 2


# -- sensitive results and relatives -----------------------------------------------


async def test_a_relative_without_sensitive_access_never_gets_the_sensitive_result(
    lab_env: LabEnv,
) -> None:
    labs = lab_env.labs()
    own = await labs.run(lambda s: s.results_page(lab_env.anna, test=HIV))
    hiv_id = own.items[0].id
    relative = await lab_env.grant("view", sensitive=False)
    page = await labs.run(lambda s: s.results_page(relative))
    assert page.total == 10
    assert HIV not in {t.code for t in page.tests}
    assert all(i.id != hiv_id for i in page.items)
    filtered = await labs.run(lambda s: s.results_page(relative, test=HIV))
    assert filtered.test is None and filtered.total == 10
    with pytest.raises(AccessDenied) as refused:
        await labs.run(lambda s: s.result(relative, hiv_id))
    assert refused.value.message == MSG_NOT_SENSITIVE
    with pytest.raises(DomainError):
        await labs.run(lambda s: s.trend(relative, HIV))
    # The rest is visible, without the file: this level is view only.
    newest = await labs.run(lambda s: s.result(relative, page.items[0].id))
    assert newest.analytes[0].value == 6.4 and not newest.can_download
    with pytest.raises(AccessDenied) as no_file:
        await LabFiles(lab_env.work, lab_env.ctx).download(relative, page.items[0].id)
    assert no_file.value.message == LEVEL_REASONS[Permission.DOWNLOAD]
    # Opening it did not make it seen for Анна.
    assert (await labs.run(lambda s: s.results_page(lab_env.anna))).items[0].new
    denied = [e for e in await lab_env.audit("lab_result.view") if e.outcome == "denied"]
    assert denied[0].details["denied"] == "not_sensitive"


async def test_a_relative_allowed_sensitive_results_sees_them(lab_env: LabEnv) -> None:
    relative = await lab_env.grant("view_download", sensitive=True)
    page = await lab_env.labs().run(lambda s: s.results_page(relative))
    assert page.total == 11 and HIV in {t.code for t in page.tests}


async def test_someone_without_a_grant_gets_no_list(lab_env: LabEnv) -> None:
    stranger = replace(lab_env.other, acting_for=lab_env.anna.account_id)
    with pytest.raises(AccessDenied):
        await lab_env.labs().run(lambda s: s.results_page(stranger))


# -- the demo data -----------------------------------------------------------------


async def test_the_demo_seed_is_idempotent(lab_env: LabEnv) -> None:
    async with lab_env.work() as uow:
        await seed_lab_results(uow, lab_env.ctx, lab_env.anna.account_id)
        await uow.commit()
    async with lab_env.work() as uow:
        assert await uow.record.labs.count(lab_env.anna.account_id) == 11
        rows = await uow.record.labs.page(lab_env.anna.account_id, offset=0, limit=20)
    assert all(r.storage_key and r.mime_type == "application/pdf" for r in rows)
    assert [r.sensitive for r in rows].count(True) == 1
    assert {r.source for r in rows} == {"import"} and {r.api_client_id for r in rows} == {None}
    assert rows[0].report_identifier == "demo-glu-5" and rows[0].seen_at is None
