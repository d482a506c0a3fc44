"""Signing extracts with the medical organisation's certificate (PAdES), and checking them.

The organisation's key and certificate come from settings (PEM files). When
they are not set, the demo makes its own at first start (``ensure_demo_pki``):
a self-signed root «Демонстрационный корневой центр ЭМК» and a certificate of
the organisation issued by it, kept in ``DATA_DIR/signing`` (keys chmod 600)
and reused afterwards.

Such a signature proves integrity and origin within this installation: the
file has not changed since the organisation's key signed it, and that key's
certificate chains to the root this installation trusts. It has no legal
force; a real deployment signs with a qualified ГОСТ signature through
certified software, which plugs in as another ``PdfSigner``
(services.core.context).

Signing and checking are CPU work and never touch the network: callers run
them in ``ctx.cpu`` (or a thread), the validation context fetches nothing.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

__all__ = [
    "DEMO_ROOT_NAME",
    "DemoPki",
    "Signer",
    "SigningError",
    "Verification",
    "ensure_demo_pki",
    "signer_from_settings",
    "verify_pdf",
]

T = TypeVar("T")

DEMO_ROOT_NAME = "Демонстрационный корневой центр ЭМК"
SIGNATURE_FIELD = "Signature1"
ROOT_YEARS = 10
ORG_YEARS = 3


class SigningError(Exception):
    """The key or certificates can't be loaded, or a PDF can't be signed."""


# -- the demo PKI ----------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPki:
    """Where the demo's key and certificates are (PEM)."""

    key_file: Path
    cert_file: Path
    root_cert_file: Path


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    # RFC 5280 caps CN and O at 64 characters; cryptography counts the UTF-8 bytes
    # instead, which a Russian name of 33 letters already exceeds, so the
    # characters are counted here.
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "RU")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if organisation:
            parts.append(
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64], _validate=False)
            )
        parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64], _validate=False))
    return x509.Name(parts)


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only (0600 from the first byte)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_demo_pki(directory: Path, organisation: str, *, now: datetime | None = None) -> DemoPki:
    """The demo's root and organisation certificate in `directory`, made once (EC P-256).

    Files: ``root.pem`` (and its key ``root-key.pem``), ``organisation.pem`` and
    its key ``organisation-key.pem``. Existing files are reused as they are.
    """
    pki = DemoPki(
        key_file=directory / "organisation-key.pem",
        cert_file=directory / "organisation.pem",
        root_cert_file=directory / "root.pem",
    )
    if pki.key_file.exists() and pki.cert_file.exists() and pki.root_cert_file.exists():
        return pki
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    moment = (now or datetime.now(UTC)) - timedelta(days=1)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(DEMO_ROOT_NAME, "ЭМК (демонстрация)")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment)
        .not_valid_after(moment + timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )

    org_key = ec.generate_private_key(ec.SECP256R1())
    org = (
        x509.CertificateBuilder()
        .subject_name(_name(organisation, organisation))
        .issuer_name(root_name)
        .public_key(org_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment)
        .not_valid_after(moment + timedelta(days=365 * ORG_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(org_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )

    _write_private(directory / "root-key.pem", _pem_key(root_key))
    _write_private(pki.key_file, _pem_key(org_key))
    pki.root_cert_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(org.public_bytes(serialization.Encoding.PEM))
    return pki


# -- signing ---------------------------------------------------------------------------


class Signer:
    """Signs PDFs (PAdES baseline B, SHA-256) with one key and certificate.

    Implements services.core.context.PdfSigner; ``sign`` is CPU work.
    """

    def __init__(
        self, signer: signers.SimpleSigner, organisation: str, *, location: str | None = None
    ) -> None:
        self._signer = signer
        self._organisation = organisation
        self.location = location

    @classmethod
    def load(
        cls,
        key_file: Path,
        cert_file: Path,
        root_cert_file: Path | None,
        organisation: str,
        *,
        key_password: bytes | None = None,
    ) -> Signer:
        """A signer from PEM (or DER) files; SigningError naming what failed otherwise."""
        for label, path in (("key", key_file), ("certificate", cert_file)):
            if not path.is_file():
                raise SigningError(f"the signing {label} file {path} does not exist")
        chain = [root_cert_file] if root_cert_file is not None else []
        try:
            simple = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
                str(key_file),
                str(cert_file),
                ca_chain_files=[str(p) for p in chain] or None,
                key_passphrase=key_password,
            )
        except Exception as exc:  # pyHanko raises several kinds for bad material
            raise SigningError(f"could not load the signing key or certificate: {exc}") from None
        if simple is None:
            raise SigningError("could not load the signing key or certificate")
        return cls(simple, organisation)

    @property
    def organisation(self) -> str:
        return self._organisation

    def sign(self, pdf: bytes, *, reason: str) -> bytes:
        """`pdf` with a PAdES signature over the whole file (an incremental update)."""
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        meta = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=self.location,
            name=self._organisation,
        )
        pdf_signer = signers.PdfSigner(meta, signer=self._signer)
        output = _off_loop(pdf_signer.sign_pdf, writer)
        data: bytes = output.getvalue()
        return data


def signer_from_settings(
    *,
    key_file: Path | None,
    cert_file: Path | None,
    root_cert_file: Path | None,
    key_password: str | None,
    organisation: str,
    demo_directory: Path,
) -> tuple[Signer, Path]:
    """The configured signer (or the demo's, made once in `demo_directory`) and its root.

    The configured files are used when the key and the certificate are both
    set; a root file is then optional for signing, but ``verify-pdf`` needs one.
    """
    if key_file is not None and cert_file is not None:
        signer = Signer.load(
            key_file,
            cert_file,
            root_cert_file,
            organisation,
            key_password=key_password.encode() if key_password else None,
        )
        return signer, root_cert_file or cert_file
    if key_file is not None or cert_file is not None:
        raise SigningError("set both SIGNING_KEY_FILE and SIGNING_CERT_FILE, or neither")
    pki = ensure_demo_pki(demo_directory, organisation)
    return Signer.load(pki.key_file, pki.cert_file, pki.root_cert_file, organisation), (
        pki.root_cert_file
    )


# -- checking --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What a check of a signed PDF found.

    ``intact``: the signed digest matches and the signature covers the whole file.
    ``trusted``: the signer's certificate chains to the given root.
    ``problem``: why there is nothing to check (not a PDF, no signature), else None.
    """

    intact: bool
    trusted: bool
    signer: str | None = None
    signed_at: datetime | None = None
    problem: str | None = None
    details: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.intact and self.trusted


def _subject(cert: asn1_x509.Certificate) -> str:
    """The subject as a person reads it: «CN, O, C» (no duplicates)."""
    native = cert.subject.native
    parts: list[str] = []
    for key in ("common_name", "organization_name", "country_name"):
        value = native.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value and str(value) not in parts:
            parts.append(str(value))
    return ", ".join(parts) or cert.subject.human_friendly


def _load_root(root_pem: bytes) -> asn1_x509.Certificate:
    try:
        der = pem.unarmor(root_pem)[2] if pem.detect(root_pem) else root_pem
        cert = asn1_x509.Certificate.load(der)
        _ = cert.subject.native  # parse now: asn1crypto parses lazily
        return cert
    except Exception:
        raise SigningError(
            "the root certificate can't be read (a PEM or DER certificate)"
        ) from None


def _off_loop(func: Callable[..., T], *args: Any) -> T:
    """Run `func` here, or in a thread of its own if an event loop runs in this one.

    pyHanko's synchronous calls start an event loop of their own, which can't be
    done inside a running one.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args).result()


