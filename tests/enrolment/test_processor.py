"""The processor worker: statuses, reasons, pushes, the queue, crashes and two workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.workers.processor import Processor
from services.core.access import CurrentUser
from services.core.consent import CONSENT_VERSION
from services.core.context import AppContext
from services.core.gateways import ConsoleMail, ConsoleSms, FrozenClock, Gateways, LocalRegistry
from services.core.hashing import PasswordHasher
from services.core.validators import snils_control_number
from services.demo import (
    DEMO_RESTRICTION,
    KUZNETSOV_APPLICATION,
    PETROV_APPLICATION,
    SMIRNOVA_APPLICATION,
    SMIRNOVA_CORRECT_SNILS,
)
from services.enrolment.application import StatusView
from services.enrolment.processing import (
    R_BIRTH,
    R_CONSENT,
    R_NAME,
    R_NO_RECORD,
    R_NOT_FOUND,
    R_POLICY,
    R_RECORD_EXISTS,
    R_SNILS,
)
from storage.db import create_engine, create_session_factory
from storage.models import (
    Account,
    Application,
    ApplicationDocument,
    ApplicationStatusEvent,
    AuditEntry,
    MedicalRecord,
    OutboxMessage,
    RegistryPerson,
    TelegramBinding,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support.application import (
    KUZNETSOV_PHONE,
    PETROV_PHONE,
    SMIRNOVA_PHONE,
    call,
    claim_and_start,
    finish,
    in_uow,
    registry_answer,
    seed,
    set_field,
    submit,
    submitted_application,
    use_file_store,
)
from tests.support.services import Env

STATUS_BUTTON = [{"text": "Статус заявки", "action": "status"}]


def _env(uow_factory: UnitOfWorkFactory) -> Env:
    clock, sms, mail = FrozenClock(), ConsoleSms(), ConsoleMail()
    ctx = AppContext(
        gateways=Gateways(clock=clock, sms=sms, mail=mail),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    return Env(ctx, clock, sms, mail, uow_factory)


@pytest.fixture
async def env(sqlite_uow_factory: UnitOfWorkFactory, tmp_path: Path) -> Env:
    env = _env(sqlite_uow_factory)
    use_file_store(env, tmp_path / "files")
    await seed(env)
    return env


class Changes:
    """Collects on_change calls."""

    def __init__(self) -> None:
        self.accounts: list[int] = []

    async def __call__(self, account_id: int) -> None:
        self.accounts.append(account_id)


def processor(env: Env, **kwargs: Any) -> Processor:
    kwargs.setdefault("delay_seconds", 0)
    kwargs.setdefault("poll_seconds", 0.01)
    return Processor(env.uow_factory, env.ctx, **kwargs)


async def rows(env: Env, model: type[Any], **where: Any) -> list[Any]:
    async with env.uow() as uow:
        stmt = select(model).filter_by(**where).order_by(model.id)
        return list((await uow.session.execute(stmt)).scalars().all())


async def opened_records(env: Env) -> list[MedicalRecord]:
    """Records opened by applications (Анна's demo record was opened without one)."""
    async with env.uow() as uow:
        stmt = (
            select(MedicalRecord)
            .where(MedicalRecord.application_id.is_not(None))
            .order_by(MedicalRecord.id)
        )
        return list((await uow.session.execute(stmt)).scalars().all())


async def events(env: Env) -> list[tuple[str, list[str]]]:
    return [(e.status, e.reasons) for e in await rows(env, ApplicationStatusEvent)]


async def status(env: Env, user: CurrentUser) -> StatusView:
    view = await call(env, "status", user)
    assert isinstance(view, StatusView)
    return view


async def pushes(env: Env) -> list[OutboxMessage]:
    return await rows(env, OutboxMessage, kind="application_status")


async def edit_application(env: Env, user: CurrentUser, **values: Any) -> None:
    async def run(uow: UnitOfWork) -> None:
        application = await uow.enrolment.applications.latest_for(user.account_id)
        assert application is not None
        for name, value in values.items():
            setattr(application, name, value)

    await in_uow(env, run)


async def decide(env: Env, user: CurrentUser) -> StatusView:
    """Let one processor run until the queue is empty; the person's status after it."""
    assert await processor(env).run_once()
    return await status(env, user)


# -- transitions and reasons ------------------------------------------------------


async def test_all_good_opens_the_card(env: Env) -> None:
    user = await submitted_application(env)
    changes = Changes()
    worker = processor(env, on_change=changes)
    assert await worker.run_once() is True
    assert await worker.run_once() is False  # the queue is empty

    view = await status(env, user)
    assert (view.status, view.status_text) == ("opened", "Карта открыта")
    assert view.reasons == [] and view.queue_ahead is None and view.eta_minutes is None
    assert [h.status_text for h in view.history] == [
        "Заявка принята",
        "В работе",
        "Карта открыта",
    ]
    assert changes.accounts == [user.account_id, user.account_id]

    (record,) = await opened_records(env)
    assert record.account_id == user.account_id
    assert (record.last_name, record.first_name, record.middle_name) == (
        "Петров",
        "Сергей",
        "Иванович",
    )
    assert record.birth_date == date(1985, 7, 14)
    assert record.sex == "male"
    assert record.snils == "15623648877"
    assert record.policy_number == "7750198340271955"
    assert record.policy_end == date(2045, 12, 31)
    assert record.created_at == env.clock.now()

    texts = [p.text for p in await pushes(env)]
    assert len(texts) == 3
    assert "принята" in texts[0]
    assert "в работе" in texts[1]
    assert "электронная медицинская карта открыта" in texts[2]
    assert all(p.buttons == STATUS_BUTTON for p in await pushes(env))
    audit = await rows(env, AuditEntry, action="application.status")
    assert [a.details["status"] for a in audit] == ["accepted", "in_work", "opened"]
    assert len(await rows(env, AuditEntry, action="medical_record.create")) == 1


async def test_history_keeps_the_time_of_each_status(env: Env) -> None:
    user = await submitted_application(env)
    submitted = env.clock.now()
    env.clock.advance(minutes=1)
    application_id = await claim_and_start(env)
    env.clock.advance(minutes=2)
    assert await finish(env, application_id) is not None
    view = await status(env, user)
    assert [(h.status_text, h.at) for h in view.history] == [
        ("Заявка принята", submitted),
        ("В работе", submitted + timedelta(minutes=1)),
        ("Карта открыта", submitted + timedelta(minutes=3)),
    ]
    assert view.submitted_at == submitted


async def test_missing_documents_need_a_fix(env: Env) -> None:
    user = await submitted_application(env)
    # A required document disappears after the submission (say, removed by support).
    (policy,) = await rows(env, ApplicationDocument, slot="policy")

    async def drop(uow: UnitOfWork) -> None:
        document = await uow.enrolment.documents.in_slot(policy.application_id, "policy")
        assert document is not None
        await uow.enrolment.documents.delete(document)

    await in_uow(env, drop)
    view = await decide(env, user)
    assert view.status == "needs_fix" and view.can_fix
    assert view.reasons == ["Не загружены документы: полис ОМС. Добавьте их к заявлению."]
    assert await opened_records(env) == []
    last = (await pushes(env))[-1]
    assert "требуются исправления" in last.text and "полис ОМС" in last.text
    assert last.buttons == STATUS_BUTTON


async def test_an_expired_policy_needs_a_fix(env: Env) -> None:
    values = {**PETROV_APPLICATION, "policy_end": "30.11.2026"}
    user = await submitted_application(env, PETROV_PHONE, values)
    env.clock.advance(days=5)
    view = await decide(env, user)
    assert view.status == "needs_fix"
    assert view.reasons == [R_POLICY.text]
    assert view.reasons[0].startswith("Срок действия полиса ОМС истёк")


async def test_no_consent_needs_a_fix(env: Env) -> None:
    user = await submitted_application(env)
    await edit_application(env, user, consent_version=None, consent_at=None)
    view = await decide(env, user)
    assert (view.status, view.reasons) == ("needs_fix", [R_CONSENT.text])


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"full_name": "Петров Сергей Петрович"}, R_NAME),
        ({"full_name": "Петрова Сергей Иванович"}, R_NAME),
        ({"birth_date": "15.07.1985"}, R_BIRTH),
        ({"snils": "203-456-781 49"}, R_SNILS),
        ({"full_name": "Сидоров Пётр Ильич", "snils": "203-456-781 49"}, R_NOT_FOUND),
    ],
    ids=["patronymic", "last-name", "birth-date", "snils", "not-found"],
)
async def test_registry_mismatch_needs_a_fix(
    env: Env, changes: dict[str, str], reason: Any
) -> None:
    user = await submitted_application(env, PETROV_PHONE, {**PETROV_APPLICATION, **changes})
    view = await decide(env, user)
    assert (view.status, view.reasons) == ("needs_fix", [reason.text])
    assert await opened_records(env) == []


