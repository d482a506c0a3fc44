"""`python -m bot verify-pdf FILE` as an operator runs it: a real process, exit codes, one line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.record.pdf import Entry, ExtractDocument, PersonData, Section, render_extract
from services.record.signing import Signer, ensure_demo_pki
from tests.e2e.test_cli import clean_env, run_cli
from tests.support.extracts import ORGANISATION


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR with the demo PKI (as the bot makes it at first start) and a signed extract."""
    root = tmp_path_factory.mktemp("verify")
    pki = ensure_demo_pki(root / "data" / "signing", ORGANISATION)
    signer = Signer.load(pki.key_file, pki.cert_file, pki.root_cert_file, ORGANISATION)
    document = ExtractDocument(
        title="Выписка из электронной медицинской карты",
        organisation=ORGANISATION,
        person=PersonData("Иванова Анна Сергеевна", date(1990, 3, 5), "11223344595", "7700451290"),
        issued_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        sections=(Section("Диагнозы", (Entry("K29.5 — Хронический гастрит"),)),),
    )
    signed = signer.sign(render_extract(document), reason="Выписка")
    (root / "extract.pdf").write_bytes(signed)
    return root


def test_an_intact_extract_passes(workdir: Path) -> None:
    result = run_cli("verify-pdf", str(workdir / "extract.pdf"), env=clean_env(workdir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "signature intact: yes" in out
    assert f"signed by: {ORGANISATION}" in out
    assert "signed at: " in out and "MSK" in out
    assert "chains to the root: yes" in out
    assert "OK" in out


def test_one_changed_byte_fails(workdir: Path) -> None:
    data = bytearray((workdir / "extract.pdf").read_bytes())
    position = data.index(b"stream\n") + 20
    data[position] ^= 0x01
    tampered = workdir / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    result = run_cli("verify-pdf", str(tampered), env=clean_env(workdir))
    assert result.returncode == 1
    assert "signature intact: NO" in result.stdout and "FAILED" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_another_root_is_not_trusted(workdir: Path, tmp_path: Path) -> None:
    other = ensure_demo_pki(tmp_path / "other", "Другая организация")
    result = run_cli(
        "verify-pdf",
        str(workdir / "extract.pdf"),
        "--root",
        str(other.root_cert_file),
        env=clean_env(workdir),
    )
    assert result.returncode == 1
    assert "signature intact: yes" in result.stdout
    assert "chains to the root: NO" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"plain text, not a PDF", "not a PDF file"), (None, "no signature")],
)
def test_no_signature_or_not_a_pdf_is_one_line(
    workdir: Path, tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "file.pdf"
    if content is None:  # the extract as it was before signing: a PDF with no signature
        from fpdf import FPDF

        pdf = FPDF()
        pdf.add_page()
        content = bytes(pdf.output())
    path.write_bytes(content)
    result = run_cli("verify-pdf", str(path), env=clean_env(workdir))
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip()
    assert len(output.splitlines()) == 1 and reason in output
    assert "Traceback" not in output


def test_a_missing_file_is_one_line(workdir: Path) -> None:
    result = run_cli("verify-pdf", str(workdir / "nowhere.pdf"), env=clean_env(workdir))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "nowhere.pdf" in result.stderr
    assert "Traceback" not in result.stderr
