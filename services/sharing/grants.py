"""«Доступ для близких»: a patient invites a relative, the relative accepts, the patient revokes.

``SharingService`` holds the use cases, each run in a unit of work of its own.

The patient's side (``MANAGE_ACCESS``, the owner only): the grants with their
state, an invitation (confirmed with a one-time code of the purpose
``SHARING_PURPOSE``), a change of level, an extension, a revocation (also
confirmed with a code), the invitation sent again or withdrawn, and the answer
to «Запросить доступ снова».

The relative's side: the invitation link carries a random token (≥128 bits);
only its HMAC is stored. The link is good once, for ``INVITE_DAYS`` days; the
relative shares their own contact (it must be the invited phone and their own:
``contact.user_id`` is the sender), three tries with another phone void the
link; a one-time code goes to the phone, then the consent (its version and time
are stored), and the grant is active, bound to the Telegram user (and their
portal account, if they are signed in).

«Карты близких» and every screen of a card rest on ``card_access``: it asks the
access rule afresh on every click, so a revocation or expiry stops the next one.

Everything is journaled with the relative (or the patient) as actor and the
patient as subject; pushes go through the outbox in the same unit of work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.core import audit, notify
from services.core.access import (
    LEVEL_NAMES,
    AccountPrincipal,
    Decision,
    Permission,
    RelativePrincipal,
    actor_of,
    authorize,
    journal,
    require,
)
from services.core.context import AppContext
from services.core.errors import AccessDenied, DomainError, NotFoundError, ValidationError
from services.core.gateways import DeliveryError, mask_phone
from services.core.journal import short_name
from services.core.notify import Button, ButtonAction
from services.core.validators import (
    add_years,
    normalize_phone,
    parse_date,
    validate_full_name,
)
from storage.models import Account, RelativeGrant
from storage.uow import UnitOfWork

__all__ = [
    "CONSENT_TEXT",
    "CONSENT_VERSION",
    "INVITE_DAYS",
    "LEVELS",
    "LEVEL_HINTS",
    "MAX_WRONG_PHONE",
    "RELATIONSHIPS",
    "SHARING_PURPOSE",
    "CardAccess",
    "CardLine",
    "GrantView",
    "Invitation",
    "InvitationView",
    "InviteDraft",
    "SharingService",
    "token_hash",
]

MSK = ZoneInfo("Europe/Moscow")
# The one-time-code purpose of inviting and revoking (services.identity.otp.Purpose.SHARING).
SHARING_PURPOSE = "sharing"
INVITE_DAYS = 7
MAX_WRONG_PHONE = 3
# Wrong codes over all the codes of one link before it is void (each code allows
# otp_max_attempts tries, and a new one can be asked every otp_resend_seconds).
MAX_CODE_FAILURES = 10
CODE_LENGTH = 6
# How long a confirmed code stands for the step after it (the invitation, the consent).
CONFIRMED_FOR = timedelta(minutes=15)
# Access restored by «Разрешить» after an expiry runs this long.
RESTORED_DAYS = 30
# The longest a grant may be given for.
MAX_YEARS = 10
INVITE_PREFIX = "inv_"

LEVELS: tuple[tuple[str, str], ...] = tuple(LEVEL_NAMES.items())
LEVEL_HINTS = {
    "view": "разделы медкарты и результаты анализов, без файлов и выписок",
    "view_download": "всё, что при просмотре, а также файлы результатов и выписки",
    "full": "всё, что при скачивании, а также запись к врачу, перенос и отмена приёмов",
}
RELATIONSHIPS: tuple[tuple[str, str], ...] = (
    ("parent", "родитель"),
    ("spouse", "супруг(а)"),
    ("child", "ребёнок"),
    ("other", "другой родственник"),
    ("trusted", "доверенное лицо"),
)
RELATIONSHIP_TEXT = dict(RELATIONSHIPS)

CONSENT_VERSION = "2026-12-01"
CONSENT_TEXT = (
    "Согласие на доступ к чужой медицинской карте\n"
    "Редакция от 1 декабря 2026 г.\n\n"
    "Я получаю доступ к электронной медицинской карте другого человека по его приглашению. "
    "Сведения из карты составляют врачебную тайну (ст. 13 Федерального закона № 323-ФЗ). "
    "Я обязуюсь использовать их только в интересах этого человека, не передавать их третьим "
    "лицам и не пересылать полученные файлы.\n\n"
    "Я знаю, что каждое моё действие с картой записывается в журнал и видно её владельцу, "
    "а владелец может изменить или отозвать мой доступ в любой момент."
)

MSG_NOT_YOURS = "Такого доступа нет в списке ваших близких."
MSG_OWN_PHONE = "Это номер вашей учётной записи. Укажите номер телефона близкого человека."
MSG_ALREADY = (
    "У этого номера уже есть доступ к вашей карте или отправленное приглашение. Откройте его "
    "в списке «Доступ для близких»."
)
MSG_NOT_CONFIRMED = "Действие не подтверждено кодом. Запросите код ещё раз."
MSG_CHANGED = "Данные приглашения изменились. Проверьте их и подтвердите ещё раз."
MSG_BAD_LEVEL = "Выберите уровень доступа кнопкой."
MSG_BAD_RELATIONSHIP = "Выберите кнопкой, кем вам приходится этот человек."
MSG_UNTIL_PAST = "Дата окончания доступа должна быть позже сегодняшней. Введите другую дату."
MSG_UNTIL_FAR = f"Доступ можно открыть не больше чем на {MAX_YEARS} лет. Введите дату раньше."
MSG_NOT_PENDING = "Это приглашение уже не ждёт ответа."
MSG_NOT_ACTIVE = "Этот доступ уже не действует."
MSG_NO_REQUEST = "Запроса на доступ по этому приглашению нет или на него уже ответили."
# The relative's side.
MSG_LINK_UNKNOWN = (
    "Ссылка-приглашение не найдена. Проверьте, что открыли её полностью, или попросите "
    "прислать приглашение ещё раз."
)
MSG_LINK_USED = (
    "По этой ссылке приглашение уже принято. Ссылка действует один раз. Если приглашение "
    "приняли вы, откройте «Карты близких»."
)
MSG_LINK_WITHDRAWN = "Владелец карты отозвал это приглашение. Ссылка больше не действует."
MSG_LINK_VOID = (
    "Ссылка больше не действует: с ней несколько раз пытались открыть доступ с неверным "
    "номером телефона или кодом. Попросите владельца карты отправить приглашение ещё раз."
)
MSG_WRONG_PHONE = (
    "Этот номер телефона не совпадает с номером, на который отправлено приглашение. "
    "Откройте ссылку с аккаунта Telegram, привязанного к приглашённому номеру."
)
MSG_FOREIGN_CONTACT = (
    "Можно поделиться только своим номером: нажмите кнопку «Поделиться номером» внизу "
    "экрана. Пересланный контакт не подходит."
)
MSG_CODE_FORMAT = "Код состоит из 6 цифр. Введите его ещё раз."
MSG_CODE_WRONG = "Неверный код. Осталось попыток: {left}."
MSG_CODE_SPENT = "Попытки ввода кода исчерпаны. Запросите новый код."
MSG_CODE_EXPIRED = "Срок действия кода истёк. Запросите новый код."
MSG_CODE_FIRST = "Сначала поделитесь номером телефона."
MSG_CODE_TOO_SOON = "Новый код можно запросить через {seconds} с."
MSG_OWN_CARD = "Это приглашение к вашей собственной карте: принять его нельзя."
MSG_NOT_REVOKED = "Доступ к этой карте действует: запрашивать его снова не нужно."
MSG_REQUEST_PENDING = "Запрос уже отправлен владельцу карты. Дождитесь ответа."


def msk_today(ctx: AppContext) -> date:
    return ctx.gateways.clock.now().astimezone(MSK).date()


def day_text(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def end_of_day(day: date) -> datetime:
    """The access «до 10.12.2027» ends when that day ends in Moscow."""
    return datetime.combine(day + timedelta(days=1), time(), MSK).astimezone(UTC)


def last_day(expires_at: datetime) -> date:
    """The day an access ends on, as the person typed it."""
    return (expires_at.astimezone(MSK) - timedelta(microseconds=1)).date()


def local_moment(moment: datetime) -> str:
    return moment.astimezone(MSK).strftime("%d.%m.%Y %H:%M")


def token_hash(ctx: AppContext, token: str) -> str:
    """What is stored of an invitation token: its HMAC under the secret key."""
    return hmac.new(ctx.secret_key, f"invitation:{token}".encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    """A random invitation token: 144 bits, 24 characters of the URL-safe alphabet."""
    return secrets.token_urlsafe(18)


def demo_token(ctx: AppContext, name: str) -> str:
    """A token derived from the secret key, for the demo's printed invitation."""
    digest = hmac.new(ctx.secret_key, f"demo-invitation:{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


# -- what the patient types ---------------------------------------------------------


def parse_name(text: str) -> str:
    return str(validate_full_name(text))


def parse_phone(text: str) -> str:
    return normalize_phone(text)


def parse_level(value: str) -> str:
    if value not in LEVEL_NAMES:
        raise ValidationError(MSG_BAD_LEVEL)
    return value


def parse_relationship(value: str) -> str:
    if value not in RELATIONSHIP_TEXT:
        raise ValidationError(MSG_BAD_RELATIONSHIP)
    return value


def parse_until(text: str, today: date) -> date:
    """The last day of access, typed ДД.ММ.ГГГГ: after today, within ``MAX_YEARS`` years."""
    day = parse_date(text)
    if day <= today:
        raise ValidationError(MSG_UNTIL_PAST)
    if day > add_years(today, MAX_YEARS):
        raise ValidationError(MSG_UNTIL_FAR)
    return day


@dataclass(frozen=True)
class InviteDraft:
    """The invitation as the patient filled it in (validated values)."""

    full_name: str
    phone: str
    relationship: str
    level: str
    until: date | None
    include_sensitive: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "full_name": self.full_name,
            "phone": self.phone,
            "relationship": self.relationship,
            "level": self.level,
            "until": self.until.isoformat() if self.until else None,
            "include_sensitive": self.include_sensitive,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> InviteDraft:
        """From dialog data: each value is checked again (ValidationError if it does not hold)."""
        until = data.get("until")
        return cls(
            full_name=parse_name(str(data.get("full_name", ""))),
            phone=parse_phone(str(data.get("phone", ""))),
            relationship=parse_relationship(str(data.get("relationship", ""))),
            level=parse_level(str(data.get("level", ""))),
            until=date.fromisoformat(until) if isinstance(until, str) else None,
            include_sensitive=data.get("include_sensitive") is True,
        )

    def action_ref(self) -> str:
        """What the one-time code confirms: this very invitation."""
        canonical = json.dumps(self.to_data(), sort_keys=True, ensure_ascii=False)
        return "invite:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def revoke_ref(grant_id: int) -> str:
    return f"revoke:{grant_id}"


# -- what the screens show ------------------------------------------------------------


@dataclass(frozen=True)
class GrantView:
    """One line of «Доступ для близких» and the grant's own screen."""

    id: int
    name: str
    short_name: str
    phone: str
    relationship: str
    level: str
    include_sensitive: bool
    state: str  # invited, link_expired, active, expired, revoked, withdrawn, void
    state_text: str
    since: str
    last_access: str | None
    expires_at: datetime | None
    request_pending: bool

    @property
    def level_text(self) -> str:
        return LEVEL_NAMES.get(self.level, self.level)

    @property
    def relationship_text(self) -> str:
        return RELATIONSHIP_TEXT.get(self.relationship, "близкий человек")

    @property
    def pending(self) -> bool:
        return self.state in ("invited", "link_expired", "void")

    @property
    def live(self) -> bool:
        return self.state == "active"

    @property
    def can_change(self) -> bool:
        return self.state in ("invited", "link_expired", "active", "expired")

    @property
    def can_revoke(self) -> bool:
        return self.state in ("active", "expired")


@dataclass(frozen=True)
class Invitation:
    grant_id: int
    link: str
    sms_sent: bool
    link_expires_at: datetime


@dataclass(frozen=True)
class InvitationView:
    """What the relative reads on opening the link."""

    ref: str
    patient: str
    relative: str
    level: str
    until: str
    include_sensitive: bool
    phone: str

    @property
    def level_text(self) -> str:
        return LEVEL_NAMES.get(self.level, self.level)


@dataclass(frozen=True)
class CardLine:
    """One card in «Карты близких»."""

    patient_account_id: int
    grant_id: int
    patient: str
    level: str
    live: bool
    state_text: str
    can_request: bool

    @property
    def level_text(self) -> str:
        return LEVEL_NAMES.get(self.level, self.level)


@dataclass(frozen=True)
class CardAccess:
    """A card open now: who works with it (the principal), what the level allows, its line."""

    principal: AccountPrincipal | RelativePrincipal
    patient_account_id: int
    patient: str
    level: str
    can_download: bool
    can_book: bool

    @property
    def level_text(self) -> str:
        return LEVEL_NAMES.get(self.level, self.level)

    @property
    def line(self) -> str:
        return f"Карта: {self.patient} · {self.level_text}"


def _state(grant: RelativeGrant, now: datetime) -> str:
    if grant.status == "pending":
        if grant.token_expires_at is not None and grant.token_expires_at <= now:
            return "link_expired"
        return "invited"
    if grant.status == "active":
        if grant.expires_at is not None and grant.expires_at <= now:
            return "expired"
        return "active"
    return grant.status


def _state_text(grant: RelativeGrant, state: str) -> str:
    if state == "invited":
        return "приглашение отправлено"
    if state == "link_expired":
        return "срок приглашения истёк"
    if state == "void":
        return "ссылка недействительна"
    if state == "withdrawn":
        return "приглашение отозвано"
    if state == "revoked":
        return "отозван"
    if state == "expired":
        return "истёк"
    if grant.expires_at is None:
        return "бессрочно"
    return f"действует до {day_text(last_day(grant.expires_at))}"


def _until_text(expires_at: datetime | None) -> str:
    return "бессрочно" if expires_at is None else f"до {day_text(last_day(expires_at))}"


def grant_view(grant: RelativeGrant, now: datetime) -> GrantView:
    state = _state(grant, now)
    since = (
        f"с {local_moment(grant.accepted_at)}"
        if grant.accepted_at is not None
        else f"приглашение от {local_moment(grant.created_at)}"
    )
    return GrantView(
        id=grant.id,
        name=grant.relative_name,
        short_name=short_name(grant.relative_name) if grant.relative_name else "Близкий человек",
        phone=mask_phone(grant.relative_phone),
        relationship=grant.relationship,
        level=grant.level,
        include_sensitive=grant.include_sensitive,
        state=state,
        state_text=_state_text(grant, state),
        since=since,
        last_access=local_moment(grant.last_access_at) if grant.last_access_at else None,
        expires_at=grant.expires_at,
        request_pending=grant.access_request == "pending",
    )


def account_short_name(account: Account | None) -> str:
    if account is None:
        return "владелец карты"
    return short_name(
        " ".join(p for p in (account.last_name, account.first_name, account.middle_name) if p)
    )


class SharingService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx
        self.grants = uow.sharing.grants

    @property
    def now(self) -> datetime:
        return self.ctx.gateways.clock.now()

    # -- helpers ---------------------------------------------------------------------

    async def _manage(self, user: AccountPrincipal, action: str, **details: Any) -> Decision:
        return await require(
            self.uow,
            self.ctx,
            user,
            user.subject_account_id,
            Permission.MANAGE_ACCESS,
            action=action,
            **details,
        )

    async def _own_grant(
        self, user: AccountPrincipal, grant_id: int, action: str
    ) -> tuple[Decision, RelativeGrant]:
        decision = await self._manage(user, action, grant_id=grant_id)
        grant = await self.grants.get_for_update(grant_id)
        if grant is None or grant.patient_account_id != decision.subject_account_id:
            raise NotFoundError(MSG_NOT_YOURS)
        return decision, grant

    async def _confirm(self, account_id: int, action_ref: str) -> None:
        """The action was confirmed by a code just now; the confirmation is spent on it.

        The latest code of ``SHARING_PURPOSE`` must have been accepted for this very
        action within the code's lifetime, and not have confirmed an action already:
        one code, one invitation or revocation. Raises MSG_NOT_CONFIRMED otherwise.
        """
        challenge = await self.uow.identity.otp.latest(account_id, SHARING_PURPOSE)
        if (
            challenge is None
            or challenge.action_ref != action_ref
            or challenge.consumed_at is None
            or challenge.voided_at is not None
            or self.now - challenge.consumed_at > timedelta(seconds=self.ctx.policy.otp_ttl_seconds)
        ):
            raise DomainError(MSG_NOT_CONFIRMED)
        # Spent: the same code does not confirm the action a second time.
        challenge.voided_at = self.now

    async def _patient_name(self, account_id: int) -> str:
        return account_short_name(await self.uow.identity.accounts.get(account_id))

    async def _to_relative(
        self, grant: RelativeGrant, text: str, *, kind: str, buttons: list[Button] | None = None
    ) -> None:
        """A push to the relative: their Telegram chat, or every chat of their account."""
        if grant.relative_telegram_user_id is not None:
            await notify.to_chat(
                self.uow,
                self.ctx,
                chat_id=grant.relative_telegram_user_id,
                text=text,
                kind=kind,
                account_id=grant.relative_account_id,
                buttons=buttons,
            )
        elif grant.relative_account_id is not None:
            await notify.to_account(
                self.uow,
                self.ctx,
                account_id=grant.relative_account_id,
                text=text,
                kind=kind,
                buttons=buttons,
            )

    async def _schedule_expiry(self, grant: RelativeGrant) -> None:
        """The push that tells the relative the access ended, due when it ends."""
        topic = f"grant:{grant.id}"
        await notify.withdraw(self.uow, topic)
        if grant.expires_at is None or grant.status != "active":
            return
        patient = await self._patient_name(grant.patient_account_id)
        text = (
            f"Срок вашего доступа к карте {patient} истёк. Если доступ нужен и дальше, "
            "запросите его снова."
        )
        buttons = [Button("Запросить доступ снова", ButtonAction.SHARING_REQUEST, str(grant.id))]
        if grant.relative_telegram_user_id is not None:
            await notify.to_chat(
                self.uow,
                self.ctx,
                chat_id=grant.relative_telegram_user_id,
                text=text,
                kind="sharing.expired",
                account_id=grant.relative_account_id,
                buttons=buttons,
                due_at=grant.expires_at,
                topic=topic,
            )
        elif grant.relative_account_id is not None:
            await notify.to_account(
                self.uow,
                self.ctx,
                account_id=grant.relative_account_id,
                text=text,
                kind="sharing.expired",
                buttons=buttons,
                due_at=grant.expires_at,
                topic=topic,
            )

    async def _send_link(self, grant: RelativeGrant, link: str) -> bool:
        patient = await self._patient_name(grant.patient_account_id)
        text = (
            f"{patient} приглашает вас получить доступ к электронной медицинской карте. "
            f"Откройте ссылку в Telegram: {link} Ссылка действует {INVITE_DAYS} дней."
        )
        try:
            await self.ctx.gateways.sms.send(grant.relative_phone, text)
        except DeliveryError:
            return False
        return True

    def _new_link(self, grant: RelativeGrant, link_of: Callable[[str], str]) -> str:
        token = new_token()
        grant.token_hash = token_hash(self.ctx, token)
        grant.token_expires_at = self.now + timedelta(days=INVITE_DAYS)
        grant.token_used_at = None
        grant.wrong_phone_tries = 0
        grant.code_failures = 0
        grant.claimant_telegram_user_id = None
        grant.code_hash = None
        grant.code_confirmed_at = None
        return link_of(INVITE_PREFIX + token)

    # -- the patient: the list ------------------------------------------------------------

    async def list_grants(self, user: AccountPrincipal) -> list[GrantView]:
        """«Доступ для близких»: every invitation and grant, newest first."""
        decision = await self._manage(user, "sharing.list")
        rows = await self.grants.for_patient(decision.subject_account_id)
        await journal(
            self.uow, self.ctx, user, decision.subject_account_id, decision, "sharing.list"
        )
        now = self.now
        return [grant_view(g, now) for g in reversed(rows)]

    async def grant(self, user: AccountPrincipal, grant_id: int) -> GrantView:
        _decision, grant = await self._own_grant(user, grant_id, "sharing.view")
        return grant_view(grant, self.now)

    # -- the patient: inviting ---------------------------------------------------------------

    async def prepare_invite(self, user: AccountPrincipal, draft: InviteDraft) -> str:
        """Check the invitation can be sent; the action_ref its one-time code confirms."""
        decision = await self._manage(user, "sharing.invite")
        await self._check_new(decision.subject_account_id, draft)
        return draft.action_ref()

    async def _check_new(self, patient_id: int, draft: InviteDraft) -> None:
        account = await self.uow.identity.accounts.get(patient_id)
        if account is not None and account.phone == draft.phone:
            raise ValidationError(MSG_OWN_PHONE)
        now = self.now
        for grant in await self.grants.for_relative(patient_id, phone=draft.phone):
            if _state(grant, now) in ("invited", "active"):
                raise DomainError(MSG_ALREADY)
        if draft.until is not None and draft.until <= msk_today(self.ctx):
            raise ValidationError(MSG_UNTIL_PAST)

    async def invite(
        self, user: AccountPrincipal, draft: InviteDraft, link_of: Callable[[str], str]
    ) -> Invitation:
        """Create the invitation after its code was confirmed; the link is texted too.

        `link_of` turns the start parameter into the bot's link (the dialog builds
        it with aiogram's deep-linking helpers); the token itself is never stored.
        """
        decision = await self._manage(user, "sharing.invite")
        patient_id = decision.subject_account_id
        await self._check_new(patient_id, draft)
        await self._confirm(user.account_id, draft.action_ref())
        grant = RelativeGrant(
            patient_account_id=patient_id,
            relative_phone=draft.phone,
            relative_name=draft.full_name,
            relationship=draft.relationship,
            level=draft.level,
            include_sensitive=draft.include_sensitive,
            status="pending",
            created_at=self.now,
            expires_at=end_of_day(draft.until) if draft.until else None,
            wrong_phone_tries=0,
            code_failures=0,
            code_attempts=0,
        )
        link = self._new_link(grant, link_of)
        await self.grants.add(grant)
        sent = await self._send_link(grant, link)
        await journal(
            self.uow,
            self.ctx,
            user,
            patient_id,
            decision,
            "sharing.invite",
            grant_id=grant.id,
            level=grant.level,
            sms_sent=sent,
        )
        assert grant.token_expires_at is not None
        return Invitation(grant.id, link, sent, grant.token_expires_at)

    async def resend(
        self, user: AccountPrincipal, grant_id: int, link_of: Callable[[str], str]
    ) -> Invitation:
        """«Отправить приглашение ещё раз»: a new link (the old one stops), texted again."""
        decision, grant = await self._own_grant(user, grant_id, "sharing.resend")
        if grant.status not in ("pending", "void"):
            raise DomainError(MSG_NOT_PENDING)
        grant.status = "pending"
        link = self._new_link(grant, link_of)
        sent = await self._send_link(grant, link)
        await journal(
            self.uow,
            self.ctx,
            user,
            grant.patient_account_id,
            decision,
            "sharing.resend",
            grant_id=grant.id,
            level=grant.level,
            sms_sent=sent,
        )
        assert grant.token_expires_at is not None
        return Invitation(grant.id, link, sent, grant.token_expires_at)

    async def withdraw(self, user: AccountPrincipal, grant_id: int) -> GrantView:
        """A pending invitation taken back: its link stops at once."""
        decision, grant = await self._own_grant(user, grant_id, "sharing.withdraw")
        if grant.status not in ("pending", "void"):
            raise DomainError(MSG_NOT_PENDING)
        grant.status = "withdrawn"
        grant.withdrawn_at = self.now
        grant.code_hash = None
        await journal(
            self.uow,
            self.ctx,
            user,
            grant.patient_account_id,
            decision,
            "sharing.withdraw",
            grant_id=grant.id,
            level=grant.level,
        )
        return grant_view(grant, self.now)

    # -- the patient: changing ----------------------------------------------------------------

    async def change_level(
        self, user: AccountPrincipal, grant_id: int, level: str, include_sensitive: bool
    ) -> GrantView:
        """«Изменить уровень» (and whether sensitive results are included)."""
        decision, grant = await self._own_grant(user, grant_id, "sharing.level")
        level = parse_level(level)
        state = _state(grant, self.now)
        if state not in ("invited", "link_expired", "active", "expired"):
            raise DomainError(MSG_NOT_ACTIVE)
        before = grant.level
        grant.level, grant.include_sensitive = level, include_sensitive
        await journal(
            self.uow,
            self.ctx,
            user,
            grant.patient_account_id,
            decision,
            "sharing.level",
            grant_id=grant.id,
            level=level,
            before=before,
            sensitive=include_sensitive,
        )
        if state == "active":
            patient = await self._patient_name(grant.patient_account_id)
            await self._to_relative(
                grant,
                f"{patient} изменил(а) ваш доступ к своей карте: теперь «{LEVEL_NAMES[level]}».",
                kind="sharing.level",
            )
        return grant_view(grant, self.now)

    async def extend(self, user: AccountPrincipal, grant_id: int, until: date | None) -> GrantView:
        """«Продлить»: a new last day, or бессрочно; an expired access works again."""
        decision, grant = await self._own_grant(user, grant_id, "sharing.extend")
        if until is not None and until <= msk_today(self.ctx):
            raise ValidationError(MSG_UNTIL_PAST)
        state = _state(grant, self.now)
        if state not in ("invited", "link_expired", "active", "expired"):
            raise DomainError(MSG_NOT_ACTIVE)
        grant.expires_at = end_of_day(until) if until else None
        if grant.access_request == "pending":
            grant.access_request = "allowed"
        await self._schedule_expiry(grant)
        await journal(
            self.uow,
            self.ctx,
            user,
            grant.patient_account_id,
            decision,
            "sharing.extend",
            grant_id=grant.id,
            level=grant.level,
            until=until.isoformat() if until else None,
        )
        if state in ("active", "expired"):
            patient = await self._patient_name(grant.patient_account_id)
            await self._to_relative(
                grant,
                f"{patient} продлил(а) ваш доступ к своей карте: {_until_text(grant.expires_at)}.",
                kind="sharing.extend",
            )
        return grant_view(grant, self.now)

    async def prepare_revoke(self, user: AccountPrincipal, grant_id: int) -> str:
        _decision, grant = await self._own_grant(user, grant_id, "sharing.revoke")
        if _state(grant, self.now) not in ("active", "expired"):
            raise DomainError(MSG_NOT_ACTIVE)
        return revoke_ref(grant.id)

    async def revoke(self, user: AccountPrincipal, grant_id: int) -> GrantView:
        """«Отозвать» after the code: the relative's next click is refused; they are told."""
        decision, grant = await self._own_grant(user, grant_id, "sharing.revoke")
        if _state(grant, self.now) not in ("active", "expired"):
            raise DomainError(MSG_NOT_ACTIVE)
        await self._confirm(user.account_id, revoke_ref(grant.id))
        grant.status = "revoked"
        grant.revoked_at = self.now
        if grant.access_request == "pending":
            grant.access_request = "declined"
        await notify.withdraw(self.uow, f"grant:{grant.id}")
        await journal(
            self.uow,
            self.ctx,
            user,
            grant.patient_account_id,
            decision,
            "sharing.revoke",
            grant_id=grant.id,
            level=grant.level,
        )
        patient = await self._patient_name(grant.patient_account_id)
        await self._to_relative(
            grant,
            f"Доступ к карте {patient} отозван владельцем.",
            kind="sharing.revoked",
            buttons=[Button("Запросить доступ снова", ButtonAction.SHARING_REQUEST, str(grant.id))],
        )
        return grant_view(grant, self.now)

    async def answer_request(self, user: AccountPrincipal, grant_id: int, allow: bool) -> str:
        """«Разрешить» / «Отклонить» under the push of «Запросить доступ снова»."""
        decision, grant = await self._own_grant(user, grant_id, "sharing.request.answer")
        if grant.access_request != "pending" or grant.status not in ("revoked", "active"):
            raise DomainError(MSG_NO_REQUEST)
        patient = await self._patient_name(grant.patient_account_id)
        relative = short_name(grant.relative_name) if grant.relative_name else "Близкий человек"
        if allow:
            grant.status, grant.revoked_at, grant.access_request = "active", None, "allowed"
            if grant.expires_at is not None and grant.expires_at <= self.now:
                grant.expires_at = end_of_day(msk_today(self.ctx) + timedelta(days=RESTORED_DAYS))
            await self._schedule_expiry(grant)
            answer = f"Доступ для {relative} снова открыт: {_until_text(grant.expires_at)}."
            told = (
                f"{patient} снова открыл(а) вам доступ к своей карте: «{LEVEL_NAMES[grant.level]}»,"
                f" {_until_text(grant.expires_at)}."
            )
        else:
            grant.access_request = "declined"
            answer = f"Запрос {relative} отклонён."
            told = f"{patient} отклонил(а) ваш запрос на доступ к карте."
        await journal(
            self.uow,
            self.ctx,
            user,
            grant.patient_account_id,
            decision,
            "sharing.request.allow" if allow else "sharing.request.decline",
            grant_id=grant.id,
            level=grant.level,
        )
        await self._to_relative(grant, told, kind="sharing.request.answer")
        return answer

    # -- the relative: the link ---------------------------------------------------------------

    async def _invitation(self, ref: str) -> RelativeGrant:
        """The pending invitation named by its token's hash, or the reason it can't be used."""
        grant = await self.grants.by_token_hash(ref)
        if grant is None:
            raise NotFoundError(MSG_LINK_UNKNOWN)
        if grant.status == "withdrawn":
            raise DomainError(MSG_LINK_WITHDRAWN)
        if grant.status == "void":
            raise DomainError(MSG_LINK_VOID)
        if grant.status != "pending" or grant.token_used_at is not None:
            raise DomainError(MSG_LINK_USED)
        if grant.token_expires_at is None or grant.token_expires_at <= self.now:
            expired = grant.token_expires_at or self.now
            raise DomainError(
                f"Срок действия приглашения истёк {local_moment(expired)}. Попросите владельца "
                "карты отправить приглашение ещё раз."
            )
        return grant

    async def _relative_audit(
        self,
        grant: RelativeGrant,
        telegram_user_id: int,
        action: str,
        outcome: str = "ok",
        **d: Any,
    ) -> None:
        await audit.record(
            self.uow,
            self.ctx,
            actor=f"relative:{telegram_user_id}",
            action=action,
            outcome=outcome,
            subject_account_id=grant.patient_account_id,
            grant_id=grant.id,
            level=grant.level,
            **d,
        )

    def ref_of(self, token: str) -> str:
        return token_hash(self.ctx, token.removeprefix(INVITE_PREFIX))

    async def open_invitation(self, token: str, telegram_user_id: int) -> InvitationView:
        """The relative opened the link: who invites, at which level, until when."""
        ref = self.ref_of(token)
        try:
            grant = await self._invitation(ref)
        except DomainError:
            known = await self.grants.by_token_hash(ref)
            if known is not None:
                await self._relative_audit(known, telegram_user_id, "sharing.link", "refused")
            raise
        await self._relative_audit(grant, telegram_user_id, "sharing.link")
        return InvitationView(
            ref=ref,
            patient=await self._patient_name(grant.patient_account_id),
            relative=grant.relative_name,
            level=grant.level,
            until=_until_text(grant.expires_at),
            include_sensitive=grant.include_sensitive,
            phone=mask_phone(grant.relative_phone),
        )

    async def link_state(self, ref: str) -> str | None:
        """Why the link can't be used any more, or None while it can."""
        try:
            await self._invitation(ref)
        except DomainError as exc:
            return exc.message
        return None

    async def share_contact(
        self, ref: str, telegram_user_id: int, phone: str, contact_user_id: int | None
    ) -> str:
        """The shared contact: the invited phone and the sender's own; then a code by SMS.

        Returns the masked phone the code went to. A forwarded contact is refused;
        another phone is counted (the patient is told), the third voids the link.
        """
        grant = await self._invitation(ref)
        if contact_user_id != telegram_user_id:
            await self._relative_audit(grant, telegram_user_id, "sharing.accept.phone", "foreign")
            raise DomainError(MSG_FOREIGN_CONTACT)
        try:
            shared = normalize_phone(phone if phone.startswith("+") else "+" + phone)
        except ValidationError:
            shared = ""
        if shared != grant.relative_phone:
            await self._wrong_phone(grant, telegram_user_id)
            if grant.status == "void":
                raise DomainError(MSG_LINK_VOID)
            raise DomainError(MSG_WRONG_PHONE)
        grant.claimant_telegram_user_id = telegram_user_id
        grant.code_confirmed_at = None
        await self._relative_audit(grant, telegram_user_id, "sharing.accept.phone")
        return await self._issue_code(grant, telegram_user_id)

    async def _wrong_phone(self, grant: RelativeGrant, telegram_user_id: int) -> None:
        grant.wrong_phone_tries += 1
        left = MAX_WRONG_PHONE - grant.wrong_phone_tries
        if left <= 0:
            grant.status = "void"
            grant.code_hash = None
        await self._relative_audit(
            grant,
            telegram_user_id,
            "sharing.accept.phone",
            "wrong_phone",
            tries=grant.wrong_phone_tries,
        )
        name = short_name(grant.relative_name) if grant.relative_name else "близкого человека"
        text = (
            f"Ваше приглашение для {name} открыли с другим номером телефона, и доступ не был "
            "открыт. "
        )
        text += (
            "Ссылка больше не действует. Если приглашение нужно, отправьте его ещё раз в разделе "
            "«Доступ для близких»."
            if left <= 0
            else "Если это были не вы и не ваш близкий, никому не пересылайте ссылку."
        )
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=grant.patient_account_id,
            text=text,
            kind="sharing.refused",
        )

    async def _void_for_codes(self, grant: RelativeGrant) -> None:
        """Too many wrong codes over the link: it is void, and the patient is told."""
        grant.status = "void"
        grant.code_hash = None
        name = short_name(grant.relative_name) if grant.relative_name else "близкого человека"
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=grant.patient_account_id,
            text=(
                f"По вашему приглашению для {name} много раз ввели неверный код "
                "подтверждения, и ссылка больше не действует. Если приглашение нужно, "
                "отправьте его ещё раз в разделе «Доступ для близких»."
            ),
            kind="sharing.refused",
        )

    def _code_digest(self, grant: RelativeGrant, telegram_user_id: int, code: str) -> str:
        message = f"relative:{grant.id}:{telegram_user_id}:{code}"
        return hmac.new(self.ctx.secret_key, message.encode(), hashlib.sha256).hexdigest()

    async def _issue_code(self, grant: RelativeGrant, telegram_user_id: int) -> str:
        now = self.now
        cooldown = timedelta(seconds=self.ctx.policy.otp_resend_seconds)
        if grant.code_hash is not None and grant.code_sent_at is not None:
            wait = grant.code_sent_at + cooldown - now
            if wait > timedelta(0):
                seconds = max(1, int(wait.total_seconds() + 0.999))
                raise DomainError(MSG_CODE_TOO_SOON.format(seconds=seconds))
        code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        grant.code_hash = self._code_digest(grant, telegram_user_id, code)
        grant.code_sent_at, grant.code_attempts = now, 0
        minutes = max(1, self.ctx.policy.otp_ttl_seconds // 60)
        text = (
            f"Код подтверждения: {code}. Он нужен, чтобы принять приглашение к медицинской "
            f"карте. Действует {minutes} мин. Никому его не сообщайте."
        )
        try:
            await self.ctx.gateways.sms.send(grant.relative_phone, text)
        except DeliveryError as exc:
            grant.code_hash = None
            raise DomainError(exc.message) from None
        await self._relative_audit(grant, telegram_user_id, "sharing.accept.code_sent")
        return mask_phone(grant.relative_phone)

    async def resend_code(self, ref: str, telegram_user_id: int) -> str:
        grant = await self._invitation(ref)
        if grant.claimant_telegram_user_id != telegram_user_id:
            raise DomainError(MSG_CODE_FIRST)
        return await self._issue_code(grant, telegram_user_id)

    async def confirm_code(self, ref: str, telegram_user_id: int, raw_code: str) -> None:
        grant = await self._invitation(ref)
        if grant.claimant_telegram_user_id != telegram_user_id or grant.code_hash is None:
            raise DomainError(MSG_CODE_FIRST)
        code = "".join(ch for ch in raw_code if not ch.isspace() and ch != "-")
        if len(code) != CODE_LENGTH or not code.isdigit():
            raise ValidationError(MSG_CODE_FORMAT)
        policy = self.ctx.policy
        if grant.code_sent_at is None or self.now >= grant.code_sent_at + timedelta(
            seconds=policy.otp_ttl_seconds
        ):
            raise DomainError(MSG_CODE_EXPIRED)
        if grant.code_attempts >= policy.otp_max_attempts:
            raise DomainError(MSG_CODE_SPENT)
        grant.code_attempts += 1
        if not hmac.compare_digest(
            grant.code_hash, self._code_digest(grant, telegram_user_id, code)
        ):
            grant.code_failures += 1
            await self._relative_audit(
                grant,
                telegram_user_id,
                "sharing.accept.code",
                "wrong_code",
                failures=grant.code_failures,
            )
            if grant.code_failures >= MAX_CODE_FAILURES:
                await self._void_for_codes(grant)
                raise DomainError(MSG_LINK_VOID)
            left = policy.otp_max_attempts - grant.code_attempts
            raise DomainError(MSG_CODE_SPENT if left <= 0 else MSG_CODE_WRONG.format(left=left))
        grant.code_hash = None
        grant.code_confirmed_at = self.now
        await self._relative_audit(grant, telegram_user_id, "sharing.accept.code")

    async def accept(self, ref: str, telegram_user_id: int, account_id: int | None) -> CardLine:
        """The consent given: the access is active, bound to this Telegram user (and account)."""
        grant = await self._invitation(ref)
        if (
            grant.claimant_telegram_user_id != telegram_user_id
            or grant.code_confirmed_at is None
            or self.now - grant.code_confirmed_at > CONFIRMED_FOR
        ):
            raise DomainError(MSG_NOT_CONFIRMED)
        if account_id is not None and account_id == grant.patient_account_id:
            raise DomainError(MSG_OWN_CARD)
        now = self.now
        grant.status, grant.accepted_at, grant.token_used_at = "active", now, now
        grant.relative_telegram_user_id = telegram_user_id
        grant.relative_account_id = account_id
        grant.consent_version, grant.consented_at = CONSENT_VERSION, now
        await self._relative_audit(
            grant, telegram_user_id, "sharing.accept", consent_version=CONSENT_VERSION
        )
        await self._schedule_expiry(grant)
        name = short_name(grant.relative_name) if grant.relative_name else "Близкий человек"
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=grant.patient_account_id,
            text=(
                f"{name} принял(а) ваше приглашение: доступ «{LEVEL_NAMES[grant.level]}» к вашей "
                f"медкарте, {_until_text(grant.expires_at)}. Изменить или отозвать доступ можно "
                "в разделе «Доступ для близких»."
            ),
            kind="sharing.accepted",
        )
        patient = await self._patient_name(grant.patient_account_id)
        return CardLine(
            grant.patient_account_id,
            grant.id,
            patient,
            grant.level,
            True,
            _state_text(grant, "active"),
            False,
        )

    # -- the relative: the cards ---------------------------------------------------------------

    async def _relative_grants(
        self, telegram_user_id: int, account_id: int | None
    ) -> Sequence[RelativeGrant]:
        return await self.grants.of_relative(
            telegram_user_id=telegram_user_id, account_id=account_id
        )

    def _principal(
        self, grant: RelativeGrant, telegram_user_id: int, user: AccountPrincipal | None
    ) -> AccountPrincipal | RelativePrincipal:
        """Who works with the card: the account acting for the patient, or the relative."""
        if user is not None and grant.relative_account_id == user.account_id:
            return AccountPrincipal(
                user.account_id, user.session_id, user.display_name, grant.patient_account_id
            )
        return RelativePrincipal(
            phone=grant.relative_phone,
            telegram_user_id=telegram_user_id,
            account_id=user.account_id if user else None,
            acting_for=grant.patient_account_id,
        )

    async def cards(self, telegram_user_id: int, user: AccountPrincipal | None) -> list[CardLine]:
        """«Карты близких»: the cards shared with this person, the live ones first."""
        lines: list[CardLine] = []
        seen: set[int] = set()
        account_id = user.account_id if user else None
        for grant in reversed(await self._relative_grants(telegram_user_id, account_id)):
            if grant.patient_account_id in seen:
                continue
            seen.add(grant.patient_account_id)
            principal = self._principal(grant, telegram_user_id, user)
            decision = await authorize(
                self.uow, self.ctx, principal, grant.patient_account_id, Permission.READ_RECORD
            )
            state = _state(grant, self.now)
            lines.append(
                CardLine(
                    grant.patient_account_id,
                    grant.id,
                    await self._patient_name(grant.patient_account_id),
                    grant.level,
                    decision.allowed,
                    _state_text(grant, state),
                    state in ("revoked", "expired") and grant.access_request != "pending",
                )
            )
        lines.sort(key=lambda c: not c.live)
        return lines

    async def card_access(
        self, telegram_user_id: int, user: AccountPrincipal | None, patient_account_id: int
    ) -> CardAccess:
        """The card asked for now, through the access rule; refused: «Доступ к карте … отозван»."""
        grants = [
            g
            for g in await self._relative_grants(
                telegram_user_id, user.account_id if user else None
            )
            if g.patient_account_id == patient_account_id
        ]
        patient = await self._patient_name(patient_account_id)
        if not grants:
            raise AccessDenied(f"Доступа к карте {patient} нет.")
        grant = grants[-1]
        principal = self._principal(grant, telegram_user_id, user)
        try:
            decision = await require(
                self.uow,
                self.ctx,
                principal,
                patient_account_id,
                Permission.READ_RECORD,
                action="sharing.card",
            )
        except AccessDenied:
            if _state(grant, self.now) == "expired":
                raise AccessDenied(
                    f"Срок доступа к карте {patient} истёк. Доступ к карте {patient} закрыт."
                ) from None
            raise AccessDenied(f"Доступ к карте {patient} отозван.") from None
        level = decision.level or grant.level
        can_download = (
            await authorize(self.uow, self.ctx, principal, patient_account_id, Permission.DOWNLOAD)
        ).allowed
        can_book = (
            await authorize(
                self.uow, self.ctx, principal, patient_account_id, Permission.MANAGE_VISITS
            )
        ).allowed
        return CardAccess(principal, patient_account_id, patient, level, can_download, can_book)

    async def open_card(
        self, telegram_user_id: int, user: AccountPrincipal | None, patient_account_id: int
    ) -> CardAccess:
        """A card opened from «Карты близких» (journaled as the relative's view of the card)."""
        access = await self.card_access(telegram_user_id, user, patient_account_id)
        decision = await authorize(
            self.uow, self.ctx, access.principal, patient_account_id, Permission.READ_RECORD
        )
        await journal(
            self.uow, self.ctx, access.principal, patient_account_id, decision, "sharing.card.open"
        )
        return access

    async def request_again(
        self, telegram_user_id: int, user: AccountPrincipal | None, grant_id: int
    ) -> str:
        """«Запросить доступ снова»: the patient gets the request with «Разрешить» / «Отклонить»."""
        grant = await self.grants.get_for_update(grant_id)
        account_id = user.account_id if user else None
        if grant is None or not (
            grant.relative_telegram_user_id == telegram_user_id
            or (account_id is not None and grant.relative_account_id == account_id)
        ):
            raise NotFoundError(MSG_NOT_YOURS)
        state = _state(grant, self.now)
        if state not in ("revoked", "expired"):
            raise DomainError(MSG_NOT_REVOKED)
        if grant.access_request == "pending":
            raise DomainError(MSG_REQUEST_PENDING)
        grant.access_request, grant.access_requested_at = "pending", self.now
        principal = self._principal(grant, telegram_user_id, user)
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(principal),
            action="sharing.request",
            actor_account_id=account_id,
            subject_account_id=grant.patient_account_id,
            grant_id=grant.id,
            level=grant.level,
        )
        name = short_name(grant.relative_name) if grant.relative_name else "Близкий человек"
        arg = str(grant.id)
        await notify.to_account(
            self.uow,
            self.ctx,
            account_id=grant.patient_account_id,
            text=(
                f"{name} просит снова открыть доступ к вашей медкарте "
                f"(«{LEVEL_NAMES[grant.level]}»)."
            ),
            kind="sharing.request",
            buttons=[
                Button("Разрешить", ButtonAction.SHARING_ALLOW, arg),
                Button("Отклонить", ButtonAction.SHARING_DECLINE, arg),
            ],
        )
        patient = await self._patient_name(grant.patient_account_id)
        return f"Запрос отправлен. {patient} получит его и сможет снова открыть вам доступ."
