"""Support staff's command: register a laboratory that sends results (audited)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from services.core import audit
from services.core.context import AppContext
from services.core.errors import DomainError, ValidationError
from services.integration.tokens import algorithm_for
from storage.models import ApiClient
from storage.uow import UnitOfWork

__all__ = ["LabAdmin", "RegisteredLab"]

_ISSUER = re.compile(r"[A-Za-z0-9._:/-]{3,100}")


@dataclass(frozen=True)
class RegisteredLab:
    id: int
    name: str
    issuer: str
    algorithm: str


def _slug(name: str) -> str:
    ascii_part = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"lab-{ascii_part[:40] + '-' if ascii_part else ''}{secrets.token_hex(4)}"


class LabAdmin:
    def __init__(self, uow: UnitOfWork, ctx: AppContext, operator: str) -> None:
        self.uow = uow
        self.ctx = ctx
        self.actor = f"admin:{operator}"

    async def add_lab(
        self, name: str, public_key_pem: str, issuer: str | None = None
    ) -> RegisteredLab:
        """Register the laboratory with its public key; the algorithm follows the key's type."""
        name = " ".join(name.split())
        if not 1 <= len(name) <= 200:
            raise ValidationError("the laboratory's name must be 1 to 200 characters")
        try:
            algorithm = algorithm_for(public_key_pem)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        issuer = issuer.strip() if issuer else _slug(name)
        if not _ISSUER.fullmatch(issuer):
            raise ValidationError(
                "the issuer must be 3 to 100 of latin letters, digits and . _ : / -"
            )
        if await self.uow.integration.clients.by_issuer(issuer) is not None:
            raise DomainError(f"a client with the issuer {issuer} is registered already")
        client = await self.uow.integration.clients.add(
            ApiClient(
                name=name,
                kind="laboratory",
                issuer=issuer,
                public_key_pem=public_key_pem.strip() + "\n",
                algorithm=algorithm,
                created_at=self.ctx.gateways.clock.now(),
                revoked_at=None,
            )
        )
        await audit.record(
            self.uow,
            self.ctx,
            actor=self.actor,
            action="api_client.create",
            client_id=client.id,
            algorithm=algorithm,
        )
        return RegisteredLab(client.id, client.name, issuer, algorithm)

    async def find_lab(self, name: str) -> RegisteredLab | None:
        client = await self.uow.integration.clients.by_name(name)
        if client is None or client.issuer is None or client.algorithm is None:
            return None
        return RegisteredLab(client.id, client.name, client.issuer, client.algorithm)
