"""Tests for services.identity.passwords: the policy and argon2id hashing."""

from __future__ import annotations

import argon2
import pytest

from services.core.errors import ValidationError
from services.core.hashing import PasswordHasher
from services.identity.passwords import (
    MAX_PASSWORD_LENGTH,
    check_password_policy,
    password_policy_problems,
)

# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Passw0rd",  # exactly 8
        "Пароль12",  # Cyrillic upper and lower
        "пароль1X",  # Cyrillic lower, Latin upper
        "ПАРОЛЬ1x",  # Cyrillic upper, Latin lower
        "Ёжик2024",  # Ё counts as upper case
        "correct Horse battery 9",
        " Spaces1 ",  # not stripped: spaces are part of the password
        "Aa1" + "x" * 125,  # exactly 128
        "Sup3r$ecret!",
        "Ωmega12abc",  # other alphabets count too
    ],
)
def test_policy_accepts(password: str) -> None:
    check_password_policy(password)
    assert password_policy_problems(password) == []


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("", ["не менее 8", "цифра", "заглавная", "строчная"]),
        ("Pass1", ["не менее 8"]),
        ("Pa1", ["не менее 8"]),
        ("Passw0r", ["не менее 8"]),  # 7 characters
        ("password1", ["заглавная"]),
        ("пароль123", ["заглавная"]),
        ("PASSWORD1", ["строчная"]),
        ("ПАРОЛЬ123", ["строчная"]),
        ("Password", ["цифра"]),
        ("Парольчик", ["цифра"]),
        ("12345678", ["заглавная", "строчная"]),
        ("abcdefgh", ["цифра", "заглавная"]),
        ("ABCDEFGH", ["цифра", "строчная"]),
        ("!@#$%^&*()", ["цифра", "заглавная", "строчная"]),
        ("        ", ["цифра", "заглавная", "строчная"]),
        ("Pass١٢٣word", ["цифра"]),  # Arabic-Indic digits are not counted
        ("a1", ["не менее 8", "заглавная"]),
    ],
)
def test_policy_lists_everything_missing(password: str, missing: list[str]) -> None:
    with pytest.raises(ValidationError) as exc:
        check_password_policy(password)
    message = exc.value.message
    assert message.startswith("В пароле не хватает:")
    for fragment in missing:
        assert fragment in message
    everything = ["не менее 8", "цифра", "заглавная", "строчная"]
    for fragment in set(everything) - set(missing):
        assert fragment not in message
    assert len(password_policy_problems(password)) == len(missing)


@pytest.mark.parametrize("length", [MAX_PASSWORD_LENGTH + 1, 1000])
def test_policy_refuses_too_long(length: int) -> None:
    password = ("Aa1" + "x" * length)[:length]
    with pytest.raises(ValidationError) as exc:
        check_password_policy(password)
    assert "не более 128" in exc.value.message


def test_policy_message_is_polite_and_short() -> None:
    with pytest.raises(ValidationError) as exc:
        check_password_policy("abc")
    assert len(exc.value.message) < 250
    assert exc.value.message.endswith(".")


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher.for_tests()


@pytest.mark.parametrize("password", ["Passw0rd", "Пароль12", " with spaces ", "", "x" * 128])
def test_hash_and_verify(hasher: PasswordHasher, password: str) -> None:
    hashed = hasher.hash(password)
    assert hashed.startswith("$argon2id$")
    assert password not in hashed or password == ""
    assert hasher.verify(hashed, password) is True


@pytest.mark.parametrize(
    ("password", "attempt"),
    [
        ("Passw0rd", "passw0rd"),
        ("Passw0rd", "Passw0rd "),
        ("Passw0rd", ""),
        ("Пароль12", "Пapоль12"),  # Latin "a" and "p"
        ("Пароль12", "пароль12"),
    ],
)
def test_verify_mismatch_returns_false(hasher: PasswordHasher, password: str, attempt: str) -> None:
    assert hasher.verify(hasher.hash(password), attempt) is False


@pytest.mark.parametrize(
    "bad_hash",
    ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$", "$2b$12$abcdefghijklmnopqrstuv"],
)
def test_verify_malformed_hash_returns_false(hasher: PasswordHasher, bad_hash: str) -> None:
    assert hasher.verify(bad_hash, "Passw0rd") is False


def test_same_password_gives_different_hashes(hasher: PasswordHasher) -> None:
    hashes = {hasher.hash("Passw0rd") for _ in range(5)}
    assert len(hashes) == 5
    assert all(hasher.verify(h, "Passw0rd") for h in hashes)


def test_default_parameters_are_rfc_9106_low_memory() -> None:
    default = PasswordHasher()
    hashed = default.hash("Passw0rd")
    params = argon2.extract_parameters(hashed)
    assert params == argon2.profiles.RFC_9106_LOW_MEMORY
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert default.verify(hashed, "Passw0rd")
    assert not default.needs_rehash(hashed)


def test_needs_rehash(hasher: PasswordHasher) -> None:
    cheap = hasher.hash("Passw0rd")
    assert hasher.needs_rehash(cheap) is False
    assert PasswordHasher().needs_rehash(cheap) is True
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.needs_rehash(cheap) is True
    assert stronger.needs_rehash(stronger.hash("Passw0rd")) is False


def test_needs_rehash_of_malformed_hash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("not a hash") is True


def test_hashes_verify_across_parameter_sets(hasher: PasswordHasher) -> None:
    # A hash carries its own parameters: a hasher with other ones still verifies it.
    cheap = hasher.hash("Passw0rd")
    assert PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).verify(cheap, "Passw0rd")


def test_argon2i_hash_is_not_argon2id(hasher: PasswordHasher) -> None:
    legacy = argon2.PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I
    ).hash("Passw0rd")
    assert legacy.startswith("$argon2i$")
    assert hasher.verify(legacy, "Passw0rd") is True
    assert hasher.needs_rehash(legacy) is True
