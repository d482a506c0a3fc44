"""Password policy (the hashing itself is services.core.hashing).

Passwords are never stripped or otherwise changed: leading and trailing spaces
are part of the password.
"""

from __future__ import annotations

from services.core.errors import ValidationError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
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
