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
