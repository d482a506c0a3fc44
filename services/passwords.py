"""Password policy and password hashing (argon2id via argon2-cffi).

Passwords are never stripped or otherwise changed: leading and trailing spaces
are part of the password.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from services.errors import ValidationError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordHasher",
    "check_password_policy",
    "password_policy_problems",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128

MSG_PASSWORD_TOO_LONG = (
    f"Пароль слишком длинный: не более {MAX_PASSWORD_LENGTH} символов. Придумайте покороче."
)


def password_policy_problems(password: str) -> list[str]:
    """What the password lacks, in Russian, in a fixed order; empty when it is fine.

    Letters of any alphabet count (Latin and Cyrillic alike), judged by their
    Unicode case; digits are the ASCII ones 0-9.
    """
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"не менее {MIN_PASSWORD_LENGTH} символов")
    if not any(ch in "0123456789" for ch in password):
        problems.append("хотя бы одна цифра")
    if not any(ch.isupper() for ch in password):
        problems.append("хотя бы одна заглавная буква")
    if not any(ch.islower() for ch in password):
        problems.append("хотя бы одна строчная буква")
    return problems


def check_password_policy(password: str) -> None:
    """Raise ``ValidationError`` unless the password meets the policy.

    The policy: 8 to 128 characters, at least one digit, one upper-case and one
    lower-case letter.  The message lists everything that is missing, e.g.
    «В пароле не хватает: хотя бы одна цифра, хотя бы одна заглавная буква. …».
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(MSG_PASSWORD_TOO_LONG)
    problems = password_policy_problems(password)
    if problems:
        raise ValidationError(
            "В пароле не хватает: "
            + ", ".join(problems)
            + ". Придумайте пароль, например: Лето2024сад."
        )


class PasswordHasher:
    """argon2id hashing with argon2-cffi.

    The default parameters are argon2-cffi's defaults, i.e. the RFC 9106
    low-memory profile (t=3, m=64 MiB, p=4).  :meth:`for_tests` gives the
    cheapest parameters, for fast test suites only.
    """

    def __init__(
        self,
        *,
        time_cost: int = argon2.DEFAULT_TIME_COST,
        memory_cost: int = argon2.DEFAULT_MEMORY_COST,
        parallelism: int = argon2.DEFAULT_PARALLELISM,
        hash_len: int = argon2.DEFAULT_HASH_LENGTH,
        salt_len: int = argon2.DEFAULT_RANDOM_SALT_LENGTH,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=argon2.Type.ID,
        )

    @classmethod
    def for_tests(cls) -> PasswordHasher:
        """Very cheap argon2id parameters (argon2-cffi's ``CHEAPEST`` profile)."""
        p = argon2.profiles.CHEAPEST
        return cls(
            time_cost=p.time_cost,
            memory_cost=p.memory_cost,
            parallelism=p.parallelism,
            hash_len=p.hash_len,
            salt_len=p.salt_len,
        )

    def hash(self, password: str) -> str:
        """A new ``$argon2id$…`` hash with a random salt."""
        return self._hasher.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        """``True`` if ``password`` matches ``hash``.

        Never raises on a mismatch; a malformed or foreign hash also gives ``False``.
        """
        try:
            return self._hasher.verify(hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hash: str) -> bool:
        """``True`` if ``hash`` was made with other parameters than this hasher's.

        Call it after a successful :meth:`verify` and store a fresh hash if so.
        A malformed hash also gives ``True``.
        """
        try:
            return self._hasher.check_needs_rehash(hash)
        except InvalidHashError:
            return True
