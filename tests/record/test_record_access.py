"""The access rule in front of every section of the record.

Every use case of «Моя медкарта» (the menu, each section's page, each kind of
entry, the profile, a file) is called for Анна's record by principals that may
not read it: another signed-in account with no grant, a relative with no
grant, a doctor of her organisation without a step-up. Each is refused with
the access rule's Russian reason, gets no data, and the refusal is journaled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.core.access import (
    MSG_NO_ACCESS,
    MSG_NO_STEP_UP,
    CurrentUser,
    DoctorPrincipal,
    Principal,
    RelativePrincipal,
)
from services.core.errors import AccessDenied
from services.core.work import UseCases
from services.record.own_documents import OwnDocuments
from services.record.sections import SECTIONS, RecordFiles, RecordSections
from storage.models import (
    AuditEntry,
    Organisation,
    PatientAttachment,
    RelativeGrant,
    StaffMember,
)
from storage.uow import UnitOfWork
from tests.support.application import (
    KUZNETSOV_PHONE,
    SMIRNOVA_PHONE,
    in_uow,
    make_pdf,
    seed,
    sign_in,
    use_file_store,
)
from tests.support.services import Env

ANNA_PHONE = "+79990000001"
RELATIVE_PHONE = "+79990000055"
RELATIVE_TG = 777_001


@dataclass
class World:
    anna: CurrentUser
    # one entry id per section of Анна's record, and her discharge summary
    entries: dict[str, int]
    summary_id: int
    own_document_id: int
    petrov: CurrentUser
    relative: RelativePrincipal
    doctor: DoctorPrincipal


async def _entries(env: Env, anna: CurrentUser) -> tuple[dict[str, int], int]:
    cases = UseCases(env.uow_factory, env.ctx, RecordSections)
    entries = {}
    for spec in SECTIONS:
        page = await cases.run(lambda s, key=spec.key: s.page(anna, anna.account_id, key))
        entries[spec.key] = page.lines[0].entry_id
    stay = await cases.run(
        lambda s: s.entry(anna, anna.account_id, "hospitalisations", entries["hospitalisations"])
    )
    assert stay.file is not None
    return entries, stay.file.document_id


@pytest.fixture
async def world(env: Env, tmp_path: Path) -> World:
    use_file_store(env, tmp_path / "files")
    await seed(env)
    anna = await sign_in(env, ANNA_PHONE)
    own = await OwnDocuments(env.uow_factory, env.ctx).add(
        anna,
        anna.account_id,
        kind="other",
        title="Справка",
        document_date="01.02.2024",
        data=make_pdf(),
    )
    entries, summary_id = await _entries(env, anna)
    # Someone with no access to Анна's card (the demo's Петров has her grant).
    petrov = await sign_in(env, KUZNETSOV_PHONE)
    doctor_account = await sign_in(env, SMIRNOVA_PHONE)
    now = env.clock.now()

    async def build(uow: UnitOfWork) -> DoctorPrincipal:
        org = await uow.clinic.organisations.add(
            Organisation(
                name="ГБУЗ «Городская поликлиника № 12»", ogrn="1027700000012", created_at=now
            )
        )
        staff = await uow.clinic.staff.add(
            StaffMember(
                account_id=doctor_account.account_id,
                organisation_id=org.id,
                role="doctor",
                specialty="терапевт",
                created_at=now - timedelta(days=100),
                confirmed_at=now - timedelta(days=99),
            )
        )
        await uow.clinic.attachments.add(
            PatientAttachment(
                patient_account_id=anna.account_id,
                organisation_id=org.id,
                since=now - timedelta(days=365),
                until=None,
            )
        )
        return DoctorPrincipal(staff.id, doctor_account.account_id, org.id)

    doctor = await in_uow(env, build)
    return World(
        anna=anna,
        entries=entries,
        summary_id=summary_id,
        own_document_id=own.document_id,
        petrov=petrov,
        relative=RelativePrincipal(phone=RELATIVE_PHONE, telegram_user_id=RELATIVE_TG),
        doctor=doctor,
    )


Call = Callable[[Env, World, Principal], Awaitable[Any]]


def _sections(env: Env) -> UseCases[RecordSections]:
    return UseCases(env.uow_factory, env.ctx, RecordSections)


def overview_call() -> tuple[str, str, Call]:
    async def call(env: Env, w: World, p: Principal) -> Any:
        return await _sections(env).run(lambda s: s.overview(p, w.anna.account_id))

    return "overview", "record.section.view", call


def page_call(section: str) -> tuple[str, str, Call]:
    async def call(env: Env, w: World, p: Principal) -> Any:
        return await _sections(env).run(lambda s: s.page(p, w.anna.account_id, section, 1))

    return f"page-{section}", "record.section.view", call


def entry_call(section: str) -> tuple[str, str, Call]:
    async def call(env: Env, w: World, p: Principal) -> Any:
        entry_id = w.entries[section]
        return await _sections(env).run(lambda s: s.entry(p, w.anna.account_id, section, entry_id))

    return f"entry-{section}", "record.entry.view", call


def profile_call() -> tuple[str, str, Call]:
    async def call(env: Env, w: World, p: Principal) -> Any:
        return await _sections(env).run(lambda s: s.profile(p, w.anna.account_id))

    return "profile", "record.profile.view", call


def download_call(which: str) -> tuple[str, str, Call]:
    async def call(env: Env, w: World, p: Principal) -> Any:
        document_id = w.summary_id if which == "summary" else w.own_document_id
        return await RecordFiles(env.uow_factory, env.ctx).download(
            p, w.anna.account_id, document_id
        )

    return f"download-{which}", "record.document.download", call


def add_call() -> tuple[str, str, Call]:
    async def call(env: Env, w: World, p: Principal) -> Any:
        return await OwnDocuments(env.uow_factory, env.ctx).add(
            p,
            w.anna.account_id,
            kind="other",
            title="Чужая справка",
            document_date="01.02.2024",
            data=make_pdf(),
        )

    return "add-document", "record.document.add", call


CALLS = [
    overview_call(),
    *(page_call(spec.key) for spec in SECTIONS),
    *(entry_call(spec.key) for spec in SECTIONS),
    profile_call(),
    download_call("summary"),
    download_call("own"),
]

PRINCIPALS: dict[str, tuple[Callable[[World], Principal], str]] = {
    "another-account": (lambda w: w.petrov, MSG_NO_ACCESS),
    "relative-without-grant": (lambda w: w.relative, MSG_NO_ACCESS),
    "doctor-without-step-up": (lambda w: w.doctor, MSG_NO_STEP_UP),
}


async def _denied_rows(env: Env) -> list[AuditEntry]:
    async with env.uow() as uow:
        rows = await uow.session.execute(
            select(AuditEntry).where(AuditEntry.outcome == "denied").order_by(AuditEntry.id)
        )
        return list(rows.scalars())


@pytest.mark.parametrize("who", list(PRINCIPALS))
@pytest.mark.parametrize(("name", "action", "call"), CALLS, ids=[c[0] for c in CALLS])
async def test_every_section_is_refused_without_permission(
    env: Env, world: World, who: str, name: str, action: str, call: Call
) -> None:
    make, reason = PRINCIPALS[who]
    principal = make(world)
    before = await _denied_rows(env)
    result: Any = None
    with pytest.raises(AccessDenied) as refused:
        result = await call(env, world, principal)
    assert refused.value.message == reason
    assert result is None
    # the reason only: nothing of Анна's record in what the asker is told
    assert "Иванова" not in refused.value.message and "R73.0" not in refused.value.message
    rows = (await _denied_rows(env))[len(before) :]
    assert [(r.action, r.subject_account_id) for r in rows] == [(action, world.anna.account_id)]
    assert rows[0].permission in ("record.read", "record.identity", "record.download")
    assert rows[0].details["denied"] in ("no_grant", "no_step_up")


@pytest.mark.parametrize("who", list(PRINCIPALS))
async def test_nobody_else_adds_a_document_to_the_record(env: Env, world: World, who: str) -> None:
    make, _ = PRINCIPALS[who]
    _name, action, call = add_call()
    with pytest.raises(AccessDenied) as refused:
        await call(env, world, make(world))
    assert refused.value.message  # the access rule's own reason (owner only)
    rows = await _denied_rows(env)
    assert (rows[-1].action, rows[-1].subject_account_id) == (action, world.anna.account_id)
    own = await _sections(env).run(lambda s: s.page(world.anna, world.anna.account_id, "documents"))
    assert [line.label for line in own.lines] == ["01.02.2024 · Справка"]


async def test_a_relative_with_a_view_grant_reads_but_gets_no_identity_and_no_files(
    env: Env, world: World
) -> None:
    """The same calls are answered once a grant allows them: the refusals above are the rule's."""
    now = env.clock.now()
    await in_uow(
        env,
        lambda uow: uow.sharing.grants.add(
            RelativeGrant(
                patient_account_id=world.anna.account_id,
                relative_phone=RELATIVE_PHONE,
                relative_telegram_user_id=RELATIVE_TG,
                relationship="parent",
                level="view",
                include_sensitive=False,
                status="active",
                created_at=now - timedelta(days=2),
                accepted_at=now - timedelta(days=1),
            )
        ),
    )
    relative = world.relative
    page = await _sections(env).run(lambda s: s.page(relative, world.anna.account_id, "diagnoses"))
    assert page.total == 3
    # «Личные данные и полисы» (name, СНИЛС, policies) are not part of a relative's access.
    with pytest.raises(AccessDenied, match="Личные данные и полисы владельца карты"):
        await _sections(env).run(lambda s: s.profile(relative, world.anna.account_id))
    own = await _sections(env).run(
        lambda s: s.entry(relative, world.anna.account_id, "documents", world.own_document_id)
    )
    assert own.source_note == "добавлено пациентом"
    with pytest.raises(AccessDenied, match="только для просмотра"):
        await RecordFiles(env.uow_factory, env.ctx).download(
            relative, world.anna.account_id, world.summary_id
        )
