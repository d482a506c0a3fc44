"""Checking the documents people upload: JPG, PNG or PDF up to 5 MB.

The verdict comes from the bytes alone.  A file name, its extension and the
MIME type a client declares are not inputs at all: the format is found from
the file's signature and then confirmed by actually decoding the file — Pillow
decodes every pixel of an image, pypdf opens a PDF and walks its structure.

What is stored is not always what was sent (``UploadInfo.data``):

* an image is **re-encoded**: decoded, turned upright by its EXIF orientation
  and saved afresh in its own format (PNG stays PNG, JPEG stays JPEG, with the
  source's own quantisation tables so its quality and size stay about the
  same).  No metadata survives — no EXIF (GPS, camera, time), no ICC profile, no
  comments or text chunks — and nothing after the picture, so an image that is
  also a ZIP archive or an HTML page is stored as a plain picture.  The ICC
  profile is dropped too: it is an opaque blob of up to megabytes, and a
  document scan reads the same in sRGB;
* a PDF is stored as sent, except blank padding (spaces, line ends, NUL bytes)
  after its last ``%%EOF``, which is cut.  Anything else after the end, an
  embedded ZIP archive or HTML markup is refused: such a file is also another
  file (a polyglot), and cutting it silently would still leave what is inside.

Refusals raise :class:`UploadRejected` (a :class:`ValidationError`) whose
message tells the person the reason in Russian and whose ``reason`` attribute
names it for code: the file is empty, over 5 MB, of another format, damaged,
password-protected, has too many pixels, is too small to read (under
:data:`MIN_IMAGE_SIDE` on the short side), has more than :data:`MAX_PDF_PAGES`
pages or more than :data:`MAX_PDF_OBJECTS` objects, carries active content
(JavaScript, launch actions, embedded files, forms, rich media) or foreign data.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image, JpegImagePlugin
from pypdf import PasswordType, PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NullObject,
    PdfObject,
)

from services.core.errors import ValidationError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_PDF_OBJECTS",
    "MAX_PDF_PAGES",
    "MAX_UPLOAD_BYTES",
    "MIN_IMAGE_SIDE",
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
# The short side of a picture in which a passport page or a policy can be read:
# about 150 dpi across an A6 page.  A thumbnail or a 1×1 stub is refused.
MIN_IMAGE_SIDE = 600
# A passport, a policy or a СНИЛС is a few pages; a longer PDF is something else.
# (The message says «больше 20 страниц»: keep the number one that takes «страниц».)
MAX_PDF_PAGES = 20
# Objects a PDF may have: each is parsed to look for active content, and a
# 5 MB file of tiny objects would keep a CPU worker busy for many seconds.  A
# scanned or printed document of 20 pages has hundreds, seldom thousands.
MAX_PDF_OBJECTS = 50_000
# Quality of a re-encoded JPEG whose quantisation tables can't be reused.
_JPEG_QUALITY = 90

UploadKind = Literal["jpeg", "png", "pdf"]
RejectReason = Literal[
    "empty",
    "too_large",
    "unsupported",
    "damaged",
    "encrypted",
    "too_many_pixels",
    "too_small",
    "too_many_pages",
    "too_complex",
    "active_content",
    "foreign_data",
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
    "too_small": (
        "Изображение слишком маленькое: по короткой стороне нужно не меньше "
        f"{MIN_IMAGE_SIDE} точек. Сфотографируйте документ крупнее."
    ),
    "too_many_pages": (
        f"Не получилось принять документ: в файле больше {MAX_PDF_PAGES} страниц. "
        "Пришлите только страницы с нужным документом."
    ),
    "too_complex": (
        "Не получилось принять документ: файл PDF слишком сложный. Сохраните его заново "
        "(например, через «Печать» → «Сохранить как PDF») или пришлите фото."
    ),
    "active_content": (
        "Не получилось принять документ: в файле PDF есть скрипты, вложенные файлы "
        "или поля для заполнения. Сохраните документ как обычный PDF "
        "(например, через «Печать» → «Сохранить как PDF») или пришлите фото."
    ),
    "foreign_data": (
        "Не получилось принять документ: кроме документа, в файле есть посторонние "
        "данные. Сохраните документ заново и пришлите ещё раз или пришлите фото."
    ),
}


class UploadRejected(ValidationError):
    """The uploaded file is refused; ``reason`` says why, ``message`` says it in Russian."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: RejectReason = reason


