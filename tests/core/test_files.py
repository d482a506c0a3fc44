"""Tests for services.core.files: every file is built here, in the test.

The kind of a file comes from its bytes alone; inspect_upload takes no name.
Each attack the checks answer has a test named for what the sender does.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from services.core.errors import ValidationError
from services.core.files import (
    MAX_IMAGE_PIXELS,
    MAX_PDF_OBJECTS,
    MAX_PDF_PAGES,
    MAX_UPLOAD_BYTES,
    MIN_IMAGE_SIDE,
    UploadInfo,
    UploadRejected,
    inspect_upload,
)

# ---------------------------------------------------------------------------
# File builders
# ---------------------------------------------------------------------------


def make_png(width: int = 800, height: int = 600, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), "navy" if mode == "RGB" else 0).save(buf, "PNG")
    return buf.getvalue()


def make_noisy_png(width: int = 800, height: int = 600) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def make_jpeg(width: int = 800, height: int = 600, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((width, height), 64).convert(mode).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def halves(width: int = 800, height: int = 600) -> Image.Image:
    """Black on the left, white on the right: shows which way a picture is turned."""
    image = Image.new("RGB", (width, height), "white")
    image.paste((0, 0, 0), (0, 0, width // 2, height))
    return image


def saved(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def a_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return buf.getvalue()


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (55.0, 45.0, 21.0), 3: "E", 4: (37.0, 37.0, 4.0)}  # GPS
    return exif.tobytes()


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
    unpadded = pdf_with(pages=pages)
    if total_size is None:
        return unpadded
    padding = total_size - len(unpadded)
    data = pdf_with(pages=pages, padding=padding)
    # "startxref" is written without padding: it may grow by a few digits.
    padding -= len(data) - total_size
    assert padding >= 0
    data = pdf_with(pages=pages, padding=padding)
    assert len(data) == total_size
    return data


def pdf_with(
    *,
    pages: int = 1,
    catalog: bytes = b"",
    page: bytes = b"",
    objects: tuple[bytes, ...] = (),
    unlisted: bytes = b"",
    padding: int = 0,
    comment: bytes = b"%\xe2\xe3\xcf\xd3\n",
) -> bytes:
    """A PDF written by hand: objects 1 (catalogue), 2 (pages), 3… (pages), then `objects`.

    `catalog` and `page` are added to the catalogue's and each page's dictionary;
    `objects` are numbered after the pages (with one page: 4, 5 …); `unlisted`
    is written in the body but left out of the cross-reference table; `comment`
    is the comment line after the header.
    """
    header = b"%PDF-1.4\n" + comment
    pad = b""
    if padding > 0:
        lines, rest = divmod(padding, 80)
        pad = b"".join(b"%" + b"x" * 78 + b"\n" for _ in range(lines))
        if rest == 1:
            pad += b"\n"
        elif rest > 1:
            pad += b"%" + b"x" * (rest - 2) + b"\n"
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    body_objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    body_objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> " + page + b" >>"
        for _ in range(pages)
    ]
    body_objects += list(objects)
    body = header + pad
    offsets = []
    for number, obj in enumerate(body_objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    body += unlisted
    xref_at = len(body)
    xref = f"xref\n0 {len(body_objects) + 1}\n0000000000 65535 f \n".encode()
    xref += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    trailer = (
        f"trailer\n<< /Size {len(body_objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return body + xref + trailer


def written(edit: Callable[[PdfWriter], object], pages: int = 1) -> bytes:
    """A PDF from pypdf's writer, changed by `edit` before it is written."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    edit(writer)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


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


def _pixels(data: bytes, mode: str) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert(mode).tobytes()


