"""The laboratories' bearer tokens: a JWT each request, signed with the laboratory's own key.

A token carries ``iss`` (the issuer registered for the laboratory), ``aud``
(``API_AUDIENCE``), ``iat``, ``exp`` (at most ``API_TOKEN_MAX_AGE_SECONDS``
after ``iat``) and ``jti`` (unique per token: a token is spent by the request
that is accepted with it, and a second request with it is a replay). It is
signed with EdDSA (Ed25519) or ES256 (P-256), whichever the laboratory was
registered with; no other algorithm is accepted from it.

The issuer is read from the token unverified only to find whose key verifies
it. Time is the service's clock (``ctx.gateways.clock``), with a small leeway
for clocks that differ. Verifying a signature is CPU work: callers run
:func:`verify` in ``ctx.cpu``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_public_key

__all__ = [
    "ALGORITHMS",
    "LEEWAY_SECONDS",
    "TokenClaims",
    "TokenError",
    "algorithm_for",
    "unverified_issuer",
    "verify",
]

ALGORITHMS = ("EdDSA", "ES256")
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192
MAX_JTI = 128


class TokenError(Exception):
    """The token is refused: ``code`` for the JSON answer, ``status`` its HTTP status."""

    def __init__(self, code: str, detail: str, status: int = 401) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class TokenClaims:
    issuer: str
    jti: str
    issued_at: datetime
    expires_at: datetime


def algorithm_for(public_key_pem: str | bytes) -> str:
    """EdDSA for an Ed25519 key, ES256 for a P-256 key; ValueError for anything else."""
    raw = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
    try:
        key = load_pem_public_key(raw)
    except (ValueError, TypeError):
        raise ValueError("the file is not a PEM public key") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        raise ValueError(f"an EC key on {key.curve.name} is not accepted: use P-256 or Ed25519")
    kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey")
    raise ValueError(f"keys of type {kind} are not accepted: use Ed25519 or P-256")


def unverified_issuer(token: str) -> str:
    """The ``iss`` the token claims (not yet verified: only to find whose key to use)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token_malformed", "The bearer token is empty or too long.")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenError("token_malformed", "The bearer token is not a well-formed JWT.") from None
    if header.get("alg") not in ALGORITHMS:
        raise TokenError("token_malformed", "The token must be signed with EdDSA or ES256.")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer.strip():
        raise TokenError("token_malformed", "The token has no issuer (iss).")
    return issuer


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("token_malformed", f"The claim {name} must be a number (seconds).")
    return float(value)


def _moment(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError("token_malformed", "A time claim is out of range.") from None


def verify(
    token: str,
    *,
    public_key_pem: str,
    algorithm: str,
    audience: str,
    max_age_seconds: int,
    now: datetime,
    leeway_seconds: int = LEEWAY_SECONDS,
) -> TokenClaims:
    """Check the signature, the audience and the times; TokenError saying what is wrong."""
    if algorithm not in ALGORITHMS:
        raise TokenError("unknown_client", "The laboratory has no usable key registered.")
    try:
        key = load_pem_public_key(public_key_pem.encode())
        claims = jwt.decode(
            token,
            key,  # type: ignore[arg-type]
            algorithms=[algorithm],
            audience=audience,
            options={
                "require": ["iss", "aud", "iat", "exp", "jti"],
                # Times are judged below, against the service's own clock.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "The token's signature does not verify.") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError(
            "bad_signature", f"This laboratory's tokens must be signed with {algorithm}."
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("token_malformed", f"The token has no {exc.claim} claim.") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong_audience", f"The token's audience must be {audience!r}.") from None
    except jwt.DecodeError:
        raise TokenError("bad_signature", "The token's signature does not verify.") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenError("token_malformed", "The bearer token is not a valid JWT.") from None
    leeway = timedelta(seconds=leeway_seconds)
    issued_at = _moment(_number(claims, "iat"))
    expires_at = _moment(_number(claims, "exp"))
    if issued_at > now + leeway:
        raise TokenError("token_not_yet_valid", "The token is issued in the future (iat).")
    if "nbf" in claims and _moment(_number(claims, "nbf")) > now + leeway:
        raise TokenError("token_not_yet_valid", "The token is not valid yet (nbf).")
    if expires_at <= now - leeway:
        raise TokenError("token_expired", "The token has expired (exp).")
    if expires_at - issued_at > timedelta(seconds=max_age_seconds):
        raise TokenError(
            "token_lifetime_too_long",
            f"A token may live at most {max_age_seconds} seconds (exp - iat).",
        )
    if expires_at <= issued_at:
        raise TokenError("token_expired", "The token expires before it is issued.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti.strip() or len(jti) > MAX_JTI:
        raise TokenError("token_malformed", f"The claim jti must be a string of 1–{MAX_JTI}.")
    return TokenClaims(
        issuer=str(claims["iss"]), jti=jti, issued_at=issued_at, expires_at=expires_at
    )