@dataclass(frozen=True, slots=True)
class UploadInfo:
    """What :func:`inspect_upload` learnt from an accepted file, and what to store.

    ``data`` are the bytes to store (a re-encoded image, a PDF without blank
    padding after its end); ``size`` and ``sha256`` describe ``data``, not the
    bytes that were sent (``original_sha256`` is the digest of those).
    ``width`` and ``height`` are those of the upright picture.
    """

    kind: UploadKind
    mime_type: str
    extension: str  # without the dot: "jpg", "png", "pdf"
    size: int  # len(data)
    sha256: str  # hex digest of data
    data: bytes = field(repr=False)  # never in a log: it is a person's document
    original_sha256: str  # hex digest of the bytes as sent
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


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------


def _pixel_limit() -> int:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is None:
        return MAX_IMAGE_PIXELS
    return min(MAX_IMAGE_PIXELS, int(pillow_limit))


_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes a PNG is written in as they are; any other is converted first.
_PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA", "I", "I;16"})


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright); unreadable EXIF counts as upright."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _pixels_only(image: Image.Image, kind: UploadKind) -> Image.Image:
    """The picture in a mode its format writes plainly (a palette becomes colours)."""
    mode = image.mode
    if kind == "jpeg":
        # CMYK is written back inverted by some encoders and shown wrongly by
        # some viewers; a scan is stored as RGB (or greyscale).
        return image if mode in ("L", "RGB") else image.convert("RGB")
    transparent = "transparency" in image.info or mode in ("LA", "PA", "RGBA", "La", "RGBa")
    if mode in ("P", "PA") or (transparent and mode in ("L", "RGB")):
        return image.convert("RGBA" if transparent else "RGB")
    if mode in _PNG_MODES:
        return image
    return image.convert("RGBA" if transparent else "RGB")


def _reencode(image: Image.Image, kind: UploadKind) -> tuple[bytes, int, int]:
    """The decoded picture, upright, saved afresh with no metadata at all.

    Returns the new file and the upright width and height.
    """
    orientation = _orientation(image)
    save: dict[str, Any] = {}
    sampling = -1
    if kind == "jpeg":
        tables = getattr(image, "quantization", None)
        if isinstance(tables, dict) and 1 <= len(tables) <= 4:
            save["qtables"] = tables
        else:
            save["quality"] = _JPEG_QUALITY
        sampling = JpegImagePlugin.get_sampling(image)
    clean = _pixels_only(image, kind)
    if kind == "jpeg" and clean.mode == "RGB" and sampling >= 0:
        save["subsampling"] = sampling
    method = _TRANSPOSE.get(orientation)
    if method is not None:
        clean = clean.transpose(method)
    # Pillow carries ``info`` (EXIF, ICC profile, comments, text chunks, dpi)
    # over to the copies above and writes some of it when saving: drop it all.
    clean.info = {}
    buffer = io.BytesIO()
    if kind == "jpeg":
        try:
            clean.save(buffer, "JPEG", **save)
        except (ValueError, OSError):  # tables the encoder won't take back
            buffer = io.BytesIO()
            clean.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    else:
        clean.save(buffer, "PNG")
    width, height = clean.size
    return buffer.getvalue(), width, height


def _inspect_image(data: bytes, kind: UploadKind) -> tuple[bytes, int, int]:
    """Decode the whole image; return it re-encoded, with its upright width and height."""
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
                if min(width, height) < MIN_IMAGE_SIDE:
                    raise UploadRejected("too_small")
                stored, width, height = _reencode(image, kind)
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected("too_many_pixels") from None
    except Exception:
        # Pillow reports broken data with many exception types (OSError,
        # SyntaxError, ValueError, EOFError, struct.error, zlib.error …).
        raise UploadRejected("damaged") from None
    return stored, width, height


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