def verify_pdf(data: bytes, root_pem: bytes) -> Verification:
    """Check the (last) signature of `data` against the root `root_pem`; never fetches.

    Only the newest signature is judged; it must cover the whole file, so
    anything appended after signing fails too. From inside an event loop, prefer
    ``verify_pdf_async`` (this blocks the loop while it checks).
    """
    return _off_loop(_verify, data, root_pem)


def _verify(data: bytes, root_pem: bytes) -> Verification:
    root = _load_root(root_pem)
    if not data.startswith(b"%PDF-"):
        return Verification(False, False, problem="not a PDF file")
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:
        return Verification(False, False, problem=f"the PDF can't be read ({type(exc).__name__})")
    if not embedded:
        return Verification(False, False, problem="the PDF has no signature")
    signature = embedded[-1]
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    try:
        status: PdfSignatureStatus = validate_pdf_signature(signature, context)
    except Exception as exc:
        return Verification(
            False,
            False,
            details=f"the signature can't be checked ({type(exc).__name__})",
        )
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    intact = bool(status.intact and status.valid and whole_file)
    details = None
    if not status.intact:
        details = "the document's digest does not match the signed one"
    elif not status.valid:
        details = "the signature value is not valid"
    elif not whole_file:
        details = "the file was changed after it was signed"
    elif not status.trusted:
        details = "the signer's certificate does not chain to the root"
    return Verification(
        intact=intact,
        trusted=bool(status.trusted),
        signer=_subject(status.signing_cert),
        signed_at=status.signer_reported_dt,
        details=details,
    )


async def verify_pdf_async(data: bytes, root_pem: bytes) -> Verification:
    """``verify_pdf`` from inside an event loop (pyHanko runs its own loop)."""
    return await asyncio.to_thread(_verify, data, root_pem)