async def test_the_demo_person_with_another_snils_needs_a_fix(env: Env) -> None:
    user = await submitted_application(env, SMIRNOVA_PHONE, SMIRNOVA_APPLICATION)
    view = await decide(env, user)
    assert (view.status, view.reasons) == ("needs_fix", [R_SNILS.text])
    assert view.history[-1].reasons == [R_SNILS.text]


async def test_names_are_compared_as_registries_do(env: Env) -> None:
    async def rename(uow: UnitOfWork) -> None:
        person = await uow.enrolment.registry.by_snils("15623648877")
        assert person is not None
        person.last_name = "ПЕТРОВ"
        person.first_name = "Сергёй"  # ё and е are the same letter to a registry

    await in_uow(env, rename)
    user = await submitted_application(
        env, PETROV_PHONE, {**PETROV_APPLICATION, "full_name": "петров сергей иванович"}
    )
    assert (await decide(env, user)).status == "opened"


async def test_several_reasons_at_once(env: Env) -> None:
    values = {**PETROV_APPLICATION, "birth_date": "15.07.1985", "policy_end": "30.11.2026"}
    user = await submitted_application(env, PETROV_PHONE, values)
    env.clock.advance(days=5)
    view = await decide(env, user)
    assert view.reasons == [R_POLICY.text, R_BIRTH.text]


