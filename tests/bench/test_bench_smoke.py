"""The bench's code paths at a tiny size, so that `make bench` cannot rot unnoticed.

One run of every part on SQLite only (2 people, 3 steps, 1000 rows, 20 doctors
× 3 days of slots), through
the same entry point as ``python bench/run.py``. Besides the shape of the
report, it checks that the steps were real: the application answered each
text answer with the form's next question, the bare dialog with its next
window, and the simulated round trip was actually added to every call.
"""

from __future__ import annotations

import pytest

from bench.form import FormPlan, text_run
from bench.run import Plan, Report, run
from services.enrolment.application import FIELDS

STEPS = 3
RTT_MS = 5.0


@pytest.fixture(scope="module")
def report_and_output() -> tuple[Report, str]:
    import asyncio
    import contextlib
    import io

    plan = Plan(
        backends=("sqlite",),
        form=FormPlan(latencies_ms=(0.0, RTT_MS), users=(1, 2), steps=STEPS, solo_people=1),
        sign_ins=1,
        rows=1000,
        reps=3,
        record_accounts=50,
        record_results=500,
        record_reps=3,
        chart_points=(5,),
        chart_reps=1,
        booking_doctors=20,
        booking_days=3,
        booking_reps=3,
        booking_attempts=10,
        booking_contested=3,
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report = asyncio.run(run(plan))
    return report, out.getvalue()


def test_every_configuration_is_reported(report_and_output: tuple[Report, str]) -> None:
    report, output = report_and_output
    assert not report.skipped
    assert [(r.latency_ms, r.users) for r in report.form] == [
        (0.0, 1),
        (0.0, 2),
        (RTT_MS, 1),
        (RTT_MS, 2),
    ]
    for result in report.form:
        for variant in (result.app, result.bare):
            assert variant.steps == result.people_run * STEPS
            assert variant.answers_ok == variant.steps
            assert len(variant.latencies) == variant.steps
            assert variant.seconds > 0 and variant.throughput > 0
            assert variant.calls >= variant.steps  # every step talks to Telegram
        # The application's steps reach its database; on SQLite so does the bare dialog's state.
        assert result.app.sql_per_step is not None and result.app.sql_per_step > 0
        assert result.bare.sql_per_step is not None and result.bare.sql_per_step > 0
        assert result.ratio > 0
    for title in (
        "1. Form step",
        "2. Sign-in",
        "3. Status screen",
        "4. Lab results",
        "5. «Динамика»",
        "6. Booking",
        "Done in",
    ):
        assert title in output


def test_the_application_answered_with_the_next_questions(
    report_and_output: tuple[Report, str],
) -> None:
    report, _ = report_and_output
    start, run_fields = text_run()
    assert len(run_fields) >= STEPS
    for result in report.form:
        transcript = result.app.transcript
        assert len(transcript) == STEPS
        for offset, exchange in enumerate(transcript):
            asked_next = FIELDS[start + offset + 1]
            assert asked_next.label in exchange.reply, exchange
            # The answer was taken: the reply is not the same question again.
            assert run_fields[offset].question not in exchange.reply


def test_the_bare_dialog_answered_with_its_next_windows(
    report_and_output: tuple[Report, str],
) -> None:
    report, _ = report_and_output
    for result in report.form:
        replies = [exchange.reply for exchange in result.bare.transcript]
        assert [reply.split("\n")[0] for reply in replies] == [
            "Вопрос 2 из 4",
            "Вопрос 3 из 4",
            "Вопрос 4 из 4",
        ]


def test_the_round_trip_is_added_to_every_call(report_and_output: tuple[Report, str]) -> None:
    report, _ = report_and_output
    for result in report.form:
        if result.latency_ms == 0:
            continue
        for variant in (result.app, result.bare):
            floor_ms = RTT_MS * variant.calls_per_step
            assert min(variant.latencies) * 1000 >= 0.9 * floor_ms, (variant.name, floor_ms)


def test_stall_and_status_parts(report_and_output: tuple[Report, str]) -> None:
    report, _ = report_and_output
    (stall,) = report.stall
    assert stall.signed_in == 1
    assert len(stall.password_stalls_ms) == len(stall.login_stalls_ms) == 1
    assert stall.max_stall_ms >= 0
    assert "argon2id" in stall.hasher

    (status,) = report.status
    assert status.rows == 1000
    assert status.ahead == status.queue - 1  # the person at the back of the queue
    for name in ("in_progress_for", "events", "recent_durations", "count_ahead"):
        assert len(status.indexed.per_query_ms[name]) == status.reps
        assert status.engine_ms[name] >= 0
    assert len(status.indexed.total_ms) == status.reps
    assert status.before_0004 is not None
    assert status.service_ms or status.service_error


def test_record_and_chart_parts(report_and_output: tuple[Report, str]) -> None:
    report, _ = report_and_output
    (record,) = report.record
    assert record.error is None
    assert record.results == 500
    for name in ("list", "page3", "filter", "detail", "series"):
        assert len(record.query_ms[name]) == record.reps
        # Every call reached the database (the access rule, the rows, the audit row).
        assert record.statements[name] >= 2
        assert all(ms > 0 for ms in record.query_ms[name])
    assert len(record.reference_ms) == record.reps

    (chart,) = report.chart
    assert chart.error is None
    assert chart.png_bytes > 10_000  # a real picture, not an empty canvas
    assert len(chart.render_ms) == 1 and chart.peak_kib > 0


def test_booking_part(report_and_output: tuple[Report, str]) -> None:
    report, output = report_and_output
    (booking,) = report.booking
    assert booking.error is None
    assert booking.slots == 20 * 3 * 18
    assert 0 < booking.booked < booking.slots
    for name in ("month_doctor", "month_any", "day_doctor", "day_any"):
        assert len(booking.query_ms[name]) == booking.reps
        # Each view is one statement of the schedule, and it reached the database.
        assert booking.statements[name] >= 1
        assert all(ms > 0 for ms in booking.query_ms[name])
        assert booking.plans[name]  # SQLite's query plan
    assert len(booking.reference_ms) == booking.reps
    # 10 people at 3 free slots: exactly 3 booked, the others told it was taken.
    assert (booking.won, booking.booked_in_db) == (3, 3)
    assert booking.outcomes == {"booked": 3, "taken": 7}
    assert booking.race_ok and not report.failed
    assert "10 concurrent bookings at 3 slots: 3 booked, 7 «Это время только что заняли»" in output
    assert "p95 ≤10 ms" in output and "baseline: SELECT a slot by primary key" in output


def test_a_race_that_does_not_book_exactly_fails_the_run() -> None:
    from bench.booking import BookingResult
    from bench.run import collect_missed

    report = Report()
    report.booking.append(
        BookingResult("PostgreSQL+Redis", 10, 1, 1, attempts=100, contested=20, won=21)
    )
    report.booking[0].booked_in_db = 21
    collect_missed(report)
    assert report.failed == [
        "booking: 100 concurrent attempts at 20 slots booked 21 (21 in the table), "
        "not 20 (PostgreSQL+Redis)"
    ]
