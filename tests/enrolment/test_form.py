"""Each question of the application is declared once: its columns, its check, its display."""

from __future__ import annotations

from datetime import date

import pytest

from services.core.errors import ValidationError
from services.demo import PETROV_APPLICATION
from services.enrolment.form import FIELDS, FieldSpec, ParseContext
from storage.models import Application

TODAY = date(2026, 12, 1)
TEXT_FIELDS = [spec for spec in FIELDS if spec.kind != "consent"]


@pytest.mark.parametrize("spec", TEXT_FIELDS, ids=[s.name for s in TEXT_FIELDS])
def test_an_answer_fills_only_the_fields_columns_and_reads_back(spec: FieldSpec) -> None:
    raw = PETROV_APPLICATION[spec.name] or "Нужна справка для работы"
    application = Application(birth_date=date(1985, 7, 14))
    values = spec.parse(raw, ParseContext(application, TODAY))
    assert set(values) <= set(spec.stored_in), (spec.name, values)
    for column, value in values.items():
        setattr(application, column, value)
    shown = spec.display(application)
    assert shown, spec.name
    # What is shown is accepted again as the same value (the review's «Изменить»).
    assert dict(spec.parse(shown, ParseContext(application, TODAY))) == dict(values)


def test_every_column_a_field_names_exists_on_the_application() -> None:
    columns = set(Application.__table__.columns.keys())
    for spec in FIELDS:
        assert set(spec.stored_in) <= columns, spec.name


def test_a_wrong_answer_is_refused_with_a_russian_reason() -> None:
    snils = next(spec for spec in FIELDS if spec.name == "snils")
    with pytest.raises(ValidationError, match="СНИЛС"):
        snils.parse("123", ParseContext(Application(), TODAY))
    sex = next(spec for spec in FIELDS if spec.name == "sex")
    with pytest.raises(ValidationError, match="Выберите один из вариантов"):
        sex.parse("не знаю", ParseContext(Application(), TODAY))