async def test_a_legal_restriction_rejects(env: Env) -> None:
    user = await submitted_application(env, KUZNETSOV_PHONE, KUZNETSOV_APPLICATION)
    view = await decide(env, user)
    assert (view.status, view.status_text) == ("rejected", "Отказано")
    assert view.reasons == [DEMO_RESTRICTION]
    assert not view.can_fix
    assert await opened_records(env) == []
    last = (await pushes(env))[-1]
    assert "отказано" in last.text and DEMO_RESTRICTION in last.text
    (audit,) = [
        a
        for a in await rows(env, AuditEntry, action="application.status")
        if a.details["status"] == "rejected"
    ]
    assert audit.details["reasons"] == ["legal_restriction"]
    # A refused application is finished: a new draft may be started, and until it is
    # sent the status screen still tells of the refusal.
    assert (await call(env, "draft", user)).status == "draft"  # type: ignore[attr-defined]
    assert (await status(env, user)).status == "rejected"


async def test_the_restriction_wins_over_fixable_reasons(env: Env) -> None:
    user = await submitted_application(env, KUZNETSOV_PHONE, KUZNETSOV_APPLICATION)
    await edit_application(env, user, consent_version=None)
    view = await decide(env, user)
    assert (view.status, view.reasons) == ("rejected", [DEMO_RESTRICTION])


async def test_the_kind_of_request_must_fit(env: Env) -> None:
    update = {**PETROV_APPLICATION, "kind": "Обновление данных"}
    user = await submitted_application(env, PETROV_PHONE, update)
    view = await decide(env, user)
    assert (view.status, view.reasons) == ("needs_fix", [R_NO_RECORD.text])

    # Corrected to «Новая карта», resubmitted: the card opens.

    await set_field(env, user, "kind", "Новая карта")
    await submit(env, user)
    assert (await decide(env, user)).status == "opened"

    # A second «Новая карта» is refused; «Обновление данных» renews the record.
    user = await submitted_application(env, PETROV_PHONE)
    view = await decide(env, user)
    assert (view.status, view.reasons) == ("needs_fix", [R_RECORD_EXISTS.text])
    await set_field(env, user, "kind", "Обновление данных")
    await set_field(env, user, "policy_end", "31.12.2050")
    await submit(env, user)
    assert (await decide(env, user)).status == "opened"
    (record,) = await opened_records(env)
    assert record.policy_end == date(2050, 12, 31)
    assert len(await rows(env, AuditEntry, action="medical_record.update")) == 1


async def test_a_corrected_application_is_processed_again(env: Env) -> None:

    user = await submitted_application(env, SMIRNOVA_PHONE, SMIRNOVA_APPLICATION)
    first = await decide(env, user)
    await set_field(env, user, "snils", SMIRNOVA_CORRECT_SNILS)
    await submit(env, user)
    view = await decide(env, user)
    assert view.status == "opened"
    assert view.number == first.number
    assert [h.status_text for h in view.history] == [
        "Заявка принята",
        "В работе",
        "Требуются исправления",
        "Заявка принята",
        "В работе",
        "Карта открыта",
    ]
    assert view.history[2].reasons == [R_SNILS.text]
    assert view.reasons == []


async def test_a_failing_on_change_does_not_stop_processing(env: Env) -> None:
    user = await submitted_application(env)

    async def broken(_account_id: int) -> None:
        raise RuntimeError("the window is gone")

    assert await processor(env, on_change=broken).run_once()
    assert (await status(env, user)).status == "opened"


