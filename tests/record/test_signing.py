"""Signing extracts (PAdES) and checking them: the demo PKI, intact and tampered files."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from fpdf import FPDF

from services.record.signing import (
    DEMO_ROOT_NAME,
    DemoPki,
    Signer,
    SigningError,
    ensure_demo_pki,
    signer_from_settings,
    verify_pdf,
)
from tests.support.extracts import ORGANISATION


def plain_pdf(text: str = "hello") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def signed(signer: Signer) -> bytes:
    return signer.sign(plain_pdf(), reason="Выписка из электронной медицинской карты")


def _cn(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


# A Russian name of 33+ letters is over 64 bytes of UTF-8, which cryptography warns of
# on reading (RFC 5280 counts characters).
@pytest.mark.filterwarnings("ignore:Attribute's length:UserWarning")
def test_demo_pki_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    pki = ensure_demo_pki(tmp_path / "signing", ORGANISATION)
    for path in (pki.key_file, tmp_path / "signing" / "root-key.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    root = x509.load_pem_x509_certificate(pki.root_cert_file.read_bytes())
    org = x509.load_pem_x509_certificate(pki.cert_file.read_bytes())
    assert _cn(root.subject) == DEMO_ROOT_NAME == _cn(root.issuer)
    assert _cn(org.subject) == ORGANISATION and org.issuer == root.subject
    usage = org.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = org.not_valid_after_utc - org.not_valid_before_utc
    assert timedelta(days=3 * 365 - 1) <= lifetime <= timedelta(days=3 * 366)

    before = [p.read_bytes() for p in (pki.key_file, pki.cert_file, pki.root_cert_file)]
    again = ensure_demo_pki(tmp_path / "signing", ORGANISATION)
    assert again == pki
    assert [p.read_bytes() for p in (pki.key_file, pki.cert_file, pki.root_cert_file)] == before


def test_a_signed_pdf_is_intact_and_chains_to_the_root(signed: bytes, demo_pki: DemoPki) -> None:
    result = verify_pdf(signed, demo_pki.root_cert_file.read_bytes())
    assert result.ok and result.intact and result.trusted, result
    assert result.signer is not None and ORGANISATION in result.signer
    assert result.signed_at is not None
    assert abs(datetime.now(UTC) - result.signed_at) < timedelta(minutes=5)


def test_a_changed_byte_in_the_signed_content_fails(signed: bytes, demo_pki: DemoPki) -> None:
    data = bytearray(signed)
    position = signed.index(b"stream\n") + 10  # inside the page's content stream
    data[position] ^= 0x01
    result = verify_pdf(bytes(data), demo_pki.root_cert_file.read_bytes())
    assert not result.ok and not result.intact
    assert result.details and "digest" in result.details


def test_a_changed_byte_of_the_signature_fails(signed: bytes, demo_pki: DemoPki) -> None:
    data = bytearray(signed)
    position = signed.index(b"/Contents <") + len(b"/Contents <") + 40
    data[position] = ord("0") if data[position] != ord("0") else ord("1")
    result = verify_pdf(bytes(data), demo_pki.root_cert_file.read_bytes())
    assert not result.ok and not result.intact


def test_bytes_added_after_signing_fail(signed: bytes, demo_pki: DemoPki) -> None:
    result = verify_pdf(signed + b"\n% appended\n", demo_pki.root_cert_file.read_bytes())
    assert not result.ok


def test_another_root_is_not_trusted(signed: bytes, tmp_path: Path) -> None:
    other = ensure_demo_pki(tmp_path / "other", "Другая организация")
    result = verify_pdf(signed, other.root_cert_file.read_bytes())
    assert result.intact and not result.trusted and not result.ok


def test_unsigned_or_not_a_pdf_is_a_problem(demo_pki: DemoPki) -> None:
    root = demo_pki.root_cert_file.read_bytes()
    assert verify_pdf(plain_pdf(), root).problem == "the PDF has no signature"
    assert verify_pdf(b"GIF89a...", root).problem == "not a PDF file"
    with pytest.raises(SigningError):
        verify_pdf(plain_pdf(), b"not a certificate")


def test_signer_from_settings_uses_configured_files_or_makes_the_demo(
    demo_pki: DemoPki, tmp_path: Path
) -> None:
    configured, root = signer_from_settings(
        key_file=demo_pki.key_file,
        cert_file=demo_pki.cert_file,
        root_cert_file=demo_pki.root_cert_file,
        key_password=None,
        organisation=ORGANISATION,
        demo_directory=tmp_path / "unused",
    )
    assert root == demo_pki.root_cert_file and not (tmp_path / "unused").exists()
    signed = configured.sign(plain_pdf(), reason="test")
    assert verify_pdf(signed, root.read_bytes()).ok

    demo, demo_root = signer_from_settings(
        key_file=None,
        cert_file=None,
        root_cert_file=None,
        key_password=None,
        organisation=ORGANISATION,
        demo_directory=tmp_path / "signing",
    )
    assert demo_root == tmp_path / "signing" / "root.pem" and demo_root.exists()
    assert demo.organisation == ORGANISATION

    with pytest.raises(SigningError, match="both"):
        signer_from_settings(
            key_file=demo_pki.key_file,
            cert_file=None,
            root_cert_file=None,
            key_password=None,
            organisation=ORGANISATION,
            demo_directory=tmp_path / "x",
        )
    with pytest.raises(SigningError, match="does not exist"):
        Signer.load(tmp_path / "missing.pem", demo_pki.cert_file, None, ORGANISATION)
