"""Conversation state of the SQL FSM storage.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class FsmRecord(Base):
    """aiogram FSM state and data, one row per storage key."""

    __tablename__ = "fsm_records"

    # Collated "C" on PostgreSQL, so the primary key serves storage.fsm's prefix
    # range scans (migration 0006).
    key: Mapped[str] = mapped_column(
        String(255).with_variant(String(255, collation="C"), "postgresql"), primary_key=True
    )
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
