"""Schemathesis against the real API server: generated requests never get a 5xx,
and every answer is one the OpenAPI document describes.

The server runs in a thread of its own (its own event loop) on a free port over a
migrated SQLite database with Анна's record and a registered laboratory; each
generated request carries a fresh, valid token, so the bodies reach the FHIR
parser and the use case rather than stopping at authentication.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import schemathesis
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from bot.api import ApiConfig, create_api_app
from services.core.context import AppContext
from services.core.gateways import (
    ConsoleMail,
    ConsoleSms,
    EncryptedDirectoryStore,
    Gateways,
    SystemClock,
)
from services.core.hashing import PasswordHasher
from services.integration.admin import LabAdmin
from services.integration.demo_lab import build_bundle
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory
from tests.support.labs import ANNA_SNILS, _seed_anna, public_pem

EXAMPLES = 100


@dataclass
class Served:
    base_url: str
    issuer: str
    key: ed25519.Ed25519PrivateKey

    def token(self) -> str:
        now = int(datetime.now(UTC).timestamp())
        claims = {
            "iss": self.issuer,
            "aud": "emk-bot",
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path) -> Iterator[Served]:
    port = _free_port()
    key = ed25519.Ed25519PrivateKey.generate()
    ready: Future[str] = Future()
    stop: list[Callable[[], None]] = []

    async def serve() -> None:
        engine = create_engine(sqlite_url)
        work = UnitOfWorkFactory(create_session_factory(engine))
        ctx = AppContext(
            gateways=Gateways(
                clock=SystemClock(),
                sms=ConsoleSms(),
                mail=ConsoleMail(),
                files=EncryptedDirectoryStore(tmp_path / "files", b"f" * 32),
            ),
            hasher=PasswordHasher.for_tests(),
            secret_key=b"k" * 32,
        )
        runner: web.AppRunner | None = None
        try:
            await _seed_anna(work, ctx)
            async with work() as uow:
                lab = await LabAdmin(uow, ctx, operator="test").add_lab(
                    "Лаборатория", public_pem(key)
                )
                await uow.commit()
            config = ApiConfig(work=work, ctx=ctx, max_body_bytes=1024 * 1024)
            runner = web.AppRunner(create_api_app(config))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            stop.append(lambda: loop.call_soon_threadsafe(done.set))
            ready.set_result(lab.issuer)
            await done.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise
        finally:
            if runner is not None:
                await runner.cleanup()
            await engine.dispose()
            ctx.cpu.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    issuer = ready.result(timeout=30)
    try:
        yield Served(f"http://127.0.0.1:{port}", issuer, key)
    finally:
        stop[0]()
        thread.join(timeout=15)


CHECKS: list[Any] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_generated_requests_get_no_server_error_and_documented_answers(
    served: Served, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base_url}/api/v1/openapi.json")
    checks = (
        [*CHECKS, negative_data_rejection]
        if mode is schemathesis.GenerationMode.NEGATIVE
        else CHECKS
    )
    statuses: list[int] = []
    strategy = schema.as_strategy(generation_mode=mode)
    if mode is schemathesis.GenerationMode.POSITIVE:
        # A real report too, so that the accepted answer is checked against the document.
        bundle = build_bundle(snils=ANNA_SNILS, test="glucose", now=datetime.now(UTC))
        submit = schema["/api/v1/lab-results"]["POST"]
        strategy = st.one_of(
            strategy, submit.as_strategy(body=bundle, media_type="application/fhir+json")
        )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=strategy, signed=st.sampled_from([True, True, True, False]))
    def run(case: schemathesis.Case, signed: bool) -> None:
        if signed:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {served.token()}"}
        response = case.call_and_validate(base_url=served.base_url, checks=checks, timeout=10)
        statuses.append(response.status_code)

    run()
    assert statuses and all(status < 500 for status in statuses)
    # The bodies reached the parser, not only the door.
    assert any(status in (400, 415, 422) for status in statuses), statuses
    if mode is schemathesis.GenerationMode.POSITIVE:
        assert 200 in statuses, statuses
