"""The sandbox served over HTTP as a Bot API server (for testing the real bot process).

Run standalone: ``python -m tgsandbox.http --port 8081 --token TOKEN`` and start the bot
with ``TELEGRAM_API_BASE=http://127.0.0.1:8081``; then type as a user would (``!help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
from typing import Any

from aiohttp import web

from .errors import ApiError, SandboxError, SimulatedNetworkError
from .media import MAX_UPLOAD_BYTES, Upload
from .server import DEFAULT_TOKEN, Sandbox, SandboxEvent

_UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
_NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class Hold:
    """Requests that wait before the server answers them, until ``release`` (see ``hold``).

    ``arrived`` counts the requests that reached the hold: a test waits for it to know
    the bot is in the middle of a request, then kills or stops the bot.
    """

    def __init__(self) -> None:
        self.arrived = 0
        self._open = asyncio.Event()

    def release(self) -> None:
        self._open.set()

    @property
    def released(self) -> bool:
        return self._open.is_set()

    async def pass_through(self) -> None:
        self.arrived += 1
        await self._open.wait()


class SandboxHTTPServer:
    """Serves ``Sandbox`` at ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``.

    Parameters arrive as aiogram's ``AiohttpSession`` sends them (form fields, JSON-encoded
    objects, files as multipart parts referenced with ``attach://``) or as a JSON body.
    """

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._holds: dict[str, Hold] = {}
        # How many times getUpdates returned each update_id, and the highest update_id
        # the bot has acknowledged (an offset past it), as Telegram would count them.
        self.deliveries: dict[int, int] = {}
        self.acknowledged = 0

    def hold(self, method: str) -> Hold:
        """Make requests of ``method`` (a Bot API method, or ``"file"`` for downloads) wait.

        Each waits before the sandbox executes it, as a slow Telegram would, until
        ``Hold.release()``; a request made after the release goes through at once.
        """
        hold = Hold()
        self._holds[method.lower()] = hold
        return hold

    async def _pass_hold(self, method: str) -> None:
        hold = self._holds.get(method.lower())
        if hold is not None and not hold.released:
            await hold.pass_through()

    @property
    def url(self) -> str:
        """Base URL for ``TelegramAPIServer.from_base`` / ``TELEGRAM_API_BASE``."""
        return f"http://{self.host}:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        return app

    async def start(self) -> SandboxHTTPServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def close(self) -> None:
        for hold in self._holds.values():
            hold.release()
        self.sandbox.release_polls()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxHTTPServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @staticmethod
    def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response(payload, status=status, dumps=_dumps)

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if not request.can_read_body:
            return params, uploads
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: invalid JSON body")
            params.update(body)
            return params, uploads
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                uploads[key] = Upload(data, value.filename, value.content_type)
            else:
                params[key] = value
        return params, uploads

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.sandbox.token:
            return self._json(_UNAUTHORIZED, 401)
        try:
            params, uploads = await self._read_params(request)
            await self._pass_hold(request.match_info["method"])
            method = request.match_info["method"]
            if method.lower() == "getupdates":
                self._note_offset(params.get("offset"))
            result = await self.sandbox.call(method, params, uploads)
            if method.lower() == "getupdates" and isinstance(result, list):
                for update in result:
                    update_id = update["update_id"]
                    self.deliveries[update_id] = self.deliveries.get(update_id, 0) + 1
        except ApiError as exc:
            return self._json(exc.to_payload(), exc.error_code)
        except SimulatedNetworkError:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        except SandboxError as exc:
            description = f"Not Implemented: {exc}"
            return self._json({"ok": False, "error_code": 501, "description": description}, 501)
        return self._json({"ok": True, "result": result})

    def _note_offset(self, offset: Any) -> None:
        try:
            value = int(offset) if offset not in (None, "") else 0
        except (TypeError, ValueError):
            return
        self.acknowledged = max(self.acknowledged, value - 1)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.sandbox.token:
            return self._json(_UNAUTHORIZED, 401)
        await self._pass_hold("file")
        stored = self.sandbox.file_by_path(request.match_info["path"])
        if stored is None:
            return self._json(_NOT_FOUND, 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )


async def serve_http(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> SandboxHTTPServer:
    """Start serving ``sandbox``; ``port=0`` picks a free port (see ``server.url``)."""
    return await SandboxHTTPServer(sandbox, host, port).start()


# ----------------------------------------------------------------------- standalone console

_HELP = """Type a message to send it to the bot. Commands:
  !press LABEL       press a button (inline or reply keyboard)
  !contact [PHONE]   share your own contact
  !doc PATH          send a file as a document
  !photo PATH        send a photo
  !sticker           send a sticker
  !location          send a location
  !show              show the chat
  !block / !unblock  block or unblock the bot
  !quit              stop"""


def _print_event(sandbox: Sandbox, event: SandboxEvent) -> None:
    chat = sandbox.chats.get(event.chat_id)
    if chat is None:
        return
    if event.kind in ("message", "edit") and event.message_id is not None:
        message = chat.messages.get(event.message_id)
        if message is None or not message.from_bot:
            return
        mark = "edited " if event.kind == "edit" else ""
        body = message.text if message.text is not None else (message.caption or "")
        if message.document is not None:
            body = f"[document {message.document.file_name}] {body}"
        if message.photo is not None:
            body = f"[photo] {body}"
        print(f"\n<< bot {mark}#{message.message_id}: {body}")
        if message.inline_markup:
            for row in message.inline_markup["inline_keyboard"]:
                print("   " + "  ".join(f"[{b['text']}]" for b in row))
        if message.keyboard_markup and "keyboard" in message.keyboard_markup:
            for row in message.keyboard_markup["keyboard"]:
                labels = (b["text"] if isinstance(b, dict) else b for b in row)
                print("   " + "  ".join(f"({label})" for label in labels))
    elif event.kind == "delete":
        print(f"\n<< bot deleted #{event.message_id}")
    elif event.kind == "callback_answer" and event.detail.get("text"):
        kind = "alert" if event.detail.get("show_alert") else "toast"
        print(f"\n<< {kind}: {event.detail['text']}")


async def _console(sandbox: Sandbox, user_id: int, first_name: str, phone: str | None) -> None:
    from pathlib import Path

    user = sandbox.user(user_id, first_name, phone=phone)
    sandbox.add_listener(lambda event: _print_event(sandbox, event))
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def on_input() -> None:
        line = sys.stdin.readline()
        lines.put_nowait(line if line else None)

    loop.add_reader(sys.stdin.fileno(), on_input)
    print(_HELP)
    try:
        while (line := await lines.get()) is not None:
            line = line.rstrip("\n")
            command, _, arg = line.partition(" ")
            try:
                if not line.strip():
                    continue
                if command == "!quit":
                    return
                if command == "!help":
                    print(_HELP)
                elif command == "!press":
                    url = await user.press(arg)
                    if url:
                        print(f"(opens {url})")
                elif command == "!contact":
                    await user.share_contact(arg or None)
                elif command == "!doc":
                    path = Path(arg)
                    data = await asyncio.to_thread(path.read_bytes)
                    await user.send_document(data, path.name)
                elif command == "!photo":
                    await user.send_photo(await asyncio.to_thread(Path(arg).read_bytes))
                elif command == "!sticker":
                    await user.send_sticker()
                elif command == "!location":
                    await user.send_location()
                elif command == "!show":
                    for message in user.messages:
                        print(message)
                elif command == "!block":
                    await user.block_bot()
                elif command == "!unblock":
                    await user.unblock_bot()
                else:
                    await user.send(line)
            except (AssertionError, SandboxError, OSError, ApiError) as exc:
                print(f"!! {exc}")
    finally:
        loop.remove_reader(sys.stdin.fileno())


async def _main(args: argparse.Namespace) -> None:
    sandbox = Sandbox(token=args.token, bot_username=args.bot_username)
    server = await serve_http(sandbox, args.host, args.port)
    print(f"Bot API sandbox at {server.url} (token {sandbox.token})")
    print(f"Start the bot with TELEGRAM_API_BASE={server.url}")
    try:
        if args.no_console:
            await asyncio.Event().wait()
        else:
            await _console(sandbox, args.user_id, args.first_name, args.phone)
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram Bot API sandbox over HTTP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="sandbox_bot")
    parser.add_argument("--user-id", type=int, default=100_000_001)
    parser.add_argument("--first-name", default="Анна")
    parser.add_argument("--phone", default="+79990000001")
    parser.add_argument("--no-console", action="store_true", help="serve only, no typing")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
