"""The command line as an operator meets it: clear one-line failures, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=env.get("WORKDIR", ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE", "REDIS"))}
    env.update(DATA_DIR=str(tmp_path / "data"), WORKDIR=str(tmp_path), **extra)
    return env


def test_run_without_token_exits_2_naming_bot_token(tmp_path: Path) -> None:
    result = run_cli("run", env=clean_env(tmp_path))
    assert result.returncode == 2
    assert "BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_database_url_fails_fast(tmp_path: Path) -> None:
    env = clean_env(tmp_path, BOT_TOKEN="123:abc", DATABASE_URL="mysql://nobody@nowhere/db")
    result = run_cli("run", env=env)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr
    env["DATABASE_URL"] = "not a url at all"
    result = run_cli("migrate", env=env)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_and_redis_fail_fast(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        BOT_TOKEN="123:abc",
        DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/db",
    )
    result = run_cli("run", env=env)
    assert result.returncode == 2
    assert "does not answer" in result.stderr and "Traceback" not in result.stderr
    env.pop("DATABASE_URL")
    env["REDIS_URL"] = "redis://:secret@127.0.0.1:1/0"
    result = run_cli("run", env=env)
    assert result.returncode == 2
    assert "Redis at 127.0.0.1:1 does not answer" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_migrate_seed_and_admin_commands_are_audited(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    assert run_cli("migrate", env=env).returncode == 0
    first = run_cli("seed-demo", env=env)
    assert first.returncode == 0 and "created" in first.stdout
    again = run_cli("seed-demo", env=env)
    assert again.returncode == 0 and "already there" in again.stdout
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "admin",
            "create-account",
            "--phone",
            "+79995554433",
            "--last-name",
            "Тестова",
            "--first-name",
            "Мария",
            "--password-stdin",
            "--operator",
            "olga",
        ],
        cwd=tmp_path,
        env=env,
        input="Strong-Passw0rd\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    weak = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "admin",
            "create-account",
            "--phone",
            "+79995554400",
            "--last-name",
            "Тестова",
            "--first-name",
            "Мария",
            "--password-stdin",
        ],
        cwd=tmp_path,
        env=env,
        input="weak\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert weak.returncode == 1 and "error:" in weak.stderr
    unlocked = run_cli("admin", "unlock", "+7 999 555-44-33", "--operator", "olga", env=env)
    assert unlocked.returncode == 0
    reset = run_cli("admin", "reset-password", "+79995554433", "--operator", "olga", env=env)
    assert reset.returncode == 0 and "temporary password" in reset.stdout
    missing = run_cli("admin", "unlock", "+79990009999", env=env)
    assert missing.returncode == 1 and "не найдена" in missing.stderr
    # every use is in the audit journal, with the operator
    import sqlite3

    db = sqlite3.connect(tmp_path / "data" / "emk.sqlite3")
    rows = db.execute(
        "SELECT actor, action FROM audit_log WHERE actor = 'admin:olga' ORDER BY id"
    ).fetchall()
    db.close()
    assert [r[1] for r in rows] == ["account.create", "account.unlock", "password.reset"]


def test_docker_compose_uses_only_known_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    known = {name.upper() for name in Settings.model_fields}
    for name, service in compose["services"].items():
        env = dict(service.get("environment") or {})
        if service.get("<<"):
            env.update(service["<<"].get("environment") or {})
        if name in {"bot", "worker"}:
            assert env, name
            unknown = set(env) - known
            assert not unknown, f"{name} uses settings Settings does not know: {unknown}"


def test_env_example_lists_every_setting() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    listed = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert listed == {name.upper() for name in Settings.model_fields}


def test_booking_admin_commands_make_cancel_and_change_days(tmp_path: Path) -> None:
    import sqlite3
    from datetime import date, timedelta

    env = clean_env(tmp_path)
    assert run_cli("seed-demo", env=env).returncode == 0
    db_path = tmp_path / "data" / "emk.sqlite3"

    def query(sql: str, *params: object) -> list[tuple[object, ...]]:
        db = sqlite3.connect(db_path)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    listed = run_cli("admin", "doctors", "--org", "Городская поликлиника № 1", env=env)
    assert listed.returncode == 0, listed.stderr
    (sokolova,) = [line for line in listed.stdout.splitlines() if "Соколова" in line]
    assert "Соколова Мария Андреевна" in sokolova and "терапевт" in sokolova
    assert "Городская поликлиника № 1" in sokolova and "105" in sokolova
    doctor = sokolova.split()[0]
    ((kim, anna_visit, anna_day),) = query(
        "SELECT a.doctor_id, a.id, s.day FROM appointments a JOIN slots s ON s.id = a.slot_id "
        "JOIN accounts c ON c.id = a.patient_account_id WHERE c.phone = '+79990000001'"
    )
    ((last_day,),) = query("SELECT max(day) FROM schedule_days WHERE doctor_id = ?", doctor)
    last = date.fromisoformat(str(last_day))

    # Working days over the last demo days and two weeks after: the demo's are kept.
    first, until = last - timedelta(days=2), last + timedelta(days=14)
    made = run_cli(
        "admin",
        "schedule",
        "--doctor",
        doctor,
        "--from",
        first.isoformat(),
        "--to",
        until.isoformat(),
        "--hours",
        "09:00-12:00",
        "--days",
        "mon,wed,fri",
        "--operator",
        "olga",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    expected = [
        first + timedelta(days=n)
        for n in range((until - first).days + 1)
        if (first + timedelta(days=n)).weekday() in (0, 2, 4)
    ]
    new_days = [d for d in expected if d > last]
    skipped = [d for d in expected if d <= last]
    assert f"{len(new_days)} working days made ({9 * len(new_days)} slots" in made.stdout
    for day in skipped:
        assert f"{day} skipped" in made.stdout
    rows = query(
        "SELECT day, count(*) FROM slots WHERE doctor_id = ? AND day > ? GROUP BY day",
        doctor,
        last.isoformat(),
    )
    assert {str(d): n for d, n in rows} == {d.isoformat(): 9 for d in new_days}

    # The demo's day of Анна's visit to Ким, now 11:00–13:00: her 10:00 is cancelled.
    changed = run_cli(
        "admin",
        "change-day",
        "--doctor",
        str(kim),
        "--day",
        str(anna_day),
        "--hours",
        "11:00-13:00",
        "--reason",
        "врач на конференции",
        "--operator",
        "olga",
        env=env,
    )
    assert changed.returncode == 0, changed.stderr
    assert "now 11:00-13:00: 12 slots closed, 0 opened" in changed.stdout
    assert query("SELECT status, cancel_reason FROM appointments WHERE id = ?", anna_visit) == [
        ("cancelled", "врач на конференции")
    ]

    cancelled = run_cli(
        "admin",
        "cancel-day",
        "--doctor",
        doctor,
        "--day",
        new_days[0].isoformat(),
        "--reason",
        "врач на больничном",
        "--operator",
        "olga",
        env=env,
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled; 0 told" in cancelled.stdout
    assert query(
        "SELECT DISTINCT status FROM slots WHERE doctor_id = ? AND day = ?",
        doctor,
        new_days[0].isoformat(),
    ) == [("closed",)]

    # Mistakes: a clear message on stderr, no traceback, a non-zero status.
    for args, code, words in (
        (("doctors", "--org", "Нет такой"), 1, "Организации «Нет такой» нет"),
        (
            (
                "schedule",
                "--doctor",
                doctor,
                "--from",
                until.isoformat(),
                "--to",
                first.isoformat(),
                "--hours",
                "09:00-12:00",
            ),
            2,
            "is before --from",
        ),
        (
            (
                "schedule",
                "--doctor",
                doctor,
                "--from",
                "2020-01-01",
                "--to",
                "2020-01-02",
                "--hours",
                "09:00-12:00",
            ),
            2,
            "in the past",
        ),
        (
            (
                "schedule",
                "--doctor",
                "999999",
                "--from",
                until.isoformat(),
                "--to",
                until.isoformat(),
                "--hours",
                "09:00-12:00",
            ),
            1,
            "Такого врача нет",
        ),
        (
            (
                "schedule",
                "--doctor",
                doctor,
                "--from",
                "2026-13-01",
                "--to",
                "2026-13-02",
                "--hours",
                "09:00-12:00",
            ),
            2,
            "is not a date YYYY-MM-DD",
        ),
        (
            (
                "change-day",
                "--doctor",
                doctor,
                "--day",
                until.isoformat(),
                "--hours",
                "15:00-09:00",
                "--reason",
                "x",
            ),
            2,
            "the end must be after the start",
        ),
        (
            (
                "change-day",
                "--doctor",
                doctor,
                "--day",
                until.isoformat(),
                "--hours",
                "9-12",
                "--reason",
                "x",
            ),
            2,
            "is not hours HH:MM-HH:MM",
        ),
        (
            (
                "schedule",
                "--doctor",
                doctor,
                "--from",
                until.isoformat(),
                "--to",
                until.isoformat(),
                "--hours",
                "09:00-12:00",
                "--days",
                "mon,funday",
            ),
            2,
            "is not a day of the week",
        ),
        (
            (
                "cancel-day",
                "--doctor",
                doctor,
                "--day",
                (until + timedelta(days=30)).isoformat(),
                "--reason",
                "x",
            ),
            1,
            "нет расписания",
        ),
        (
            ("cancel-day", "--doctor", doctor, "--day", until.isoformat(), "--reason", " "),
            2,
            "--reason is empty",
        ),
    ):
        result = run_cli("admin", *args, env=env)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr

    rows = query("SELECT action FROM audit_log WHERE actor = 'admin:olga' ORDER BY id")
    actions = [r[0] for r in rows]
    assert actions.count("schedule.add_day") == len(new_days)
    told = int(changed.stdout.split(" opened, ")[1].split()[0])
    assert told >= 1  # Анна, and the demo's other patients of that morning
    assert actions[len(new_days) :] == [
        *["visit.cancel_by_clinic"] * told,
        "schedule.change_day",
        "schedule.cancel_day",
    ]
