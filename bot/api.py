"""The laboratories' HTTP API (aiohttp): ``POST /api/v1/lab-results`` and its OpenAPI document.

`python -m bot api` serves it alone; `python -m bot run` serves it beside the bot
when API_PORT is set, and in webhook mode its routes are added to the webhook's
own server (`add_api_routes`).

Every refusal is a 4xx JSON ``{"error": "<code>", "detail": "<sentence>"}`` —
aiohttp's own 404, 405 and 413 included — and nothing is stored by a refused
request (services.integration.labs stores everything in one unit of work). The
order of the checks: the content type, the token (its laboratory, signature and
times), the body's size, JSON, FHIR, the file, then the patient, the access
rule, replays and the report's history. CPU work (signatures, JSON and FHIR
parsing, the file check) runs in ``ctx.cpu`` with no unit of work open.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from services.core.context import AppContext
from services.core.errors import AccessDenied, DomainError
from services.core.work import Work
from services.integration import fhir, tokens
from services.integration.labs import Accepted, ClientKey, IntakeRefused, LabIntake, check_file
from services.integration.openapi import openapi_document

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.config import Settings

__all__ = [
    "API_PREFIX",
    "ApiConfig",
    "add_api_routes",
    "api_config",
    "create_api_app",
    "serve_api",
]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ApiConfig:
    work: Work
    ctx: AppContext
    audience: str = "emk-bot"
    max_age_seconds: int = 300
    max_body_bytes: int = 10 * 1024 * 1024


CONFIG = web.AppKey("lab_api_config", ApiConfig)
# True on the API's own server: every path answers JSON there, not only /api/.
JSON_EVERYWHERE = web.AppKey("lab_api_json_everywhere", bool)


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field


def error_response(status: int, code: str, detail: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if field:
        body["field"] = field
    headers = {"WWW-Authenticate": 'Bearer realm="emk"'} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    404: ("not_found", "There is no such route."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("body_too_large", "The request body is too large."),
}


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer under /api/ is JSON: aiohttp's own errors too, and never a traceback."""
    if not (request.path.startswith("/api/") or request.app.get(JSON_EVERYWHERE, False)):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.detail, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, detail = _HTTP_ERRORS.get(exc.status, ("http_error", exc.reason))
        if exc.status == 413:
            config = request.app.get(CONFIG)
            limit = config.max_body_bytes if config else None
            detail = f"The request body is larger than {limit} bytes." if limit else detail
        response = error_response(exc.status, code, detail)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        # Never a traceback to the caller, and never personal data in the log.
        log.error("lab API: %s %s failed: %s", request.method, request.path, type(exc).__name__)
        return error_response(500, "internal", "An unexpected failure; nothing was stored.")


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise ApiError(401, "token_missing", "Send Authorization: Bearer <JWT>.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_malformed", "The Authorization header must be Bearer <JWT>.")
    return token.strip()


