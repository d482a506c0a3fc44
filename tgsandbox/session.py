"""``SandboxSession``: an aiogram session whose "network" is the in-process Sandbox."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientConnectionError, ClientError, ClientResponseError, RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .errors import ApiError, SimulatedNetworkError
from .media import Upload

if TYPE_CHECKING:
    from aiogram import Bot

    from .server import Sandbox


class SandboxSession(BaseSession):
    """Hands every request to a ``Sandbox`` as the Bot API server would receive it.

    The method is serialized exactly as ``AiohttpSession`` serializes it (the same
    ``prepare_value``, defaults resolved from ``bot.default``, files as ``attach://`` parts);
    the answer goes through ``BaseSession.check_response``, so results are bound to the bot
    and refusals raise the very exception classes and messages a real server response does.
    """

    def __init__(self, sandbox: Sandbox, **kwargs: Any) -> None:
        kwargs.setdefault("api", sandbox.api)
        super().__init__(**kwargs)
        self.sandbox = sandbox

    async def close(self) -> None:
        return None

    async def _read_files(
        self, bot: Bot, method: TelegramMethod[Any], files: dict[str, InputFile]
    ) -> dict[str, Upload]:
        uploads: dict[str, Upload] = {}
        for key, value in files.items():
            try:
                chunks = [chunk async for chunk in value.read(bot)]
            except ClientError as exc:
                raise TelegramNetworkError(
                    method=method, message=f"{type(exc).__name__}: {exc}"
                ) from exc
            uploads[key] = Upload(b"".join(chunks), value.filename or key)
        return uploads

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        files: dict[str, InputFile] = {}
        fields: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if not prepared:
                continue
            fields[key] = prepared
        uploads = await self._read_files(bot, method, files)
        try:
            result = await self.sandbox.call(
                method.__api_method__, fields, uploads, token=bot.token
            )
        except ApiError as exc:
            status, payload = exc.error_code, exc.to_payload()
        except SimulatedNetworkError as exc:
            raise TelegramNetworkError(method=method, message=str(exc)) from exc
        else:
            status, payload = 200, {"ok": True, "result": result}
        response = self.check_response(
            bot=bot,
            method=method,
            status_code=status,
            content=self.json_dumps(payload),
        )
        return cast(TelegramType, response.result)

    def _file_path(self, url: str) -> tuple[str, str] | None:
        """(token, file_path) when ``url`` is a file URL of this session's API server."""
        template = self.api.file
        if "{token}" not in template or not template.endswith("{path}"):
            return None
        prefix, rest = template.split("{token}", 1)
        separator = rest[: -len("{path}")]
        if not url.startswith(prefix):
            return None
        token, found, path = url[len(prefix) :].partition(separator)
        return (token, path) if found else None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 (aiogram's signature)
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        located = self._file_path(url)
        if located is None:
            raise ClientConnectionError(f"the sandbox has no network access: {url}")
        token, path = located
        stored = self.sandbox.file_by_path(path) if token == self.sandbox.token else None
        if stored is None:
            if raise_for_status:
                info = RequestInfo(URL(url), "GET", CIMultiDictProxy(CIMultiDict()), URL(url))
                status, reason = (404, "Not Found") if token == self.sandbox.token else (401, "")
                raise ClientResponseError(info, (), status=status, message=reason or "Unauthorized")
            return
        data = stored.data
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]
