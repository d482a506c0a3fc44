"""Demo data: Анна's labs (services.record.demo).

Глюкоза five times over two years (the newest, 6,4 ммоль/л, above 3,9–6,1: final
and not yet opened), общий анализ крови twice, холестерин общий three times and
one sensitive result (antibodies to HIV). Each has a one-page PDF report (fpdf2
with matplotlib's DejaVu font) in the file store, when there is one.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from services.core.context import AppContext
from services.record.charts import number, range_text
from storage.models import LabObservation, LabResult
from storage.uow import UnitOfWork

LABORATORY = "КДЛ Городской поликлиники № 1"
DOCTOR = "Соколова М. А."
MSK = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class DemoAnalyte:
    code: str
    name: str
    value: float | None
    unit: str | None
    low: float | None = None
    high: float | None = None
    text: str | None = None
    ref_text: str | None = None


@dataclass(frozen=True)
class DemoResult:
    identifier: str
    test_code: str
    test_name: str
    days_ago: int
    analytes: tuple[DemoAnalyte, ...]
    sensitive: bool = False
    seen: bool = True
    lab_comment: str | None = None
    doctor_comment: str | None = None


def _glucose(n: int, days_ago: int, value: float, **extra: object) -> DemoResult:
    return DemoResult(
        f"demo-glu-{n}",
        "14749-6",
        "Глюкоза",
        days_ago,
        (DemoAnalyte("14749-6", "Глюкоза", value, "ммоль/л", 3.9, 6.1),),
        **extra,  # type: ignore[arg-type]
    )


def _blood(
    n: int, days_ago: int, hb: float, rbc: float, wbc: float, plt: float, esr: float
) -> DemoResult:
    return DemoResult(
        f"demo-cbc-{n}",
        "58410-2",
        "Общий анализ крови",
        days_ago,
        (
            DemoAnalyte("718-7", "Гемоглобин", hb, "г/л", 120, 140),
            DemoAnalyte("789-8", "Эритроциты", rbc, "×10¹²/л", 3.8, 5.1),
            DemoAnalyte("6690-2", "Лейкоциты", wbc, "×10⁹/л", 4.0, 9.0),
            DemoAnalyte("777-3", "Тромбоциты", plt, "×10⁹/л", 150, 400),
            DemoAnalyte("4537-7", "СОЭ", esr, "мм/ч", 2, 20),
        ),
    )


def _cholesterol(n: int, days_ago: int, value: float) -> DemoResult:
    return DemoResult(
        f"demo-chol-{n}",
        "14647-2",
        "Холестерин общий",
        days_ago,
        (DemoAnalyte("14647-2", "Холестерин общий", value, "ммоль/л", None, 5.2),),
    )


DEMO_RESULTS: tuple[DemoResult, ...] = (
    _glucose(1, 710, 5.1),
    _cholesterol(1, 650, 5.0),
    _blood(1, 600, 128, 4.4, 6.1, 245, 12),
    _glucose(2, 540, 5.4),
    _cholesterol(2, 400, 5.4),
    _glucose(3, 360, 5.6),
    DemoResult(
        "demo-hiv-1",
        "56888-1",
        "Антитела к ВИЧ 1/2 и антиген p24",
        300,
        (
            DemoAnalyte(
                "56888-1",
                "Антитела к ВИЧ 1/2 и антиген p24",
                None,
                None,
                text="не обнаружено",
                ref_text="не обнаружено",
            ),
        ),
        sensitive=True,
    ),
    _blood(2, 200, 131, 4.5, 5.6, 260, 9),
    _glucose(4, 180, 5.9),
    _cholesterol(3, 90, 5.1),
    _glucose(
        5,
        10,
        6.4,
        seen=False,
        lab_comment="Рекомендуется повторить исследование натощак.",
        doctor_comment="Уровень глюкозы выше нормы. Запишитесь на приём к эндокринологу.",
    ),
)


def _flag(analyte: DemoAnalyte) -> str | None:
    if analyte.value is None:
        return "normal" if analyte.text == analyte.ref_text else "abnormal"
    if analyte.high is not None and analyte.value > analyte.high:
        return "high"
    if analyte.low is not None and analyte.value < analyte.low:
        return "low"
    return "normal"


@functools.lru_cache(maxsize=32)
def report_pdf(result: DemoResult, issued: datetime) -> bytes:
    """The laboratory's one-page report in Russian (pure; the same data, the same bytes)."""
    import matplotlib
    from fpdf import FPDF

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf = FPDF()
    pdf.set_creation_date(issued)
    pdf.add_page()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 10, LABORATORY, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    pdf.cell(0, 8, f"{result.test_name} — результат окончательный", new_x="LMARGIN", new_y="NEXT")
    when = issued.astimezone(MSK).strftime("%d.%m.%Y %H:%M")
    pdf.cell(0, 8, f"Дата выдачи: {when} (МСК)", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, f"Направил: {DOCTOR}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for analyte in result.analytes:
        if analyte.value is None:
            line = f"{analyte.name}: {analyte.text} (норма: {analyte.ref_text})"
        else:
            line = f"{analyte.name}: {number(analyte.value)} {analyte.unit or ''}".rstrip()
            band = range_text(analyte.low, analyte.high)
            if band:
                line += f" ({band})"
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    if result.lab_comment:
        pdf.ln(4)
        pdf.multi_cell(0, 7, f"Комментарий лаборатории: {result.lab_comment}")
    return bytes(pdf.output())


async def seed_lab_results(uow: UnitOfWork, ctx: AppContext, account_id: int) -> None:
    """Add the demo's labs to the record of `account_id` unless it has some already."""
    labs = uow.record.labs
    if await labs.any_for(account_id):
        return
    now = ctx.gateways.clock.now()
    store = ctx.gateways.files
    for demo in DEMO_RESULTS:
        issued = (now - timedelta(days=demo.days_ago)).replace(microsecond=0)
        key = sha = size = mime = None
        if store is not None:
            pdf = report_pdf(demo, issued)
            key = await store.put(pdf)
            uow.after_rollback(functools.partial(store.delete, key))
            sha, size, mime = hashlib.sha256(pdf).hexdigest(), len(pdf), "application/pdf"
        result = LabResult(
            account_id=account_id,
            api_client_id=None,
            report_identifier=demo.identifier,
            test_code=demo.test_code,
            test_name=demo.test_name,
            ordered_by=DOCTOR,
            laboratory_name=LABORATORY,
            status="final",
            collected_at=issued - timedelta(days=1),
            issued_at=issued,
            sensitive=demo.sensitive,
            lab_comment=demo.lab_comment,
            doctor_comment=demo.doctor_comment,
            storage_key=key,
            sha256=sha,
            size=size,
            mime_type=mime,
            seen_at=issued + timedelta(hours=3) if demo.seen else None,
            source="import",
            created_at=now,
            updated_at=now,
        )
        await labs.add(
            result,
            [
                LabObservation(
                    code=a.code,
                    name=a.name,
                    value=a.value,
                    value_text=a.text,
                    unit=a.unit,
                    ref_low=a.low,
                    ref_high=a.high,
                    ref_text=a.ref_text,
                    flag=_flag(a),
                )
                for a in demo.analytes
            ],
        )
