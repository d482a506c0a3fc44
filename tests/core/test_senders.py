"""The SMS and mail senders against servers the tests start, and their settings.

SMTP goes to aiosmtpd's `Controller` (a real SMTP server in a thread), the SMS
gateway is an aiohttp app. No log record of the application — at any level —
may name the phone number, the e-mail address, the code or the token; the
records of the test's own servers (``mail.*``, ``aiohttp.*``) are theirs, not
the application's, and are left out of that check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.app import default_gateways
from bot.config import ConfigError, Settings
from services.core.gateways import (
    ConsoleMail,
    ConsoleSms,
    DeliveryError,
    HttpSms,
    SmtpMail,
    check_gateway_url,
    mask_email,
    mask_phone,
)

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+79990000001"
EMAIL = "anna.ivanova@example.ru"
CODE = "482913"
TEXT = f"Код подтверждения: {CODE}. Действует 5 мин. Никому его не сообщайте."
SUBJECT = "Код подтверждения"
TOKEN = "gw-token-5f1c9a"
SENDER = "ЭМК <noreply@emk.example.ru>"
PERSONAL = (PHONE, PHONE[1:], "9990000001", EMAIL, "anna.ivanova", CODE, TOKEN)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The application's records, without those of the servers this test runs."""
    return [r for r in caplog.records if not r.name.startswith(("mail.", "aiohttp."))]


def assert_nothing_personal(caplog: pytest.LogCaptureFixture, exc: BaseException) -> None:
    logged = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in app_records(caplog)
    )
    # What an error handler would log with exc_info: the whole chain, formatted.
    shown = "".join(traceback.format_exception(exc))
    for value in PERSONAL:
        assert value not in logged, f"{value!r} in the log:\n{logged}"
        assert value not in shown, f"{value!r} in the traceback:\n{shown}"
    assert exc.__cause__ is None and exc.__context__ is None


# -- masking and the console senders -------------------------------------------


def test_masks_keep_only_what_tells_destinations_apart() -> None:
    assert mask_phone(PHONE) == "+7 *** ***-**-01"
    assert mask_phone("12") == "***"
    assert mask_email("anna@example.ru") == "a***@example.ru"
    assert mask_email("no-at-sign") == "***"


