"""The application form for the ЭМК: fields, skips, review, submission, status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.core.access import CurrentUser
from services.core.consent import CONSENT_VERSION, consent_text
from services.core.errors import DomainError, ValidationError
from services.demo import (
    DEMO_PEOPLE,
    DEMO_REGISTRY,
    PETROV_APPLICATION,
    SMIRNOVA_APPLICATION,
    SMIRNOVA_CORRECT_SNILS,
    seed_demo,
)
from services.enrolment.application import (
    FIELDS,
    MSG_CHANGED,
    MSG_ISSUE_DATE_CLEARED,
    MSG_NOT_CONFIRMED,
    MSG_NOT_EDITABLE,
    ApplicationService,
    DraftView,
    ReviewView,
    StatusView,
    SubmitResult,
)
from storage.models import (
    Application,
    ApplicationStatusEvent,
    AuditEntry,
    OutboxMessage,
    RegistryPerson,
)
from storage.uow import UnitOfWork
from tests.support.application import (
    PETROV_PHONE,
    SMIRNOVA_PHONE,
    call,
    claim_and_start,
    confirm_code,
    draft,
    fill_form,
    finish,
    in_uow,
    make_png,
    seed,
    set_field,
    sign_in,
    submit,
    submitted_application,
    upload,
    upload_required,
    use_file_store,
)
from tests.support.services import Env

EXPECTED_FIELDS = [
    "full_name",
    "birth_date",
    "sex",
    "snils",
    "policy_number",
    "policy_end",
    "passport_series",
    "passport_number",
    "passport_issue_date",
    "passport_division_code",
    "passport_issued_by",
    "inn",
    "address",
    "phone",
    "email",
    "kind",
    "comment",
    "consent",
]


@pytest.fixture
async def petrov(env: Env, tmp_path: Path) -> CurrentUser:
    use_file_store(env, tmp_path / "files")
    await seed(env)
    return await sign_in(env, PETROV_PHONE)


async def _rows(env: Env, model: type[Any]) -> list[Any]:
    async with env.uow() as uow:
        return list((await uow.session.execute(select(model))).scalars().all())


async def _application(env: Env) -> Application:
    rows = await _rows(env, Application)
    assert len(rows) == 1
    application = rows[0]
    assert isinstance(application, Application)
    return application


# -- the form -----------------------------------------------------------------


def test_fields_are_in_order_with_questions() -> None:
    assert [f.name for f in FIELDS] == EXPECTED_FIELDS
    assert ApplicationService.FIELDS is FIELDS
    by_name = {f.name: f for f in FIELDS}
    assert dict(by_name["sex"].choices) == {"male": "Мужской", "female": "Женский"}
    assert dict(by_name["kind"].choices) == {"new": "Новая карта", "update": "Обновление данных"}
    assert by_name["sex"].kind == by_name["kind"].kind == "choice"
    assert by_name["consent"].kind == "consent"
    assert {f.name for f in FIELDS if f.optional} == {"inn", "email", "comment"}
    for spec in FIELDS:
        assert spec.label and spec.question.endswith(".")
    # Questions show the expected format by an example.
    assert "ДД.ММ.ГГГГ" in by_name["birth_date"].question
    assert "123-456-789 64" in by_name["snils"].question


async def test_draft_is_created_once_and_continues(env: Env, petrov: CurrentUser) -> None:
    view = await draft(env, petrov)
    assert view.status == "draft"
    assert view.number is None
    assert view.next_field == "full_name"
    assert view.values == {}
    assert not view.complete
    assert await call(env, "account_phone", petrov) == PETROV_PHONE

    await set_field(env, petrov, "full_name", "петров сергей иванович")
    view = await set_field(env, petrov, "birth_date", "14.07.1985")
    assert view.values == {"full_name": "Петров Сергей Иванович", "birth_date": "14.07.1985"}
    assert view.next_field == "sex"

    # Leaving and coming back (a new unit of work, as after a restart) continues there.
    again = await draft(env, petrov)
    assert again.application_id == view.application_id
    assert again.next_field == "sex"
    assert len(await _rows(env, Application)) == 1


async def test_every_field_accepts_the_demo_values(env: Env, petrov: CurrentUser) -> None:
    view = await fill_form(env, petrov)
    assert view.complete and view.next_field is None
    assert view.values["snils"] == "156-236-488 77"
    assert view.values["policy_number"] == "7750 1983 4027 1955"
    assert view.values["passport_series"] == "45 05"
    assert view.values["sex"] == "Мужской"
    assert view.values["kind"] == "Новая карта"
    assert view.values["phone"] == "+7 999 000-00-02"
    assert view.values["comment"] == "Не указано"
    assert view.values["consent"].startswith("Дано 26.11.2026 12:00")
    application = await _application(env)
    assert application.snils == "15623648877"
    assert application.policy_number == "7750198340271955"
    assert application.passport_division_code == "770-001"
    assert application.sex == "male" and application.kind == "new"
    assert application.phone == PETROV_PHONE
    assert application.consent_version == CONSENT_VERSION
    assert application.consent_at == env.clock.now()


BAD_VALUES = [
    ("full_name", "Petrov Sergey", "русские буквы"),
    ("full_name", "Петров", "фамилия и имя"),
    ("birth_date", "31.02.1985", "Такой даты нет"),
    ("birth_date", "1985-07-14", "ДД.ММ.ГГГГ"),
    ("birth_date", "01.01.2027", "в будущем"),
    ("birth_date", "01.01.1900", "120 лет"),
    ("sex", "другой", "Мужской"),
    ("snils", "156-236-488 78", "контрольное число"),
    ("snils", "1562364887", "11 цифр"),
    ("policy_number", "7750 1983 4027 195", "16 цифр"),
    ("policy_end", "25.11.2026", "полис не действует"),
    ("passport_series", "455", "4 цифры"),
    ("passport_number", "12345", "6 цифр"),
    ("passport_issue_date", "13.07.1999", "14-летия"),
    ("passport_issue_date", "27.11.2026", "в будущем"),
    ("passport_division_code", "77-0001", "770-001"),
    ("passport_issued_by", "   ", "кем выдан"),
    ("inn", "771234567850", "контрольные цифры"),
    ("inn", "7707083893", "организации"),
    ("address", " ", "адрес"),
    ("phone", "12345", "Номер телефона"),
    ("email", "sergey@", "электронной почты"),
    ("kind", "справка", "Новая карта"),
    ("comment", "я" * 1001, "1000"),
]


@pytest.mark.parametrize(("name", "raw", "message"), BAD_VALUES)
async def test_a_wrong_value_is_explained_and_nothing_is_lost(
    env: Env, petrov: CurrentUser, name: str, raw: str, message: str
) -> None:
    before = await fill_form(env, petrov)
    with pytest.raises(ValidationError) as caught:
        await set_field(env, petrov, name, raw)
    assert message.lower() in caught.value.message.lower()
    after = await draft(env, petrov)
    assert after.values == before.values
    assert after.complete


async def test_a_wrong_first_answer_asks_the_same_question(env: Env, petrov: CurrentUser) -> None:
    await draft(env, petrov)
    with pytest.raises(ValidationError):
        await set_field(env, petrov, "full_name", "Ivanov")
    view = await draft(env, petrov)
    assert view.next_field == "full_name"


async def test_patronymic_may_be_absent(env: Env, petrov: CurrentUser) -> None:
    view = await set_field(env, petrov, "full_name", "Ли Анна")
    assert view.values["full_name"] == "Ли Анна"
    application = await _application(env)
    assert (application.last_name, application.first_name) == ("Ли", "Анна")
    assert application.middle_name is None


async def test_choices_take_the_key_or_the_label(env: Env, petrov: CurrentUser) -> None:
    assert (await set_field(env, petrov, "sex", "female")).values["sex"] == "Женский"
    assert (await set_field(env, petrov, "sex", "мужской")).values["sex"] == "Мужской"
    view = await set_field(env, petrov, "kind", "update")
    assert view.values["kind"] == "Обновление данных"


async def test_unknown_field_and_consent_through_set_field_are_programming_errors(
    env: Env, petrov: CurrentUser
) -> None:
    with pytest.raises(ValueError):
        await set_field(env, petrov, "blood_type", "A")
    with pytest.raises(ValueError):
        await set_field(env, petrov, "consent", "да")


async def test_skip_rules(env: Env, petrov: CurrentUser) -> None:
    await draft(env, petrov)
    for name in ("full_name", "snils", "phone", "kind", "consent"):
        with pytest.raises(DomainError, match="обязательное"):
            await call(env, "skip_field", petrov, name)
    view = await call(env, "skip_field", petrov, "inn")
    assert isinstance(view, DraftView)
    assert view.values["inn"] == "Не указано"
    # A skipped field counts as answered: the next question is the first unanswered one.
    assert view.next_field == "full_name"
    # Typing a value later replaces the skip; skipping again clears the value.
    view = await set_field(env, petrov, "inn", "771234567859")
    assert view.values["inn"] == "771234567859"
    view = await call(env, "skip_field", petrov, "inn")
    assert isinstance(view, DraftView)
    assert view.values["inn"] == "Не указано"
    assert (await _application(env)).inn is None


async def test_skipped_optional_fields_are_answered_in_order(env: Env, petrov: CurrentUser) -> None:
    values = dict(PETROV_APPLICATION)
    for spec in FIELDS[: FIELDS.index(next(f for f in FIELDS if f.name == "inn"))]:
        await set_field(env, petrov, spec.name, values[spec.name])
    view = await draft(env, petrov)
    assert view.next_field == "inn"
    view = await call(env, "skip_field", petrov, "inn")
    assert isinstance(view, DraftView)
    assert view.next_field == "address"


async def test_an_empty_comment_is_a_skipped_one(env: Env, petrov: CurrentUser) -> None:
    view = await set_field(env, petrov, "comment", "   ")
    assert view.values["comment"] == "Не указано"
    view = await set_field(env, petrov, "comment", "Прошу открыть карту.")
    assert view.values["comment"] == "Прошу открыть карту."


async def test_account_phone(env: Env, petrov: CurrentUser) -> None:
    view = await call(env, "use_account_phone", petrov)
    assert isinstance(view, DraftView)
    assert view.values["phone"] == "+7 999 000-00-02"
    assert (await _application(env)).phone == PETROV_PHONE
    view = await set_field(env, petrov, "phone", "8 (912) 345-67-89")
    assert (await _application(env)).phone == "+79123456789"


async def test_consent_text_and_acceptance(env: Env, petrov: CurrentUser) -> None:
    text = ApplicationService.consent_text()
    assert text == consent_text()
    assert "152-ФЗ" in text and "323-ФЗ" in text
    assert "врачебную тайну" in text
    assert len(text) < 4096  # one Telegram message
    env.clock.advance(minutes=5)
    view = await call(env, "accept_consent", petrov)
    assert isinstance(view, DraftView)
    assert view.values["consent"] == "Дано 26.11.2026 12:05 (МСК)"
    application = await _application(env)
    assert application.consent_version == CONSENT_VERSION
    assert application.consent_at == datetime(2026, 11, 26, 9, 5, tzinfo=UTC)


async def test_consent_of_an_older_version_is_asked_again(env: Env, petrov: CurrentUser) -> None:
    await fill_form(env, petrov)

    async def outdate(uow: UnitOfWork) -> None:
        application = await uow.enrolment.applications.in_progress_for(petrov.account_id)
        assert application is not None
        application.consent_version = "2020-01-01"

    await in_uow(env, outdate)
    view = await draft(env, petrov)
    assert view.next_field == "consent"


# -- cross-field rules ----------------------------------------------------------


async def test_birth_date_change_clears_an_issue_date_it_makes_impossible(
    env: Env, petrov: CurrentUser
) -> None:
    await fill_form(env, petrov)
    # Still 14 or older on 25.07.2005: nothing to clear.
    view = await set_field(env, petrov, "birth_date", "25.07.1991")
    assert view.notice is None
    assert view.values["passport_issue_date"] == "25.07.2005"
    # Now the issue date falls before the 14th birthday: cleared and asked again.
    view = await set_field(env, petrov, "birth_date", "26.07.1991")
    assert view.notice == MSG_ISSUE_DATE_CLEARED
    assert "passport_issue_date" not in view.values
    assert view.next_field == "passport_issue_date"
    assert not view.complete
    with pytest.raises(ValidationError, match="14-летия"):
        await set_field(env, petrov, "passport_issue_date", "25.07.2005")
    view = await set_field(env, petrov, "passport_issue_date", "26.07.2005")
    assert view.complete


async def test_issue_date_typed_before_the_birth_date_is_checked_later(
    env: Env, petrov: CurrentUser
) -> None:
    view = await set_field(env, petrov, "passport_issue_date", "01.02.2003")
    assert view.values["passport_issue_date"] == "01.02.2003"
    view = await set_field(env, petrov, "birth_date", "14.07.1990")
    assert view.notice == MSG_ISSUE_DATE_CLEARED
    assert "passport_issue_date" not in view.values


# -- one application in progress ------------------------------------------------


async def test_one_application_in_progress_per_person(env: Env, petrov: CurrentUser) -> None:
    first = await draft(env, petrov)
    second = await draft(env, petrov)
    assert first.application_id == second.application_id
    assert len(await _rows(env, Application)) == 1


@pytest.mark.parametrize("status", ["draft", "accepted", "in_work", "needs_fix"])
async def test_the_database_refuses_a_second_application_in_progress(
    env: Env, petrov: CurrentUser, status: str
) -> None:
    await draft(env, petrov)

    async def second(uow: UnitOfWork) -> None:
        now = env.clock.now()
        await uow.enrolment.applications.add(
            Application(
                account_id=petrov.account_id,
                status=status,
                revision=0,
                skipped_fields=[],
                created_at=now,
                updated_at=now,
                attempt=0,
            )
        )

    with pytest.raises(IntegrityError):
        await in_uow(env, second)


async def test_finished_applications_do_not_block_a_new_one(env: Env, petrov: CurrentUser) -> None:
    view = await draft(env, petrov)

    async def finish(uow: UnitOfWork) -> None:
        application = await uow.enrolment.applications.get(view.application_id)
        assert application is not None
        application.status = "rejected"

    await in_uow(env, finish)
    new = await draft(env, petrov)
    assert new.application_id != view.application_id
    assert new.status == "draft"

    async def another_finished(uow: UnitOfWork) -> None:
        application = await uow.enrolment.applications.get(new.application_id)
        assert application is not None
        application.status = "opened"

    await in_uow(env, another_finished)
    assert (await draft(env, petrov)).status == "draft"
    assert len(await _rows(env, Application)) == 3


# -- review ---------------------------------------------------------------------


async def test_review_of_an_empty_draft_lists_everything_missing(
    env: Env, petrov: CurrentUser
) -> None:
    review = await call(env, "review", petrov)
    assert isinstance(review, ReviewView)
    assert review.number is None
    assert [r[0] for r in review.rows] == EXPECTED_FIELDS
    assert all(r[2] == "Не заполнено" for r in review.rows)
    optional = {"ИНН", "Электронная почта", "Комментарий"}
    assert review.missing_fields == [f.label for f in FIELDS]
    assert optional <= set(review.missing_fields)  # not answered nor skipped yet
    assert review.missing_documents == ["Паспорт (страница с фото)", "Полис ОМС", "СНИЛС"]
    assert [d.slot for d in review.documents] == ["passport", "policy", "snils", "residence"]
    assert not any(d.filled for d in review.documents)
    assert not review.can_submit


async def test_review_of_a_complete_application(env: Env, petrov: CurrentUser) -> None:
    await fill_form(env, petrov)
    await upload_required(env, petrov)
    review = await call(env, "review", petrov)
    assert isinstance(review, ReviewView)
    rows = {name: (label, value) for name, label, value in review.rows}
    assert rows["full_name"] == ("Фамилия, имя, отчество", "Петров Сергей Иванович")
    assert rows["snils"] == ("СНИЛС", "156-236-488 77")
    assert rows["birth_date"][1] == "14.07.1985"
    assert rows["comment"][1] == "Не указано"
    assert review.missing_fields == []
    assert review.missing_documents == []
    assert [d.filled for d in review.documents] == [True, True, True, False]
    assert review.can_submit


# -- submission ------------------------------------------------------------------


async def test_submit_refuses_with_the_list_of_what_is_missing(
    env: Env, petrov: CurrentUser
) -> None:
    await draft(env, petrov)
    with pytest.raises(DomainError) as caught:
        await call(env, "prepare_submit", petrov)
    message = caught.value.message
    assert "Не заполнены поля: фамилия, имя, отчество; дата рождения; пол; СНИЛС;" in message
    assert "Не хватает документов: паспорт, полис ОМС, СНИЛС." in message

    await fill_form(env, petrov)
    with pytest.raises(DomainError) as caught:
        await call(env, "prepare_submit", petrov)
    assert caught.value.message == "Не хватает документов: паспорт, полис ОМС, СНИЛС."


async def test_submit_lists_only_the_documents_still_missing(env: Env, petrov: CurrentUser) -> None:
    await fill_form(env, petrov)
    await upload(env, petrov, "passport", make_png())
    with pytest.raises(DomainError) as caught:
        await call(env, "prepare_submit", petrov)
    assert caught.value.message == "Не хватает документов: полис ОМС, СНИЛС."


async def test_submit_needs_the_confirmed_code(env: Env, petrov: CurrentUser) -> None:
    await fill_form(env, petrov)
    await upload_required(env, petrov)
    action_ref = await call(env, "prepare_submit", petrov)
    assert isinstance(action_ref, str) and action_ref.startswith("application:")
    with pytest.raises(DomainError) as caught:
        await call(env, "submit", petrov, action_ref)
    assert caught.value.message == MSG_NOT_CONFIRMED
    assert (await _application(env)).status == "draft"


async def test_a_code_confirmed_long_ago_does_not_submit(env: Env, petrov: CurrentUser) -> None:
    await fill_form(env, petrov)
    await upload_required(env, petrov)
    action_ref = await call(env, "prepare_submit", petrov)
    assert isinstance(action_ref, str)
    await confirm_code(env, petrov, action_ref)
    env.clock.advance(minutes=30)
    with pytest.raises(DomainError) as caught:
        await call(env, "submit", petrov, action_ref)
    assert caught.value.message == MSG_NOT_CONFIRMED


@pytest.mark.parametrize("change", ["field", "document"])
async def test_a_change_after_the_code_is_refused(
    env: Env, petrov: CurrentUser, change: str
) -> None:
    await fill_form(env, petrov)
    await upload_required(env, petrov)
    action_ref = await call(env, "prepare_submit", petrov)
    assert isinstance(action_ref, str)
    await confirm_code(env, petrov, action_ref)
    if change == "field":
        await set_field(env, petrov, "address", "г. Москва, ул. Арбат, д. 1")
    else:
        await upload(env, petrov, "residence", make_png("green"))
    with pytest.raises(DomainError) as caught:
        await call(env, "submit", petrov, action_ref)
    assert caught.value.message == MSG_CHANGED
    assert (await _application(env)).status == "draft"
    # Confirming the new version goes through.
    result = await submit(env, petrov)
    assert isinstance(result, SubmitResult)


async def test_submit_accepts_numbers_notifies_and_locks_the_form(
    env: Env, petrov: CurrentUser
) -> None:
    await fill_form(env, petrov)
    await upload_required(env, petrov)
    env.clock.advance(minutes=1)
    result = await submit(env, petrov)
    assert isinstance(result, SubmitResult)
    application = await _application(env)
    assert result.number == f"ЭМК-2026-{application.id:06d}"
    assert result.status_text == "Заявка принята"
    assert application.status == "accepted"
    assert application.number == result.number
    assert application.submitted_at == env.clock.now()

    events = await _rows(env, ApplicationStatusEvent)
    assert [(e.status, e.at, e.reasons) for e in events] == [("accepted", env.clock.now(), [])]
    pushes = [m for m in await _rows(env, OutboxMessage) if m.kind == "application_status"]
    assert len(pushes) == 1
    assert pushes[0].text.startswith(f"Заявка № {result.number} принята")
    assert pushes[0].buttons == [{"text": "Статус заявки", "action": "status"}]

    view = await draft(env, petrov)
    assert view.status == "accepted" and view.number == result.number
    with pytest.raises(DomainError) as caught:
        await set_field(env, petrov, "address", "г. Москва")
    assert caught.value.message == MSG_NOT_EDITABLE
    with pytest.raises(DomainError):
        await call(env, "accept_consent", petrov)
    with pytest.raises(DomainError):
        await call(env, "prepare_submit", petrov)
    review = await call(env, "review", petrov)
    assert isinstance(review, ReviewView) and not review.can_submit
    # The same confirmation can't send it twice.
    action_ref = f"application:{application.id}:{application.revision - 1}"
    with pytest.raises(DomainError):
        await call(env, "submit", petrov, action_ref)
    assert len(await _rows(env, ApplicationStatusEvent)) == 1


async def test_audit_rows_name_ids_not_personal_data(env: Env, petrov: CurrentUser) -> None:
    await submitted_application(env)
    entries = await _rows(env, AuditEntry)
    actions = {e.action for e in entries}
    assert {
        "application.create",
        "application.field",
        "application.consent",
        "application.submit",
        "application.status",
        "document.upload",
    } <= actions
    dumped = repr([(e.actor, e.details) for e in entries])
    for secret in (
        "Петров",
        "15623648877",
        "7750198340271955",
        "Тверская",
        "123456",
        "паспорт.png",
    ):
        assert secret not in dumped


async def test_resubmission_after_correction_keeps_the_number(env: Env, tmp_path: Path) -> None:
    use_file_store(env, tmp_path / "files")
    await seed(env)
    olga = await submitted_application(env, SMIRNOVA_PHONE, SMIRNOVA_APPLICATION)
    number = (await _application(env)).number
    application_id = await claim_and_start(env)
    assert await finish(env, application_id) is not None
    status = await call(env, "status", olga)
    assert isinstance(status, StatusView)
    assert status.status == "needs_fix" and status.can_fix
    assert any("СНИЛС не совпадает" in r for r in status.reasons)

    view = await set_field(env, olga, "snils", SMIRNOVA_CORRECT_SNILS)
    assert view.status == "needs_fix"
    result = await submit(env, olga)
    assert isinstance(result, SubmitResult)
    assert result.number == number
    application = await _application(env)
    assert application.status == "accepted"
    events = await _rows(env, ApplicationStatusEvent)
    assert [e.status for e in events] == ["accepted", "in_work", "needs_fix", "accepted"]


# -- status ----------------------------------------------------------------------


async def test_status_before_and_after_submission(env: Env, petrov: CurrentUser) -> None:
    assert await call(env, "status", petrov) is None
    await draft(env, petrov)
    status = await call(env, "status", petrov)
    assert isinstance(status, StatusView)
    assert (status.status, status.status_text, status.number) == ("draft", "Черновик", None)
    assert status.history == [] and status.queue_ahead is None and status.eta_minutes is None

    await fill_form(env, petrov)
    await upload_required(env, petrov)
    result = await submit(env, petrov)
    assert isinstance(result, SubmitResult)
    status = await call(env, "status", petrov)
    assert isinstance(status, StatusView)
    assert status.number == result.number
    assert status.status_text == "Заявка принята"
    assert status.submitted_at == env.clock.now()
    assert [(h.status_text, h.at, h.reasons) for h in status.history] == [
        ("Заявка принята", env.clock.now(), [])
    ]
    assert status.queue_ahead == 0
    # No history to learn the pace from: PROCESSING_DELAY_SECONDS per application.
    assert status.eta_minutes == 1
    assert not status.can_fix


async def test_seed_demo_is_idempotent_and_fills_the_registry(env: Env) -> None:
    first = await in_uow(env, lambda uow: seed_demo(uow, env.ctx))
    assert first == [p.account.phone for p in DEMO_PEOPLE]
    assert await in_uow(env, lambda uow: seed_demo(uow, env.ctx)) == []
    registry = await _rows(env, RegistryPerson)
    assert sorted(p.snils for p in registry) == sorted(e.snils for e in DEMO_REGISTRY)
    # Petrov is in the registry as README quotes him, and has no medical record.
    petrov = next(p for p in registry if p.snils == "15623648877")
    assert (petrov.last_name, petrov.birth_date.strftime("%d.%m.%Y")) == (
        "Петров",
        PETROV_APPLICATION["birth_date"],
    )
    assert petrov.legal_restriction is None


async def test_reading_the_review_and_the_status_is_audited(env: Env, petrov: CurrentUser) -> None:
    await draft(env, petrov)
    await call(env, "review", petrov)
    await call(env, "status", petrov)
    async with env.uow() as uow:
        entries = await uow.core.audit.all()
        views = [e.action for e in entries if e.action.endswith(".view")]
        assert views == ["application.view", "application.status.view"]
        for entry in entries:
            assert "Петров" not in str(entry.details)


# -- what the account knows, a policy without an end date, an open record --------


async def test_the_account_values_are_read_for_their_questions(
    env: Env, petrov: CurrentUser
) -> None:
    assert await call(env, "account_value", petrov, "full_name") == "Петров Сергей Иванович"
    assert await call(env, "account_value", petrov, "snils") == "156-236-488 77"
    assert await call(env, "account_value", petrov, "email") == "sergey.petrov@example.ru"
    assert await call(env, "account_value", petrov, "phone") == PETROV_PHONE
    assert await call(env, "account_value", petrov, "address") is None


async def test_an_account_value_is_taken_as_if_typed_and_journaled(
    env: Env, petrov: CurrentUser
) -> None:
    view = await call(env, "use_account_value", petrov, "full_name")
    assert isinstance(view, DraftView)
    assert view.values["full_name"] == "Петров Сергей Иванович"
    view = await call(env, "use_account_value", petrov, "snils")
    assert isinstance(view, DraftView)
    application = await _application(env)
    assert (application.last_name, application.first_name, application.middle_name) == (
        "Петров",
        "Сергей",
        "Иванович",
    )
    assert application.snils == "15623648877"
    fields = [e.details for e in await _rows(env, AuditEntry) if e.action == "application.field"]
    assert [(d["field"], d.get("source")) for d in fields] == [
        ("full_name", "account"),
        ("snils", "account"),
    ]
    with pytest.raises(DomainError, match="В учётной записи этих данных нет"):
        await call(env, "use_account_value", petrov, "address")


async def test_a_policy_without_an_end_date_is_an_answer(env: Env, petrov: CurrentUser) -> None:
    view = await set_field(env, petrov, "policy_end", "Бессрочный")
    assert view.values["policy_end"] == "Бессрочный"
    assert "policy_end" not in view.not_given
    assert (await _application(env)).policy_end is None
    review = await call(env, "review", petrov)
    assert isinstance(review, ReviewView)
    assert "Полис ОМС действует до" not in review.missing_fields
    # a date replaces it
    view = await set_field(env, petrov, "policy_end", "31.12.2045")
    assert view.values["policy_end"] == "31.12.2045"
    assert "policy_end" not in ((await _application(env)).skipped_fields or [])


async def test_a_policy_without_an_end_date_opens_the_card(env: Env, tmp_path: Path) -> None:
    use_file_store(env, tmp_path / "files")
    await seed(env)
    user = await submitted_application(
        env, values={**PETROV_APPLICATION, "policy_end": "бессрочный"}
    )
    application_id = await claim_and_start(env)
    finished = await finish(env, application_id)
    assert finished is not None and finished.status == "opened", finished
    assert await call(env, "record_open", user) is True


async def test_the_record_is_not_open_before_the_decision(env: Env, petrov: CurrentUser) -> None:
    assert await call(env, "record_open", petrov) is False
    await draft(env, petrov)
    assert await call(env, "record_open", petrov) is False
