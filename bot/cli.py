"""`python -m bot COMMAND`: run, demo, worker, migrate, seed-demo, admin, audit, verify-pdf."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import ValidationError as SettingsError

from bot.config import ConfigError, Settings

log = logging.getLogger("bot")

EXIT_CONFIG = 2
# What argparse exits with on a bad argument; the booking commands' own checks too.
EXIT_USAGE = 2


# Libraries whose lower levels write what people typed, or noise; each is kept at
# its floor whatever LOG_LEVEL says (a higher LOG_LEVEL still wins).
LIBRARY_LOG_FLOORS: dict[str, int] = {
    # DEBUG: every SQL statement with its parameters (names, СНИЛС, passport, hashes).
    "aiosqlite": logging.INFO,
    # INFO: every statement; DEBUG: the rows read. (echo is off and parameters are
    # hidden in storage.db, but the logger follows the root level all the same.)
    "sqlalchemy.engine": logging.WARNING,
    # Nothing of the queries today; kept out of DEBUG should that change.
    "asyncpg": logging.INFO,
    # DEBUG: the Telegram chat of each message (the person's name and username).
    "aiogram_dialog": logging.INFO,
    # INFO: every update handled, with the user's id only; noise for an operator.
    "aiogram.event": logging.WARNING,
    # The request line of every webhook call (access logging is off in bot.runner).
    "aiohttp.access": logging.WARNING,
    # Request and header dumps of HTTP clients (an SMS gateway's token).
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    # DEBUG: the chunks of every picture checked; noise.
    "PIL": logging.INFO,
    # Alembic announces its plugins and each migration at INFO: noise for an operator.
    "alembic": logging.WARNING,
    # fpdf2 subsetting a font writes a dozen INFO lines per PDF: noise.
    "fontTools": logging.WARNING,
}


def configure_logging(level: str) -> None:
    """The root logger at `level` on stderr; no personal value at any level.

    What the bot's own code logs carries ids and masked destinations only; the
    libraries that would write more are held at LIBRARY_LOG_FLOORS.
    """
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    root_level = logging.getLogger().level
    for name, floor in LIBRARY_LOG_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, root_level))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="ЭМК bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="serve Telegram (polling, or a webhook when WEBHOOK_URL is set)"
    )
    run.add_argument("--no-workers", action="store_true", help="do not run the background workers")
    demo = sub.add_parser("demo", help="the offline console chat; needs no token and no network")
    demo.add_argument(
        "--phone",
        default="+79990000001",
        help="the phone of the Telegram account you play (default: Анна's, +79990000001)",
    )
    demo.add_argument("--user-id", type=int, help="the Telegram user id (default: from the phone)")
    sub.add_parser("worker", help="the background workers alone")
    sub.add_parser("migrate", help="upgrade the database schema to the latest version")
    sub.add_parser("seed-demo", help="create the demo accounts (idempotent)")
    admin = sub.add_parser("admin", help="support staff's commands (audited)")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create-account", help="create a portal account")
    create.add_argument("--phone", required=True)
    create.add_argument("--last-name", required=True)
    create.add_argument("--first-name", required=True)
    create.add_argument("--middle-name")
    create.add_argument("--email")
    create.add_argument("--snils")
    create.add_argument("--totp-secret")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    for name, text in (
        ("unlock", "unlock an account locked after wrong passwords"),
        ("reset-password", "set a temporary password and end all sessions"),
    ):
        cmd = admin_sub.add_parser(name, help=text)
        cmd.add_argument("login", help="phone, e-mail or СНИЛС")
    # Staff of medical organisations (services.clinic.staff).
    staff = admin_sub.add_parser(
        "create-staff", help="add a doctor or an organisation's administrator (ОГРН checked)"
    )
    staff.add_argument("--org", required=True, help="the organisation's ОГРН (13 digits) or id")
    staff.add_argument("--org-name", help="a new organisation's full name (with a new ОГРН)")
    staff.add_argument("--org-address", help="a new organisation's address")
    staff.add_argument("--role", required=True, choices=("doctor", "org-admin"))
    staff.add_argument("--specialty", help="a doctor's specialty: терапевт, кардиолог …")
    staff.add_argument("--phone", required=True)
    staff.add_argument("--last-name", required=True)
    staff.add_argument("--first-name", required=True)
    staff.add_argument("--middle-name")
    confirm = admin_sub.add_parser(
        "confirm-staff", help="confirm a staff member's employment (a doctor's cards open)"
    )
    confirm.add_argument("staff_id", type=int, help="the id `create-staff` printed")
    # The laboratories' API (bot.api).
    add_lab = admin_sub.add_parser(
        "add-lab", help="register a laboratory that sends results (its Ed25519 or P-256 key)"
    )
    add_lab.add_argument("--name", required=True, help="the laboratory's name")
    add_lab.add_argument("--public-key", required=True, help="its public key, a PEM file")
    add_lab.add_argument("--issuer", help="the JWT iss it signs with (default: made up)")
    _add_booking_commands(admin_sub)
    api = sub.add_parser("api", help="the laboratories' HTTP API alone (API_HOST, API_PORT)")
    api.add_argument("--host", help="default: API_HOST")
    api.add_argument("--port", type=int, help="default: API_PORT, else 8081")
    demo_lab = sub.add_parser(
        "demo-lab", help="send a signed demo lab result to the running API (watch the push)"
    )
    demo_lab.add_argument("--snils", required=True, help="the patient's СНИЛС")
    demo_lab.add_argument("--test", choices=("glucose", "cholesterol", "cbc"), default="glucose")
    demo_lab.add_argument("--url", help="the API's base URL (default: http://127.0.0.1:API_PORT)")
    demo_lab.add_argument("--preliminary", action="store_true", help="a preliminary result")
    demo_lab.add_argument("--report-id", help="the report id (default: a new one)")
    audit = sub.add_parser("audit", help="the audit journal")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser(
        "verify",
        help="check the journal's hash chain; names the first row changed, removed or moved",
    )
    from bot import signing

    signing.add_parser(sub)  # verify-pdf FILE [--root PEM]
    for cmd_parser in admin_sub.choices.values():
        cmd_parser.add_argument(
            "--operator", default=getpass.getuser(), help="who runs the command (for the audit)"
        )
    return parser


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_RU = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


def iso_day(text: str) -> date:
    """An argparse type: YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def hours(text: str) -> tuple[time, time]:
    """An argparse type: HH:MM-HH:MM, the end after the start."""
    parts = text.replace("–", "-").split("-")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = (datetime.strptime(p.strip(), "%H:%M").time() for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hours HH:MM-HH:MM") from None
    if end <= start:
        raise argparse.ArgumentTypeError(f"{text!r}: the end must be after the start")
    return start, end


def weekdays(text: str) -> frozenset[int]:
    """An argparse type: mon,tue,… (or пн,вт,…) as weekday numbers, Monday 0."""
    found: set[int] = set()
    for part in text.lower().split(","):
        name = part.strip()
        if not name:
            continue
        if name in WEEKDAYS:
            found.add(WEEKDAYS.index(name))
        elif name in WEEKDAYS_RU:
            found.add(WEEKDAYS_RU.index(name))
        else:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a day of the week ({','.join(WEEKDAYS)})"
            )
    if not found:
        raise argparse.ArgumentTypeError("no day of the week given")
    return frozenset(found)


