"""Files as Telegram keeps them: ids, paths, photo sizes re-encoded the way Telegram does."""

from __future__ import annotations

import io
import mimetypes
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

# Telegram keeps a photo as a few JPEG sizes: boxes of 90, 320, 800 pixels and the largest one
# (at most 2560 pixels on its longer side).
_PHOTO_BOXES = (90, 320, 800)
_PHOTO_MAX_SIDE = 2560

_ID_PREFIX = {
    "document": "BQACAgIAAxkBAAI",
    "photo": "AgACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}
_PATH_DIR = {"document": "documents", "photo": "photos", "sticker": "stickers"}


@dataclass(frozen=True)
class Upload:
    """One uploaded file part: its bytes and the file name given by the client."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass
class StoredFile:
    """A file on the "Telegram server"."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str  # "document", "photo" or "sticker"
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)

    def file_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }

    def document_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name is not None:
            data["file_name"] = self.file_name
        if self.mime_type is not None:
            data["mime_type"] = self.mime_type
        return data

    def photo_size_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "width": self.width or 0,
            "height": self.height or 0,
        }

    def sticker_json(self, emoji: str) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "type": "regular",
            "width": self.width or 512,
            "height": self.height or 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }


class FileStore:
    """All files known to the sandbox, by file_id and by file_path."""

    def __init__(self) -> None:
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self.photo_sizes: dict[str, list[StoredFile]] = {}
        self._counter = 0

    def _new(self, kind: str, data: bytes, extension: str, **extra: Any) -> StoredFile:
        self._counter += 1
        file_id = _ID_PREFIX[kind] + secrets.token_urlsafe(42)
        unique = "AgAD" + secrets.token_urlsafe(9)
        path = f"{_PATH_DIR[kind]}/file_{self._counter}{extension}"
        stored = StoredFile(file_id, unique, path, data, kind, **extra)
        self.by_id[file_id] = stored
        self.by_path[path] = stored
        return stored

    def add_document(self, data: bytes, file_name: str | None, mime_type: str | None) -> StoredFile:
        check_upload(data)
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1].lower()
        return self._new(
            "document",
            data,
            extension,
            file_name=file_name,
            mime_type=mime_type or "application/octet-stream",
        )

    def add_photo(self, data: bytes) -> list[StoredFile]:
        check_upload(data)
        sizes = [
            self._new("photo", jpeg, ".jpg", width=width, height=height)
            for width, height, jpeg in photo_sizes(data)
        ]
        for size in sizes:
            self.photo_sizes[size.file_id] = sizes
        return sizes

    def add_sticker(self, data: bytes, width: int, height: int) -> StoredFile:
        return self._new("sticker", data, ".webp", width=width, height=height)


def check_upload(data: bytes) -> None:
    if not data:
        raise bad_request("file must be non-empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "Request Entity Too Large")


def photo_sizes(data: bytes) -> list[tuple[int, int, bytes]]:
    """Re-encode a photo as Telegram does: JPEG, a few sizes, never the original bytes."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    width, height = image.size
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = image.convert("RGB")

    boxes = [box for box in _PHOTO_BOXES if box < max(width, height)]
    boxes.append(min(max(width, height), _PHOTO_MAX_SIDE))
    result: list[tuple[int, int, bytes]] = []
    for box in boxes:
        scale = box / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = flat if size == flat.size else flat.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, format="JPEG", quality=87)
        result.append((size[0], size[1], buffer.getvalue()))
    return result


def sticker_bytes() -> tuple[bytes, int, int]:
    """A small transparent WebP image standing for a sticker."""
    from PIL import Image

    image = Image.new("RGBA", (512, 512), (255, 200, 0, 0))
    buffer = io.BytesIO()
    try:
        image.save(buffer, format="WEBP")
    except (KeyError, OSError):  # Pillow built without WebP
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    return buffer.getvalue(), 512, 512
