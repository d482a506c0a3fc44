"""One-time codes: 6 digits, single use, bound to the action they confirm.

A code lives `otp_ttl_seconds` (5 minutes), allows `otp_max_attempts` tries
(5), and a new code for the same account and purpose voids the previous one.
A new code may be asked for only after `otp_resend_seconds`. Codes are kept
as an HMAC, never in clear. Authenticator (TOTP) codes are accepted once: the
account remembers the last time step used.

Over all of that, every wrong code of an account — any channel, any purpose —
counts toward the account's second-factor limit (`services.identity.limits`):
past it no code is sent or checked for a while.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp

from services.core import audit
from services.core.context import AppContext
from services.core.errors import DomainError, ValidationError
from services.core.gateways import DeliveryError, mask_email, mask_phone
from services.core.sealing import seal, unseal
from services.identity.limits import Limits, Target, second_factor_locked_text
from storage.models import Account, OtpChallenge
from storage.uow import UnitOfWork


class Channel(StrEnum):
    """How a code reaches the person (``otp_challenges.channel``)."""

    SMS = "sms"
    EMAIL = "email"
    TOTP = "totp"  # an authenticator app: nothing is sent, nothing is stored


class Purpose(StrEnum):
    """What a code confirms (``otp_challenges.purpose``); a code is good for its own only."""

    SIGN_IN = "sign_in"
    RECOVERY = "recovery"
    CHANGE_PASSWORD = "change_password"
    # The enrolment area names it itself (`SUBMIT_PURPOSE`): areas do not import each other.
    APPLICATION_SUBMIT = "application_submit"
    # Inviting a relative and revoking their access (services.sharing: `SHARING_PURPOSE`).
    SHARING = "sharing"


CODE_RE_LEN = 6


class CodeError(DomainError):
    """The code was not accepted; `final` means this code can't be used any more."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class ResendTooSoon(DomainError):
    """A new code was asked for before the resend cooldown ended.

    The previous code is still valid: ``challenge_id`` and ``destination`` name
    it, so a window opened anew (the person cancelled and asked again) can keep
    asking for the code from the last message instead of refusing it.
    """

    def __init__(self, message: str, *, challenge_id: int, destination: str) -> None:
        super().__init__(message)
        self.challenge_id = challenge_id
        self.destination = destination


@dataclass(frozen=True)
class IssuedCode:
    challenge_id: int
    channel: Channel
    destination: str
    resend_at: datetime
    expires_at: datetime


TOTP_PURPOSE = "totp-secret"


def check_totp_secret(secret: str) -> None:
    """An authenticator secret must be base32 and at least 128 bits long."""
    try:
        raw = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    except ValueError:
        raise ValidationError("Секрет приложения для кодов должен быть в base32.") from None
    if len(raw) < 16:
        raise ValidationError("Секрет приложения для кодов короче 128 бит.")


def seal_totp_secret(ctx: AppContext, account_id: int, secret: str) -> str:
    return seal(ctx.secret_key, TOTP_PURPOSE, f"account:{account_id}", secret)


def open_totp_secret(ctx: AppContext, account_id: int, sealed: str) -> str:
    return unseal(ctx.secret_key, TOTP_PURPOSE, f"account:{account_id}", sealed)


class NotSent(DomainError):
    """An authenticator code is not sent: the person reads it in the app."""

    def __init__(self) -> None:
        super().__init__(
            "Код из приложения не отправляется. Откройте приложение для кодов и введите код."
        )


def normalize_code(raw: str) -> str:
    code = "".join(ch for ch in raw if not ch.isspace() and ch != "-")
    if len(code) != CODE_RE_LEN or not code.isdigit():
        raise ValidationError("Код состоит из 6 цифр. Введите его ещё раз.")
    return code


