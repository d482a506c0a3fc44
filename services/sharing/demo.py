"""Demo data of the relatives' area: Анна's grants (called from services.demo).

Анна has granted Петров «просмотр и скачивание» until a year ahead (accepted,
bound to his account: his Telegram user is not known when the demo is seeded),
and invited Иванов Дмитрий Андреевич (+79990000005, сын) with «полный доступ»;
that invitation's token is derived from the secret key, so the same
``/start inv_…`` (``invitation_command``) works after every seed: a seed renews
its 7 days once they have run out. Running it twice changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from services.core import audit
from services.core.context import AppContext
from services.core.validators import add_years
from services.sharing.grants import (
    CONSENT_VERSION,
    INVITE_DAYS,
    INVITE_PREFIX,
    demo_token,
    end_of_day,
    msk_today,
    token_hash,
)
from storage.models import RelativeGrant
from storage.uow import UnitOfWork

PETROV_NAME = "Петров Сергей Иванович"
PETROV_PHONE = "+79990000002"
IVANOV_NAME = "Иванов Дмитрий Андреевич"
IVANOV_PHONE = "+79990000005"


async def seed_sharing(
    uow: UnitOfWork, ctx: AppContext, *, anna_account_id: int, petrov_account_id: int
) -> str:
    """Seed Анна's two grants if missing; returns the command that opens the invitation."""
    token = demo_token(ctx, "ivanov")
    now = ctx.gateways.clock.now()
    grants = {g.relative_phone: g for g in await uow.sharing.grants.for_patient(anna_account_id)}
    if PETROV_PHONE not in grants:
        petrov = await uow.sharing.grants.add(
            RelativeGrant(
                patient_account_id=anna_account_id,
                relative_phone=PETROV_PHONE,
                relative_name=PETROV_NAME,
                relative_account_id=petrov_account_id,
                relationship="other",
                level="view_download",
                include_sensitive=False,
                status="active",
                created_at=now,
                accepted_at=now,
                expires_at=end_of_day(add_years(msk_today(ctx), 1)),
                consent_version=CONSENT_VERSION,
                consented_at=now,
                wrong_phone_tries=0,
                code_attempts=0,
            )
        )
        await audit.record(
            uow,
            ctx,
            actor="system:seed-demo",
            action="sharing.seed",
            subject_account_id=anna_account_id,
            grant_id=petrov.id,
        )
    ivanov = grants.get(IVANOV_PHONE)
    if ivanov is None:
        ivanov = await uow.sharing.grants.add(
            RelativeGrant(
                patient_account_id=anna_account_id,
                relative_phone=IVANOV_PHONE,
                relative_name=IVANOV_NAME,
                relationship="child",
                level="full",
                include_sensitive=False,
                status="pending",
                created_at=now,
                wrong_phone_tries=0,
                code_attempts=0,
            )
        )
        await audit.record(
            uow,
            ctx,
            actor="system:seed-demo",
            action="sharing.seed",
            subject_account_id=anna_account_id,
            grant_id=ivanov.id,
        )
    if ivanov.status == "pending":
        digest = token_hash(ctx, token)
        expired = ivanov.token_expires_at is None or ivanov.token_expires_at <= now
        if ivanov.token_hash != digest or expired:
            ivanov.token_hash = digest
            ivanov.token_expires_at = now + timedelta(days=INVITE_DAYS)
    return invitation_command(ctx)


def invitation_command(ctx: AppContext) -> str:
    """What to type in the console demo to open Иванов's invitation (``/start inv_…``)."""
    return f"/start {INVITE_PREFIX}{demo_token(ctx, 'ivanov')}"
