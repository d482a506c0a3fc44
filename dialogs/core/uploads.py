"""A file a person sends into a dialog: which attachment it is, and its bytes from Telegram.

The application's documents and the record's own documents both take files this way.
"""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError
from aiogram.types import Document, Message, PhotoSize
from aiohttp import ClientError

from services.core.errors import DomainError

__all__ = ["DOWNLOAD_FAILED", "DownloadFailed", "attachment", "download"]

log = logging.getLogger(__name__)

DOWNLOAD_FAILED = "Не получилось получить файл от Telegram. Пришлите его ещё раз."


class DownloadFailed(DomainError):
    """Telegram did not give the file: the person is asked to send it again."""


def attachment(message: Message) -> tuple[Document | PhotoSize, str | None]:
    """The file of the message and its name; the largest size of a photo."""
    if message.document is not None:
        return message.document, message.document.file_name
    assert message.photo
    return message.photo[-1], None


async def download(message: Message, item: Document | PhotoSize) -> bytes:
    assert message.bot is not None
    try:
        stream = await message.bot.download(item)
    except (TelegramAPIError, ClientError, TimeoutError) as exc:
        log.warning("could not download a file sent in the chat: %s", type(exc).__name__)
        raise DownloadFailed(DOWNLOAD_FAILED) from None
    assert stream is not None
    return stream.read()
