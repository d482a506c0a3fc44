"""«Доступ для близких»: SharingService's use cases on SQLite and PostgreSQL, frozen clock.

The world is the demo's (``seed_demo``): Анна's record with its results (one of them
sensitive), her grant to Петров («просмотр и скачивание», a year ahead) and her
pending invitation of Иванов. Анна and Петров have a Telegram chat each, so the
pushes to them land in the outbox. Clock: 26.11.2026 12:00 МСК.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.workers.notifier import Notifier
from services.core.access import (
    AccessDenied,
    CurrentUser,
    Permission,
    RelativePrincipal,
    authorize,
)
from services.core.context import AppContext
from services.core.errors import DomainError
from services.core.gateways import (
    ConsoleMail,
    ConsoleSms,
    EncryptedDirectoryStore,
    FrozenClock,
    Gateways,
)
from services.core.hashing import PasswordHasher
from services.core.journal import JournalService
from services.core.work import UseCases, in_unit
from services.demo import seed_demo
from services.identity.auth import AuthService
from services.identity.otp import Channel
from services.record.labs import LabResultsService
from services.sharing.demo import IVANOV_PHONE, invitation_command
from services.sharing.grants import (
    CONSENT_VERSION,
    INVITE_PREFIX,
    MSG_CODE_FIRST,
    MSG_FOREIGN_CONTACT,
    MSG_LINK_UNKNOWN,
    MSG_LINK_USED,
    MSG_LINK_VOID,
    MSG_LINK_WITHDRAWN,
    MSG_NOT_CONFIRMED,
    MSG_REQUEST_PENDING,
    MSG_WRONG_PHONE,
    CardAccess,
    InviteDraft,
    SharingService,
    end_of_day,
    token_hash,
)
from storage.models import AuditEntry, LabResult, OutboxMessage, RelativeGrant, TelegramBinding
from storage.uow import UnitOfWorkFactory
from tgsandbox import Sandbox

ANNA_TG, PETROV_TG = 1001, 1002
# The relative Анна invites in these tests: no portal account, a Telegram account of her own.
MARIA_NAME, MARIA_PHONE, MARIA_TG = "Кузнецова Мария Ивановна", "+79990000008", 3008
STRANGER_TG = 3999
LINK = re.compile(r"https://t\.me/emk_bot\?start=(inv_[A-Za-z0-9_-]+)")
OWNER_ONLY = "Управлять доступом к карте может только её владелец."


def link_of(payload: str) -> str:
    return f"https://t.me/emk_bot?start={payload}"


@dataclass
class World:
    ctx: AppContext
    clock: FrozenClock
    sms: ConsoleSms
    work: UnitOfWorkFactory
    anna: CurrentUser
    petrov: CurrentUser

    def sharing(self) -> UseCases[SharingService]:
        return UseCases(self.work, self.ctx, SharingService)

    def labs(self) -> UseCases[LabResultsService]:
        return UseCases(self.work, self.ctx, LabResultsService)

    def last_code(self, phone: str) -> str:
        for to, text in reversed(self.sms.sent):
            if to == phone and "Код подтверждения: " in text:
                return text.split("Код подтверждения: ")[1][:6]
        raise AssertionError(f"no code was texted to {phone}")

    async def confirm(self, user: CurrentUser, action_ref: str) -> None:
        """Анна confirms the action with the SMS code, as the code sub-dialog does."""
        auth = UseCases(self.work, self.ctx, AuthService)
        issued = await auth.run(
            lambda s: s.send_code(user.account_id, "sharing", Channel.SMS, ANNA_TG, action_ref)
        )
        code = self.last_code("+79990000001")
        await auth.run(
            lambda s: s.check_code(
                user.account_id,
                "sharing",
                Channel.SMS,
                issued.challenge_id,
                code,
                ANNA_TG,
                action_ref,
            )
        )

    async def invite(self, draft: InviteDraft) -> str:
        """Анна invites (checked, confirmed by code, created); the link's start parameter."""
        ref = await self.sharing().run(lambda s: s.prepare_invite(self.anna, draft))
        await self.confirm(self.anna, ref)
        invitation = await self.sharing().run(lambda s: s.invite(self.anna, draft, link_of))
        match = LINK.fullmatch(invitation.link)
        assert match, invitation.link
        return match.group(1)

    async def accept(
        self, payload: str, tg: int = MARIA_TG, phone: str = MARIA_PHONE, account: int | None = None
    ) -> None:
        """The relative opens the link, shares their own phone, types the code, consents."""
        view = await self.sharing().run(lambda s: s.open_invitation(payload, tg))
        await self.sharing().run(lambda s: s.share_contact(view.ref, tg, phone, tg))
        code = self.last_code(phone)
        await self.sharing().run(lambda s: s.confirm_code(view.ref, tg, code))
        await self.sharing().run(lambda s: s.accept(view.ref, tg, account))

    async def revoke(self, grant_id: int) -> None:
        ref = await self.sharing().run(lambda s: s.prepare_revoke(self.anna, grant_id))
        await self.confirm(self.anna, ref)
        await self.sharing().run(lambda s: s.revoke(self.anna, grant_id))

    async def grant(self, phone: str) -> RelativeGrant:
        async with self.work() as uow:
            rows = await uow.sharing.grants.for_relative(self.anna.account_id, phone=phone)
            assert rows, phone
            return rows[-1]

    async def card(self, tg: int, user: CurrentUser | None = None) -> CardAccess:
        return await self.sharing().run(lambda s: s.card_access(tg, user, self.anna.account_id))

    async def outbox(self, chat_id: int) -> list[OutboxMessage]:
        async with self.work() as uow:
            return list(await uow.core.outbox.for_chat(chat_id))

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.work() as uow:
            return list(await uow.core.audit.all(action))

    async def result_with_file(self) -> int:
        """One of Анна's results (not a sensitive one) that has the laboratory's file."""
        async with self.work() as uow:
            found = await uow.session.scalar(
                select(LabResult.id)
                .where(
                    LabResult.account_id == self.anna.account_id,
                    LabResult.storage_key.is_not(None),
                    LabResult.sensitive.is_(False),
                )
                .order_by(LabResult.id)
                .limit(1)
            )
            assert found is not None
            return int(found)

    async def audit_all_denied(self) -> list[AuditEntry]:
        async with self.work() as uow:
            return [e for e in await uow.core.audit.all() if e.outcome == "denied"]


