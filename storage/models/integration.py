"""External systems that call in: laboratories and other API clients.

The schema itself comes only from Alembic migrations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ApiClient(Base):
    """A system allowed to call the API (a laboratory sending results); revoked ones can't."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # What it is: "laboratory" for now.
    kind: Mapped[str] = mapped_column(String(32))
    # The JWT ``iss`` the client signs its requests with (unique), its public key
    # (PEM, Ed25519 or P-256) and the one algorithm accepted from it (EdDSA, ES256).
    issuer: Mapped[str | None] = mapped_column(String(100), unique=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    algorithm: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiTokenUse(Base):
    """A token id (JWT ``jti``) a client has used, kept until the token expires: no replay."""

    __tablename__ = "api_token_uses"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_api_token_uses_jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime]
