"""The code sub-dialog's contract: `CodeRequest` to start it, `CodeResult` when it ends.

A parent starts it with ``manager.start(Otp.code, data=CodeRequest(...).to_data())``
and reads the end in its ``on_process_result`` with `code_confirmed`, which checks
both halves: the result says "confirmed", and the request it answers is the one
this parent makes (the purpose, the account, what is confirmed). Anything else —
a cancel, ``None``, a result or a start of another shape, the end of another
sub-dialog — is "not confirmed".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dialogs.core.contract import (
    JsonData,
    Malformed,
    bool_field,
    fields_of,
    int_field,
    str_field,
)
from services.identity.otp import Channel, Purpose

__all__ = ["CodeRequest", "CodeResult", "code_confirmed"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeRequest:
    """Start data: whose code, for what, by which channel.

    `action_ref` names what the code confirms (e.g. the application being sent);
    `can_use_email` offers «Нет доступа к телефону» (a code to the account's e-mail).
    """

    account_id: int
    purpose: Purpose
    channel: Channel
    action_ref: str = ""
    can_use_email: bool = False

    def to_data(self) -> JsonData:
        return {
            "account_id": self.account_id,
            "purpose": self.purpose.value,
            "channel": self.channel.value,
            "action_ref": self.action_ref,
            "can_use_email": self.can_use_email,
        }

    @classmethod
    def from_data(cls, data: object) -> CodeRequest | None:
        """The request, or None for anything of another shape."""
        try:
            fields = fields_of(data)
            return cls(
                account_id=int_field(fields, "account_id"),
                purpose=Purpose(str_field(fields, "purpose")),
                channel=Channel(str_field(fields, "channel")),
                action_ref=str_field(fields, "action_ref", ""),
                can_use_email=bool_field(fields, "can_use_email", False),
            )
        except (Malformed, ValueError):
            return None


@dataclass(frozen=True)
class CodeResult:
    """The end of the sub-dialog: whether the code was accepted."""

    confirmed: bool

    def to_data(self) -> JsonData:
        return {"confirmed": self.confirmed}

    @classmethod
    def from_data(cls, data: object) -> CodeResult:
        """Only ``{"confirmed": true}`` is confirmed; anything else is not."""
        if data is None:  # a cancel, or a sub-dialog that returns nothing
            return cls(confirmed=False)
        try:
            return cls(confirmed=bool_field(fields_of(data), "confirmed"))
        except Malformed:
            # Only the type is logged: the value could be anything.
            log.warning(
                "a sub-dialog result of another shape (%s): not confirmed", type(data).__name__
            )
            return cls(confirmed=False)


def code_confirmed(
    start_data: object,
    result: object,
    *,
    purpose: Purpose,
    account_id: int | None = None,
    action_ref: str | None = None,
) -> bool:
    """Whether the sub-dialog that just ended confirmed what the parent asks for.

    `start_data` is the ended dialog's start data (the first argument of
    ``on_process_result``); `account_id` and `action_ref`, when given, must be
    the request's.
    """
    if not CodeResult.from_data(result).confirmed:
        return False
    request = CodeRequest.from_data(start_data)
    if (
        request is None
        or request.purpose != purpose
        or (account_id is not None and request.account_id != account_id)
        or (action_ref is not None and request.action_ref != action_ref)
    ):
        log.warning("a confirmed code for another request was refused")
        return False
    return True


def _type(data: object) -> str:
    return type(data).__name__