async def test_console_senders_log_the_code_and_a_masked_destination(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sms, mail = ConsoleSms(), ConsoleMail()
    seen: list[tuple[str, str]] = []
    sms.listeners.append(lambda title, text: seen.append((title, text)))
    mail.listeners.append(lambda title, text: seen.append((title, text)))
    await sms.send(PHONE, TEXT)
    await mail.send(EMAIL, SUBJECT, TEXT)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"console SMS to +7 *** ***-**-01: {TEXT}",
        f"console mail to a***@example.ru: {SUBJECT}: {TEXT}",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert seen == [
        ("SMS на +7 *** ***-**-01", TEXT),
        (f"Письмо на a***@example.ru: {SUBJECT}", TEXT),
    ]
    # The tests read what was sent in full, as a person reads their phone.
    assert sms.sent == [(PHONE, TEXT)]
    assert mail.sent == [(EMAIL, SUBJECT, TEXT)]


# -- SMTP ----------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the test's SMTP server received, and how it answers RCPT."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    refuse_rcpt: bool = False
    refuse_data: bool = False

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse_rcpt:
            # As real servers do, the refusal quotes the address back.
            return f"550 5.1.1 <{address}>: Recipient address rejected: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return f"554 5.7.1 Message to <{envelope.rcpt_tos[0]}> rejected as spam"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"emk", b"smtp-secret")
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535

    def received(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        content = self.envelopes[0].original_content or self.envelopes[0].content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(mailbox, port)
    finally:
        controller.stop()


@dataclass
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, and contexts that serve and trust it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return Certificate(server=server, client=client)


async def test_smtp_mail_arrives_with_russian_headers_and_body(smtp_server: SmtpServer) -> None:
    mail = SmtpMail("127.0.0.1", smtp_server.port, SENDER, security="none", timeout=5)
    await mail.send(EMAIL, SUBJECT, TEXT)
    envelope = smtp_server.mailbox.envelopes[0]
    assert envelope.mail_from == "noreply@emk.example.ru"
    assert envelope.rcpt_tos == [EMAIL]
    message = smtp_server.mailbox.received()
    raw = smtp_server.mailbox.envelopes[0].original_content or b""
    assert b"=?utf-8?" in raw  # the Russian subject and name are encoded words, not raw bytes
    assert raw.isascii()
    assert message["Subject"] == SUBJECT
    assert message["To"] == EMAIL
    assert message["From"].addresses[0].display_name == "ЭМК"
    assert message["From"].addresses[0].addr_spec == "noreply@emk.example.ru"
    assert message["Message-ID"].endswith("@emk.example.ru>")
    assert message["Date"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().strip() == TEXT


async def test_smtp_starttls_and_login(
    certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=certificate.server,
        require_starttls=True,
        authenticator=mailbox.authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        mail = SmtpMail(
            "127.0.0.1",
            port,
            SENDER,
            security="starttls",
            username="emk",
            password="smtp-secret",
            timeout=5,
            tls_context=certificate.client,
        )
        await mail.send(EMAIL, SUBJECT, TEXT)
        assert mailbox.logins == [(b"emk", b"smtp-secret")]
        assert mailbox.received().get_content().strip() == TEXT
        wrong = SmtpMail(
            "127.0.0.1",
            port,
            SENDER,
            security="starttls",
            username="emk",
            password="wrong-secret",
            timeout=5,
            tls_context=certificate.client,
        )
        with pytest.raises(DeliveryError, match="535") as refused:
            await wrong.send(EMAIL, SUBJECT, TEXT)
        assert_nothing_personal(caplog, refused.value)
        logged = " ".join(r.getMessage() for r in app_records(caplog))
        assert "secret" not in logged
        # An untrusted certificate (the system's CAs only) is refused, not ignored.
        untrusted = SmtpMail("127.0.0.1", port, SENDER, security="starttls", timeout=5)
        with pytest.raises(DeliveryError):
            await untrusted.send(EMAIL, SUBJECT, TEXT)
        assert len(mailbox.envelopes) == 1
    finally:
        controller.stop()


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_smtp_refusal_is_a_delivery_error_naming_no_one(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture, stage: str
) -> None:
    caplog.set_level(logging.DEBUG)
    smtp_server.mailbox.refuse_rcpt = stage == "rcpt"
    smtp_server.mailbox.refuse_data = stage == "data"
    mail = SmtpMail("127.0.0.1", smtp_server.port, SENDER, security="none", timeout=5)
    with pytest.raises(DeliveryError) as caught:
        await mail.send(EMAIL, SUBJECT, TEXT)
    assert ("550" if stage == "rcpt" else "554") in str(caught.value)
    assert caught.value.message.startswith("Не удалось отправить код")
    assert not smtp_server.mailbox.envelopes
    assert any(r.levelno == logging.WARNING for r in app_records(caplog))
    assert_nothing_personal(caplog, caught.value)


async def test_smtp_unreachable_is_a_delivery_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mail = SmtpMail("127.0.0.1", free_port(), SENDER, security="none", timeout=5)
    with pytest.raises(DeliveryError) as caught:
        await mail.send(EMAIL, SUBJECT, TEXT)
    assert "SMTPConnectError" in str(caught.value)
    assert_nothing_personal(caplog, caught.value)


def test_smtp_sender_must_be_one_address() -> None:
    for bad in ("", "not an address", "a@example.ru, b@example.ru"):
        with pytest.raises(ValueError):
            SmtpMail("127.0.0.1", 25, bad)
    mail = SmtpMail("h", 25, SENDER, username="u", password="smtp-secret")
    assert "smtp-secret" not in repr(mail)


# -- the HTTPS SMS gateway -----------------------------------------------------


@dataclass
class Gateway:
    """The test's SMS gateway: records each request and answers with `status`."""

    server: TestServer
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 202
    delay: float = 0.0

    def url(self, path: str = "/v1/sms") -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    state = Gateway(server)

    async def send(request: web.Request) -> web.StreamResponse:
        state.requests.append((dict(request.headers), await request.read()))
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.status in (301, 302, 307, 308):
            raise web.HTTPTemporaryRedirect("/elsewhere")
        # A gateway's error page may echo what it was sent; it must go nowhere.
        return web.json_response({"echo": await request.json()}, status=state.status)

    async def elsewhere(request: web.Request) -> web.Response:
        state.requests.append((dict(request.headers), b"redirected"))
        return web.json_response({}, status=200)

    app.router.add_post("/v1/sms", send)
    app.router.add_route("*", "/elsewhere", elsewhere)
    await server.start_server()
    try:
        yield state
    finally:
        await server.close()


async def test_http_sms_posts_json_with_the_bearer_token(gateway: Gateway) -> None:
    sms = HttpSms(gateway.url(), TOKEN, "EMK", timeout=5)
    await sms.send(PHONE, TEXT)
    assert len(gateway.requests) == 1
    headers, body = gateway.requests[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"to": PHONE, "text": TEXT, "sender": "EMK"}


async def test_http_sms_error_status_is_a_delivery_error_naming_no_one(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.status = 500
    sms = HttpSms(gateway.url(), TOKEN, "EMK", timeout=5)
    with pytest.raises(DeliveryError) as caught:
        await sms.send(PHONE, TEXT)
    assert str(caught.value) == "SMS not delivered: the gateway answered HTTP 500"
    assert len(gateway.requests) == 1  # no retries
    assert any(r.levelno == logging.WARNING for r in app_records(caplog))
    assert_nothing_personal(caplog, caught.value)


async def test_http_sms_does_not_follow_redirects(gateway: Gateway) -> None:
    gateway.status = 307
    sms = HttpSms(gateway.url(), TOKEN, "EMK", timeout=5)
    with pytest.raises(DeliveryError, match="HTTP 307"):
        await sms.send(PHONE, TEXT)
    assert len(gateway.requests) == 1  # the token went nowhere else


async def test_http_sms_timeout_and_unreachable_are_delivery_errors(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.delay = 2
    slow = HttpSms(gateway.url(), TOKEN, "EMK", timeout=0.2)
    with pytest.raises(DeliveryError, match="could not be reached") as timed_out:
        await slow.send(PHONE, TEXT)
    assert_nothing_personal(caplog, timed_out.value)
    down = HttpSms(f"http://127.0.0.1:{free_port()}/v1/sms", TOKEN, "EMK", timeout=5)
    with pytest.raises(DeliveryError, match="could not be reached") as refused:
        await down.send(PHONE, TEXT)
    assert_nothing_personal(caplog, refused.value)


def test_gateway_url_must_be_https_unless_local() -> None:
    for good in (
        "https://sms.example.ru/v1/send",
        "http://localhost:8080/send",
        "http://127.0.0.1:9000/",
        "http://[::1]:9000/",
    ):
        assert check_gateway_url(good) == good
    for bad in ("http://sms.example.ru/send", "ftp://sms.example.ru/", "sms.example.ru", ""):
        with pytest.raises(ValueError):
            check_gateway_url(bad)
    with pytest.raises(ValueError):
        HttpSms("http://sms.example.ru/send", TOKEN, "EMK")
    assert TOKEN not in repr(HttpSms("https://sms.example.ru/send", TOKEN, "EMK"))


# -- settings ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_channel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("SMS_", "SMTP_", "MAIL_")):
            monkeypatch.delenv(name)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def config_error(call: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_console_is_the_default() -> None:
    gateways = default_gateways(settings())
    assert isinstance(gateways.sms, ConsoleSms)
    assert isinstance(gateways.mail, ConsoleMail)


def test_http_sms_settings_name_what_is_missing() -> None:
    full = {
        "sms_backend": "http",
        "sms_gateway_url": "https://sms.example.ru/v1/send",
        "sms_gateway_token": TOKEN,
        "sms_sender_name": "EMK",
    }
    for missing, name in (
        ("sms_gateway_url", "SMS_GATEWAY_URL"),
        ("sms_gateway_token", "SMS_GATEWAY_TOKEN"),
        ("sms_sender_name", "SMS_SENDER_NAME"),
    ):
        values = {k: v for k, v in full.items() if k != missing}
        assert name in config_error(lambda v=values: default_gateways(settings(**v)))
        blank = {**full, missing: "  "}
        assert name in config_error(lambda v=blank: settings(**v).check_channels())
    plain = {**full, "sms_gateway_url": "http://sms.example.ru/v1/send"}
    assert "SMS_GATEWAY_URL must be https://" in config_error(
        lambda: default_gateways(settings(**plain))
    )
    built = default_gateways(settings(**full))
    assert isinstance(built.sms, HttpSms)
    assert isinstance(built.mail, ConsoleMail)
    assert built.sms.url == full["sms_gateway_url"] and built.sms.sender == "EMK"
    assert TOKEN not in repr(settings(**full))


def test_smtp_settings_name_what_is_missing() -> None:
    full = {"mail_backend": "smtp", "smtp_host": "smtp.example.ru", "smtp_from": SENDER}
    assert "SMTP_HOST" in config_error(
        lambda: default_gateways(settings(mail_backend="smtp", smtp_from=SENDER))
    )
    assert "SMTP_FROM" in config_error(
        lambda: default_gateways(settings(mail_backend="smtp", smtp_host="smtp.example.ru"))
    )
    assert "SMTP_FROM" in config_error(
        lambda: settings(**{**full, "smtp_from": "noreply"}).check_channels()
    )
    assert "SMTP_PASSWORD" in config_error(
        lambda: settings(**full, smtp_username="emk").check_channels()
    )
    assert "SMTP_USERNAME" in config_error(
        lambda: settings(**full, smtp_password="smtp-secret").check_channels()
    )
    assert "unencrypted" in config_error(
        lambda: settings(
            **full, smtp_security="none", smtp_username="emk", smtp_password="smtp-secret"
        ).check_channels()
    )
    # A relay on this machine may take a login in clear.
    settings(
        **{**full, "smtp_host": "127.0.0.1"},
        smtp_security="none",
        smtp_username="emk",
        smtp_password="smtp-secret",
    ).check_channels()
    ports = {s: settings(**full, smtp_security=s).smtp().port for s in ("starttls", "tls", "none")}
    assert ports == {"starttls": 587, "tls": 465, "none": 25}
    assert settings(**full, smtp_port=2525).smtp().port == 2525
    built = default_gateways(settings(**full))
    assert isinstance(built.mail, SmtpMail) and isinstance(built.sms, ConsoleSms)
    assert (built.mail.host, built.mail.port, built.mail.security) == (
        "smtp.example.ru",
        587,
        "starttls",
    )


def test_blank_channel_settings_from_the_environment_mean_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a .env copied from .env.example: every optional value present and empty.
    for name in (
        "SMS_GATEWAY_URL",
        "SMS_GATEWAY_TOKEN",
        "SMS_SENDER_NAME",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_FROM",
    ):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("MAIL_BACKEND", "smtp")
    loaded = settings()
    assert loaded.smtp_port is None and loaded.smtp_password is None
    assert "SMTP_HOST" in config_error(loaded.check_channels)


def test_cli_stops_with_one_line_naming_the_missing_setting(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("BOT_", "DATABASE", "REDIS", "SMS_", "SMTP_", "MAIL_"))
    }
    env.update(DATA_DIR=str(tmp_path / "data"), SMS_BACKEND="http")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "SMS_GATEWAY_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
