"""Checking the documents people upload: JPG, PNG or PDF up to 5 MB.

The verdict comes from the bytes alone.  A file name, its extension and the
MIME type a client declares are not inputs at all: the format is found from
the file's signature and then confirmed by actually decoding the file — Pillow
decodes every pixel of an image, pypdf opens a PDF and walks its pages.

Refusals raise :class:`UploadRejected` (a :class:`ValidationError`) whose
message contains one of the reasons «файл пустой», «файл больше 5 МБ»,
«формат не поддерживается», «файл повреждён», «файл защищён паролем» or
«слишком большое разрешение», and whose ``reason`` attribute names it for code.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image
from pypdf import PasswordType, PdfReader

from services.core.errors import ValidationError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_UPLOAD_BYTES",
    "RejectReason",
    "UploadInfo",
    "UploadKind",
    "UploadRejected",
    "inspect_upload",
]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# A document scan at 600 dpi on A4 is about 35 megapixels; anything above this
# limit is refused before decoding (a decompression bomb defence).  Pillow's own
# global limit applies too when it is lower.
MAX_IMAGE_PIXELS = 50_000_000

UploadKind = Literal["jpeg", "png", "pdf"]
RejectReason = Literal[
    "empty", "too_large", "unsupported", "damaged", "encrypted", "too_many_pixels"
]

_ADVICE = "Пришлите фото или скан в формате JPG, PNG или PDF размером до 5 МБ."
_MESSAGES: dict[RejectReason, str] = {
    "empty": f"Не получилось принять документ: файл пустой. {_ADVICE}",
    "too_large": f"Не получилось принять документ: файл больше 5 МБ. {_ADVICE}",
    "unsupported": f"Не получилось принять документ: формат не поддерживается. {_ADVICE}",
    "damaged": (
        "Не получилось принять документ: файл повреждён и не открывается. "
        "Сохраните его заново и пришлите ещё раз."
    ),
    "encrypted": (
        "Не получилось принять документ: файл защищён паролем. "
        "Снимите защиту или пришлите скан без пароля."
    ),
    "too_many_pixels": (
        "Не получилось принять документ: слишком большое разрешение изображения. "
        "Уменьшите его или пришлите файл PDF."
    ),
}


class UploadRejected(ValidationError):
    """The uploaded file is refused; ``reason`` says why, ``message`` says it in Russian."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: RejectReason = reason


@dataclass(frozen=True, slots=True)
class UploadInfo:
    """What :func:`inspect_upload` learnt from an accepted file."""

    kind: UploadKind
    mime_type: str
    extension: str  # without the dot: "jpg", "png", "pdf"
    size: int
    sha256: str  # hex digest of the bytes
    pages: int | None = None  # PDF only
    width: int | None = None  # images only
    height: int | None = None  # images only


_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PDF_MAGIC = b"%PDF-"

_MIME: dict[UploadKind, tuple[str, str]] = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "pdf": ("application/pdf", "pdf"),
}


def _sniff(data: bytes) -> UploadKind | None:
    """The format by the file's signature; ``None`` for anything else.

    A PDF must start with ``%PDF-`` (no leading junk is tolerated, so an HTML
    page that merely mentions ``%PDF-`` is not a PDF).
    """
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(_PDF_MAGIC):
        return "pdf"
    return None


def _pixel_limit() -> int:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is None:
        return MAX_IMAGE_PIXELS
    return min(MAX_IMAGE_PIXELS, int(pillow_limit))


def _inspect_image(data: bytes, kind: UploadKind) -> tuple[int, int]:
    """Decode the whole image; return its width and height."""
    pillow_format = "JPEG" if kind == "jpeg" else "PNG"
    try:
        with warnings.catch_warnings():
            # Pillow warns (rather than raises) for images between its limit and
            # twice that; such a warning is a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # First pass: structure and checksums without decoding pixels.
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as probe:
                probe.verify()
            # Second pass: the size check, then decode every pixel (verify()
            # alone does not notice truncated pixel data).
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise UploadRejected("damaged")
                if width * height > _pixel_limit():
                    raise UploadRejected("too_many_pixels")
                image.load()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected("too_many_pixels") from None
    except Exception:
        # Pillow reports broken data with many exception types (OSError,
        # SyntaxError, ValueError, EOFError, struct.error, zlib.error …).
        raise UploadRejected("damaged") from None
    return width, height


def _inspect_pdf(data: bytes) -> int:
    """Open the PDF and return its number of pages (at least one)."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are encrypted with an owner password only and open
            # with the empty user password; anything else is refused.
            try:
                opened = reader.decrypt("")
            except Exception:
                raise UploadRejected("encrypted") from None
            if opened == PasswordType.NOT_DECRYPTED:
                raise UploadRejected("encrypted")
        pages = len(reader.pages)
        for page in reader.pages:
            # Resolves each page object and its inherited attributes.
            _ = page.mediabox
    except UploadRejected:
        raise
    except Exception:
        # pypdf raises PdfReadError, PdfStreamError, ValueError, KeyError,
        # AttributeError, RecursionError … on broken files.
        raise UploadRejected("damaged") from None
    if pages < 1:
        raise UploadRejected("damaged")
    return pages


def inspect_upload(data: bytes) -> UploadInfo:
    """Check an uploaded document and describe it.

    Accepts JPEG, PNG and PDF of at most :data:`MAX_UPLOAD_BYTES` (5 MiB),
    judged only by ``data``.  Images are fully decoded (with a pixel limit);
    a PDF must open (or open with the empty password) and have pages.

    Raises :class:`UploadRejected` — empty, too large, unsupported format,
    damaged, password-protected, or too many pixels.
    """
    size = len(data)
    if size == 0:
        raise UploadRejected("empty")
    if size > MAX_UPLOAD_BYTES:
        raise UploadRejected("too_large")
    kind = _sniff(data)
    if kind is None:
        raise UploadRejected("unsupported")
    mime_type, extension = _MIME[kind]
    sha256 = hashlib.sha256(data).hexdigest()
    if kind == "pdf":
        pages = _inspect_pdf(data)
        return UploadInfo(kind, mime_type, extension, size, sha256, pages=pages)
    width, height = _inspect_image(data, kind)
    return UploadInfo(kind, mime_type, extension, size, sha256, width=width, height=height)