async def _read_body(request: web.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(READ_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "not_json", "The body is not valid JSON (UTF-8).") from None


async def _authenticate(
    config: ApiConfig, intake: LabIntake, token: str
) -> tuple[ClientKey, tokens.TokenClaims]:
    try:
        issuer = tokens.unverified_issuer(token)
    except tokens.TokenError as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    client = await intake.client(issuer)
    if client is None:
        raise ApiError(401, "unknown_client", "No laboratory is registered with this issuer.")
    if client.revoked:
        raise ApiError(403, "client_revoked", "This laboratory's access is revoked.")
    try:
        claims = await config.ctx.cpu.run(
            tokens.verify,
            token,
            public_key_pem=client.public_key_pem,
            algorithm=client.algorithm,
            audience=config.audience,
            max_age_seconds=config.max_age_seconds,
            now=config.ctx.gateways.clock.now(),
        )
    except tokens.TokenError as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    return client, claims


async def submit_lab_result(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    media_type = request.content_type.lower()
    if media_type not in JSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the Bundle as application/fhir+json or application/json.",
        )
    intake = LabIntake(config.work, config.ctx)
    client, claims = await _authenticate(config, intake, _bearer(request))
    body = await _read_body(request, config.max_body_bytes)
    cpu = config.ctx.cpu
    data = await cpu.run(_decode_json, body)
    try:
        report = await cpu.run(fhir.parse_bundle, data)
        file = await cpu.run(check_file, report)
    except fhir.FhirError as exc:
        raise ApiError(422, "invalid_fhir", exc.detail, exc.path or None) from None
    except IntakeRefused as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    accepted = await _receive(intake, client, claims, report, file)
    return web.json_response(
        accepted.body(),
        status=200,
        headers={"Idempotent-Replay": "true" if accepted.outcome == "duplicate" else "false"},
    )


async def _receive(
    intake: LabIntake,
    client: ClientKey,
    claims: tokens.TokenClaims,
    report: fhir.LabReport,
    file: Any,
) -> Accepted:
    # A unique constraint may refuse a row a concurrent request stored a moment ago
    # (the same token or the same report): the second attempt sees it and answers.
    for attempt in (1, 2):
        try:
            return await intake.receive(client, claims, report, file)
        except IntakeRefused as exc:
            raise ApiError(exc.status, exc.code, exc.detail) from None
        except AccessDenied as exc:
            raise ApiError(403, "forbidden", exc.message) from None
        except IntegrityError:
            if attempt == 2:
                raise ApiError(
                    409, "replay", "A concurrent request stored the same token or report."
                ) from None
    raise AssertionError("unreachable")


async def openapi_json(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    return web.json_response(
        openapi_document(
            audience=config.audience,
            max_age_seconds=config.max_age_seconds,
            max_body_bytes=config.max_body_bytes,
        )
    )


def add_api_routes(app: web.Application, config: ApiConfig) -> None:
    """Add the API to an application that is not started yet (the webhook's, in webhook mode)."""
    app[CONFIG] = config
    app.middlewares.append(json_errors)
    app.router.add_post(f"{API_PREFIX}/lab-results", submit_lab_result)
    app.router.add_get(f"{API_PREFIX}/openapi.json", openapi_json)


def create_api_app(config: ApiConfig) -> web.Application:
    # The body is read by the handler with its own limit; aiohttp's limit is the same.
    app = web.Application(client_max_size=config.max_body_bytes)
    app[JSON_EVERYWHERE] = True
    add_api_routes(app, config)
    return app


async def serve_api(config: ApiConfig, host: str, port: int) -> web.AppRunner:
    """Start the API on host:port; the caller awaits ``runner.cleanup()`` to stop it."""
    runner = web.AppRunner(create_api_app(config), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("lab API on %s:%s%s", host, port, API_PREFIX)
    return runner


def api_config(runtime: Runtime) -> ApiConfig:
    """The API's settings and services, from the running application."""
    settings = runtime.settings
    return ApiConfig(
        work=runtime.uow_factory,
        ctx=runtime.ctx,
        audience=settings.api_audience,
        max_age_seconds=settings.api_token_max_age_seconds,
        max_body_bytes=settings.api_max_body_bytes,
    )


# -- commands: `api`, `admin add-lab`, `demo-lab` -----------------------------------

DEFAULT_API_PORT = 8081


async def run_api(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m bot api`: the API alone, on API_HOST:API_PORT (8081 when unset)."""
    from bot.cli import install_stop_signals
    from bot.runner import _with_runtime

    runtime = await _with_runtime(settings)
    stop = asyncio.Event()
    install_stop_signals(stop)
    port = args.port or settings.api_port or DEFAULT_API_PORT
    try:
        runner = await serve_api(api_config(runtime), args.host or settings.api_host, port)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        await runtime.close()
    return 0


async def add_lab(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m bot admin add-lab --name … --public-key FILE [--issuer …]` (audited)."""
    from bot.runner import _with_runtime
    from services.integration.admin import LabAdmin

    try:
        pem = await asyncio.to_thread(Path(args.public_key).read_text, encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.public_key}: {type(exc).__name__}", file=sys.stderr)
        return 1
    runtime = await _with_runtime(settings)
    try:
        async with runtime.uow_factory() as uow:
            try:
                lab = await LabAdmin(uow, runtime.ctx, operator=args.operator).add_lab(
                    args.name, pem, issuer=args.issuer
                )
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            await uow.commit()
    finally:
        await runtime.close()
    print(
        f"laboratory {lab.id} registered ({lab.algorithm}); sign its tokens with iss={lab.issuer}"
    )
    return 0


async def demo_lab(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m bot demo-lab --snils … --test glucose`: send a signed bundle to the API."""
    import aiohttp

    from bot.runner import _with_runtime
    from services.core.validators import normalize_snils
    from services.integration import demo_lab as demo

    try:
        snils = normalize_snils(args.snils)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    runtime = await _with_runtime(settings)
    try:
        key = demo.load_or_create_key(settings.data_dir / "demo-lab")
        async with runtime.uow_factory() as uow:
            try:
                lab = await demo.ensure_demo_lab(uow, runtime.ctx, key)
            except DomainError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            await uow.commit()
        now = runtime.ctx.gateways.clock.now()
        bundle = await runtime.ctx.cpu.run(
            functools.partial(
                demo.build_bundle,
                snils=snils,
                test=args.test,
                now=now,
                preliminary=args.preliminary,
                report_identifier=args.report_id,
            )
        )
    finally:
        await runtime.close()
    token = demo.sign_token(
        key.private_key, issuer=lab.issuer, audience=settings.api_audience, now=now
    )
    url = (args.url or f"http://127.0.0.1:{settings.api_port or DEFAULT_API_PORT}").rstrip("/")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.post(
                f"{url}{API_PREFIX}/lab-results", data=json.dumps(bundle), headers=headers
            ) as answer,
        ):
            text = await answer.text()
            status = answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"error: the API at {url} does not answer: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"{status} {text}")
    return 0 if status == 200 else 1