@pytest.mark.parametrize(
    ("width", "height", "mode", "stored_mode"),
    [
        (800, 600, "RGB", "RGB"),
        (600, 600, "L", "L"),
        (600, 3000, "L", "L"),
        (640, 640, "RGBA", "RGBA"),
        (700, 600, "P", "RGB"),  # a palette is stored as its colours
        (600, 800, "1", "1"),
        (600, 600, "I;16", "I;16"),
    ],
)
def test_valid_png(width: int, height: int, mode: str, stored_mode: str) -> None:
    data = make_png(width, height, mode)
    info = inspect_upload(data)
    assert info == UploadInfo(
        kind="png",
        mime_type="image/png",
        extension="png",
        size=len(info.data),
        sha256=hashlib.sha256(info.data).hexdigest(),
        data=info.data,
        original_sha256=hashlib.sha256(data).hexdigest(),
        pages=None,
        width=width,
        height=height,
    )
    with Image.open(io.BytesIO(info.data)) as stored:
        assert (stored.format, stored.mode, stored.size) == ("PNG", stored_mode, (width, height))
    assert _pixels(info.data, "RGBA") == _pixels(data, "RGBA")  # lossless


@pytest.mark.parametrize(
    ("width", "height", "mode", "stored_mode"),
    [(800, 600, "RGB", "RGB"), (600, 600, "L", "L"), (640, 800, "CMYK", "RGB")],
)
def test_valid_jpeg(width: int, height: int, mode: str, stored_mode: str) -> None:
    data = make_jpeg(width, height, mode)
    info = inspect_upload(data)
    assert info.kind == "jpeg"
    assert info.mime_type == "image/jpeg"
    assert info.extension == "jpg"
    assert (info.width, info.height) == (width, height)
    assert info.pages is None
    assert info.size == len(info.data)
    assert info.sha256 == hashlib.sha256(info.data).hexdigest()
    with Image.open(io.BytesIO(info.data)) as stored:
        assert (stored.format, stored.mode, stored.size) == ("JPEG", stored_mode, (width, height))


def test_a_jpeg_keeps_its_quality_and_about_its_size() -> None:
    # Re-encoded with the sender's own quantisation tables: no worse, no bigger.
    for quality in (60, 95):
        data = saved(Image.effect_noise((800, 600), 40).convert("RGB"), "JPEG", quality=quality)
        stored = inspect_upload(data).data
        assert 0.9 < len(stored) / len(data) < 1.1
        with Image.open(io.BytesIO(data)) as sent, Image.open(io.BytesIO(stored)) as kept:
            assert getattr(kept, "quantization", None) == getattr(sent, "quantization", 0)


def test_upload_info_never_shows_the_file_in_a_log() -> None:
    info = inspect_upload(make_png())
    assert "data" not in repr(info) and "IHDR" not in repr(info)


@pytest.mark.parametrize("pages", [1, 2, 7, MAX_PDF_PAGES])
def test_valid_pdf_from_pypdf(pages: int) -> None:
    data = make_pdf_with_pypdf(pages)
    info = inspect_upload(data)
    assert info.kind == "pdf"
    assert info.mime_type == "application/pdf"
    assert info.extension == "pdf"
    assert info.pages == pages
    assert info.width is None and info.height is None
    assert info.data == data  # a clean PDF is stored as sent
    assert info.size == len(data)
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
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 700_000)
    error = rejected(make_png(1_000, 720))  # 720 000 px
    assert error.reason == "too_many_pixels"
    assert inspect_upload(make_png(800, 800)).kind == "png"  # 640 000 px


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


# ---------------------------------------------------------------------------
# Too small to read
# ---------------------------------------------------------------------------

TOO_SMALL = (
    "Изображение слишком маленькое: по короткой стороне нужно не меньше 600 точек. "
    "Сфотографируйте документ крупнее."
)


@pytest.mark.parametrize(
    ("width", "height"), [(1, 1), (40, 30), (599, 800), (4000, 599), (599, 599)]
)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_sending_a_thumbnail_as_a_scan_is_refused(width: int, height: int, fmt: str) -> None:
    error = rejected(saved(Image.new("RGB", (width, height), "navy"), fmt))
    assert error.reason == "too_small"
    assert error.message == TOO_SMALL


def test_a_picture_exactly_600_on_the_short_side_is_taken() -> None:
    assert MIN_IMAGE_SIDE == 600
    info = inspect_upload(make_png(MIN_IMAGE_SIDE, 2000))
    assert (info.width, info.height) == (600, 2000)