# Actions a reader may run from the catalogue, an outline item or an
# annotation: only moving inside the document and web or mail links.
_SAFE_ACTIONS = frozenset({"/GoTo", "/Named", "/URI"})
_SAFE_URI = re.compile(r"\s*(?:https?://|mailto:)", re.IGNORECASE)
# Entries of the catalogue's names dictionary that hold code or files.
_ACTIVE_NAME_TREES = ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations", "/Renditions")
# Annotations that play media, hold a file or are form fields.
_ACTIVE_ANNOTATIONS = frozenset(
    {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D", "/Widget"}
)
# For the sweep over every object: keys and action types that mean active
# content wherever they are (no other PDF dictionary uses them).
_ACTIVE_KEYS = (
    "/JS",
    "/JavaScript",
    "/EmbeddedFiles",
    "/EF",  # a file specification holding an embedded file
    "/XFA",
    "/FT",  # a form field
    "/RichMediaContent",
    "/RichMediaSettings",
)
_ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ResetForm",
        "/ImportData",
        "/GoToE",
        "/GoToR",
        "/RichMediaExecute",
        "/Rendition",
    }
)
# The same names in the bytes themselves: an object that a repairing reader
# would find although the cross-reference tables do not list it.  A name may be
# written with #xx escapes (/J#61vaScript): those are decoded before the match.
_ACTIVE_TOKENS = re.compile(
    rb"/(?:JavaScript|Launch|EmbeddedFiles?|RichMedia[A-Za-z]*|XFA|SubmitForm|ImportData)"
    rb"(?=[\s\x00/<>\[\]()%]|\Z)"
)
_NAME_CHAR = rb"[^\s\x00/<>\[\]()%{}]"
_ESCAPED_NAME = re.compile(rb"/" + _NAME_CHAR + rb"*#[0-9A-Fa-f]{2}" + _NAME_CHAR + rb"*")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# HTML that a browser would act on if the file were opened as a web page.
_HTML_TAG = re.compile(
    rb"<(?:!doctype|html|head|body|script|iframe|frame|frameset|object|embed|applet|svg"
    rb"|img|image|video|audio|meta|link|style|base|form|input|math|template)[\s/>]",
    re.IGNORECASE,
)
_HTML_HANDLER = re.compile(rb"[\s\"'/]on[a-z]{3,30}\s*=", re.IGNORECASE)
_SCRIPT_LINK = re.compile(
    rb"<a\s[^<>]{0,300}?href\s*=\s*[\"']?\s*(?:java|vb)script:", re.IGNORECASE
)
_BLANK = b" \t\r\n\f\x00"


def _resolved(value: Any) -> Any:
    """The object a reference points to; ``None`` for a null or missing value."""
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if value is None or isinstance(value, NullObject):
        return None
    return value


def _entry(container: DictionaryObject, key: str) -> Any:
    return _resolved(dict.get(container, key))


class _Active(Exception):
    """Active content was found (internal: becomes ``UploadRejected``)."""


def _cut_after_eof(data: bytes) -> bytes:
    """The PDF up to its last ``%%EOF`` and line end; blank padding after it is cut.

    Anything but blank padding after the end is another file riding along.
    """
    end = data.rfind(b"%%EOF")
    if end < 0:
        raise UploadRejected("damaged")
    end += len(b"%%EOF")
    if data[end : end + 2] == b"\r\n":
        end += 2
    elif data[end : end + 1] in (b"\n", b"\r"):
        end += 1
    if data[end:].strip(_BLANK):
        raise UploadRejected("foreign_data")
    return data[:end]


def _check_action(value: Any) -> None:
    """An action and every action it chains to (``/Next``) must be safe."""
    pending = [value]
    seen: set[int] = set()
    while pending:
        action = _resolved(pending.pop())
        if action is None or id(action) in seen:
            continue
        seen.add(id(action))
        if not isinstance(action, DictionaryObject):
            raise UploadRejected("damaged")
        kind = _entry(action, "/S")
        if kind not in _SAFE_ACTIONS:
            raise _Active
        if kind == "/URI":
            uri = _entry(action, "/URI")
            if not isinstance(uri, str) or not _SAFE_URI.match(uri):
                raise _Active
        following = _entry(action, "/Next")
        if isinstance(following, ArrayObject):
            pending.extend(following)
        elif following is not None:
            pending.append(following)


