"""Tests for services.core.files: every file is built here, in the test.

The kind of a file comes from its bytes alone; inspect_upload takes no name.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter

from services.core.errors import ValidationError
from services.core.files import (
    MAX_IMAGE_PIXELS,
    MAX_UPLOAD_BYTES,
    UploadInfo,
    UploadRejected,
    inspect_upload,
)

# ---------------------------------------------------------------------------
# File builders
# ---------------------------------------------------------------------------


def make_png(width: int = 120, height: int = 80, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), "navy" if mode == "RGB" else 0).save(buf, "PNG")
    return buf.getvalue()


def make_noisy_png(width: int = 200, height: int = 150) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def make_jpeg(width: int = 200, height: int = 150, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((width, height), 64).convert(mode).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_pdf_with_pypdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_pdf(pages: int = 1, *, total_size: int | None = None) -> bytes:
    """A minimal valid PDF written by hand, optionally padded to ``total_size`` bytes.

    The padding is a block of comment lines right after the header, so every
    offset in the cross-reference table stays exact.
    """

    def build(padding: int) -> bytes:
        header = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        pad = b""
        if padding > 0:
            lines, rest = divmod(padding, 80)
            pad = b"".join(b"%" + b"x" * 78 + b"\n" for _ in range(lines))
            if rest == 1:
                pad += b"\n"
            elif rest > 1:
                pad += b"%" + b"x" * (rest - 2) + b"\n"
        kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        ]
        objects += [
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>"
            for _ in range(pages)
        ]
        body = header + pad
        offsets = []
        for number, obj in enumerate(objects, start=1):
            offsets.append(len(body))
            body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
        xref_at = len(body)
        xref = f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        xref += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
        trailer = (
            f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
        ).encode()
        return body + xref + trailer

    unpadded = build(0)
    if total_size is None:
        return unpadded
    padding = total_size - len(unpadded)
    data = build(padding)
    # "startxref" is written without padding: it may grow by a few digits.
    padding -= len(data) - total_size
    assert padding >= 0
    data = build(padding)
    assert len(data) == total_size
    return data


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def make_png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions (a decompression bomb header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def rejected(data: bytes) -> UploadRejected:
    with pytest.raises(UploadRejected) as exc:
        inspect_upload(data)
    assert isinstance(exc.value, ValidationError)
    return exc.value


# ---------------------------------------------------------------------------
# Accepted files
# ---------------------------------------------------------------------------


def test_max_upload_bytes() -> None:
    assert MAX_UPLOAD_BYTES == 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(120, 80, "RGB"), (1, 1, "RGB"), (300, 10, "L"), (64, 64, "RGBA"), (50, 40, "P")],
)
def test_valid_png(width: int, height: int, mode: str) -> None:
    data = make_png(width, height, mode)
    info = inspect_upload(data)
    assert info == UploadInfo(
        kind="png",
        mime_type="image/png",
        extension="png",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        pages=None,
        width=width,
        height=height,
    )


@pytest.mark.parametrize(
    ("width", "height", "mode"), [(200, 150, "RGB"), (16, 16, "L"), (640, 480, "CMYK")]
)
def test_valid_jpeg(width: int, height: int, mode: str) -> None:
    data = make_jpeg(width, height, mode)
    info = inspect_upload(data)
    assert info.kind == "jpeg"
    assert info.mime_type == "image/jpeg"
    assert info.extension == "jpg"
    assert (info.width, info.height) == (width, height)
    assert info.pages is None
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("pages", [1, 2, 7])
def test_valid_pdf_from_pypdf(pages: int) -> None:
    data = make_pdf_with_pypdf(pages)
    info = inspect_upload(data)
    assert info.kind == "pdf"
    assert info.mime_type == "application/pdf"
    assert info.extension == "pdf"
    assert info.pages == pages
    assert info.width is None and info.height is None
    assert info.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("pages", [1, 3])
def test_valid_hand_written_pdf(pages: int) -> None:
    assert inspect_upload(make_pdf(pages)).pages == pages


def test_pdf_encrypted_with_owner_password_only_is_accepted() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    info = inspect_upload(buf.getvalue())
    assert info.kind == "pdf"
    assert info.pages == 1


# ---------------------------------------------------------------------------
# The kind comes from the bytes, never from a name
# ---------------------------------------------------------------------------


def test_png_saved_as_pdf_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "passport_scan.pdf"
    path.write_bytes(make_png())
    info = inspect_upload(path.read_bytes())
    assert info.kind == "png"
    assert info.extension == "png"
    assert info.mime_type == "image/png"


def test_jpeg_saved_as_png_is_a_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "policy.png"
    path.write_bytes(make_jpeg())
    assert inspect_upload(path.read_bytes()).kind == "jpeg"


def test_pdf_saved_as_jpg_is_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "snils.jpg"
    path.write_bytes(make_pdf())
    assert inspect_upload(path.read_bytes()).kind == "pdf"


# ---------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------


def test_exactly_5_mb_pdf_accepted() -> None:
    data = make_pdf(total_size=MAX_UPLOAD_BYTES)
    assert len(data) == MAX_UPLOAD_BYTES
    info = inspect_upload(data)
    assert info.kind == "pdf"
    assert info.size == MAX_UPLOAD_BYTES
    assert info.pages == 1


def test_5_mb_plus_one_byte_pdf_refused() -> None:
    data = make_pdf(total_size=MAX_UPLOAD_BYTES + 1)
    assert len(data) == MAX_UPLOAD_BYTES + 1
    error = rejected(data)
    assert error.reason == "too_large"
    assert "файл больше 5 МБ" in error.message


@pytest.mark.parametrize("size", [MAX_UPLOAD_BYTES + 1, 2 * MAX_UPLOAD_BYTES])
def test_too_large_is_judged_before_format(size: int) -> None:
    error = rejected(b"\x00" * size)
    assert error.reason == "too_large"
    assert "файл больше 5 МБ" in error.message


def test_too_large_png() -> None:
    png = make_png()
    error = rejected(png + b"\x00" * (MAX_UPLOAD_BYTES + 1 - len(png)))
    assert "файл больше 5 МБ" in error.message


# ---------------------------------------------------------------------------
# Unsupported formats
# ---------------------------------------------------------------------------


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(buf, "GIF")
    return buf.getvalue()


def _image_as(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b"<!DOCTYPE html><html><head><title>%PDF-1.4</title></head><body></body></html>",
            id="html-as-pdf",
        ),
        pytest.param(b"<html><body>Paspport</body></html>", id="html"),
        pytest.param(b"\xef\xbb\xbf%PDF-1.4\n", id="bom-before-pdf-header"),
        pytest.param(b" %PDF-1.4\n" + make_pdf()[9:], id="space-before-pdf-header"),
        pytest.param(_gif(), id="gif"),
        pytest.param(_image_as("BMP"), id="bmp"),
        pytest.param(_image_as("TIFF"), id="tiff"),
        pytest.param(_image_as("WEBP"), id="webp"),
        pytest.param("Паспорт серии 45 08 № 123456".encode(), id="text"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 100, id="zip"),
        pytest.param(b"MZ\x90\x00" + b"\x00" * 100, id="exe"),
        pytest.param(b"\x89PNG", id="png-signature-cut"),
        pytest.param(b"\xff\xd8", id="jpeg-signature-cut"),
        pytest.param(b"%PDF", id="pdf-signature-cut"),
        pytest.param(b"\x00", id="one-zero-byte"),
    ],
)
def test_unsupported_format(data: bytes) -> None:
    error = rejected(data)
    assert error.reason == "unsupported"
    assert "формат не поддерживается" in error.message


def test_empty_file() -> None:
    error = rejected(b"")
    assert error.reason == "empty"
    assert "файл пустой" in error.message


# ---------------------------------------------------------------------------
# Damaged files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 0.95])
def test_truncated_pdf(fraction: float) -> None:
    data = make_pdf_with_pypdf(2)
    error = rejected(data[: int(len(data) * fraction)])
    assert error.reason == "damaged"
    assert "файл повреждён" in error.message


def test_truncated_hand_written_pdf_without_eof() -> None:
    data = make_pdf()
    error = rejected(data[: data.index(b"xref")])
    assert "файл повреждён" in error.message


def test_pdf_header_only() -> None:
    assert rejected(b"%PDF-1.7\n").reason == "damaged"


def test_pdf_with_no_pages() -> None:
    error = rejected(make_pdf(pages=0))
    assert error.reason == "damaged"
    assert "файл повреждён" in error.message


def test_pdf_with_garbage_body() -> None:
    data = b"%PDF-1.4\n" + b"garbage " * 200 + b"\n%%EOF\n"
    assert rejected(data).reason == "damaged"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_png(fraction: float) -> None:
    data = make_noisy_png()
    error = rejected(data[: max(9, int(len(data) * fraction))])
    assert error.reason == "damaged"
    assert "файл повреждён" in error.message


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_jpeg(fraction: float) -> None:
    data = make_jpeg()
    error = rejected(data[: max(4, int(len(data) * fraction))])
    assert error.reason == "damaged"
    assert "файл повреждён" in error.message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"garbage!" * 100, id="png-signature-then-garbage"),
        pytest.param(b"\xff\xd8\xff" + b"garbage!" * 100, id="jpeg-signature-then-garbage"),
        pytest.param(
            make_png()[:33] + b"\x00\x00\x00\x10IDAT" + b"\xde\xad\xbe\xef" * 5,
            id="png-broken-idat",
        ),
    ],
)
def test_image_that_does_not_decode(data: bytes) -> None:
    error = rejected(data)
    assert error.reason == "damaged"
    assert "файл повреждён" in error.message


def test_png_with_bad_crc() -> None:
    data = bytearray(make_png())
    data[29] ^= 0xFF  # inside the IHDR CRC (bytes 29..32)
    assert rejected(bytes(data)).reason == "damaged"


def test_png_with_corrupt_pixel_data() -> None:
    data = bytearray(make_noisy_png())
    idat = data.index(b"IDAT")
    for i in range(idat + 20, idat + 60):
        data[i] ^= 0x5A
    assert rejected(bytes(data)).reason == "damaged"


# ---------------------------------------------------------------------------
# Password-protected PDF
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_with_user_password_refused(algorithm: str) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    error = rejected(buf.getvalue())
    assert error.reason == "encrypted"
    assert "защищён паролем" in error.message


# ---------------------------------------------------------------------------
# Decompression bombs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8_000, 7_000),  # 56 Mpx: above our limit, below Pillow's
        (10_000, 10_000),  # 100 Mpx: Pillow warns
        (30_000, 30_000),  # 900 Mpx: Pillow raises DecompressionBombError
        (65_535, 65_535),
    ],
)
def test_decompression_bomb_refused(width: int, height: int) -> None:
    assert width * height > MAX_IMAGE_PIXELS
    data = make_png_header_only(width, height)
    assert len(data) < 200
    error = rejected(data)
    assert error.reason == "too_many_pixels"
    assert "разрешение" in error.message


def test_pillow_lower_global_limit_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    # When Pillow's own limit is lower than ours, its warning is a refusal too.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    error = rejected(make_png(40, 30))  # 1 200 px
    assert error.reason == "too_many_pixels"
    assert inspect_upload(make_png(30, 30)).kind == "png"  # 900 px


def test_large_but_reasonable_image_accepted() -> None:
    data = make_png(4_000, 3_000, "L")  # 12 Mpx, compresses to almost nothing
    info = inspect_upload(data)
    assert (info.width, info.height) == (4_000, 3_000)


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "файл пустой"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "файл больше 5 МБ"),
        (b"GIF89a", "формат не поддерживается"),
        (b"\x89PNG\r\n\x1a\nxx", "файл повреждён"),
    ],
)
def test_messages_are_polite_and_name_the_reason(data: bytes, reason: str) -> None:
    message = rejected(data).message
    assert reason in message
    assert message.endswith(".")
    assert len(message) < 250