# -- the queue ------------------------------------------------------------------------


async def test_queue_position_and_estimate_without_history(env: Env) -> None:
    env.ctx.processing_delay_seconds = 90
    people = []
    for phone, values in (
        (PETROV_PHONE, PETROV_APPLICATION),
        (SMIRNOVA_PHONE, SMIRNOVA_APPLICATION),
        (KUZNETSOV_PHONE, KUZNETSOV_APPLICATION),
    ):
        people.append(await submitted_application(env, phone, values))
        env.clock.advance(seconds=10)
    views = [await status(env, user) for user in people]
    assert [v.queue_ahead for v in views] == [0, 1, 2]
    assert [v.eta_minutes for v in views] == [2, 3, 5]  # 90 s, 180 s, 270 s, rounded up

    assert await processor(env).run_once()  # Petrov's is decided
    views = [await status(env, user) for user in people]
    assert views[0].queue_ahead is None and views[0].eta_minutes is None
    assert [v.queue_ahead for v in views[1:]] == [0, 1]


async def test_estimate_follows_the_pace(env: Env) -> None:
    petrov = await submitted_application(env)
    olga = await submitted_application(env, SMIRNOVA_PHONE, SMIRNOVA_APPLICATION)
    andrey = await submitted_application(env, KUZNETSOV_PHONE, KUZNETSOV_APPLICATION)
    first = await claim_and_start(env)
    env.clock.advance(seconds=240)  # Petrov's took four minutes in work
    assert await finish(env, first) is not None
    assert (await status(env, petrov)).eta_minutes is None
    views = [await status(env, olga), await status(env, andrey)]
    assert [(v.queue_ahead, v.eta_minutes) for v in views] == [(0, 4), (1, 8)]

    await claim_and_start(env)  # Olga's is in work now
    env.clock.advance(seconds=60)
    in_work = await status(env, olga)
    assert (in_work.status_text, in_work.queue_ahead, in_work.eta_minutes) == ("В работе", 0, 3)
    assert (await status(env, andrey)).queue_ahead == 0


# -- crashes and concurrency ----------------------------------------------------------


async def test_a_claim_abandoned_by_a_dead_worker_is_taken_over(env: Env) -> None:
    user = await submitted_application(env)
    dead = processor(env, lease_seconds=60)
    assert await dead.claim() is not None  # ...and the worker dies here

    alive = processor(env, lease_seconds=60)
    assert await alive.run_once() is False  # the lease still holds
    env.clock.advance(seconds=61)
    assert await alive.run_once() is True
    assert (await status(env, user)).status == "opened"
    assert [s for s, _ in await events(env)] == ["accepted", "in_work", "opened"]
    (application,) = await rows(env, Application)
    assert application.attempt == 2 and application.lease_until is None


async def test_a_worker_dying_in_work_is_finished_once_by_another(env: Env) -> None:
    user = await submitted_application(env)
    application_id = await claim_and_start(env, timedelta(seconds=60))
    # ...the worker asks the registry, and dies before committing its decision.
    stale = await registry_answer(env, application_id)
    assert (await status(env, user)).status == "in_work"

    changes = Changes()
    alive = processor(env, on_change=changes)
    assert await alive.run_once() is False
    env.clock.advance(seconds=61)
    assert await alive.run_once() is True
    assert [s for s, _ in await events(env)] == ["accepted", "in_work", "opened"]
    assert changes.accounts == [user.account_id]  # only the decision was its change
    assert len(await opened_records(env)) == 1

    # The dead worker coming back to life decides nothing a second time.
    assert await finish(env, application_id, stale) is None
    assert [s for s, _ in await events(env)] == ["accepted", "in_work", "opened"]
    assert len(await pushes(env)) == 3


async def test_a_stopping_worker_gives_its_claim_back(env: Env) -> None:
    user = await submitted_application(env)
    stop = asyncio.Event()
    slow = processor(env, delay_seconds=30)
    task = asyncio.create_task(slow.run(stop))
    for _ in range(500):
        if (await status(env, user)).status == "in_work":
            break
        await asyncio.sleep(0.01)
    assert (await status(env, user)).status == "in_work"
    stop.set()
    await asyncio.wait_for(task, 5)
    (application,) = await rows(env, Application)
    assert application.status == "in_work" and application.lease_until is None
    # Any worker takes it up at once (its time in work has not run out here, so wait 0).
    assert await processor(env).run_once()
    assert [s for s, _ in await events(env)] == ["accepted", "in_work", "opened"]


