"""Part 1: a step of the application's form against a step of a bare dialog.

The application: a person signed in, with a draft application, answers the
form's text questions one after another (the longest run of text questions,
after «Пол»). The bare dialog: the same number of text answers to a dialog of
four windows. Both over the same FSM storage, with the same simulated Bot API
round trip, with 1 person (several people one after another) and with N people
at once. A step is timed from the person's message to the end of the bot's
handling of it (in-process delivery awaits the dispatcher), Bot API calls
included. Every answer of the bot is checked: a step whose reply is not the
next question stops the bench.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import bare
from bench.backends import Backend
from bench.driven import BenchError, DrivenApp, Person, expect, gather_limited, people
from bench.latency import DelayedSession
from bench.stats import percentile
from services.core.hashing import PasswordHasher
from services.enrolment.application import FIELDS, FieldSpec
from tgsandbox import SandboxUser

# What a person types for each text question (valid for the form's checks).
TEXT_VALUES = {
    "full_name": "Бенчмарков Иван Петрович",
    "birth_date": "05.03.1990",
    "snils": "156-236-488 77",
    "policy_number": "7750 1983 4027 1955",
    "policy_end": "31.12.2045",
    "passport_series": "45 08",
    "passport_number": "123456",
    "passport_issue_date": "20.07.2005",
    "passport_division_code": "770-001",
    "passport_issued_by": "ГУ МВД России по г. Москве",
    "inn": "500100732259",
    "address": "г. Москва, ул. Тверская, д. 1, кв. 5",
    "phone": "+7 999 000-00-02",
    "email": "name@example.ru",
    "comment": "Без комментариев.",
}
# People set up at the same time (sign-in, the form opened); the figures do not include it.
SETUP_AT_ONCE = 10


def text_run() -> tuple[int, list[FieldSpec]]:
    """The longest run of consecutive text questions of the form: (first index, fields)."""
    best: tuple[int, list[FieldSpec]] = (0, [])
    start = 0
    while start < len(FIELDS):
        end = start
        while end < len(FIELDS) and FIELDS[end].kind == "text":
            end += 1
        if end - start > len(best[1]):
            best = (start, list(FIELDS[start:end]))
        start = end + 1
    return best


def max_steps() -> int:
    return len(text_run()[1])


@dataclass
class Exchange:
    sent: str
    reply: str


@dataclass
class Variant:
    """One side of a comparison: every step's latency, the wall time, the calls."""

    name: str
    steps: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    calls: int = 0
    answers_ok: int = 0
    sql_statements: int | None = None  # None: no SQL database behind this variant
    commits: int | None = None
    transcript: list[Exchange] = field(default_factory=list)  # the first person's

    @property
    def throughput(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return 1000 * percentile(self.latencies, 50)

    @property
    def p99_ms(self) -> float:
        return 1000 * percentile(self.latencies, 99)

    @property
    def calls_per_step(self) -> float:
        return self.calls / self.steps if self.steps else 0.0

    @property
    def sql_per_step(self) -> float | None:
        if self.sql_statements is None or not self.steps:
            return None
        return self.sql_statements / self.steps

    @property
    def commits_per_step(self) -> float | None:
        if self.commits is None or not self.steps:
            return None
        return self.commits / self.steps


@dataclass
class FormResult:
    backend: str
    storage: str
    latency_ms: float
    users: int
    people_run: int  # people measured (one after another when users == 1)
    steps_per_person: int
    app: Variant
    bare: Variant

    @property
    def ratio(self) -> float:
        return self.app.throughput / self.bare.throughput if self.bare.throughput else 0.0


Script = list[tuple[str, str]]  # (what the person sends, what the bot's reply must contain)


def app_script(steps: int) -> Script:
    start, run = text_run()
    script: Script = []
    for offset, spec in enumerate(run[:steps]):
        following = FIELDS[start + offset + 1] if start + offset + 1 < len(FIELDS) else None
        expected = following.label if following is not None else "Проверьте заявление"
        script.append((TEXT_VALUES[spec.name], expected))
    return script


def bare_script(steps: int) -> Script:
    count = len(bare.QUESTIONS)
    return [(f"Ответ {n + 1}", bare.question_text((n + 1) % count + 1)) for n in range(steps)]


async def _timed(
    name: str,
    session: DelayedSession,
    users: Sequence[SandboxUser],
    script: Script,
    *,
    at_once: bool,
    latency: float,
    sql: Callable[[], tuple[int, int]] | None,
) -> Variant:
    variant = Variant(name)
    session.latency = latency
    calls_before = session.calls
    sql_before = sql() if sql is not None else (0, 0)

    async def person(user: SandboxUser, log: list[Exchange] | None) -> None:
        for text, expected in script:
            started = time.perf_counter()
            await user.send(text)
            variant.latencies.append(time.perf_counter() - started)
            reply = expect(user, expected)
            variant.answers_ok += 1
            if log is not None:
                log.append(Exchange(text, reply))

    started = time.perf_counter()
    try:
        if at_once:
            await asyncio.gather(
                *(
                    person(user, variant.transcript if i == 0 else None)
                    for i, user in enumerate(users)
                )
            )
        else:
            for i, user in enumerate(users):
                await person(user, variant.transcript if i == 0 else None)
    finally:
        variant.seconds = time.perf_counter() - started
        session.latency = 0.0
    variant.steps = len(users) * len(script)
    variant.calls = session.calls - calls_before
    if sql is not None:
        statements, commits = sql()
        variant.sql_statements = statements - sql_before[0]
        variant.commits = commits - sql_before[1]
    return variant


async def _prepare_app(app: DrivenApp, person: Person) -> SandboxUser:
    """Signed in, the form opened, answered up to the run of text questions."""
    user = app.user(person)
    await app.sign_in(user, person)
    await user.press("Заявление на ЭМК")
    start, run = text_run()
    for spec in FIELDS[:start]:
        expect(user, spec.label)
        if spec.kind == "choice":
            await user.press(spec.choices[0][1])
        elif spec.kind == "text":
            await user.send(TEXT_VALUES[spec.name])
        else:
            raise BenchError(f"the form asks {spec.name} ({spec.kind}) before its text questions")
    expect(user, run[0].label)
    return user


async def _prepare(
    make: Callable[[Person], Awaitable[SandboxUser]], persons: Sequence[Person]
) -> list[SandboxUser]:
    prepared: dict[int, SandboxUser] = {}

    async def one(person: Person) -> None:
        prepared[person.telegram_id] = await make(person)

    await gather_limited((one(p) for p in persons), SETUP_AT_ONCE)
    return [prepared[p.telegram_id] for p in persons]


@dataclass
class FormPlan:
    latencies_ms: Sequence[float] = (0.0, 50.0)
    users: Sequence[int] = (1, 50)
    steps: int = 12
    solo_people: int = 5  # people one after another in the 1-user configuration


async def run_form(
    backend: Backend, plan: FormPlan, report: Callable[[FormResult], None] | None = None
) -> list[FormResult]:
    """Every (latency, users) configuration on `backend`; `report` gets each as it is done."""
    steps = min(plan.steps, max_steps())
    if steps < 1:
        raise BenchError("the form has no text question to answer")
    configs = [(latency, users) for latency in plan.latencies_ms for users in plan.users]
    head_counts = [plan.solo_people if users == 1 else users for _, users in configs]
    # One person of each goes through the script first, unmeasured: a warm process.
    warm_app, warm_bare = people(400_000, 1)[0], people(450_000, 1)[0]
    results: list[FormResult] = []
    workdir = backend.workdir / "form"
    workdir.mkdir(parents=True, exist_ok=True)
    async with backend.database("form") as url:
        app = DrivenApp(
            url,
            Path(workdir),
            storage=backend.fsm_storage("form"),
            hasher=PasswordHasher.for_tests(),  # sign-in is set-up here; part 2 is about it
        )
        await app.start()
        try:
            everyone = people(0, sum(head_counts))
            await app.create_accounts([*everyone, warm_app])
            assert app.runtime is not None and app.session is not None
            bare_app = bare.BareApp(app.runtime.storage)
            await bare_app.start()
            try:
                await _warm_up(app, bare_app, warm_app, warm_bare, steps)
                offset = 0
                for (latency, users), count in zip(configs, head_counts, strict=True):
                    persons = everyone[offset : offset + count]
                    offset += count
                    bare_persons = people(500_000 + offset, count)

                    bare_users = await _prepare(_bare_opener(bare_app), bare_persons)
                    bare_variant = await _timed(
                        "bare",
                        bare_app.session,
                        bare_users,
                        bare_script(steps),
                        at_once=users > 1,
                        latency=latency / 1000,
                        # SqlStorage shares the application's engine; RedisStorage sends no SQL.
                        sql=app.database_work if backend.kind == "sqlite" else None,
                    )
                    app_users = await _prepare(lambda p: _prepare_app(app, p), persons)
                    app_variant = await _timed(
                        "app",
                        app.session,
                        app_users,
                        app_script(steps),
                        at_once=users > 1,
                        latency=latency / 1000,
                        sql=app.database_work,
                    )
                    result = FormResult(
                        backend=backend.label,
                        storage=backend.storage_label,
                        latency_ms=latency,
                        users=users,
                        people_run=count,
                        steps_per_person=steps,
                        app=app_variant,
                        bare=bare_variant,
                    )
                    results.append(result)
                    if report is not None:
                        report(result)
            finally:
                await bare_app.stop()
        finally:
            await app.stop()
    return results


async def _warm_up(
    app: DrivenApp, bare_app: bare.BareApp, person: Person, bare_person: Person, steps: int
) -> None:
    assert app.session is not None
    user = await _prepare_app(app, person)
    await _timed(
        "warm-up", app.session, [user], app_script(steps), at_once=False, latency=0.0, sql=None
    )
    bare_user = (await _prepare(_bare_opener(bare_app), [bare_person]))[0]
    await _timed(
        "warm-up",
        bare_app.session,
        [bare_user],
        bare_script(steps),
        at_once=False,
        latency=0.0,
        sql=None,
    )


def _bare_opener(bare_app: bare.BareApp) -> Callable[[Person], Awaitable[SandboxUser]]:
    async def make(person: Person) -> SandboxUser:
        user = bare_app.user(person)
        await bare_app.open(user)
        return user

    return make