def maria(level: str = "view", until: date | None = None, sensitive: bool = False) -> InviteDraft:
    return InviteDraft(MARIA_NAME, MARIA_PHONE, "trusted", level, until, sensitive)


def relative(
    tg: int = MARIA_TG, phone: str = MARIA_PHONE, card: int | None = None
) -> RelativePrincipal:
    return RelativePrincipal(phone=phone, telegram_user_id=tg, acting_for=card)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[World]:
    clock = FrozenClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    sms = ConsoleSms()
    files = EncryptedDirectoryStore(tmp_path / "files", b"f" * 32)
    ctx = AppContext(
        gateways=Gateways(clock=clock, sms=sms, mail=ConsoleMail(), files=files),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    async with uow_factory() as uow:
        await seed_demo(uow, ctx)
        await uow.commit()
    async with uow_factory() as uow:
        anna = await uow.identity.accounts.find_by_login("phone", "+79990000001")
        petrov = await uow.identity.accounts.find_by_login("phone", "+79990000002")
        assert anna is not None and petrov is not None
        for account_id, tg in ((anna.id, ANNA_TG), (petrov.id, PETROV_TG)):
            await uow.identity.bindings.add(
                TelegramBinding(
                    telegram_user_id=tg, chat_id=tg, account_id=account_id, created_at=clock.now()
                )
            )
        await uow.commit()
    yield World(
        ctx,
        clock,
        sms,
        uow_factory,
        CurrentUser(account_id=anna.id, session_id=0, display_name="Анна"),
        CurrentUser(account_id=petrov.id, session_id=0, display_name="Сергей"),
    )


def on_card(user: CurrentUser, patient: int) -> CurrentUser:
    """The signed-in person working on a card shared with them."""
    return CurrentUser(user.account_id, user.session_id, user.display_name, acting_for=patient)


async def refused(world: World, call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        await world.sharing().run(call)
    return caught.value.message


# -- the demo ---------------------------------------------------------------------------


async def test_the_demo_petrov_sees_annas_card_and_a_second_seed_changes_nothing(
    world: World,
) -> None:
    cards = await world.sharing().run(lambda s: s.cards(PETROV_TG, world.petrov))
    assert [(c.patient, c.level_text, c.live) for c in cards] == [
        ("Иванова А. С.", "просмотр и скачивание", True)
    ]
    assert cards[0].state_text == "действует до 26.11.2027"
    access = await world.sharing().run(
        lambda s: s.open_card(PETROV_TG, world.petrov, world.anna.account_id)
    )
    assert access.line == "Карта: Иванова А. С. · просмотр и скачивание"
    assert access.can_download and not access.can_book
    results = await world.labs().run(lambda s: s.results_page(access.principal))
    assert results.total > 0

    async def snapshot() -> tuple[list[tuple[Any, ...]], int]:
        async with world.work() as uow:
            rows = await uow.sharing.grants.for_patient(world.anna.account_id)
            count = (await uow.session.execute(select(func.count()).select_from(AuditEntry))).one()
            return [
                (g.id, g.relative_phone, g.status, g.level, g.token_hash, g.token_expires_at)
                for g in rows
            ], int(count[0])

    before = await snapshot()
    world.clock.advance(hours=1)
    async with world.work() as uow:
        await seed_demo(uow, world.ctx)
        await uow.commit()
    assert await snapshot() == before

    # The printed line opens Иванов's invitation.
    command = invitation_command(world.ctx)
    assert command.startswith(f"/start {INVITE_PREFIX}")
    view = await world.sharing().run(
        lambda s: s.open_invitation(command.removeprefix("/start "), 5005)
    )
    assert (view.patient, view.relative, view.level_text) == (
        "Иванова А. С.",
        "Иванов Дмитрий Андреевич",
        "полный доступ",
    )
    assert view.phone != IVANOV_PHONE and view.phone.endswith("05")


# -- the invitation -------------------------------------------------------------------


async def test_an_invitation_keeps_only_a_hash_is_texted_and_lasts_seven_days(
    world: World,
) -> None:
    payload = await world.invite(maria(until=date(2027, 12, 31)))
    token = payload.removeprefix(INVITE_PREFIX)
    assert len(token) >= 22  # at least 128 bits
    grant = await world.grant(MARIA_PHONE)
    assert grant.status == "pending"
    assert grant.token_hash == token_hash(world.ctx, token) != token
    for column in RelativeGrant.__table__.columns:
        assert token not in str(getattr(grant, column.key))
    assert grant.token_expires_at == world.clock.now() + timedelta(days=7)
    assert grant.expires_at == end_of_day(date(2027, 12, 31))
    to, text = world.sms.sent[-1]
    assert to == MARIA_PHONE
    assert link_of(payload) in text and "Иванова А. С. приглашает вас" in text
    [row] = await world.audit("sharing.invite")
    assert (row.actor, row.subject_account_id) == (
        f"account:{world.anna.account_id}",
        world.anna.account_id,
    )
    assert row.details["grant_id"] == grant.id and row.details["level"] == "view"
    # The list shows it as sent.
    grants = await world.sharing().run(lambda s: s.list_grants(world.anna))
    assert (grants[0].short_name, grants[0].state_text) == (
        "Кузнецова М. И.",
        "приглашение отправлено",
    )

    # Six days later the link still opens; after the seventh it tells when it ran out.
    world.clock.advance(days=6, hours=23)
    view = await world.sharing().run(lambda s: s.open_invitation(payload, MARIA_TG))
    assert view.level_text == "только просмотр" and view.until == "до 31.12.2027"
    world.clock.advance(hours=2)
    message = await refused(world, lambda s: s.open_invitation(payload, MARIA_TG))
    assert message.startswith("Срок действия приглашения истёк 03.12.2026 12:00")
    grants = await world.sharing().run(lambda s: s.list_grants(world.anna))
    assert grants[0].state_text == "срок приглашения истёк"


async def test_an_invitation_needs_its_own_code_and_one_code_confirms_once(
    world: World,
) -> None:
    draft = maria()
    ref = await world.sharing().run(lambda s: s.prepare_invite(world.anna, draft))
    # No code yet.
    assert await refused(world, lambda s: s.invite(world.anna, draft, link_of)) == (
        MSG_NOT_CONFIRMED
    )
    await world.confirm(world.anna, ref)
    # The code confirmed this invitation, not another one.
    other = maria(level="full")
    assert await refused(world, lambda s: s.invite(world.anna, other, link_of)) == (
        MSG_NOT_CONFIRMED
    )
    invitation = await world.sharing().run(lambda s: s.invite(world.anna, draft, link_of))
    await world.sharing().run(lambda s: s.withdraw(world.anna, invitation.grant_id))
    # Withdrawn, the same invitation again: the code was spent on the first one.
    assert await refused(world, lambda s: s.invite(world.anna, draft, link_of)) == (
        MSG_NOT_CONFIRMED
    )


async def test_a_used_withdrawn_or_unknown_link_gets_its_answer(world: World) -> None:
    payload = await world.invite(maria())
    await world.accept(payload)
    assert await refused(world, lambda s: s.open_invitation(payload, STRANGER_TG)) == (
        MSG_LINK_USED
    )

    async with world.work() as uow:
        grant = (await uow.sharing.grants.for_relative(world.anna.account_id, phone=IVANOV_PHONE))[
            0
        ]
    await world.sharing().run(lambda s: s.withdraw(world.anna, grant.id))
    ivanov = invitation_command(world.ctx).removeprefix("/start ")
    assert await refused(world, lambda s: s.open_invitation(ivanov, 5005)) == MSG_LINK_WITHDRAWN

    assert await refused(world, lambda s: s.open_invitation("inv_" + "A" * 24, 5005)) == (
        MSG_LINK_UNKNOWN
    )
    refusals = [e for e in await world.audit("sharing.link") if e.outcome == "refused"]
    assert [(e.actor, e.subject_account_id) for e in refusals] == [
        (f"relative:{STRANGER_TG}", world.anna.account_id),
        ("relative:5005", world.anna.account_id),
    ]


# -- accepting -------------------------------------------------------------------------


async def test_a_wrong_phone_three_times_voids_the_link_and_the_patient_is_told(
    world: World,
) -> None:
    payload = await world.invite(maria())
    view = await world.sharing().run(lambda s: s.open_invitation(payload, STRANGER_TG))
    for _ in range(2):
        assert (
            await refused(
                world, lambda s: s.share_contact(view.ref, STRANGER_TG, "+79995554433", STRANGER_TG)
            )
            == MSG_WRONG_PHONE
        )
    assert (
        await refused(
            world, lambda s: s.share_contact(view.ref, STRANGER_TG, "79995554433", STRANGER_TG)
        )
        == MSG_LINK_VOID
    )
    # Void: even the invited phone is refused now, and the link says so.
    assert (
        await refused(world, lambda s: s.share_contact(view.ref, MARIA_TG, MARIA_PHONE, MARIA_TG))
        == MSG_LINK_VOID
    )
    assert await refused(world, lambda s: s.open_invitation(payload, MARIA_TG)) == MSG_LINK_VOID
    grant = await world.grant(MARIA_PHONE)
    assert (grant.status, grant.wrong_phone_tries) == ("void", 3)

    told = [m for m in await world.outbox(ANNA_TG) if m.kind == "sharing.refused"]
    assert len(told) == 3
    assert all("открыли с другим номером телефона" in m.text for m in told)
    assert "Ссылка больше не действует" in told[-1].text
    wrong = [e for e in await world.audit("sharing.accept.phone") if e.outcome == "wrong_phone"]
    assert [e.details["tries"] for e in wrong] == [1, 2, 3]
    assert {(e.actor, e.subject_account_id) for e in wrong} == {
        (f"relative:{STRANGER_TG}", world.anna.account_id)
    }
    # No code went anywhere but to Анна's own confirmations.
    assert all(to != "+79995554433" for to, _ in world.sms.sent)

    # «Отправить приглашение ещё раз»: a new link that works; the old one stays dead.
    again = await world.sharing().run(lambda s: s.resend(world.anna, grant.id, link_of))
    fresh = LINK.fullmatch(again.link)
    assert fresh and fresh.group(1) != payload
    assert await refused(world, lambda s: s.open_invitation(payload, MARIA_TG)) == MSG_LINK_UNKNOWN
    await world.accept(fresh.group(1))
    assert (await world.grant(MARIA_PHONE)).status == "active"


async def test_ten_wrong_codes_over_fresh_codes_void_the_link_and_the_patient_is_told(
    world: World,
) -> None:
    """Asking a new code every minute does not give endless guesses: ten wrong ones in all."""
    payload = await world.invite(maria())
    view = await world.sharing().run(lambda s: s.open_invitation(payload, MARIA_TG))
    answers = []
    for _ in range(4):  # four codes, each asked once the resend pause is over
        await world.sharing().run(
            lambda s: s.share_contact(view.ref, MARIA_TG, MARIA_PHONE, MARIA_TG)
        )
        code = world.last_code(MARIA_PHONE)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(3):
            answers.append(
                await refused(
                    world, lambda s, guess=wrong: s.confirm_code(view.ref, MARIA_TG, guess)
                )
            )
            if answers[-1] == MSG_LINK_VOID:
                break
        if answers[-1] == MSG_LINK_VOID:
            break
        world.clock.advance(seconds=61)
    assert len(answers) == 10 and answers[-1] == MSG_LINK_VOID
    assert all(a != MSG_LINK_VOID for a in answers[:-1])
    # Even the right code of a new one cannot help now.
    assert await refused(world, lambda s: s.open_invitation(payload, MARIA_TG)) == MSG_LINK_VOID
    grant = await world.grant(MARIA_PHONE)
    assert (grant.status, grant.code_failures, grant.code_hash) == ("void", 10, None)
    [told] = [m for m in await world.outbox(ANNA_TG) if m.kind == "sharing.refused"]
    assert "много раз ввели неверный код" in told.text
    failures = [e.details["failures"] for e in await world.audit("sharing.accept.code")]
    assert failures == list(range(1, 11))
    # «Отправить приглашение ещё раз» starts the count again.
    again = await world.sharing().run(lambda s: s.resend(world.anna, grant.id, link_of))
    fresh = LINK.fullmatch(again.link)
    assert fresh is not None
    await world.accept(fresh.group(1))
    assert (await world.grant(MARIA_PHONE)).status == "active"


async def test_a_forwarded_contact_is_refused(world: World) -> None:
    payload = await world.invite(maria())
    view = await world.sharing().run(lambda s: s.open_invitation(payload, STRANGER_TG))
    # Someone forwards Мария's contact card: the phone is right, the contact is not theirs.
    assert (
        await refused(
            world, lambda s: s.share_contact(view.ref, STRANGER_TG, MARIA_PHONE, MARIA_TG)
        )
        == MSG_FOREIGN_CONTACT
    )
    assert (
        await refused(world, lambda s: s.share_contact(view.ref, STRANGER_TG, MARIA_PHONE, None))
        == MSG_FOREIGN_CONTACT
    )
    # Nothing was texted to Мария, and no code stands for the forwarder.
    assert world.sms.sent[-1][0] == MARIA_PHONE and "Код" not in world.sms.sent[-1][1]
    assert await refused(world, lambda s: s.confirm_code(view.ref, STRANGER_TG, "123456")) == (
        MSG_CODE_FIRST
    )
    [row, _] = [e for e in await world.audit("sharing.accept.phone") if e.outcome == "foreign"]
    assert row.actor == f"relative:{STRANGER_TG}"
    grant = await world.grant(MARIA_PHONE)
    assert grant.wrong_phone_tries == 0 and grant.status == "pending"


async def test_accepting_takes_the_code_and_the_consent_and_tells_the_patient(
    world: World,
) -> None:
    payload = await world.invite(maria(level="view_download", until=date(2027, 12, 31)))
    view = await world.sharing().run(lambda s: s.open_invitation(payload, MARIA_TG))
    assert (view.patient, view.level_text, view.until) == (
        "Иванова А. С.",
        "просмотр и скачивание",
        "до 31.12.2027",
    )
    masked = await world.sharing().run(
        lambda s: s.share_contact(view.ref, MARIA_TG, "79990000008", MARIA_TG)
    )
    assert masked.endswith("08") and MARIA_PHONE not in masked
    assert world.sms.sent[-1][0] == MARIA_PHONE
    assert await refused(world, lambda s: s.accept(view.ref, MARIA_TG, None)) == MSG_NOT_CONFIRMED
    code = world.last_code(MARIA_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert await refused(world, lambda s: s.confirm_code(view.ref, MARIA_TG, wrong)) == (
        "Неверный код. Осталось попыток: 4."
    )
    await world.sharing().run(lambda s: s.confirm_code(view.ref, MARIA_TG, code))
    card = await world.sharing().run(lambda s: s.accept(view.ref, MARIA_TG, None))
    assert (card.patient, card.level_text, card.live) == (
        "Иванова А. С.",
        "просмотр и скачивание",
        True,
    )
    grant = await world.grant(MARIA_PHONE)
    assert grant.status == "active" and grant.relative_telegram_user_id == MARIA_TG
    assert (grant.consent_version, grant.consented_at) == (CONSENT_VERSION, world.clock.now())
    [push] = [m for m in await world.outbox(ANNA_TG) if m.kind == "sharing.accepted"]
    assert push.text.startswith("Кузнецова М. И. принял(а) ваше приглашение")
    assert "«просмотр и скачивание»" in push.text and "до 31.12.2027" in push.text
    [row] = await world.audit("sharing.accept")
    assert (row.actor, row.subject_account_id, row.details["consent_version"]) == (
        f"relative:{MARIA_TG}",
        world.anna.account_id,
        CONSENT_VERSION,
    )


# -- changing, extending, revoking ------------------------------------------------------


async def test_change_level_extend_and_revoke(world: World) -> None:
    payload = await world.invite(maria(until=date(2026, 12, 31)))
    await world.accept(payload)
    grant = await world.grant(MARIA_PHONE)
    access = await world.card(MARIA_TG)
    assert access.line == "Карта: Иванова А. С. · только просмотр"
    assert not access.can_download and not access.can_book

    view = await world.sharing().run(lambda s: s.change_level(world.anna, grant.id, "full", False))
    assert view.level_text == "полный доступ"
    access = await world.card(MARIA_TG)
    assert access.line == "Карта: Иванова А. С. · полный доступ"
    assert access.can_download and access.can_book

    view = await world.sharing().run(lambda s: s.extend(world.anna, grant.id, date(2027, 6, 30)))
    assert view.state_text == "действует до 30.06.2027"
    expiry = [m for m in await world.outbox(MARIA_TG) if m.kind == "sharing.expired"]
    assert [(m.status, m.due_at) for m in expiry] == [
        ("withdrawn", end_of_day(date(2026, 12, 31))),
        ("pending", end_of_day(date(2027, 6, 30))),
    ]

    await world.revoke(grant.id)
    with pytest.raises(AccessDenied, match=r"^Доступ к карте Иванова А\. С\. отозван\.$"):
        await world.card(MARIA_TG)
    with pytest.raises(AccessDenied, match="отозван"):
        await world.labs().run(lambda s: s.results_page(relative(card=world.anna.account_id)))
    pushes = {m.kind: m for m in await world.outbox(MARIA_TG)}
    assert pushes["sharing.level"].text == (
        "Иванова А. С. изменил(а) ваш доступ к своей карте: теперь «полный доступ»."
    )
    assert "до 30.06.2027" in pushes["sharing.extend"].text
    assert pushes["sharing.revoked"].text == "Доступ к карте Иванова А. С. отозван владельцем."
    assert [b["text"] for b in pushes["sharing.revoked"].buttons] == ["Запросить доступ снова"]
    # The expiry push will not come after a revocation.
    assert {m.status for m in await world.outbox(MARIA_TG) if m.kind == "sharing.expired"} == {
        "withdrawn"
    }
    grants = await world.sharing().run(lambda s: s.list_grants(world.anna))
    assert grants[0].state_text == "отозван"
    # The revocation took a code of its own.
    assert await refused(world, lambda s: s.revoke(world.anna, grant.id)) != ""


async def test_an_expired_grant_refuses_the_next_access_and_the_push_is_delivered(
    world: World,
) -> None:
    payload = await world.invite(maria(until=date(2026, 11, 30)))
    await world.accept(payload)
    grant = await world.grant(MARIA_PHONE)
    [row] = [m for m in await world.outbox(MARIA_TG) if m.kind == "sharing.expired"]
    ends = end_of_day(date(2026, 11, 30))
    assert ends == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)  # midnight in Moscow
    assert (row.status, row.due_at, row.topic) == ("pending", ends, f"grant:{grant.id}")

    sandbox = Sandbox()
    chat = sandbox.user(user_id=MARIA_TG, first_name="Мария")
    await chat.send("/start")
    await sandbox.user(user_id=ANNA_TG, first_name="Анна").send("/start")
    notifier = Notifier(world.work, sandbox.create_bot(), clock=world.clock, per_chat_interval=0)

    def expiry_pushes() -> list[str]:
        return [m.text or "" for m in chat.messages if m.from_bot and "истёк" in (m.text or "")]

    await notifier.run_once()  # what is due now (Анна's «принял(а)»), not the expiry
    assert expiry_pushes() == []

    world.clock.advance(days=4, hours=11, minutes=59)  # 30.11.2026 23:59 МСК: still on
    assert (await world.card(MARIA_TG)).level == "view"
    assert await notifier.run_once() == 0
    world.clock.advance(minutes=2)
    with pytest.raises(AccessDenied, match=r"Срок доступа к карте Иванова А\. С\. истёк"):
        await world.card(MARIA_TG)
    with pytest.raises(AccessDenied, match=r"Срок доступа к карте истёк 01\.12\.2026 00:00"):
        await world.labs().run(lambda s: s.results_page(relative(card=world.anna.account_id)))
    assert await notifier.run_once() == 1
    assert len(expiry_pushes()) == 1
    assert chat.last.text == (
        "Срок вашего доступа к карте Иванова А. С. истёк. Если доступ нужен и дальше, "
        "запросите его снова."
    )
    assert chat.last.keyboard == [["Запросить доступ снова"]]
    cards = await world.sharing().run(lambda s: s.cards(MARIA_TG, None))
    assert [(c.state_text, c.live, c.can_request) for c in cards] == [("истёк", False, True)]


# -- «Запросить доступ снова» ---------------------------------------------------------


async def test_asking_again_after_a_revocation_allow_and_decline(world: World) -> None:
    payload = await world.invite(maria(level="view_download"))
    await world.accept(payload)
    grant = await world.grant(MARIA_PHONE)
    await world.revoke(grant.id)

    text = await world.sharing().run(lambda s: s.request_again(MARIA_TG, None, grant.id))
    assert text == "Запрос отправлен. Иванова А. С. получит его и сможет снова открыть вам доступ."
    assert await refused(world, lambda s: s.request_again(MARIA_TG, None, grant.id)) == (
        MSG_REQUEST_PENDING
    )
    # Only the relative it was shared with may ask.
    assert await refused(world, lambda s: s.request_again(STRANGER_TG, None, grant.id)) == (
        "Такого доступа нет в списке ваших близких."
    )
    [ask] = [m for m in await world.outbox(ANNA_TG) if m.kind == "sharing.request"]
    assert ask.text == (
        "Кузнецова М. И. просит снова открыть доступ к вашей медкарте («просмотр и скачивание»)."
    )
    assert [(b["text"], b["action"], b["arg"]) for b in ask.buttons] == [
        ("Разрешить", "share_allow", str(grant.id)),
        ("Отклонить", "share_no", str(grant.id)),
    ]
    # A relative cannot answer for the patient.
    assert await refused(world, lambda s: s.answer_request(world.petrov, grant.id, True)) == (
        "Такого доступа нет в списке ваших близких."
    )

    answer = await world.sharing().run(lambda s: s.answer_request(world.anna, grant.id, True))
    assert answer == "Доступ для Кузнецова М. И. снова открыт: бессрочно."
    assert (await world.card(MARIA_TG)).line == "Карта: Иванова А. С. · просмотр и скачивание"
    told = [m for m in await world.outbox(MARIA_TG) if m.kind == "sharing.request.answer"]
    assert told[-1].text == (
        "Иванова А. С. снова открыл(а) вам доступ к своей карте: «просмотр и скачивание», "
        "бессрочно."
    )
    # Pressing «Разрешить» twice: the request is answered already.
    assert await refused(world, lambda s: s.answer_request(world.anna, grant.id, True)) == (
        "Запроса на доступ по этому приглашению нет или на него уже ответили."
    )

    await world.revoke(grant.id)
    await world.sharing().run(lambda s: s.request_again(MARIA_TG, None, grant.id))
    answer = await world.sharing().run(lambda s: s.answer_request(world.anna, grant.id, False))
    assert answer == "Запрос Кузнецова М. И. отклонён."
    with pytest.raises(AccessDenied, match="отозван"):
        await world.card(MARIA_TG)
    told = [m for m in await world.outbox(MARIA_TG) if m.kind == "sharing.request.answer"]
    assert told[-1].text == "Иванова А. С. отклонил(а) ваш запрос на доступ к карте."
    actions = [e.action for e in await world.audit("sharing.request")]
    assert actions == ["sharing.request", "sharing.request"]
    assert len(await world.audit("sharing.request.allow")) == 1
    assert len(await world.audit("sharing.request.decline")) == 1


async def test_asking_again_after_an_expiry_opens_thirty_days_more(world: World) -> None:
    payload = await world.invite(maria(until=date(2026, 11, 30)))
    await world.accept(payload)
    grant = await world.grant(MARIA_PHONE)
    world.clock.advance(days=5)  # 01.12.2026 12:00 МСК
    await world.sharing().run(lambda s: s.request_again(MARIA_TG, None, grant.id))
    answer = await world.sharing().run(lambda s: s.answer_request(world.anna, grant.id, True))
    assert answer.endswith("снова открыт: до 31.12.2026.")
    assert (await world.card(MARIA_TG)).level == "view"
    expiry = [m for m in await world.outbox(MARIA_TG) if m.kind == "sharing.expired"]
    assert expiry[-1].due_at == end_of_day(date(2026, 12, 31)) and expiry[-1].status == "pending"


# -- what a relative may not do ---------------------------------------------------------


async def test_a_relative_cannot_invite_change_grants_or_read_the_history_or_journal(
    world: World,
) -> None:
    anna_id = world.anna.account_id
    grant = await world.grant("+79990000002")
    petrov = on_card(world.petrov, anna_id)
    calls = [
        lambda s: s.list_grants(petrov),
        lambda s: s.prepare_invite(petrov, maria()),
        lambda s: s.invite(petrov, maria(), link_of),
        lambda s: s.change_level(petrov, grant.id, "full", True),
        lambda s: s.extend(petrov, grant.id, None),
        lambda s: s.prepare_revoke(petrov, grant.id),
        lambda s: s.withdraw(petrov, grant.id),
    ]
    for call in calls:
        assert await refused(world, call) == OWNER_ONLY
    # His own principal (not on Анна's card) does not reach her grants either.
    assert await refused(world, lambda s: s.change_level(world.petrov, grant.id, "full", True)) == (
        "Такого доступа нет в списке ваших близких."
    )
    assert (await world.grant("+79990000002")).level == "view_download"

    auth = UseCases(world.work, world.ctx, AuthService)
    with pytest.raises(AccessDenied, match="только владельцу"):
        await auth.run(lambda s: s.login_history(petrov))
    journal = UseCases(world.work, world.ctx, JournalService)
    by_phone = RelativePrincipal("+79990000002", PETROV_TG, world.petrov.account_id, anna_id)
    for who in (petrov, by_phone):
        with pytest.raises(AccessDenied, match="только владельцу"):
            await journal.run(lambda s, p=who: s.page(p, anna_id))
    async with world.work() as uow:
        for permission in (Permission.MANAGE_ACCESS, Permission.READ_ACCOUNT_HISTORY):
            decision = await authorize(uow, world.ctx, by_phone, anna_id, permission)
            assert not decision.allowed and decision.code == "owner_only"
    denied = [
        (e.action, e.actor)
        for e in await world.audit_all_denied()
        if e.subject_account_id == anna_id
    ]
    assert ("sharing.invite", f"account:{world.petrov.account_id}") in denied
    assert ("login_history.view", f"account:{world.petrov.account_id}") in denied
    assert ("journal.view", f"relative:{PETROV_TG}") in denied


async def test_sensitive_results_are_hidden_unless_included(world: World) -> None:
    anna_id = world.anna.account_id
    own = await world.labs().run(lambda s: s.results_page(world.anna))
    [hiv] = [r for r in own.items if "ВИЧ" in r.test_name]
    petrov = on_card(world.petrov, anna_id)
    shared = await world.labs().run(lambda s: s.results_page(petrov))
    assert shared.total == own.total - 1
    assert all("ВИЧ" not in r.test_name for r in shared.items)
    assert all("ВИЧ" not in t.name for t in shared.tests)
    with pytest.raises(AccessDenied, match="чувствительным результатам"):
        await world.labs().run(lambda s: s.result(petrov, hiv.id))

    grant = await world.grant("+79990000002")
    await world.sharing().run(lambda s: s.change_level(world.anna, grant.id, "view_download", True))
    shared = await world.labs().run(lambda s: s.results_page(petrov))
    assert shared.total == own.total
    assert (await world.labs().run(lambda s: s.result(petrov, hiv.id))).id == hiv.id


# -- the journal ---------------------------------------------------------------------------


async def test_every_step_is_journaled_and_reads_with_the_relatives_name_and_level(
    world: World,
) -> None:
    anna_id = world.anna.account_id
    payload = await world.invite(maria())
    await world.accept(payload)
    maria_grant = await world.grant(MARIA_PHONE)
    mary = relative(card=anna_id)
    await world.labs().run(lambda s: s.results_page(mary))
    with pytest.raises(AccessDenied):
        await world.labs().run(lambda s: s.download(mary, 1))

    # 12.12.2026 10:14 МСК: Петров opens the results and downloads one.
    world.clock.current = datetime(2026, 12, 12, 7, 14, tzinfo=UTC)
    petrov = on_card(world.petrov, anna_id)
    await world.sharing().run(lambda s: s.open_card(PETROV_TG, world.petrov, anna_id))
    await world.labs().run(lambda s: s.results_page(petrov))
    with_file = await world.result_with_file()
    await world.labs().run(lambda s: s.download(petrov, with_file))
    petrov_grant = await world.grant("+79990000002")
    await world.sharing().run(lambda s: s.change_level(world.anna, petrov_grant.id, "view", False))
    await world.revoke(petrov_grant.id)
    with pytest.raises(AccessDenied):
        await world.labs().run(lambda s: s.results_page(petrov))
    await world.sharing().run(lambda s: s.request_again(PETROV_TG, world.petrov, petrov_grant.id))

    # The rows: the relative as actor, the patient as subject, the grant named.
    async with world.work() as uow:
        rows = list(await uow.core.audit.for_subject(anna_id, limit=500))
    by_petrov = [r for r in rows if r.actor == f"account:{world.petrov.account_id}"]
    assert {(r.action, r.outcome) for r in by_petrov} >= {
        ("sharing.card.open", "ok"),
        ("lab_result.list", "ok"),
        ("lab_result.download", "ok"),
        ("lab_result.list", "denied"),
        ("sharing.request", "ok"),
    }
    assert all(r.details.get("grant_id") == petrov_grant.id for r in by_petrov)
    by_maria = [r for r in rows if r.actor == f"relative:{MARIA_TG}"]
    assert {(r.action, r.outcome) for r in by_maria} >= {
        ("sharing.link", "ok"),
        ("sharing.accept.phone", "ok"),
        ("sharing.accept.code", "ok"),
        ("sharing.accept", "ok"),
        ("lab_result.list", "ok"),
        ("lab_result.download", "denied"),
    }
    assert all(r.details.get("grant_id") == maria_grant.id for r in by_maria)
    by_anna = {r.action for r in rows if r.actor == f"account:{anna_id}"}
    assert {"sharing.invite", "sharing.level", "sharing.revoke"} <= by_anna

    journal = await in_unit(
        world.work, lambda uow: JournalService(uow, world.ctx).page(world.anna, anna_id)
    )
    lines = [line.text for line in journal.lines]
    assert lines[:8] == [
        "Петров С. И. (доступ «только просмотр») попросил снова открыть доступ",
        "Петров С. И. (доступ «только просмотр») получил отказ: открыть результаты анализов "
        "(доступ отозван)",
        "Вы отозвали доступ близкого к карте: Петров С. И. (доступ «только просмотр»)",
        "Код подтверждения принят",
        "Отправлен код подтверждения",
        "Вы изменили уровень доступа близкого: Петров С. И. (доступ «только просмотр»)",
        "Петров С. И. (доступ «просмотр и скачивание») скачал файл результата анализа",
        "Петров С. И. (доступ «просмотр и скачивание») открыл результаты анализов",
    ]
    [opened] = [
        line
        for line in journal.lines
        if line.text == "Петров С. И. (доступ «просмотр и скачивание») открыл результаты анализов"
    ]
    assert opened.at == datetime(2026, 12, 12, 7, 14, tzinfo=UTC)  # 12.12.2026 10:14 МСК
    journal = await in_unit(
        world.work, lambda uow: JournalService(uow, world.ctx).page(world.anna, anna_id, 2)
    )
    lines += [line.text for line in journal.lines]
    for expected in (
        "Петров С. И. (доступ «просмотр и скачивание») открыл вашу медкарту",
        "Кузнецова М. И. (доступ «только просмотр») получила отказ: скачать файл результата "
        "анализа (не позволяет уровень доступа)",
        "Кузнецова М. И. (доступ «только просмотр») открыла результаты анализов",
        "Кузнецова М. И. (доступ «только просмотр») приняла приглашение и дала согласие",
        "Кузнецова М. И. (доступ «только просмотр») подтвердила номер телефона по приглашению",
        "Кузнецова М. И. (доступ «только просмотр») открыла ссылку-приглашение",
        "Вы пригласили близкого человека к своей карте: Кузнецова М. И. (доступ «только просмотр»)",
    ):
        assert expected in lines, (expected, lines)
