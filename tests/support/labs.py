"""The laboratories' API under test: a real database, the aiohttp app, a laboratory's key.

``lab_api`` starts the API (bot.api) on a test server over a fresh migrated
SQLite database with Анна's open record and her Telegram chat bound, a frozen
clock and an encrypted file store; ``LabApi.lab`` is a registered laboratory
whose key signs tokens (``token``), and ``bundle`` builds a report for Анна.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import func, select

from bot.api import ApiConfig, create_api_app
from services.core.context import AppContext
from services.core.gateways import (
    ConsoleMail,
    ConsoleSms,
    EncryptedDirectoryStore,
    FrozenClock,
    Gateways,
)
from services.core.hashing import PasswordHasher
from services.identity.admin import AdminService, NewAccount
from services.integration.admin import LabAdmin
from services.integration.demo_lab import build_bundle
from storage.models import (
    ApiTokenUse,
    AuditEntry,
    LabObservation,
    LabResult,
    MedicalRecord,
    OutboxMessage,
    TelegramBinding,
)
from storage.uow import UnitOfWorkFactory

ANNA_SNILS = "11223344595"
ANNA_POLICY = "7700451290831166"
ANNA_CHAT = 5001
AUDIENCE = "emk-bot"


@dataclass
class TestLab:
    """A laboratory with its private key, as registered."""

    id: int
    issuer: str
    private_key: Any
    algorithm: str

    def token(
        self,
        now: datetime,
        *,
        lifetime: int = 120,
        iat_shift: int = 0,
        jti: str | None = None,
        audience: str = AUDIENCE,
        key: Any = None,
        drop: tuple[str, ...] = (),
        issuer: str | None = None,
    ) -> str:
        issued = int(now.timestamp()) + iat_shift
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": jti or uuid.uuid4().hex,
        }
        for name in drop:
            claims.pop(name)
        return jwt.encode(claims, key or self.private_key, algorithm=self.algorithm)


def public_pem(private_key: Any) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class LabApi:
    client: TestClient[Any, Any]
    ctx: AppContext
    clock: FrozenClock
    work: UnitOfWorkFactory
    anna_account_id: int
    lab: TestLab
    files_dir: Path
    _labs: list[TestLab] = field(default_factory=list)

    def headers(self, token: str | None = None, **claims: Any) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or self.lab.token(self.clock.now(), **claims)}",
            "Content-Type": "application/fhir+json",
        }

    def bundle(self, test: str = "glucose", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("snils", ANNA_SNILS)
        kwargs.setdefault("now", self.clock.now())
        return build_bundle(test=test, **kwargs)

    async def post(
        self, body: Any, *, token: str | None = None, **claims: Any
    ) -> tuple[int, dict[str, Any]]:
        response = await self.client.post(
            "/api/v1/lab-results", json=body, headers=self.headers(token, **claims)
        )
        return response.status, await response.json()

    async def add_lab(self, algorithm: str = "EdDSA", name: str = "Лаборатория «Тест»") -> TestLab:
        key: Any = (
            ed25519.Ed25519PrivateKey.generate()
            if algorithm == "EdDSA"
            else ec.generate_private_key(ec.SECP256R1())
        )
        async with self.work() as uow:
            lab = await LabAdmin(uow, self.ctx, operator="test").add_lab(name, public_pem(key))
            await uow.commit()
        return TestLab(lab.id, lab.issuer, key, lab.algorithm)

    async def count(self, model: Any) -> int:
        async with self.work() as uow:
            return int(
                (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
            )

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.work() as uow:
            return list((await uow.session.execute(select(model).where(*where))).scalars())

    async def counts(self) -> dict[str, int]:
        return {
            "results": await self.count(LabResult),
            "observations": await self.count(LabObservation),
            "tokens": await self.count(ApiTokenUse),
            "pushes": await self.count(OutboxMessage),
            "audit": await self.count(AuditEntry),
        }

    def stored_files(self) -> list[Path]:
        return [p for p in self.files_dir.rglob("*") if p.is_file()]


async def _seed_anna(work: UnitOfWorkFactory, ctx: AppContext) -> int:
    async with work() as uow:
        account = await AdminService(uow, ctx, operator="test").create_account(
            NewAccount(
                phone="+79990000001",
                password="Demo-Passw0rd",
                last_name="Иванова",
                first_name="Анна",
                middle_name="Сергеевна",
                snils=ANNA_SNILS,
            )
        )
        now = ctx.gateways.clock.now()
        await uow.record.records.add(
            MedicalRecord(
                account_id=account.id,
                application_id=None,
                last_name="Иванова",
                first_name="Анна",
                middle_name="Сергеевна",
                birth_date=date(1990, 3, 5),
                sex="female",
                snils=ANNA_SNILS,
                policy_number=ANNA_POLICY,
                policy_end=None,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.identity.bindings.add(
            TelegramBinding(
                telegram_user_id=ANNA_CHAT,
                chat_id=ANNA_CHAT,
                account_id=account.id,
                created_at=now,
                bot_blocked_at=None,
            )
        )
        await uow.commit()
        return account.id


@asynccontextmanager
async def running_lab_api(work: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[LabApi]:
    clock = FrozenClock()
    files_dir = tmp_path / "files"
    ctx = AppContext(
        gateways=Gateways(
            clock=clock,
            sms=ConsoleSms(),
            mail=ConsoleMail(),
            files=EncryptedDirectoryStore(files_dir, b"f" * 32),
        ),
        hasher=PasswordHasher.for_tests(),
        secret_key=b"k" * 32,
    )
    anna = await _seed_anna(work, ctx)
    config = ApiConfig(
        work=work,
        ctx=ctx,
        audience=AUDIENCE,
        max_age_seconds=300,
        max_body_bytes=256 * 1024,
    )
    client: TestClient[Any, Any] = TestClient(TestServer(create_api_app(config)))
    await client.start_server()
    api = LabApi(client, ctx, clock, work, anna, None, files_dir)  # type: ignore[arg-type]
    api.lab = await api.add_lab()
    try:
        yield api
    finally:
        await client.close()
        ctx.cpu.close()


@pytest.fixture
async def lab_api(sqlite_uow_factory: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[LabApi]:
    """The API over SQLite."""
    async with running_lab_api(sqlite_uow_factory, tmp_path) as api:
        yield api


@pytest.fixture
async def any_lab_api(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[LabApi]:
    """The API over SQLite, and over PostgreSQL (where TEST_DATABASE_URL is set)."""
    async with running_lab_api(uow_factory, tmp_path) as api:
        yield api


def tiny_pdf_b64() -> str:
    from services.integration.demo_lab import DEMO_TESTS, report_pdf

    pdf = report_pdf(DEMO_TESTS["glucose"], issued=FrozenClock().now(), preliminary=False)
    return base64.b64encode(pdf).decode()


def later(now: datetime, **delta: float) -> datetime:
    return now + timedelta(**delta)
