"""Password hashing: argon2id via argon2-cffi.

The hasher is plain CPU work; callers run it off the event loop through
``services.core.cpu.CpuPool``.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["PasswordHasher"]


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
