"""The organisation's signer from settings, and `python -m bot verify-pdf FILE`.

SIGNING_KEY_FILE and SIGNING_CERT_FILE (PEM; SIGNING_KEY_PASSWORD if the key is
encrypted) name the organisation's key and certificate, SIGNING_ROOT_CERT_FILE
the root it chains to. Left empty, the demo's own root and organisation
certificate are made in DATA_DIR/signing at first start and reused
(services.record.signing.ensure_demo_pki).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.config import ConfigError, Settings

if TYPE_CHECKING:  # pyHanko takes a second to import: not for every command line parsed
    from services.record.signing import Signer, Verification

MSK = ZoneInfo("Europe/Moscow")
# A PDF bigger than this is not read (extracts are a few hundred kilobytes).
MAX_PDF_BYTES = 50 * 1024 * 1024


def _configured(path: Path | None) -> Path | None:
    """The path if one is set (an empty setting reads as ``.``, which means unset)."""
    if path is None or str(path) in ("", "."):
        return None
    return path


def demo_directory(settings: Settings) -> Path:
    return settings.data_dir / "signing"


def build_signer(settings: Settings) -> Signer:
    """The signer the settings name, or the demo's; ConfigError (one line) if it can't load."""
    from services.record.signing import SigningError, signer_from_settings

    password = settings.signing_key_password
    try:
        signer, _root = signer_from_settings(
            key_file=_configured(settings.signing_key_file),
            cert_file=_configured(settings.signing_cert_file),
            root_cert_file=_configured(settings.signing_root_cert_file),
            key_password=password.get_secret_value() if password else None,
            organisation=settings.signing_organisation,
            demo_directory=demo_directory(settings),
        )
    except (SigningError, OSError) as exc:
        raise ConfigError(f"signing (SIGNING_* settings): {exc}") from None
    return signer


def root_file(settings: Settings) -> Path:
    """The root certificate extracts are checked against by default."""
    configured = _configured(settings.signing_root_cert_file)
    if configured is not None:
        return configured
    if _configured(settings.signing_cert_file) is not None:
        raise ConfigError("set SIGNING_ROOT_CERT_FILE or pass --root to verify a signature")
    return demo_directory(settings) / "root.pem"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser(
        "verify-pdf",
        help="check a signed extract: intact, who signed, when, chains to the root",
    )
    verify.add_argument("file", type=Path, help="the PDF to check")
    verify.add_argument(
        "--root",
        type=Path,
        help="the root certificate, PEM (default: SIGNING_ROOT_CERT_FILE or the demo's root)",
    )


def _signed_at(moment: datetime | None) -> str:
    if moment is None:
        return "not stated"
    return moment.astimezone(MSK).strftime("%d.%m.%Y %H:%M:%S MSK")


def report(result: Verification) -> list[str]:
    """The lines `verify-pdf` prints."""
    if result.problem is not None:
        return [f"FAILED: {result.problem}"]
    lines = [
        f"signature intact: {'yes' if result.intact else 'NO'}",
        f"signed by: {result.signer or 'unknown'}",
        f"signed at: {_signed_at(result.signed_at)}",
        f"chains to the root: {'yes' if result.trusted else 'NO'}",
    ]
    if result.ok:
        lines.append("OK: the signature is valid")
    else:
        lines.append(f"FAILED: {result.details or 'the signature is not valid'}")
    return lines


def verify_file(path: Path, root_path: Path) -> tuple[int, list[str], list[str]]:
    """Check `path` against `root_path`: (exit code, stdout lines, stderr lines). Sync."""
    from services.record.signing import SigningError, verify_pdf

    try:
        root = root_path.read_bytes()
    except OSError as exc:
        return 1, [], [f"error: the root certificate {root_path}: {exc.strerror or exc}"]
    try:
        if path.stat().st_size > MAX_PDF_BYTES:
            return 1, [], [f"FAILED: {path} is larger than {MAX_PDF_BYTES // 2**20} MB"]
        data = path.read_bytes()
    except OSError as exc:
        return 1, [], [f"error: {path}: {exc.strerror or exc}"]
    try:
        result = verify_pdf(data, root)
    except SigningError as exc:
        return 1, [], [f"error: {exc}"]
    return (0 if result.ok else 1), report(result), []


async def verify_command(args: argparse.Namespace, settings: Settings) -> int:
    """`verify-pdf FILE [--root PEM]`: 0 only when the signature is intact and trusted."""
    # pyHanko logs a failed check with its traceback; the verdict printed says it in a line.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    root_path: Path = args.root or root_file(settings)
    # pyHanko runs an event loop of its own: the check runs in a thread.
    code, out, err = await asyncio.to_thread(verify_file, args.file, root_path)
    for line in out:
        print(line)
    for line in err:
        print(line, file=sys.stderr)
    return code