async def test_run_until_stopped(env: Env) -> None:
    user = await submitted_application(env)
    stop = asyncio.Event()
    task = asyncio.create_task(processor(env).run(stop))
    for _ in range(500):
        if (await status(env, user)).status == "opened":
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await status(env, user)).status == "opened"


# -- two processors on PostgreSQL ---------------------------------------------------


async def _waiting_applications(env: Env, count: int) -> list[int]:
    """`count` accounts, each in the registry with a complete accepted application."""
    now = env.clock.now()
    ids = []
    async with env.uow() as uow:
        for i in range(count):
            nine = f"{300000000 + i * 1117:09d}"
            snils = nine + snils_control_number(nine)
            account = await uow.identity.accounts.add(
                Account(
                    phone=f"+7999100{i:04d}",
                    last_name="Тестов",
                    first_name="Иван",
                    middle_name=None,
                    password_hash="-",
                    failed_password_attempts=0,
                    created_at=now,
                )
            )
            await uow.identity.bindings.add(
                TelegramBinding(
                    telegram_user_id=9000 + i,
                    chat_id=9000 + i,
                    account_id=account.id,
                    created_at=now,
                )
            )
            await uow.enrolment.registry.add(
                RegistryPerson(
                    snils=snils,
                    last_name="Тестов",
                    first_name="Иван",
                    middle_name=None,
                    birth_date=date(1980, 1, 1),
                )
            )
            application = await uow.enrolment.applications.add(
                Application(
                    account_id=account.id,
                    status="accepted",
                    revision=1,
                    last_name="Тестов",
                    first_name="Иван",
                    birth_date=date(1980, 1, 1),
                    sex="male",
                    snils=snils,
                    policy_number=f"{i:016d}",
                    policy_end=date(2040, 1, 1),
                    kind="new",
                    consent_version=CONSENT_VERSION,
                    consent_at=now,
                    skipped_fields=[],
                    created_at=now,
                    updated_at=now,
                    submitted_at=now + timedelta(seconds=i),
                    attempt=0,
                )
            )
            application.number = f"ЭМК-2026-{application.id:06d}"
            for slot in ("passport", "policy", "snils"):
                await uow.enrolment.documents.add(
                    ApplicationDocument(
                        application_id=application.id,
                        slot=slot,
                        storage_key=f"{application.id:016x}{len(slot):016x}{slot}",
                        sha256="0" * 64,
                        size=1,
                        kind="png",
                        mime_type="image/png",
                        uploaded_at=now,
                    )
                )
            ids.append(application.id)
        await uow.commit()
    return ids


@pytest.fixture
async def pg_env(pg_url: str) -> AsyncIterator[Env]:
    engine = create_engine(pg_url)
    try:
        yield _env(UnitOfWorkFactory(create_session_factory(engine)))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_two_processors_decide_each_application_exactly_once(pg_env: Env) -> None:
    env = pg_env
    count = 12
    ids = await _waiting_applications(env, count)
    changes = Changes()
    workers = [processor(env, delay_seconds=0.01, on_change=changes) for _ in range(2)]

    async def drain(worker: Processor) -> int:
        done = 0
        while await worker.run_once():
            done += 1
        return done

    done = await asyncio.gather(*(drain(w) for w in workers))
    assert sum(done) == count

    async with env.uow() as uow:
        per_status = (
            await uow.session.execute(
                select(
                    ApplicationStatusEvent.application_id,
                    ApplicationStatusEvent.status,
                    func.count(),
                ).group_by(ApplicationStatusEvent.application_id, ApplicationStatusEvent.status)
            )
        ).all()
        statuses = (await uow.session.execute(select(Application.status))).scalars().all()
        records = await uow.session.scalar(
            select(func.count())
            .select_from(MedicalRecord)
            .where(MedicalRecord.application_id.is_not(None))
        )
        pushes_sent = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "application_status")
        )
    assert set(statuses) == {"opened"}
    assert sorted(per_status) == sorted(
        [(i, "in_work", 1) for i in ids] + [(i, "opened", 1) for i in ids]
    )
    assert records == count
    assert pushes_sent == 2 * count
    assert len(changes.accounts) == 2 * count


def test_processor_defaults(sqlite_uow_factory: UnitOfWorkFactory) -> None:
    env = _env(sqlite_uow_factory)
    worker = Processor(env.uow_factory, env.ctx, delay_seconds=5, poll_seconds=1)
    assert worker.lease == timedelta(seconds=65)
    assert isinstance(worker.registry, LocalRegistry)
    custom = replace(env.ctx.gateways, registry=LocalRegistry(env.uow_factory))
    env.ctx.gateways = custom
    assert Processor(env.uow_factory, env.ctx, delay_seconds=0).registry is custom.registry