def test_a_broken_small_picture_is_called_damaged_not_small() -> None:
    data = make_png(40, 30)
    assert rejected(data[: len(data) // 2]).reason == "damaged"


# ---------------------------------------------------------------------------
# Images are stored re-encoded: pixels only
# ---------------------------------------------------------------------------


def _chunks(png: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kinds.append(png[at + 4 : at + 8])
        at += 12 + length
    return kinds


def test_a_photo_with_gps_and_camera_data_is_stored_without_them() -> None:
    data = saved(
        Image.effect_noise((800, 600), 40).convert("RGB"),
        "JPEG",
        quality=90,
        exif=gps_exif(),
        icc_profile=b"ICC-PROFILE-MARKER" * 20,
        comment=b"COMMENT-MARKER",
    )
    assert b"PhoneMaker" in data and b"ICC-PROFILE-MARKER" in data
    stored = inspect_upload(data).data
    for marker in (b"PhoneMaker", b"ICC-PROFILE-MARKER", b"COMMENT-MARKER", b"Exif"):
        assert marker not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()
        assert "icc_profile" not in image.info and "comment" not in image.info


def test_a_png_with_text_exif_and_icc_chunks_is_stored_without_them() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert(1)</script>")
    text.add_itxt("Author", "Иван", zip=True)
    data = saved(
        Image.new("RGB", (800, 600), "teal"),
        "PNG",
        pnginfo=text,
        exif=gps_exif(),
        icc_profile=b"ICC-PROFILE-MARKER" * 20,
        dpi=(300, 300),
    )
    assert {b"tEXt", b"iTXt", b"eXIf", b"iCCP"} <= set(_chunks(data))
    stored = inspect_upload(data).data
    assert _chunks(stored) == [b"IHDR", b"IDAT", b"IEND"]
    assert stored == saved(Image.new("RGB", (800, 600), "teal"), "PNG")
    assert _pixels(stored, "RGB") == _pixels(data, "RGB")


@pytest.mark.parametrize(
    ("orientation", "transpose"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_270),
        (8, Image.Transpose.ROTATE_90),
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
    ],
)
def test_a_photo_taken_sideways_is_stored_upright(
    orientation: int, transpose: Image.Transpose
) -> None:
    data = saved(halves(), "PNG", exif=gps_exif(orientation))
    info = inspect_upload(data)
    upright = halves().transpose(transpose)
    assert (info.width, info.height) == upright.size
    with Image.open(io.BytesIO(info.data)) as stored:
        assert stored.size == upright.size
        assert not stored.getexif()  # no orientation left to apply twice
        assert stored.convert("RGB").tobytes() == upright.tobytes()


def test_a_jpeg_taken_sideways_is_stored_upright() -> None:
    data = saved(halves(), "JPEG", quality=95, exif=gps_exif(6))
    info = inspect_upload(data)
    assert (info.width, info.height) == (600, 800)
    with Image.open(io.BytesIO(info.data)) as stored:
        assert stored.size == (600, 800)
        # Turned 90° clockwise: the black left half is now on top.
        grey = stored.convert("L")
        assert grey.getpixel((300, 100)) == pytest.approx(0, abs=30)
        assert grey.getpixel((300, 700)) == pytest.approx(255, abs=30)


def test_unreadable_exif_is_ignored() -> None:
    data = saved(Image.new("RGB", (800, 600), "olive"), "JPEG", exif=b"Exif\x00\x00garbage")
    assert (inspect_upload(data).width, inspect_upload(data).height) == (800, 600)


def test_a_transparent_palette_png_keeps_its_transparency() -> None:
    image = Image.new("P", (800, 600), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    data = saved(image, "PNG", transparency=1)
    with Image.open(io.BytesIO(inspect_upload(data).data)) as stored:
        assert stored.mode == "RGBA"
        assert stored.getpixel((0, 0)) == (0, 0, 255, 0)


def test_reencoding_gives_the_same_file_for_the_same_picture() -> None:
    # The duplicate rule relies on it: the same bytes, or the same pixels in
    # another wrapping, give the same stored file; other colours another one.
    plain = make_png()
    wrapped = saved(Image.new("RGB", (800, 600), "navy"), "PNG", exif=gps_exif()) + HTML
    assert inspect_upload(plain).sha256 == inspect_upload(plain).sha256
    assert inspect_upload(wrapped).sha256 == inspect_upload(plain).sha256
    other = saved(Image.new("RGB", (800, 600), "green"), "PNG")
    assert inspect_upload(other).sha256 != inspect_upload(plain).sha256


def test_a_jpeg_that_is_also_a_zip_is_stored_as_a_picture_only() -> None:
    data = make_jpeg() + a_zip()
    assert zipfile.is_zipfile(io.BytesIO(data))
    info = inspect_upload(data)
    assert not zipfile.is_zipfile(io.BytesIO(info.data))
    assert b"PK\x03\x04" not in info.data and b"payload.html" not in info.data
    assert info.sha256 == hashlib.sha256(info.data).hexdigest() != hashlib.sha256(data).hexdigest()
    assert info.size == len(info.data) < len(data)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: make_png() + HTML, id="html-after-iend"),
        pytest.param(
            lambda: make_png()[:-12] + _png_chunk(b"htMl", HTML) + make_png()[-12:],
            id="html-in-a-private-chunk",
        ),
    ],
)
def test_a_png_that_is_also_a_web_page_is_stored_as_a_picture_only(
    build: Callable[[], bytes],
) -> None:
    data = build()
    assert HTML in data
    stored = inspect_upload(data).data
    assert b"<script" not in stored and b"<html" not in stored
    assert stored == inspect_upload(make_png()).data


