"""The one access rule: who may do what with whose data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CurrentUser:
    account_id: int
    session_id: int
    display_name: str
