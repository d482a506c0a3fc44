"""Authenticator secrets are sealed in the database and open only for their account."""

from __future__ import annotations

import pytest

from services.core.errors import ValidationError
from services.core.sealing import SealError, seal, unseal
from services.identity.otp import check_totp_secret, open_totp_secret, seal_totp_secret
from tests.support.services import TOTP_SECRET, Env, make_account

KEY = b"k" * 32


def test_seal_round_trip_and_fresh_nonce() -> None:
    first = seal(KEY, "p", "account:1", "secret")
    second = seal(KEY, "p", "account:1", "secret")
    assert first != second and "secret" not in first
    assert unseal(KEY, "p", "account:1", first) == "secret"


@pytest.mark.parametrize(
    ("key", "purpose", "bound_to"),
    [(b"x" * 32, "p", "account:1"), (KEY, "other", "account:1"), (KEY, "p", "account:2")],
)
def test_wrong_key_purpose_or_record_does_not_open(key: bytes, purpose: str, bound_to: str) -> None:
    sealed = seal(KEY, "p", "account:1", "secret")
    with pytest.raises(SealError):
        unseal(key, purpose, bound_to, sealed)


def test_tampered_or_foreign_values_do_not_open() -> None:
    sealed = seal(KEY, "p", "account:1", "secret")
    body = sealed[3:]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in ("v1:" + flipped, "JBSWY3DPEHPK3PXP", "v1:!!!"):
        with pytest.raises(SealError):
            unseal(KEY, "p", "account:1", bad)


@pytest.mark.parametrize("secret", ["not base32!", "JBSWY3DPEHPK3PXP"])
def test_weak_or_malformed_authenticator_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValidationError):
        check_totp_secret(secret)


async def test_the_database_keeps_the_secret_sealed(env: Env) -> None:
    account = await make_account(env)
    async with env.uow() as uow:
        stored = await uow.identity.accounts.get(account.id)
        assert stored is not None and stored.totp_secret is not None
        assert TOTP_SECRET not in stored.totp_secret
        assert open_totp_secret(env.ctx, account.id, stored.totp_secret) == TOTP_SECRET
        with pytest.raises(SealError):
            open_totp_secret(env.ctx, account.id + 1, stored.totp_secret)
    assert seal_totp_secret(env.ctx, 1, TOTP_SECRET) != seal_totp_secret(env.ctx, 1, TOTP_SECRET)