# ---------------------------------------------------------------------------
# PDF: the page limit
# ---------------------------------------------------------------------------


def test_a_pdf_of_fifty_thousand_tiny_objects_is_refused() -> None:
    tiny = tuple(b"<< >>" for _ in range(MAX_PDF_OBJECTS))
    error = rejected(pdf_with(objects=tiny))
    assert error.reason == "too_complex"
    assert error.message == (
        "Не получилось принять документ: файл PDF слишком сложный. Сохраните его заново "
        "(например, через «Печать» → «Сохранить как PDF») или пришлите фото."
    )
    assert inspect_upload(pdf_with(objects=tiny[: MAX_PDF_OBJECTS - 10])).kind == "pdf"


def test_sending_a_whole_book_as_a_pdf_is_refused() -> None:
    assert MAX_PDF_PAGES == 20
    assert inspect_upload(make_pdf(pages=MAX_PDF_PAGES)).pages == MAX_PDF_PAGES
    error = rejected(make_pdf(pages=MAX_PDF_PAGES + 1))
    assert error.reason == "too_many_pages"
    assert error.message == (
        "Не получилось принять документ: в файле больше 20 страниц. "
        "Пришлите только страницы с нужным документом."
    )


# ---------------------------------------------------------------------------
# PDF: active content
# ---------------------------------------------------------------------------

JS = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"


def _open_action(writer: PdfWriter, action: DictionaryObject) -> None:
    writer.root_object[NameObject("/OpenAction")] = writer._add_object(action)


def _named(name: str) -> NameObject:
    return NameObject(name)


def _action(kind: str, **entries: object) -> DictionaryObject:
    action = DictionaryObject({_named("/Type"): _named("/Action"), _named("/S"): _named(kind)})
    for key, value in entries.items():
        action[_named("/" + key)] = value  # type: ignore[assignment]
    return action


