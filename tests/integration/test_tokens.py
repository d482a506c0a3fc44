"""The laboratories' tokens: which keys are accepted, and how a token's times are judged."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from services.integration.tokens import TokenError, algorithm_for, unverified_issuer, verify
from tests.support.labs import public_pem

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _token(key: object, algorithm: str = "EdDSA", **claims: object) -> str:
    issued = int(NOW.timestamp())
    body = {"iss": "lab-1", "aud": "emk-bot", "iat": issued, "exp": issued + 60, "jti": "a"}
    body.update(claims)
    return jwt.encode(body, key, algorithm=algorithm)  # type: ignore[arg-type]


def _verify(token: str, key: object, algorithm: str = "EdDSA", **kwargs: object) -> object:
    options: dict[str, object] = {"audience": "emk-bot", "max_age_seconds": 300, "now": NOW}
    options.update(kwargs)
    return verify(token, public_key_pem=public_pem(key), algorithm=algorithm, **options)  # type: ignore[arg-type]


def test_the_algorithm_follows_the_key_type() -> None:
    assert algorithm_for(public_pem(ed25519.Ed25519PrivateKey.generate())) == "EdDSA"
    assert algorithm_for(public_pem(ec.generate_private_key(ec.SECP256R1()))) == "ES256"


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (ec.generate_private_key(ec.SECP384R1()), "secp384r1"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA"),
    ],
)
def test_other_keys_are_refused_with_a_reason(key: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        algorithm_for(public_pem(key))


def test_a_private_key_or_junk_is_not_a_public_key() -> None:
    private = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for pem in (private.decode(), "hello"):
        with pytest.raises(ValueError, match="not a PEM public key"):
            algorithm_for(pem)


def test_a_good_token_gives_its_claims() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    claims = _verify(_token(key, jti="r-1"), key)
    assert claims.jti == "r-1"  # type: ignore[attr-defined]
    assert claims.expires_at == datetime.fromtimestamp(NOW.timestamp() + 60, UTC)  # type: ignore[attr-defined]


def test_the_issuer_is_read_before_verifying() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    assert unverified_issuer(_token(key, iss="lab-42")) == "lab-42"
    with pytest.raises(TokenError) as refused:
        unverified_issuer(_token(key, iss=""))
    assert refused.value.code == "token_malformed"


def test_an_es256_laboratory_cannot_send_an_eddsa_token() -> None:
    registered = ec.generate_private_key(ec.SECP256R1())
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(TokenError) as refused:
        verify(
            _token(other),
            public_key_pem=public_pem(registered),
            algorithm="ES256",
            audience="emk-bot",
            max_age_seconds=300,
            now=NOW,
        )
    assert refused.value.code == "bad_signature"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(NOW.timestamp()) - 60}, "token_expired"),
        ({"exp": int(NOW.timestamp()) + 301}, "token_lifetime_too_long"),
        (
            {"iat": int(NOW.timestamp()) + 120, "exp": int(NOW.timestamp()) + 180},
            "token_not_yet_valid",
        ),
        ({"iat": "yesterday"}, "token_malformed"),
        ({"jti": 7}, "token_malformed"),
        ({"jti": "x" * 129}, "token_malformed"),
        ({"aud": ["another"]}, "wrong_audience"),
    ],
)
def test_times_and_claims_are_judged(claims: dict[str, object], code: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(TokenError) as refused:
        _verify(_token(key, **claims), key)
    assert refused.value.code == code
    assert refused.value.status == 401


def test_a_clock_a_little_behind_is_tolerated() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    issued = int(NOW.timestamp()) + 10  # the laboratory's clock is 10 s ahead
    claims = _verify(_token(key, iat=issued, exp=issued + 60), key)
    assert claims.jti == "a"  # type: ignore[attr-defined]