def _check_additional_actions(owner: DictionaryObject) -> None:
    """``/AA`` (actions on opening, closing, focus, keystrokes …) is refused outright."""
    actions = _entry(owner, "/AA")
    if actions is None:
        return
    if not isinstance(actions, DictionaryObject):
        raise UploadRejected("damaged")
    if actions:
        raise _Active


def _walk_catalogue(reader: PdfReader) -> None:
    """The catalogue, its names tree, forms and outlines, every page and annotation."""
    root = _resolved(reader.trailer.get("/Root"))
    if not isinstance(root, DictionaryObject):
        raise UploadRejected("damaged")
    _check_additional_actions(root)
    opening = _entry(root, "/OpenAction")
    if isinstance(opening, DictionaryObject):
        _check_action(opening)
    elif opening is not None and not isinstance(opening, ArrayObject):  # array: a page
        raise UploadRejected("damaged")
    names = _entry(root, "/Names")
    if names is not None:
        if not isinstance(names, DictionaryObject):
            raise UploadRejected("damaged")
        if any(_entry(names, key) is not None for key in _ACTIVE_NAME_TREES):
            raise _Active
    form = _entry(root, "/AcroForm")
    if form is not None:
        if not isinstance(form, DictionaryObject):
            raise UploadRejected("damaged")
        fields = _entry(form, "/Fields")
        # An empty /AcroForm (some producers write one) is no form.
        if _entry(form, "/XFA") is not None or (isinstance(fields, ArrayObject) and fields):
            raise _Active
    _walk_outlines(root)
    for page in reader.pages:
        _ = page.mediabox  # resolves the page and its inherited attributes
        _check_additional_actions(page)
        annotations = _entry(page, "/Annots")
        if annotations is None:
            continue
        if not isinstance(annotations, ArrayObject):
            raise UploadRejected("damaged")
        for item in annotations:
            annotation = _resolved(item)
            if annotation is None:
                continue
            if not isinstance(annotation, DictionaryObject):
                raise UploadRejected("damaged")
            if _entry(annotation, "/Subtype") in _ACTIVE_ANNOTATIONS:
                raise _Active
            _check_additional_actions(annotation)
            _check_action(dict.get(annotation, "/A"))


def _walk_outlines(root: DictionaryObject) -> None:
    """Bookmarks run actions when clicked: check each one's ``/A``."""
    outlines = _entry(root, "/Outlines")
    if outlines is None:
        return
    if not isinstance(outlines, DictionaryObject):
        raise UploadRejected("damaged")
    pending = [dict.get(outlines, "/First")]
    seen: set[int] = set()
    while pending:
        item = _resolved(pending.pop())
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if not isinstance(item, DictionaryObject):
            raise UploadRejected("damaged")
        _check_action(dict.get(item, "/A"))
        pending += [dict.get(item, "/First"), dict.get(item, "/Next")]


def _is_active(obj: DictionaryObject) -> bool:
    for key in _ACTIVE_KEYS:
        if _entry(obj, key) is not None:
            return True
    actions = _entry(obj, "/AA")
    if actions is not None and not (isinstance(actions, DictionaryObject) and not actions):
        return True
    kind = _entry(obj, "/S")
    if kind in _ACTIVE_ACTIONS:
        return True
    if kind == "/URI":
        uri = _entry(obj, "/URI")
        if isinstance(uri, str) and not _SAFE_URI.match(uri):
            return True
    return _entry(obj, "/Type") == "/EmbeddedFile" or _entry(obj, "/Subtype") in _ACTIVE_ANNOTATIONS


