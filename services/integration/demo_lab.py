"""The demo laboratory: a key of its own, a plausible signed bundle, a small PDF.

``python -m bot demo-lab --snils … --test glucose`` uses it to send a report to
the running API, so that a newcomer can watch the push arrive. The key is an
Ed25519 key kept in ``DATA_DIR/demo-lab/`` and registered as «Демо-лаборатория»
the first time (issuer :data:`DEMO_ISSUER`).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from services.core.context import AppContext
from services.core.errors import DomainError
from services.integration.admin import LabAdmin, RegisteredLab
from services.integration.fhir import CONFIDENTIALITY, LOINC, SNILS_SYSTEM
from storage.uow import UnitOfWork

__all__ = [
    "DEMO_ISSUER",
    "DEMO_LAB_NAME",
    "DEMO_TESTS",
    "DemoKey",
    "build_bundle",
    "ensure_demo_lab",
    "load_or_create_key",
    "sign_token",
]

DEMO_LAB_NAME = "Демо-лаборатория"
DEMO_ISSUER = "demo-lab"
MSK = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class Analyte:
    code: str
    name: str
    value: float
    unit: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class DemoTest:
    code: str
    name: str
    analytes: tuple[Analyte, ...]


DEMO_TESTS: dict[str, DemoTest] = {
    "glucose": DemoTest(
        "14749-6",
        "Глюкоза",
        (Analyte("14749-6", "Глюкоза", 5.8, "ммоль/л", 3.9, 6.1),),
    ),
    "cholesterol": DemoTest(
        "14647-2",
        "Холестерин общий",
        (Analyte("14647-2", "Холестерин общий", 5.6, "ммоль/л", None, 5.2),),
    ),
    "cbc": DemoTest(
        "58410-2",
        "Общий анализ крови",
        (
            Analyte("718-7", "Гемоглобин", 136.0, "г/л", 120.0, 160.0),
            Analyte("6690-2", "Лейкоциты", 6.4, "10^9/л", 4.0, 9.0),
            Analyte("789-8", "Эритроциты", 4.6, "10^12/л", 3.8, 5.3),
            Analyte("777-3", "Тромбоциты", 248.0, "10^9/л", 150.0, 400.0),
        ),
    ),
}


@dataclass(frozen=True)
class DemoKey:
    private_key: ed25519.Ed25519PrivateKey
    public_key_pem: str


def load_or_create_key(directory: Path) -> DemoKey:
    """The demo laboratory's Ed25519 key in `directory`, made on first use."""
    path = directory / "private_key.pem"
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise DomainError(f"{path} is not an Ed25519 key")
        key = loaded
    else:
        directory.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (directory / "public_key.pem").write_bytes(public)
    return DemoKey(key, public.decode())


async def ensure_demo_lab(uow: UnitOfWork, ctx: AppContext, key: DemoKey) -> RegisteredLab:
    """The demo laboratory's registration, made (and audited) if it is missing."""
    client = await uow.integration.clients.by_issuer(DEMO_ISSUER)
    if client is not None:
        if (client.public_key_pem or "").strip() != key.public_key_pem.strip():
            raise DomainError(
                "the demo laboratory is registered with another key than the one in "
                "DATA_DIR/demo-lab: restore that key or use a fresh database"
            )
        assert client.algorithm is not None
        return RegisteredLab(client.id, client.name, DEMO_ISSUER, client.algorithm)
    admin = LabAdmin(uow, ctx, operator="demo-lab")
    return await admin.add_lab(DEMO_LAB_NAME, key.public_key_pem, issuer=DEMO_ISSUER)


def sign_token(
    private_key: Any,
    *,
    issuer: str,
    audience: str,
    now: datetime,
    lifetime_seconds: int = 120,
    algorithm: str = "EdDSA",
    jti: str | None = None,
) -> str:
    """A fresh bearer token for one request."""
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime_seconds,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, private_key, algorithm=algorithm)


