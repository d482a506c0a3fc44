"""Signed extracts under test: one demo PKI per session, and Анна's record with a file store.

``demo_pki`` is made once per test session (keys take little, but every test
needs the same root to check against); ``signer`` signs with it. ``record_env``
is the services environment (``env``) with an encrypted file store, the signer
and the demo people seeded — Анна's record open with its sections and results.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pypdf
import pytest

from services.core.gateways import EncryptedDirectoryStore
from services.demo import seed_demo
from services.record.signing import DemoPki, Signer, ensure_demo_pki
from tests.support.services import Env

ORGANISATION = "ГБУЗ «Городская поликлиника № 1»"
ANNA_PHONE = "+79990000001"


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return ensure_demo_pki(tmp_path_factory.mktemp("signing"), ORGANISATION)


@pytest.fixture(scope="session")
def signer(demo_pki: DemoPki) -> Signer:
    return Signer.load(demo_pki.key_file, demo_pki.cert_file, demo_pki.root_cert_file, ORGANISATION)


@pytest.fixture
async def record_env(env: Env, tmp_path: Path, signer: Signer) -> Env:
    env.ctx.gateways.files = EncryptedDirectoryStore(tmp_path / "files", b"f" * 32)
    env.ctx.signer = signer
    async with env.uow() as uow:
        await seed_demo(uow, env.ctx)
        await uow.commit()
    return env


async def anna_id(env: Env) -> int:
    async with env.uow() as uow:
        account = await uow.identity.accounts.find_by_login("phone", ANNA_PHONE)
        assert account is not None
        return account.id


def pdf_text(data: bytes) -> str:
    """The text of every page, as a PDF reader extracts it."""
    reader = pypdf.PdfReader(BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)