def _sweep_objects(reader: PdfReader) -> None:
    """Every object the cross-reference tables list, reachable from the pages or not.

    The walk above follows what a reader runs; this catches what it does not
    reach (a form field's parent, an orphan kept for a later revision, a name
    written as ``/J#61vaScript``, which pypdf reads as ``/JavaScript``).
    References are not followed here: each object is looked at as its own entry.
    """
    refs = [(idnum, generation) for generation, table in reader.xref.items() for idnum in table]
    refs += [(idnum, 0) for idnum in reader.xref_objStm]
    if len(refs) > MAX_PDF_OBJECTS:
        raise UploadRejected("too_complex")
    objects: list[PdfObject | None] = [reader.trailer]
    objects += [reader.get_object(IndirectObject(i, g, reader)) for i, g in refs]
    pending: list[Any] = objects
    while pending:
        item = pending.pop()
        if isinstance(item, DictionaryObject):  # a stream's dictionary too
            if _is_active(item):
                raise _Active
            pending.extend(v for v in dict.values(item) if not isinstance(v, IndirectObject))
        elif isinstance(item, ArrayObject):
            pending.extend(v for v in item if not isinstance(v, IndirectObject))


def _names_active(data: bytes) -> bool:
    """An active-content name anywhere in the bytes, escaped or not."""
    if _ACTIVE_TOKENS.search(data):
        return True
    for match in _ESCAPED_NAME.finditer(data):
        name = _NAME_ESCAPE.sub(lambda h: bytes([int(h.group(1), 16)]), match.group())
        if _ACTIVE_TOKENS.fullmatch(name):
            return True
    return False


def _is_zip(data: bytes) -> bool:
    """Would an unzip tool open these bytes (a ZIP placed inside or after the PDF)?"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.infolist())
    except Exception:
        return False


def _has_html(data: bytes) -> bool:
    """Markup a browser would act on if the file were opened as a web page."""
    if _HTML_TAG.search(data) or _SCRIPT_LINK.search(data):
        return True
    for match in _HTML_HANDLER.finditer(data):
        # «… onerror=» inside a tag: an opening «<letter» before it, no «>» between.
        start = data.rfind(b"<", max(0, match.start() - 512), match.start())
        if start >= 0 and data[start + 1 : start + 2].isalpha():
            if b">" not in data[start : match.start()]:
                return True
    return False


def _inspect_pdf(data: bytes) -> tuple[bytes, int]:
    """Open and check the PDF; return the bytes to store and its number of pages."""
    stored = _cut_after_eof(data)
    # Another file inside is refused whether or not the PDF itself opens.
    if _is_zip(stored) or _has_html(stored):
        raise UploadRejected("foreign_data")
    try:
        reader = PdfReader(io.BytesIO(stored), strict=False)
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
        if pages < 1:
            raise UploadRejected("damaged")
        if pages > MAX_PDF_PAGES:
            raise UploadRejected("too_many_pages")
        _walk_catalogue(reader)
        _sweep_objects(reader)
    except UploadRejected:
        raise
    except _Active:
        raise UploadRejected("active_content") from None
    except Exception:
        # pypdf raises PdfReadError, PdfStreamError, ValueError, KeyError,
        # AttributeError, RecursionError … on broken files.
        raise UploadRejected("damaged") from None
    if _names_active(stored):
        raise UploadRejected("active_content")
    return stored, pages


def inspect_upload(data: bytes) -> UploadInfo:
    """Check an uploaded document, describe it and give the bytes to store.

    Accepts JPEG, PNG and PDF of at most :data:`MAX_UPLOAD_BYTES` (5 MiB),
    judged only by ``data``.  Images are fully decoded (with a pixel limit and
    a minimum size) and re-encoded without metadata; a PDF must open (or open
    with the empty password), have 1 to :data:`MAX_PDF_PAGES` pages and no
    active content, and be nothing but a PDF.  CPU work: run it off the loop.

    Raises :class:`UploadRejected` with the reason.
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
    original_sha256 = hashlib.sha256(data).hexdigest()
    if kind == "pdf":
        stored, pages = _inspect_pdf(data)
        return UploadInfo(
            kind,
            mime_type,
            extension,
            len(stored),
            hashlib.sha256(stored).hexdigest(),
            stored,
            original_sha256,
            pages=pages,
        )
    stored, width, height = _inspect_image(data, kind)
    return UploadInfo(
        kind,
        mime_type,
        extension,
        len(stored),
        hashlib.sha256(stored).hexdigest(),
        stored,
        original_sha256,
        width=width,
        height=height,
    )