def report_pdf(test: DemoTest, *, issued: datetime, preliminary: bool) -> bytes:
    """A one-page report in Russian (fpdf2 with matplotlib's DejaVu font)."""
    import matplotlib
    from fpdf import FPDF

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 10, DEMO_LAB_NAME, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    status = "предварительный" if preliminary else "окончательный"
    pdf.cell(0, 8, f"{test.name} — результат {status}", new_x="LMARGIN", new_y="NEXT")
    when = issued.astimezone(MSK).strftime("%d.%m.%Y %H:%M")
    pdf.cell(0, 8, f"Дата выдачи: {when} (МСК)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for analyte in test.analytes:
        reference = _range_text(analyte)
        line = f"{analyte.name}: {analyte.value:g} {analyte.unit} (норма {reference})"
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _range_text(analyte: Analyte) -> str:
    if analyte.low is not None and analyte.high is not None:
        return f"{analyte.low:g}–{analyte.high:g}"
    if analyte.high is not None:
        return f"до {analyte.high:g}"
    return f"от {analyte.low:g}"


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def _observation(analyte: Analyte, status: str, issued: str) -> dict[str, Any]:
    reference: dict[str, Any] = {"text": _range_text(analyte)}
    if analyte.low is not None:
        reference["low"] = _quantity(analyte.low, analyte.unit)
    if analyte.high is not None:
        reference["high"] = _quantity(analyte.high, analyte.unit)
    flag = "N"
    if analyte.high is not None and analyte.value > analyte.high:
        flag = "H"
    elif analyte.low is not None and analyte.value < analyte.low:
        flag = "L"
    return {
        "resourceType": "Observation",
        "id": secrets.token_hex(6),
        "status": status,
        "code": {
            "coding": [{"system": LOINC, "code": analyte.code, "display": analyte.name}],
            "text": analyte.name,
        },
        "issued": issued,
        "valueQuantity": _quantity(analyte.value, analyte.unit),
        "referenceRange": [reference],
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": flag,
                    }
                ]
            }
        ],
    }


def build_bundle(
    *,
    snils: str,
    test: str,
    now: datetime,
    preliminary: bool = False,
    report_identifier: str | None = None,
    with_pdf: bool = True,
    sensitive: bool = False,
) -> dict[str, Any]:
    """A FHIR R4 Bundle of the kind a laboratory sends for the demo test `test`."""
    spec = DEMO_TESTS[test]
    status = "preliminary" if preliminary else "final"
    issued = now.astimezone(MSK).isoformat(timespec="seconds")
    collected = (now - timedelta(hours=3)).astimezone(MSK).isoformat(timespec="seconds")
    identifier = report_identifier or f"DEMO-{test}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    observations = [_observation(a, status, issued) for a in spec.analytes]
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": secrets.token_hex(6),
        "identifier": [{"system": "urn:demo-lab:reports", "value": identifier}],
        "status": status,
        "code": {
            "coding": [{"system": LOINC, "code": spec.code, "display": spec.name}],
            "text": spec.name,
        },
        "subject": {"identifier": {"system": SNILS_SYSTEM, "value": snils}},
        "effectiveDateTime": collected,
        "issued": issued,
        "performer": [{"display": DEMO_LAB_NAME}],
        "resultsInterpreter": [{"display": "Петрова Мария Николаевна, врач-терапевт"}],
        "result": [{"reference": f"Observation/{o['id']}"} for o in observations],
        "conclusion": "Результат предварительный, уточняется." if preliminary else None,
    }
    if report["conclusion"] is None:
        del report["conclusion"]
    if sensitive:
        report["meta"] = {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}
    if with_pdf:
        pdf = report_pdf(spec, issued=now, preliminary=preliminary)
        report["presentedForm"] = [
            {
                "contentType": "application/pdf",
                "title": f"{spec.name}.pdf",
                "data": base64.b64encode(pdf).decode(),
            }
        ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": issued,
        "entry": [{"resource": report}, *({"resource": o} for o in observations)],
    }