def _add_booking_commands(admin_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Doctors and their working days: `admin doctors|schedule|cancel-day|change-day`."""
    doctors = admin_sub.add_parser("doctors", help="list doctors (ids for the schedule commands)")
    doctors.add_argument("--org", help="only this organisation (its exact name)")
    make = admin_sub.add_parser(
        "schedule", help="make a doctor's working days (new times go to the waitlist)"
    )
    make.add_argument("--doctor", type=int, required=True, help="the doctor's id")
    make.add_argument("--from", dest="first", type=iso_day, required=True, metavar="YYYY-MM-DD")
    make.add_argument("--to", dest="last", type=iso_day, required=True, metavar="YYYY-MM-DD")
    make.add_argument("--hours", type=hours, required=True, metavar="HH:MM-HH:MM")
    make.add_argument(
        "--days",
        type=weekdays,
        default=frozenset(range(5)),
        help="days of the week (default: mon,tue,wed,thu,fri)",
    )
    cancel = admin_sub.add_parser(
        "cancel-day", help="cancel a doctor's day; every patient booked is told the reason"
    )
    change = admin_sub.add_parser(
        "change-day", help="new hours for a doctor's day; visits outside them are cancelled"
    )
    for cmd in (cancel, change):
        cmd.add_argument("--doctor", type=int, required=True, help="the doctor's id")
        cmd.add_argument("--day", type=iso_day, required=True, metavar="YYYY-MM-DD")
        if cmd is change:
            cmd.add_argument("--hours", type=hours, required=True, metavar="HH:MM-HH:MM")
        cmd.add_argument("--reason", required=True, help="told to the patients (in Russian)")


# ScheduleDay.reason and Appointment.cancel_reason hold this many characters.
REASON_MAX_LENGTH = 300


def check_booking_args(args: argparse.Namespace, today: date) -> str | None:
    """What is wrong with the dates or the reason together (argparse checked each alone)."""
    command = getattr(args, "admin_command", None)
    if command == "schedule":
        if args.last < args.first:
            return f"--to {args.last} is before --from {args.first}"
        if args.first < today:
            return f"--from {args.first} is in the past (today is {today} in Moscow)"
        if (args.last - args.first).days > 366:
            return "at most a year at once (--from … --to)"
    if command in ("cancel-day", "change-day"):
        args.reason = args.reason.strip()
        if not args.reason:
            return "--reason is empty: the patients are told it"
        if len(args.reason) > REASON_MAX_LENGTH:
            return f"--reason is longer than {REASON_MAX_LENGTH} characters"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "admin":
        problem = check_booking_args(args, datetime.now(ZoneInfo("Europe/Moscow")).date())
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE
    try:
        settings = Settings()
    except SettingsError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper()
        print(f"error: setting {name}: {first['msg']}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)
    try:
        settings.check_database_url()
        return asyncio.run(_dispatch(args, settings))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runner

    commands: dict[str, Callable[[argparse.Namespace, Settings], Awaitable[int]]] = {
        "run": runner.run_bot,
        "demo": runner.run_demo,
        "worker": runner.run_worker,
        "migrate": runner.migrate,
        "seed-demo": runner.seed,
        "admin": runner.admin,
        "audit": runner.audit,
    }
    from bot import api

    commands.update({"api": api.run_api, "demo-lab": api.demo_lab})
    from bot import signing

    commands["verify-pdf"] = signing.verify_command
    return await commands[args.command](args, settings)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