ACTIVE_PDFS: dict[str, Callable[[], bytes]] = {
    # JavaScript
    "javascript run on opening (names tree)": lambda: written(
        lambda w: w.add_open_action(JavaScript("app.alert(1)"))
    ),
    "javascript as the open action": lambda: pdf_with(catalog=b"/OpenAction 4 0 R", objects=(JS,)),
    "javascript as a direct open action": lambda: pdf_with(catalog=b"/OpenAction " + JS),
    "javascript after a harmless go-to (/Next)": lambda: pdf_with(
        catalog=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next [4 0 R] >>", objects=(JS,)
    ),
    "javascript in a link": lambda: pdf_with(
        page=b"/Annots [4 0 R]",
        objects=(b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A 5 0 R >>", JS),
    ),
    "javascript in a bookmark": lambda: pdf_with(
        catalog=b"/Outlines 4 0 R",
        objects=(
            b"<< /Type /Outlines /First 5 0 R /Last 5 0 R /Count 1 >>",
            b"<< /Title (x) /Parent 4 0 R /A 6 0 R >>",
            JS,
        ),
    ),
    "javascript in a uri": lambda: pdf_with(
        catalog=b"/OpenAction << /S /URI /URI (javascript:alert\\(1\\)) >>"
    ),
    "javascript with an escaped name (/J#61vaScript)": lambda: pdf_with(
        catalog=b"/OpenAction 4 0 R",
        objects=(b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>",),
    ),
    "javascript in an object nothing points to": lambda: pdf_with(objects=(JS,)),
    "javascript hidden outside the cross-reference table": lambda: pdf_with(
        unlisted=b"9 0 obj\n" + JS + b"\nendobj\n"
    ),
    "escaped javascript outside the cross-reference table": lambda: pdf_with(
        unlisted=b"9 0 obj\n<< /S /J#61va#53cript /JS (x) >>\nendobj\n"
    ),
    # actions on events
    "additional actions on the page": lambda: pdf_with(page=b"/AA << /O 4 0 R >>", objects=(JS,)),
    "additional actions on the document": lambda: pdf_with(
        catalog=b"/AA << /WC << /S /GoTo /D [3 0 R /Fit] >> >>"
    ),
    "additional actions on a link": lambda: pdf_with(
        page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /AA << /E 4 0 R >> >>]",
        objects=(b"<< /S /GoTo /D [3 0 R /Fit] >>",),
    ),
    # launching programs, sending data, remote documents
    "a launch action": lambda: pdf_with(
        catalog=b"/OpenAction << /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) >> >>"
    ),
    "a launch action in a link": lambda: written(
        lambda w: w.add_annotation(
            0,
            DictionaryObject(
                {
                    _named("/Type"): _named("/Annot"),
                    _named("/Subtype"): _named("/Link"),
                    _named("/Rect"): ArrayObject([NumberObject(0)] * 4),
                    _named("/A"): _action("/Launch", F=TextStringObject("calc.exe")),
                }
            ),
        )
    ),
    "a form submission": lambda: pdf_with(
        catalog=b"/OpenAction << /S /SubmitForm /F (https://example.invalid) >>"
    ),
    "a remote go-to": lambda: pdf_with(
        catalog=b"/OpenAction << /S /GoToR /F (\\\\\\\\host\\\\share\\\\x.pdf) /D [0 /Fit] >>"
    ),
    "an unknown action": lambda: pdf_with(catalog=b"/OpenAction << /S /Whatever >>"),
    # embedded files
    "an attached file": lambda: written(lambda w: w.add_attachment("setup.exe", b"MZ\x90\x00")),
    "a file attachment annotation": lambda: pdf_with(
        page=b"/Annots [<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS 4 0 R >>]",
        objects=(b"<< /Type /Filespec /F (a.exe) >>",),
    ),
    "an embedded file stream only": lambda: pdf_with(
        objects=(b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream",)
    ),
    # forms
    "a form with a field": lambda: pdf_with(
        catalog=b"/AcroForm << /Fields [4 0 R] >>",
        page=b"/Annots [4 0 R]",
        objects=(b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /Rect [0 0 9 9] >>",),
    ),
    "an xfa form": lambda: pdf_with(
        catalog=b"/AcroForm << /Fields [] /XFA 4 0 R >>",
        objects=(b"<< /Length 6 >>\nstream\n<xdp/>\nendstream",),
    ),
    "a form field outside the form": lambda: pdf_with(objects=(b"<< /FT /Btn /T (ok) >>",)),
    # media
    "a rich media annotation": lambda: pdf_with(
        page=b"/Annots [<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] >>]"
    ),
    "a screen annotation": lambda: pdf_with(
        page=b"/Annots [<< /Type /Annot /Subtype /Screen /Rect [0 0 9 9] >>]"
    ),
}


@pytest.mark.parametrize("case", list(ACTIVE_PDFS))
def test_a_pdf_with_active_content_is_refused(case: str) -> None:
    error = rejected(ACTIVE_PDFS[case]())
    assert error.reason == "active_content", case
    assert "скрипты, вложенные файлы или поля для заполнения" in error.message


def test_the_active_content_message() -> None:
    error = rejected(pdf_with(catalog=b"/OpenAction 4 0 R", objects=(JS,)))
    assert error.message == (
        "Не получилось принять документ: в файле PDF есть скрипты, вложенные файлы "
        "или поля для заполнения. Сохраните документ как обычный PDF "
        "(например, через «Печать» → «Сохранить как PDF») или пришлите фото."
    )


PLAIN_PDFS: dict[str, Callable[[], bytes]] = {
    "opens at the first page": lambda: written(
        lambda w: setattr(w, "open_destination", w.pages[0])
    ),
    "opens with a go-to action": lambda: pdf_with(
        catalog=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >>"
    ),
    "a web link": lambda: pdf_with(
        page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
        b"/A << /S /URI /URI (https://www.gosuslugi.ru/) >> >>]"
    ),
    "a mail link": lambda: pdf_with(
        page=b"/Annots [<< /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (mailto:a@b.ru) >> >>]"
    ),
    "a text note and a highlight": lambda: pdf_with(
        page=b"/Annots [<< /Subtype /Text /Rect [0 0 9 9] /Contents (ok) >> "
        b"<< /Subtype /Highlight /Rect [0 0 9 9] >>]"
    ),
    "an empty form dictionary": lambda: pdf_with(catalog=b"/AcroForm << /Fields [] >>"),
    "empty additional actions": lambda: pdf_with(page=b"/AA << >>"),
    "a bookmark to a page": lambda: written(
        lambda w: w.add_outline_item(title="Паспорт", page_number=0)
    ),
    "a go-to that chains to itself": lambda: pdf_with(
        catalog=b"/OpenAction 4 0 R", objects=(b"<< /S /GoTo /D [3 0 R /Fit] /Next 4 0 R >>",)
    ),
    "bookmarks in a loop": lambda: pdf_with(
        catalog=b"/Outlines 4 0 R",
        objects=(b"<< /First 5 0 R >>", b"<< /Title (a) /Next 5 0 R /First 5 0 R >>"),
    ),
    "a null where an action may be": lambda: pdf_with(catalog=b"/OpenAction null /AA null"),
}


@pytest.mark.parametrize("case", list(PLAIN_PDFS))
def test_a_plain_pdf_with_links_or_bookmarks_is_taken(case: str) -> None:
    assert inspect_upload(PLAIN_PDFS[case]()).kind == "pdf"


MALFORMED_PDFS: dict[str, bytes] = {
    "annotations that are a number": pdf_with(page=b"/Annots 7"),
    "an annotation that is a string": pdf_with(page=b"/Annots [(x)]"),
    "an open action that is a number": pdf_with(catalog=b"/OpenAction 42"),
    "a names dictionary that is a string": pdf_with(catalog=b"/Names (x)"),
    "additional actions that are an array": pdf_with(page=b"/AA [1 2]"),
    "a form that is a number": pdf_with(catalog=b"/AcroForm 3"),
    "an action that is a number": pdf_with(page=b"/Annots [<< /Subtype /Link /A 5 >>]"),
    "bookmarks that are a name": pdf_with(catalog=b"/Outlines /Nope"),
    "arrays nested 5000 deep": pdf_with(catalog=b"/X " + b"[" * 5000 + b"]" * 5000),
    "a reference loop": pdf_with(catalog=b"/OpenAction 4 0 R", objects=(b"5 0 R", b"4 0 R")),
    "no %%EOF at all": pdf_with().replace(b"%%EOF", b"%%EOX"),
}


@pytest.mark.parametrize("case", list(MALFORMED_PDFS))
def test_a_pdf_with_malformed_objects_is_refused_as_damaged(case: str) -> None:
    assert rejected(MALFORMED_PDFS[case]).reason == "damaged"


def test_random_damage_to_a_pdf_never_ends_in_a_traceback() -> None:
    samples = [
        pdf_with(
            catalog=b"/Outlines 4 0 R /OpenAction << /S /GoTo /D [3 0 R /Fit] >>",
            page=b"/Annots [<< /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://x) >> >>"
            b"]",
            objects=(b"<< /First 5 0 R >>", b"<< /Title (a) /Parent 4 0 R /Dest [3 0 R /Fit] >>"),
        ),
        written(lambda w: w.add_outline_item(title="x", page_number=0), pages=2),
    ]
    rng = random.Random(20240601)
    for sample in samples:
        for _ in range(150):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(data))
                data[at] = rng.choice(b"0123456789<>[]()/ RnullobjendAJS\x00\xff")
            try:
                inspect_upload(bytes(data))
            except UploadRejected:
                pass


# ---------------------------------------------------------------------------
# PDF: data after the end, polyglots
# ---------------------------------------------------------------------------

FOREIGN = (
    "Не получилось принять документ: кроме документа, в файле есть посторонние данные. "
    "Сохраните документ заново и пришлите ещё раз или пришлите фото."
)


@pytest.mark.parametrize("padding", [b"\n", b"\r\n\r\n", b"   \t", b"\x00" * 512])
def test_blank_padding_after_the_end_of_a_pdf_is_cut(padding: bytes) -> None:
    clean = make_pdf()
    info = inspect_upload(clean + padding)
    assert info.data == clean  # the PDF ends with "%%EOF\n"
    assert info.size == len(clean)
    assert info.sha256 == hashlib.sha256(clean).hexdigest()


def test_a_pdf_ending_without_a_line_break_is_stored_as_it_is() -> None:
    data = make_pdf().rstrip(b"\n")
    assert inspect_upload(data).data == data


POLYGLOT_PDFS: dict[str, Callable[[], bytes]] = {
    "a zip after the pdf": lambda: make_pdf() + a_zip(),
    "a web page after the pdf": lambda: make_pdf() + HTML,
    "a web page after the pdf, ending in %%EOF": lambda: make_pdf() + HTML + b"\n%%EOF\n",
    "a zip inside a stream of the pdf": lambda: pdf_with(
        objects=(f"<< /Length {len(a_zip())} >>\nstream\n".encode() + a_zip() + b"\nendstream",)
    ),
    "a zip whose comment ends in %%EOF": lambda: (
        make_pdf() + a_zip()[:-2] + struct.pack("<H", 7) + b"\n%%EOF\n"
    ),
    "a web page in a comment": lambda: make_pdf().replace(
        b"%\xe2\xe3\xcf\xd3\n", b"%" + HTML + b"\n"
    ),
    "an svg with an onload handler": lambda: pdf_with(comment=b"%<svg/onload=alert(1)>\n"),
    "a link to javascript": lambda: pdf_with(comment=b"%<a href='javascript:alert(1)'>x</a>\n"),
    "any tag with an event handler": lambda: pdf_with(
        comment=b"%<p class=x onmouseover=alert(1)>\n"
    ),
    "a stray text after the end": lambda: make_pdf() + b"hello",
}


@pytest.mark.parametrize("case", list(POLYGLOT_PDFS))
def test_a_pdf_that_is_also_another_file_is_refused(case: str) -> None:
    data = POLYGLOT_PDFS[case]()
    error = rejected(data)
    assert error.reason == "foreign_data", case
    assert error.message == FOREIGN


def test_the_zip_polyglot_really_opens_as_an_archive() -> None:
    # The cases above are real polyglots, not just odd bytes.
    for case in ("a zip after the pdf", "a zip inside a stream of the pdf"):
        with zipfile.ZipFile(io.BytesIO(POLYGLOT_PDFS[case]())) as archive:
            assert archive.namelist() == ["payload.html"]
