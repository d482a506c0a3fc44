"""Secrets kept in the database, sealed with AES-256-GCM (from `cryptography`).

An authenticator (TOTP) secret is a credential: whoever reads it can make the
person's codes. It is stored sealed with a key derived (HKDF-SHA256) from the
application's SECRET_KEY, and bound to the account it belongs to, so a sealed
value copied to another account does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value is damaged, or was sealed with another key or for another record."""


def _key(secret_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"emk:{purpose}".encode()
    ).derive(secret_key)


def seal(secret_key: bytes, purpose: str, bound_to: str, value: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(secret_key, purpose)).encrypt(nonce, value.encode(), bound_to.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret_key: bytes, purpose: str, bound_to: str, sealed: str) -> str:
    if not sealed.startswith(PREFIX):
        raise SealError("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
        nonce, body = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        opened = AESGCM(_key(secret_key, purpose)).decrypt(nonce, body, bound_to.encode())
    except (InvalidTag, ValueError) as exc:
        raise SealError("the sealed value does not open") from exc
    return opened.decode()
