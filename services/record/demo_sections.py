"""Demo data: Анна's sections (services.record.demo).

Dates are counted back from today (the context's clock), so the demo reads
sensibly whenever it is seeded: the current medication has no end, the ДМС
policy runs to the end of next year. Seeding twice changes nothing (skipped
when the record has diagnoses already).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import date, timedelta
from pathlib import Path

from services.core.context import AppContext
from services.record.sections import msk_today
from storage.models import (
    Diagnosis,
    Hospitalisation,
    InsurancePolicy,
    Medication,
    Procedure,
    RecordDocument,
    RecordVisit,
    Screening,
    Vaccination,
)
from storage.uow import UnitOfWork

POLYCLINIC = "ГБУЗ «Городская поликлиника № 12»"
HOSPITAL = "ГБУЗ «Городская клиническая больница № 7»"
THERAPIST = "Смирнова Елена Викторовна"
GASTROENTEROLOGIST = "Орлов Дмитрий Андреевич"
WARD_DOCTOR = "Кравцова Марина Олеговна"
OMS_INSURER = "АО «СОГАЗ-Мед»"
DMS_INSURER = "СПАО «Ингосстрах»"
DMS_NUMBER = "ДМС-0012-458723"

DISCHARGE_SUMMARY = (
    "Пациентка Иванова Анна Сергеевна находилась на лечении в гастроэнтерологическом "
    "отделении с {admitted} по {discharged}.\n"
    "Диагноз: K29.5 Хронический гастрит неуточненный, обострение.\n"
    "Жалобы при поступлении: боли в эпигастрии после еды, тошнота.\n"
    "Обследования: ЭГДС — поверхностный гастрит, Helicobacter pylori не выявлен; "
    "УЗИ органов брюшной полости — без очаговых изменений.\n"
    "Лечение: омепразол 20 мг 2 раза в день, диета.\n"
    "Состояние при выписке: удовлетворительное, боли купированы.\n"
    "Рекомендации: наблюдение гастроэнтеролога по месту жительства, омепразол 20 мг "
    "2 раза в день 4 недели, дробное питание, отказ от острой пищи."
)


def _font() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"


@functools.lru_cache(maxsize=4)
def summary_pdf(title: str, organisation: str, text: str) -> bytes:
    """The discharge summary as a one-page PDF (fpdf2 with matplotlib's DejaVu Sans). CPU work."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_creator("ЭМК")
    pdf.add_font("DejaVu", fname=str(_font()))
    pdf.add_page()
    pdf.set_font("DejaVu", size=10)
    pdf.multi_cell(0, 6, organisation, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("DejaVu", size=16)
    pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("DejaVu", size=11)
    for paragraph in text.split("\n"):
        pdf.multi_cell(0, 6, paragraph, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    return bytes(pdf.output())


async def seed_sections(uow: UnitOfWork, ctx: AppContext, account_id: int) -> None:
    """Add the demo's sections to the record of `account_id` unless it has some already."""
    sections = uow.record.sections
    if await sections.has_diagnoses(account_id):
        return
    record = await uow.record.records.for_account(account_id)
    now = ctx.gateways.clock.now()
    today = msk_today(ctx)

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    async def icd(code: str, fallback: str) -> str:
        return await sections.icd10_name(code) or fallback

    policies = [
        InsurancePolicy(
            account_id=account_id,
            kind="dms",
            number=DMS_NUMBER,
            insurer=DMS_INSURER,
            valid_until=date(today.year + 1, 12, 31),
            created_at=now,
        )
    ]
    if record is not None:
        policies.insert(
            0,
            InsurancePolicy(
                account_id=account_id,
                kind="oms",
                number=record.policy_number,
                insurer=OMS_INSURER,
                valid_until=None,
                created_at=now,
            ),
        )
    await sections.add(*policies)

    await sections.add(
        Diagnosis(
            account_id=account_id,
            icd10_code="K29.5",
            name=await icd("K29.5", "Хронический гастрит неуточненный"),
            set_on=ago(700),
            doctor_name=GASTROENTEROLOGIST,
            organisation_name=POLYCLINIC,
            status="active",
            source="doctor",
            created_at=now,
        ),
        Diagnosis(
            account_id=account_id,
            icd10_code="J06.9",
            name=await icd("J06.9", "Острая инфекция верхних дыхательных путей неуточненная"),
            set_on=ago(400),
            doctor_name=THERAPIST,
            organisation_name=POLYCLINIC,
            status="resolved",
            resolved_on=ago(392),
            source="doctor",
            created_at=now,
        ),
        Diagnosis(
            account_id=account_id,
            icd10_code="R73.0",
            name=await icd(
                "R73.0", "Отклонения результатов нормы теста на толерантность к глюкозе"
            ),
            set_on=ago(30),
            doctor_name=THERAPIST,
            organisation_name=POLYCLINIC,
            status="active",
            note="Контроль глюкозы натощак через 3 месяца, диета с ограничением сладкого.",
            source="doctor",
            created_at=now,
        ),
    )

    await sections.add(
        Medication(
            account_id=account_id,
            name="Омепразол",
            dose="20 мг",
            instructions="По 1 капсуле 2 раза в день за 30 минут до еды",
            start_on=ago(540),
            end_on=ago(512),
            prescribed_by=WARD_DOCTOR,
            source="doctor",
            created_at=now,
        ),
        Medication(
            account_id=account_id,
            name="Ибупрофен",
            dose="200 мг",
            instructions="По 1 таблетке при температуре выше 38,5 °C, не чаще 3 раз в день",
            start_on=ago(400),
            end_on=ago(395),
            prescribed_by=THERAPIST,
            source="doctor",
            created_at=now,
        ),
        Medication(
            account_id=account_id,
            name="Метформин",
            dose="500 мг",
            instructions="По 1 таблетке 1 раз в день во время ужина",
            start_on=ago(28),
            end_on=None,
            prescribed_by=THERAPIST,
            source="doctor",
            created_at=now,
        ),
    )

    await sections.add(
        Vaccination(
            account_id=account_id,
            vaccine="Гам-КОВИД-Вак (Спутник V), компонент I",
            given_on=ago(1400),
            dose_number=1,
            reaction="Температура до 37,5 °C в течение суток",
            organisation_name=POLYCLINIC,
            source="import",
            created_at=now,
        ),
        Vaccination(
            account_id=account_id,
            vaccine="Гам-КОВИД-Вак (Спутник V), компонент II",
            given_on=ago(1379),
            dose_number=2,
            organisation_name=POLYCLINIC,
            source="import",
            created_at=now,
        ),
        Vaccination(
            account_id=account_id,
            vaccine="АДС-М (дифтерия, столбняк), ревакцинация",
            given_on=ago(900),
            dose_number=1,
            organisation_name=POLYCLINIC,
            source="import",
            created_at=now,
        ),
        Vaccination(
            account_id=account_id,
            vaccine="Совигрипп (грипп)",
            given_on=ago(60),
            dose_number=1,
            reaction="Болезненность в месте укола, прошла за 2 дня",
            organisation_name=POLYCLINIC,
            source="import",
            created_at=now,
        ),
    )

    admitted, discharged = ago(540), ago(533)
    body = DISCHARGE_SUMMARY.format(
        admitted=admitted.strftime("%d.%m.%Y"), discharged=discharged.strftime("%d.%m.%Y")
    )
    summary = RecordDocument(
        account_id=account_id,
        kind="discharge_summary",
        title="Выписной эпикриз",
        document_date=discharged,
        body=body,
        author_name=WARD_DOCTOR,
        organisation_name=HOSPITAL,
        source="doctor",
        created_at=now,
    )
    store = ctx.gateways.files
    if store is not None:
        pdf = await ctx.cpu.run(summary_pdf, "Выписной эпикриз", HOSPITAL, body)
        key = await store.put(pdf)
        uow.after_rollback(functools.partial(store.delete, key))
        summary.storage_key = key
        summary.sha256 = hashlib.sha256(pdf).hexdigest()
        summary.size = len(pdf)
        summary.mime_type = "application/pdf"
        summary.file_name = f"Выписной эпикриз {discharged:%d.%m.%Y}.pdf"
    await sections.add(summary)
    await sections.add(
        Hospitalisation(
            account_id=account_id,
            admitted_on=admitted,
            discharged_on=discharged,
            organisation_name=HOSPITAL,
            department="Гастроэнтерологическое отделение",
            reason="Обострение хронического гастрита, боли в эпигастрии",
            outcome="Выписана с улучшением",
            summary_document_id=summary.id,
            source="doctor",
            created_at=now,
        ),
        Procedure(
            account_id=account_id,
            kind="imaging",
            name="УЗИ органов брюшной полости",
            performed_on=ago(539),
            organisation_name=HOSPITAL,
            result="Печень, желчный пузырь и поджелудочная железа без очаговых изменений.",
            source="doctor",
            created_at=now,
        ),
        Procedure(
            account_id=account_id,
            kind="examination",
            name="Эзофагогастродуоденоскопия (ЭГДС)",
            performed_on=ago(538),
            organisation_name=HOSPITAL,
            result="Поверхностный гастрит. Helicobacter pylori не выявлен. Язв и эрозий нет.",
            source="doctor",
            created_at=now,
        ),
        RecordVisit(
            account_id=account_id,
            visited_on=ago(200),
            doctor_name=GASTROENTEROLOGIST,
            specialty="Гастроэнтеролог",
            organisation_name=POLYCLINIC,
            conclusion="Хронический гастрит в стадии ремиссии. Диета, повторный осмотр через год.",
            source="doctor",
            created_at=now,
        ),
        RecordVisit(
            account_id=account_id,
            visited_on=ago(30),
            doctor_name=THERAPIST,
            specialty="Терапевт",
            organisation_name=POLYCLINIC,
            conclusion=(
                "Глюкоза натощак 6,4 ммоль/л — нарушенная толерантность к глюкозе (R73.0). "
                "Назначен метформин, контроль глюкозы через 3 месяца."
            ),
            source="doctor",
            created_at=now,
        ),
    )

    screened = ago(35)
    programme = f"Диспансеризация {screened.year}"
    indicators = (
        ("Артериальное давление", "124/78 мм рт. ст.", "в норме"),
        ("Индекс массы тела", "26,1 кг/м²", "избыточная масса тела"),
        ("Глюкоза крови натощак", "6,4 ммоль/л", "выше нормы, направлена к терапевту"),
        ("Общий холестерин", "5,4 ммоль/л", "немного выше нормы"),
        ("Внутриглазное давление", "18 мм рт. ст.", "в норме"),
    )
    await sections.add(
        *(
            Screening(
                account_id=account_id,
                programme=programme,
                indicator=indicator,
                value=value,
                interpretation=interpretation,
                measured_on=screened,
                source="doctor",
                created_at=now,
            )
            for indicator, value, interpretation in indicators
        )
    )