class OtpService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx
        self.limits = Limits(uow, ctx)

    async def _normalize(self, raw_code: str, account_id: int, channel: str, actor: str) -> str:
        """The code's digits; a code of another shape is refused and audited."""
        try:
            return normalize_code(raw_code)
        except ValidationError:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor,
                action="sign_in.code",
                outcome="malformed",
                subject_account_id=account_id,
                channel=channel,
            )
            raise

    async def _wrong(self, account_id: int, actor: str) -> None:
        """Count a wrong code; raise CodeError when it is the one that blocks the codes."""
        account = await self.uow.identity.accounts.get(account_id)
        if await self.limits.wrong_code(Target(account_id), account, actor=actor):
            lock = timedelta(minutes=self.ctx.policy.second_factor_lock_minutes)
            raise CodeError(second_factor_locked_text(lock), final=True)

    def _digest(self, challenge: OtpChallenge, code: str) -> str:
        message = f"{challenge.account_id}:{challenge.purpose}:{challenge.action_ref}:{code}"
        return hmac.new(self.ctx.secret_key, message.encode(), hashlib.sha256).hexdigest()

    async def issue(
        self,
        account: Account,
        purpose: Purpose,
        channel: Channel,
        *,
        action_ref: str = "",
        actor: str,
    ) -> IssuedCode:
        """Send a new code by SMS or e-mail; the previous code for this purpose is voided."""
        if channel == Channel.TOTP:
            raise NotSent()
        await self.limits.check_second_factor(Target(account.id), actor=actor, step="issue")
        now = self.ctx.gateways.clock.now()
        policy = self.ctx.policy
        previous = await self.uow.identity.otp.latest(account.id, purpose)
        if (
            previous is not None
            and previous.consumed_at is None
            and previous.voided_at is None
            and previous.action_ref == action_ref
            and previous.channel == channel
            and now < previous.created_at + timedelta(seconds=policy.otp_resend_seconds)
        ):
            wait = previous.created_at + timedelta(seconds=policy.otp_resend_seconds) - now
            seconds = max(1, int(wait.total_seconds() + 0.999))
            destination = (
                mask_phone(account.phone)
                if channel == Channel.SMS
                else mask_email(account.email or "")
            )
            usable = previous.attempts < policy.otp_max_attempts and now < previous.expires_at
            raise ResendTooSoon(
                f"Новый код можно запросить через {seconds} с. Пока введите код из последнего "
                "сообщения."
                if usable
                else f"Попытки ввода этого кода исчерпаны. Новый код можно запросить через "
                f"{seconds} с.",
                challenge_id=previous.id,
                destination=destination,
            )
        if channel == Channel.EMAIL and not account.email:
            raise DomainError(
                "К учётной записи не привязана электронная почта. Обратитесь в поддержку."
            )
        await self.uow.identity.otp.void_open(account.id, purpose, now)
        code = f"{secrets.randbelow(10**CODE_RE_LEN):0{CODE_RE_LEN}d}"
        challenge = OtpChallenge(
            account_id=account.id,
            purpose=purpose,
            action_ref=action_ref,
            channel=channel,
            code_hash="",
            created_at=now,
            expires_at=now + timedelta(seconds=policy.otp_ttl_seconds),
            attempts=0,
        )
        challenge.code_hash = self._digest(challenge, code)
        await self.uow.identity.otp.add(challenge)
        minutes = max(1, policy.otp_ttl_seconds // 60)
        text = f"Код подтверждения: {code}. Действует {minutes} мин. Никому его не сообщайте."
        try:
            if channel == Channel.SMS:
                await self.ctx.gateways.sms.send(account.phone, text)
                destination = mask_phone(account.phone)
            else:
                assert account.email is not None
                await self.ctx.gateways.mail.send(account.email, "Код подтверждения", text)
                destination = mask_email(account.email)
        except DeliveryError as exc:
            # Nobody received this code: void it, so it cannot be used and does not
            # start the resend cooldown; the person may ask again at once.
            challenge.voided_at = now
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor,
                action="otp.issue",
                outcome="not_sent",
                subject_account_id=account.id,
                purpose=purpose,
                channel=channel,
                challenge_id=challenge.id,
            )
            raise DomainError(exc.message) from None
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor,
            action="otp.issue",
            subject_account_id=account.id,
            purpose=purpose,
            channel=channel,
            challenge_id=challenge.id,
        )
        return IssuedCode(
            challenge_id=challenge.id,
            channel=channel,
            destination=destination,
            resend_at=now + timedelta(seconds=policy.otp_resend_seconds),
            expires_at=challenge.expires_at,
        )

    async def verify(
        self,
        challenge_id: int,
        *,
        account_id: int,
        purpose: Purpose,
        action_ref: str = "",
        raw_code: str,
        actor: str,
    ) -> None:
        """Accept the code or raise CodeError; every try is counted before comparing."""
        code = await self._normalize(raw_code, account_id, "challenge", actor)
        challenge = await self.uow.identity.otp.get(challenge_id)
        if (
            challenge is None
            or challenge.account_id != account_id
            or challenge.purpose != purpose
            or challenge.action_ref != action_ref
        ):
            raise CodeError("Код не подходит для этого действия. Запросите новый код.", final=True)
        await self.limits.check_second_factor(Target(account_id), actor=actor, step="verify")
        now = self.ctx.gateways.clock.now()
        outcome = "ok"
        try:
            if challenge.consumed_at is not None:
                outcome = "reused"
                raise CodeError("Этот код уже использован. Запросите новый код.", final=True)
            if challenge.voided_at is not None:
                outcome = "voided"
                raise CodeError(
                    "Этот код больше не действует: вы запросили новый. Введите код из последнего "
                    "сообщения.",
                    final=True,
                )
            if now >= challenge.expires_at:
                outcome = "expired"
                raise CodeError("Срок действия кода истёк. Запросите новый код.", final=True)
            if challenge.attempts >= self.ctx.policy.otp_max_attempts:
                outcome = "exhausted"
                raise CodeError("Попытки ввода кода исчерпаны. Запросите новый код.", final=True)
            challenge.attempts += 1
            if not hmac.compare_digest(challenge.code_hash, self._digest(challenge, code)):
                left = self.ctx.policy.otp_max_attempts - challenge.attempts
                outcome = "wrong"
                await self._wrong(account_id, actor)
                if await self._was_voided_code(challenge, code):
                    outcome = "voided"
                    raise CodeError(
                        "Этот код больше не действует: вы запросили новый. Введите код из "
                        f"последнего сообщения. Осталось попыток: {left}."
                    )
                if left <= 0:
                    raise CodeError(
                        "Неверный код. Попытки ввода исчерпаны. Запросите новый код.", final=True
                    )
                raise CodeError(f"Неверный код. Осталось попыток: {left}.")
            challenge.consumed_at = now
        finally:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor,
                action="otp.verify",
                outcome=outcome,
                subject_account_id=account_id,
                purpose=purpose,
                channel=challenge.channel,
                challenge_id=challenge.id,
            )

    async def _was_voided_code(self, current: OtpChallenge, code: str) -> bool:
        """Whether `code` is the one that `current` replaced (to say so, not just "wrong")."""
        previous = await self.uow.identity.otp.previous(current)
        return (
            previous is not None
            and previous.voided_at is not None
            and hmac.compare_digest(previous.code_hash, self._digest(previous, code))
        )

    async def verify_totp(self, account: Account, raw_code: str, *, actor: str) -> None:
        """Accept an authenticator code once (the current step or one step either side)."""
        code = await self._normalize(raw_code, account.id, Channel.TOTP, actor)
        if not account.totp_secret:
            raise CodeError("Для учётной записи не настроено приложение для кодов.", final=True)
        await self.limits.check_second_factor(Target(account.id), actor=actor, step="verify")
        totp = pyotp.TOTP(open_totp_secret(self.ctx, account.id, account.totp_secret))
        now = self.ctx.gateways.clock.now()
        step_now = totp.timecode(now)
        matched: int | None = None
        for step in (step_now - 1, step_now, step_now + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                matched = step
                break
        outcome = "ok"
        try:
            if matched is None:
                outcome = "wrong"
                await self._wrong(account.id, actor)
                raise CodeError("Неверный код из приложения. Проверьте время на телефоне.")
            if account.totp_last_step is not None and matched <= account.totp_last_step:
                outcome = "reused"
                raise CodeError(
                    "Этот код уже использован. Дождитесь, пока приложение покажет новый код."
                )
            account.totp_last_step = matched
        finally:
            await audit.record(
                self.uow,
                self.ctx,
                actor=actor,
                action="otp.verify",
                outcome=outcome,
                subject_account_id=account.id,
                channel=Channel.TOTP,
            )


async def verify_authenticator(
    uow: UnitOfWork, ctx: AppContext, account_id: int, raw_code: str, *, actor: str
) -> None:
    """A fresh code from the account's authenticator app, accepted once (CodeError if not).

    Published for the areas that confirm an action with the authenticator (a
    doctor's step-up to open a card): the same checks, limits and journal rows as
    at sign-in.
    """
    account = await uow.identity.accounts.get_for_update(account_id)
    if account is None:
        raise CodeError("Учётная запись не найдена.", final=True)
    await OtpService(uow, ctx).verify_totp(account, raw_code, actor=actor)
