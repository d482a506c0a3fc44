"""The PDF of an extract: plain data in, bytes out (fpdf2, matplotlib's DejaVu fonts).

``render_extract`` knows nothing of the database or of signing: the extract use
cases read the record into the dataclasses below, render them here in the CPU
pool and sign the bytes afterwards (services.record.signing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

__all__ = [
    "Analyte",
    "Entry",
    "ExtractDocument",
    "LabBlock",
    "PersonData",
    "Section",
    "format_policy",
    "format_snils",
    "render_extract",
]

MSK = ZoneInfo("Europe/Moscow")
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT = "DejaVu"
LINE = 5.5


@dataclass(frozen=True)
class PersonData:
    full_name: str
    birth_date: date
    snils: str
    policy_number: str


@dataclass(frozen=True)
class Entry:
    """One entry of a section: a heading line and the lines beneath it."""

    heading: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    entries: tuple[Entry, ...] = ()
    # A paragraph of text (a discharge summary's body), shown before the entries.
    text: str | None = None
    empty: str = "Записей за этот период нет."


@dataclass(frozen=True)
class Analyte:
    name: str
    value: str
    unit: str
    reference: str
    flag: str  # "↑", "↓", "!" or ""


@dataclass(frozen=True)
class LabBlock:
    """One lab result: its heading (test and date), lines (laboratory …) and analytes."""

    heading: str
    lines: tuple[str, ...] = ()
    analytes: tuple[Analyte, ...] = ()


@dataclass(frozen=True)
class ExtractDocument:
    title: str
    organisation: str
    person: PersonData
    issued_at: datetime
    # «с 26.11.2025 по 26.11.2026», «за всё время»; None when not about a period.
    period: str | None = None
    sections: tuple[Section, ...] = ()
    labs: tuple[LabBlock, ...] = ()
    labs_title: str = "Результаты анализов"
    # Show the lab block even when empty (the lab summary); else only when there are labs.
    labs_always: bool = False
    number: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def format_snils(snils: str) -> str:
    """``11223344595`` → ``112-233-445 95``."""
    digits = "".join(ch for ch in snils if ch.isdigit())
    if len(digits) != 11:
        return snils
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


def format_policy(number: str) -> str:
    """``7700451290831166`` → ``7700 4512 9083 1166``."""
    digits = number.replace(" ", "")
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_text} · стр. {self.page_no()} из {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _line(pdf: FPDF, text: str, *, size: float = 10, bold: bool = False, h: float = LINE) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.multi_cell(0, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    _line(pdf, text, size=12, bold=True, h=7)
    pdf.set_draw_color(150, 150, 150)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)


def _entry(pdf: FPDF, entry: Entry) -> None:
    _line(pdf, entry.heading, bold=True)
    for text in entry.lines:
        _line(pdf, text, size=9.5)
    pdf.ln(1.2)


def _analytes(pdf: FPDF, analytes: tuple[Analyte, ...]) -> None:
    pdf.set_font(FONT, "", 9)
    with pdf.table(
        col_widths=(62, 26, 24, 50, 12),
        line_height=5,
        first_row_as_headings=True,
        headings_style=FontFace(family=FONT, emphasis="BOLD", fill_color=(235, 235, 235)),
        text_align=("LEFT", "RIGHT", "LEFT", "LEFT", "CENTER"),
    ) as table:
        header = table.row()
        for title in ("Показатель", "Значение", "Ед. изм.", "Референсный интервал", ""):
            header.cell(title)
        for analyte in analytes:
            row = table.row()
            for value in (
                analyte.name,
                analyte.value,
                analyte.unit,
                analyte.reference,
                analyte.flag,
            ):
                row.cell(value)
    pdf.ln(1.5)


def render_extract(document: ExtractDocument) -> bytes:
    """The extract as a PDF (A4, Cyrillic DejaVu Sans), not yet signed."""
    issued = document.issued_at.astimezone(MSK)
    pdf = _Pdf(f"{document.title} · {document.organisation}")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(document.title)
    pdf.set_author(document.organisation)
    pdf.set_creator("ЭМК на Госуслугах")
    pdf.set_lang("ru")
    pdf.set_creation_date(document.issued_at)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.alias_nb_pages()
    pdf.add_page()

    _line(pdf, document.organisation, size=11, bold=True)
    pdf.ln(4)
    _line(pdf, document.title, size=16, bold=True, h=8)
    if document.number:
        _line(pdf, f"№ {document.number}", size=10)
    if document.period:
        _line(pdf, f"Период: {document.period}", size=10)
    for label, value in document.extra.items():
        _line(pdf, f"{label}: {value}", size=10)

    person = document.person
    _heading(pdf, "Пациент")
    _line(pdf, f"ФИО: {person.full_name}")
    _line(pdf, f"Дата рождения: {person.birth_date:%d.%m.%Y}")
    _line(pdf, f"СНИЛС: {format_snils(person.snils)}")
    _line(pdf, f"Полис ОМС: {format_policy(person.policy_number)}")

    for section in document.sections:
        _heading(pdf, section.title)
        if section.text:
            for paragraph in section.text.split("\n"):
                _line(pdf, paragraph or " ")
            pdf.ln(1)
        for entry in section.entries:
            _entry(pdf, entry)
        if not section.entries and not section.text:
            _line(pdf, section.empty, size=9.5)

    if document.labs or document.labs_always:
        _heading(pdf, document.labs_title)
        for block in document.labs:
            _line(pdf, block.heading, bold=True)
            for text in block.lines:
                _line(pdf, text, size=9.5)
            if block.analytes:
                _analytes(pdf, block.analytes)
            else:
                pdf.ln(1.2)
        if not document.labs:
            _line(pdf, "Результатов анализов за этот период нет.", size=9.5)

    pdf.ln(6)
    _line(pdf, f"Дата выдачи: {issued:%d.%m.%Y %H:%M} (МСК)")
    _line(
        pdf,
        f"Документ подписан электронной подписью медицинской организации: {document.organisation}.",
    )
    return bytes(pdf.output())
