"""What a dialog is started with and what it returns: typed, and stored as plain JSON.

aiogram-dialog keeps a dialog's start data in its context, and the FSM storage
writes contexts as JSON (`storage.fsm`: SQL or Redis, both through ``json.dumps``),
so a dataclass would come back as a dict — or not at all. Each contract is a
small frozen dataclass with ``to_data()`` (a dict of JSON values, the same in
memory as after a round trip through the storage) and ``from_data()`` (back from
whatever is there). A result is handed to the parent in memory, but it is plain
data too, so that no parent ever depends on what object a child happened to pass.

``from_data`` never trusts its input: a stack stored by an older version, a
value of another shape or ``None`` gives the contract's "nothing" (a default,
``None``, or "not confirmed"), never an exception.

The readers below take one field of a JSON object and raise `Malformed` when it
is there but of another type; a missing field gives the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "JsonData",
    "Malformed",
    "bool_field",
    "fields_of",
    "int_field",
    "optional_int_field",
    "optional_str_field",
    "str_field",
]

# A contract's data as stored: a JSON object.
JsonData = dict[str, Any]


class Malformed(ValueError):
    """Start data or a result of another shape than its contract's."""


def fields_of(data: object) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise Malformed(f"expected an object, got {type(data).__name__}")
    return data


def int_field(data: Mapping[str, object], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    # JSON has no separate booleans-as-numbers: True is not an account id.
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{key}: expected an integer")
    return value


def optional_int_field(data: Mapping[str, object], key: str) -> int | None:
    if data.get(key) is None:
        return None
    return int_field(data, key)


def str_field(data: Mapping[str, object], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise Malformed(f"{key}: expected a string")
    return value


def optional_str_field(data: Mapping[str, object], key: str) -> str | None:
    if data.get(key) is None:
        return None
    return str_field(data, key)


def bool_field(data: Mapping[str, object], key: str, default: bool | None = None) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise Malformed(f"{key}: expected true or false")
    return value
