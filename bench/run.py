"""The benchmark: the application's cost over a bare dialog, the sign-in stall, the status queries.

    python bench/run.py [--quick] [--backends sqlite,postgres] [--parts form,stall,status] ...

1. A form step of the application (a person signed in answers the text
   questions of the application form) against a step of a bare aiogram-dialog
   dialog over the same FSM storage — SqlStorage on SQLite, RedisStorage with
   PostgreSQL — with a simulated Bot API round trip of 0 and 50 ms, with 1 and
   with 50 people at once: throughput ratio, p50/p99 per step.
2. Sign-in with the production password hasher: the longest event-loop stall
   while the password step is handled.
3. The status screen's queries over 100 000 applications: p50/p95 of each.
4. The record's lab results over 100 000 accounts and 1 000 000 results: the
   cost of the queries behind the list, a page, the filter, one result and a
   trend, against a primary-key SELECT measured in the same run.
5. The trend chart: rendering time and peak memory, against an empty Figure.
6. Booking over 1 000 doctors × 60 days of slots (1.08 M): the queries of the
   month view and of one day's times, for one doctor and for «Любой врач»,
   against a primary-key SELECT measured in the same run; and 100 concurrent
   bookings at 20 free slots, of which exactly 20 must win (else the run fails).

Environment: BENCH_DATABASE_URL (a PostgreSQL server; the bench creates and drops
databases ``bench_<run>_*`` of its own; default
postgresql+asyncpg://postgres@127.0.0.1:5432/test) and REDIS_URL (keys under
``bench:<run>:`` are deleted afterwards; default redis://127.0.0.1:6379/0).
Targets are printed beside the figures; a figure short of its target says MISSED.
Nothing leaves the machine: Telegram is the in-process sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backends import DEFAULT_PG_URL, DEFAULT_REDIS_URL, Backend, Kind, new_run_id
from bench.booking import CALL_LABELS as BOOKING_LABELS
from bench.booking import CALLS as BOOKING_CALLS
from bench.booking import BookingResult, run_booking
from bench.form import FormPlan, FormResult, max_steps, run_form
from bench.record import CALLS, ChartResult, RecordResult, run_chart, run_record
from bench.stall import ReferenceResult, StallResult, run_reference, run_stall
from bench.stats import MISSED, percentile, table, verdict
from bench.status import QUERIES, StatusResult, run_status

RATIO_TARGET = 0.5
STALL_TARGET_MS = 5.0
STATUS_TARGET_MS = 5.0
RECORD_TARGET_MS = 20.0
# The record's calls the issue sets the target for (the list of results and one result).
RECORD_TARGETED = ("list", "detail")
BOOKING_TARGET_MS = 10.0
PARTS = ("form", "stall", "status", "record", "chart", "booking")


@dataclass
class Plan:
    backends: Sequence[Kind] = ("sqlite", "postgres")
    parts: Sequence[str] = PARTS
    form: FormPlan = field(default_factory=FormPlan)
    sign_ins: int = 3
    rows: int = 100_000
    reps: int = 200
    before_0004: bool = True
    record_accounts: int = 100_000
    record_results: int = 1_000_000
    record_reps: int = 200
    chart_points: Sequence[int] = (5, 50)
    chart_reps: int = 10
    booking_doctors: int = 1_000
    booking_days: int = 60
    booking_reps: int = 200
    booking_attempts: int = 100
    booking_contested: int = 20


@dataclass
class Report:
    form: list[FormResult] = field(default_factory=list)
    stall: list[StallResult] = field(default_factory=list)
    stall_reference: list[ReferenceResult] = field(default_factory=list)
    status: list[StatusResult] = field(default_factory=list)
    record: list[RecordResult] = field(default_factory=list)
    chart: list[ChartResult] = field(default_factory=list)
    booking: list[BookingResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    # What makes the run fail (exit status 1): concurrent bookings that did not book exactly.
    failed: list[str] = field(default_factory=list)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (about a minute)")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--parts", default=",".join(PARTS), help=",".join(PARTS))
    parser.add_argument("--latencies", help="simulated round trips in ms (default 0,50)")
    parser.add_argument("--users", help="people at once (default 1,50)")
    parser.add_argument("--steps", type=int, help=f"form steps per person (at most {max_steps()})")
    parser.add_argument("--solo-people", type=int, help="people one after another with 1 user")
    parser.add_argument("--sign-ins", type=int, help="sign-ins measured for the stall")
    parser.add_argument("--rows", type=int, help="applications seeded for the status queries")
    parser.add_argument("--reps", type=int, help="status views timed")
    parser.add_argument("--no-before", action="store_true", help="skip the run without 0004")
    parser.add_argument("--results", type=int, help="lab results seeded for the record part")
    parser.add_argument("--doctors", type=int, help="doctors seeded for the booking part")
    parser.add_argument("--days", type=int, help="days of slots per doctor (booking part)")
    parser.add_argument("--booking-reps", type=int, help="calls timed per booking view")
    args = parser.parse_args(argv)

    plan = Plan()
    if args.quick:
        plan.form = FormPlan(users=(1, 10), steps=6, solo_people=3)
        plan.sign_ins, plan.rows, plan.reps = 2, 20_000, 50
        plan.record_accounts, plan.record_results, plan.record_reps = 10_000, 100_000, 50
        plan.chart_reps = 3
        plan.booking_doctors, plan.booking_days, plan.booking_reps = 200, 30, 50
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for name in backends:
        if name not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {name!r}")
    plan.backends = [b for b in ("sqlite", "postgres") if b in backends]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for name in parts:
        if name not in PARTS:
            parser.error(f"unknown part {name!r}")
    plan.parts = parts
    if args.latencies:
        plan.form.latencies_ms = _floats(args.latencies)
    if args.users:
        plan.form.users = _ints(args.users)
    if args.steps:
        plan.form.steps = args.steps
    if args.solo_people:
        plan.form.solo_people = args.solo_people
    if args.sign_ins:
        plan.sign_ins = args.sign_ins
    if args.rows:
        plan.rows = args.rows
    if args.reps:
        plan.reps = args.reps
    if args.no_before:
        plan.before_0004 = False
    if args.results:
        plan.record_results = args.results
        plan.record_accounts = max(2, args.results // 10)
    if args.doctors:
        plan.booking_doctors = args.doctors
    if args.days:
        plan.booking_days = args.days
    if args.booking_reps:
        plan.booking_reps = args.booking_reps
    return plan, args


# -- printing -------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _ms2(value: float) -> str:
    return f"{value:.2f}"


def _ratio(value: float) -> str:
    """Two decimals, rounded down: 0.497 reads 0.49 (MISSED), not 0.50."""
    return f"{math.floor(value * 100) / 100:.2f}"


def _per_step(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def header() -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"EMK bot benchmark · {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs · "
        f"load average {load}\n"
        f"Python {platform.python_version()} · SQLite {sqlite3.sqlite_version} · "
        "Telegram: the in-process sandbox (tgsandbox)"
    )


def form_table(results: Sequence[FormResult]) -> str:
    rows = []
    for r in results:
        ok = r.ratio >= RATIO_TARGET
        rows.append(
            [
                r.backend,
                r.storage,
                f"{r.latency_ms:.0f} ms",
                str(r.users),
                f"{r.app.throughput:.1f}",
                f"{r.bare.throughput:.1f}",
                _ratio(r.ratio),
                verdict(ok),
                _ms(r.app.p50_ms),
                _ms(r.app.p99_ms),
                _ms(r.bare.p50_ms),
                _ms(r.bare.p99_ms),
                f"{r.app.calls_per_step:.1f}/{r.bare.calls_per_step:.1f}",
                f"{_per_step(r.app.sql_per_step)}/{_per_step(r.bare.sql_per_step)}",
                f"{_per_step(r.app.commits_per_step)}/{_per_step(r.bare.commits_per_step)}",
                str(r.app.steps),
            ]
        )
    headers = [
        "backend",
        "FSM storage",
        "RTT",
        "users",
        "app st/s",
        "bare st/s",
        "ratio",
        "≥0.5",
        "app p50",
        "app p99",
        "bare p50",
        "bare p99",
        "calls",
        "SQL",
        "commits",
        "steps",
    ]
    return table(headers, rows)


def print_form_intro(plan: FormPlan) -> None:
    steps = min(plan.steps, max_steps())
    print()
    print("1. Form step: the application's form vs a bare aiogram-dialog dialog, same FSM storage")
    print(
        f"   {steps} text answers per person; 1 user = {plan.solo_people} people one after "
        "another, N users = N people at once;\n"
        "   RTT = simulated Bot API round trip added to every call; latencies in ms per step;\n"
        "   calls, SQL, commits = Bot API calls, SQL statements and transactions committed per "
        "step (app/bare; RedisStorage sends no SQL)."
    )


def stall_table(results: Sequence[StallResult], references: Sequence[ReferenceResult]) -> str:
    rows = [
        [
            r.backend,
            str(r.signed_in),
            _ms(percentile(r.password_steps_ms, 50)),
            _ms(r.max_stall_ms),
            verdict(r.max_stall_ms <= STALL_TARGET_MS),
            _ms(r.max_login_stall_ms),
        ]
        for r in results
    ]
    rows.extend(
        [
            f"no app: {ref.label}",
            str(len(ref.stalls_ms)),
            _ms(percentile(ref.steps_ms, 50)),
            _ms(ref.max_stall_ms),
            "",
            "",
        ]
        for ref in references
    )
    headers = [
        "backend",
        "sign-ins",
        "password step p50 ms",
        "max stall ms",
        "≤5 ms",
        "login step max stall ms (no hashing)",
    ]
    return table(headers, rows)


def status_table(results: Sequence[StatusResult]) -> str:
    rows: list[list[str]] = []
    for r in results:
        names = [*QUERIES, "total"]
        for name in names:
            p50, p95 = r.indexed.p(name, 50), r.indexed.p(name, 95)
            label = "all four (one status view)" if name == "total" else name
            db = r.engine_ms.get(name) if name != "total" else sum(r.engine_ms.values())
            before = r.before_0004
            rows.append(
                [
                    r.backend if name == QUERIES[0] else "",
                    label,
                    _ms2(p50),
                    _ms2(p95),
                    verdict(p95 <= STATUS_TARGET_MS),
                    "" if db is None else _ms2(db),
                    "" if before is None else _ms2(before.p(name, 50)),
                    "" if before is None else _ms2(before.p(name, 95)),
                ]
            )
        if r.service_ms:
            rows.append(
                [
                    "",
                    "ApplicationService.status (whole call, audit row included)",
                    _ms2(percentile(r.service_ms, 50)),
                    _ms2(percentile(r.service_ms, 95)),
                    "",
                    "",
                    "",
                    "",
                ]
            )
        if r.service_error:
            rows.append(["", f"ApplicationService.status: n/a ({r.service_error[:60]})"] + [""] * 6)
    headers = [
        "backend",
        "query",
        "p50 ms",
        "p95 ms",
        "p95 ≤5 ms",
        "DB alone",
        "before 0004 p50",
        "p95",
    ]
    return table(headers, rows)


def print_status_intro(results: Sequence[StatusResult], plan: Plan) -> None:
    first = results[0]
    print()
    print(
        f"3. Status screen queries at {first.rows:,} applications "
        f"(queue of {first.queue:,} «Заявка принята»; the person at its back, "
        f"{first.ahead:,} ahead)"
    )
    print(
        f"   {plan.reps} status views, each query timed through the repository "
        "(driver and ORM included);\n"
        "   DB alone = the same statement timed by the database (sqlite3 on the file / "
        "EXPLAIN ANALYZE planning+execution);\n"
        "   before 0004 = the same table without the indexes of migration 0004."
    )


def record_table(results: Sequence[RecordResult]) -> str:
    rows: list[list[str]] = []
    for r in results:
        first = True
        for name in CALLS:
            if name not in r.query_ms:
                continue
            p95 = r.p(name, 95)
            target = verdict(p95 <= RECORD_TARGET_MS) if name in RECORD_TARGETED else ""
            rows.append(
                [
                    r.backend if first else "",
                    name,
                    _ms2(r.p(name, 50)),
                    _ms2(p95),
                    target,
                    f"{r.statements[name]:.1f}",
                    _ms2(percentile(r.call_ms[name], 50)),
                    _ms2(percentile(r.call_ms[name], 95)),
                ]
            )
            first = False
        if r.reference_ms:
            rows.append(
                [
                    r.backend if first else "",
                    "baseline: SELECT by primary key",
                    _ms2(percentile(r.reference_ms, 50)),
                    _ms2(percentile(r.reference_ms, 95)),
                    "",
                    "1.0",
                    "",
                    "",
                ]
            )
        if r.error:
            rows.append([r.backend, f"n/a ({r.error[:70]})"] + [""] * 6)
    headers = [
        "backend",
        "call",
        "queries p50 ms",
        "p95 ms",
        "p95 ≤20 ms",
        "statements",
        "whole call p50",
        "p95",
    ]
    return table(headers, rows)


def print_record_intro(results: Sequence[RecordResult], plan: Plan) -> None:
    first = results[0]
    print()
    print(
        f"4. Lab results at {first.accounts:,} accounts and {first.results:,} results "
        f"({plan.record_reps} calls each, through LabResultsService with the access rule "
        "and its audit row, rolled back)"
    )
    print(
        "   queries = the statements' time as the driver runs them, summed per call;\n"
        "   seeded in " + ", ".join(f"{r.backend} {r.seed_seconds:.0f} s" for r in results)
    )


def chart_table(results: Sequence[ChartResult]) -> str:
    rows: list[list[str]] = []
    for r in results:
        if r.error:
            rows.append([f"{r.points} values", f"n/a ({r.error[:70]})", "", "", "", ""])
            continue
        rows.append(
            [
                f"{r.points} values",
                _ms(percentile(r.render_ms, 50)),
                _ms(max(r.render_ms)),
                _ms(percentile(r.empty_ms, 50)),
                f"{r.peak_kib / 1024:.1f}",
                f"{r.png_bytes / 1024:.0f}",
            ]
        )
    headers = ["chart", "render p50 ms", "max ms", "empty Figure p50 ms", "peak MiB", "PNG KiB"]
    return table(headers, rows)


def booking_table(results: Sequence[BookingResult]) -> str:
    rows: list[list[str]] = []
    for r in results:
        first = True
        for name in BOOKING_CALLS:
            if name not in r.query_ms:
                continue
            p95 = r.p(name, 95)
            db = r.engine_ms.get(name, math.nan)
            rows.append(
                [
                    r.backend if first else "",
                    BOOKING_LABELS[name],
                    _ms2(r.p(name, 50)),
                    _ms2(p95),
                    verdict(p95 <= BOOKING_TARGET_MS),
                    f"{r.statements[name]:.1f}",
                    "" if math.isnan(db) else _ms2(db),
                    _ms2(percentile(r.call_ms[name], 50)),
                    _ms2(percentile(r.call_ms[name], 95)),
                ]
            )
            first = False
        if r.reference_ms:
            rows.append(
                [
                    r.backend if first else "",
                    "baseline: SELECT a slot by primary key",
                    _ms2(percentile(r.reference_ms, 50)),
                    _ms2(percentile(r.reference_ms, 95)),
                    "",
                    "1.0",
                    "",
                    "",
                    "",
                ]
            )
        if r.error:
            rows.append([r.backend, f"n/a ({r.error[:70]})"] + [""] * 7)
    headers = [
        "backend",
        "call",
        "queries p50 ms",
        "p95 ms",
        "p95 ≤10 ms",
        "statements",
        "DB alone",
        "whole call p50",
        "p95",
    ]
    return table(headers, rows)


def race_lines(results: Sequence[BookingResult]) -> list[str]:
    """The concurrent bookings of each backend: how many won, against the slots there were."""
    lines = []
    for r in results:
        if not r.outcomes:
            continue
        others = ", ".join(
            f"{n} {k}" for k, n in sorted(r.outcomes.items()) if k not in ("booked", "taken")
        )
        lines.append(
            f"  {r.backend}: {r.attempts} concurrent bookings at {r.contested} slots: "
            f"{r.won} booked, {r.outcomes.get('taken', 0)} «Это время только что заняли»"
            + (f", {others}" if others else "")
            + f"; {r.booked_in_db} booked in the table ({r.race_seconds:.1f} s) — "
            + ("ok" if r.race_ok else f"FAILED, not {r.contested}")
        )
    return lines


def print_booking_intro(results: Sequence[BookingResult], plan: Plan) -> None:
    first = results[0]
    print()
    print(
        f"6. Booking at {first.doctors:,} doctors × {first.days} days = {first.slots:,} slots "
        f"({first.booked:,} booked; {first.therapists_per_org} therapists an organisation "
        f"for «Любой врач»), {plan.booking_reps} calls each through BookingService, rolled back"
    )
    print(
        "   queries = the statements' time as the driver runs them, summed per call; "
        "DB alone = EXPLAIN ANALYZE planning+execution (PostgreSQL);\n"
        "   seeded (COPY / executemany, indexes, ANALYZE) in "
        + ", ".join(f"{r.backend} {r.seed_seconds:.0f} s" for r in results)
    )


def print_booking_plans(results: Sequence[BookingResult]) -> None:
    """The plan of each call short of its target, to see which index it lacks."""
    for r in results:
        for name in BOOKING_CALLS:
            if name in r.query_ms and not r.p(name, 95) <= BOOKING_TARGET_MS and r.plans.get(name):
                print(f"\n   {r.backend} · {BOOKING_LABELS[name]}: the plan")
                for line in r.plans[name].splitlines():
                    print(f"     {line}")


def collect_missed(report: Report) -> None:
    for r in report.form:
        if r.ratio < RATIO_TARGET:
            report.missed.append(
                f"form ratio {_ratio(r.ratio)} < {RATIO_TARGET} ({r.backend}, "
                f"RTT {r.latency_ms:.0f} ms, {r.users} users)"
            )
    for s in report.stall:
        if s.max_stall_ms > STALL_TARGET_MS:
            report.missed.append(
                f"event-loop stall {s.max_stall_ms:.1f} ms > {STALL_TARGET_MS:.0f} ms "
                f"({s.backend}, password step)"
            )
    for rec in report.record:
        for name in RECORD_TARGETED:
            p95 = rec.p(name, 95)
            if not p95 <= RECORD_TARGET_MS:
                report.missed.append(
                    f"lab results {name} queries p95 {p95:.2f} ms > {RECORD_TARGET_MS:.0f} ms "
                    f"({rec.backend}, {rec.results:,} results)"
                )
    for b in report.booking:
        for name in BOOKING_CALLS:
            p95 = b.p(name, 95)
            if name in b.query_ms and not p95 <= BOOKING_TARGET_MS:
                report.missed.append(
                    f"booking {BOOKING_LABELS[name]} queries p95 {p95:.2f} ms > "
                    f"{BOOKING_TARGET_MS:.0f} ms ({b.backend}, {b.slots:,} slots)"
                )
        if b.error or not b.race_ok:
            line = (
                f"booking: {b.attempts} concurrent attempts at {b.contested} slots booked "
                f"{b.won} ({b.booked_in_db} in the table), not {b.contested} ({b.backend})"
            )
            if b.error:
                line = f"booking part failed ({b.backend}): {b.error[:100]}"
            report.missed.append(line)
            report.failed.append(line)
    for st in report.status:
        for name in (*QUERIES, "total"):
            p95 = st.indexed.p(name, 95)
            if p95 > STATUS_TARGET_MS:
                report.missed.append(
                    f"status query {name} p95 {p95:.2f} ms > {STATUS_TARGET_MS:.0f} ms "
                    f"({st.backend}, {st.rows:,} rows)"
                )


# -- running --------------------------------------------------------------------


async def run(plan: Plan, *, out: bool = True) -> Report:
    """Every part on every backend; prints each table as soon as its part is done."""
    report = Report()
    run_id = new_run_id()
    pg_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="emk-bench-") as tmp:
        backends: list[Backend] = []
        for kind in plan.backends:
            backend = Backend(kind, Path(tmp) / kind, run_id, pg_url, redis_url)
            backend.workdir.mkdir(parents=True)
            reason = await backend.unavailable()
            if reason:
                report.skipped.append(f"{backend.label}: {reason}")
                if out:
                    print(f"skipped {backend.label}: {reason}")
                continue
            backends.append(backend)
            if out and backend.kind == "postgres":
                print(await backend.versions(), flush=True)
        try:
            if "form" in plan.parts:
                if out:
                    print_form_intro(plan.form)
                for backend in backends:
                    report.form.extend(await run_form(backend, plan.form))
                if out and report.form:
                    print(form_table(report.form), flush=True)
            if "stall" in plan.parts:
                for backend in backends:
                    report.stall.append(await run_stall(backend, plan.sign_ins))
                report.stall_reference = await run_reference(plan.sign_ins)
                if out and report.stall:
                    print()
                    print(
                        "2. Sign-in: the longest event-loop stall while the password step is "
                        f"handled ({report.stall[0].hasher}, production PasswordHasher())"
                    )
                    print("   a ticker sleeps 1 ms in a loop; stall = its longest gap − 1 ms")
                    print(stall_table(report.stall, report.stall_reference), flush=True)
            if "status" in plan.parts:
                for backend in backends:
                    report.status.append(
                        await run_status(
                            backend, plan.rows, plan.reps, before_0004=plan.before_0004
                        )
                    )
                if out and report.status:
                    print_status_intro(report.status, plan)
                    print(status_table(report.status), flush=True)
            if "record" in plan.parts:
                for backend in backends:
                    report.record.append(
                        await run_record(
                            backend, plan.record_accounts, plan.record_results, plan.record_reps
                        )
                    )
                if out and report.record:
                    print_record_intro(report.record, plan)
                    print(record_table(report.record), flush=True)
            if "chart" in plan.parts:
                for points in plan.chart_points:
                    report.chart.append(await asyncio.to_thread(run_chart, points, plan.chart_reps))
                if out and report.chart:
                    print()
                    print(
                        "5. «Динамика»: render_trend (matplotlib Figure + Agg, 1000×600 px PNG), "
                        f"{plan.chart_reps} renders each; peak = tracemalloc of one render"
                    )
                    print(chart_table(report.chart), flush=True)
            if "booking" in plan.parts:
                for backend in backends:
                    report.booking.append(
                        await run_booking(
                            backend,
                            plan.booking_doctors,
                            plan.booking_days,
                            plan.booking_reps,
                            attempts=plan.booking_attempts,
                            contested=plan.booking_contested,
                        )
                    )
                if out and report.booking:
                    print_booking_intro(report.booking, plan)
                    print(booking_table(report.booking))
                    print("\n".join(race_lines(report.booking)), flush=True)
                    print_booking_plans(report.booking)
        finally:
            for backend in backends:
                await backend.cleanup()
    collect_missed(report)
    if out:
        print()
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"Done in {time.perf_counter() - started:.0f} s (load average now {load}).")
        if report.missed:
            print(f"{MISSED}:")
            for line in report.missed:
                print(f"  - {line}")
        else:
            print("Every figure meets its target.")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    plan, _ = parse_args(argv)
    # The application logs every console SMS at INFO; the bench prints its own tables.
    logging.basicConfig(level=logging.WARNING)
    print(header(), flush=True)
    report = asyncio.run(run(plan))
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
