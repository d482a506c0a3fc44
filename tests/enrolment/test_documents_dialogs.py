"""«Документы» of the application: sending files and photos, and what is refused."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import pytest
from PIL import Image

from dialogs.enrolment.documents.getters import human_size
from services.core.files import inspect_upload
from services.demo import PETROV_APPLICATION
from tests.support.application import make_pdf
from tests.support.application_flow import fill_form, signed_in, upload
from tests.support.bot import App, png_bytes, send_document_as_declared
from tgsandbox import SandboxUser

MB = 1024 * 1024
PASSPORT = "Паспорт (страница с фото)"


async def at_documents(app: App) -> SandboxUser:
    """Петров with a complete form, at the list of documents."""
    petrov = await signed_in(app)
    await petrov.press("Заявление на ЭМК")
    await fill_form(petrov, PETROV_APPLICATION)
    await petrov.press("Документы")
    assert "Документы к заявлению на ЭМК" in petrov.last.text
    return petrov


def slot_line(user: SandboxUser, label: str) -> str:
    """The line of the list for the slot `label` («✅ …» or «— …»)."""
    return next(
        line
        for line in user.last.text.splitlines()
        if line.startswith(("✅ ", "— ")) and line[2:].startswith(label)
    )


def big_bytes(size: int) -> bytes:
    return b"%PDF-1.4\n" + b"0" * (size - 9)


def html_named_pdf() -> bytes:
    return b"<!DOCTYPE html><html><body><p>%PDF-1.4 scan</p></body></html>"


def truncated_pdf() -> bytes:
    data = make_pdf(pages=2)
    return data[: len(data) // 2]


Send = Callable[[SandboxUser], Awaitable[object]]

REFUSED: dict[str, tuple[Send, str]] = {
    # Telegram declares the size: refused before anything is downloaded
    "too big (declared)": (
        lambda user: user.send_document(big_bytes(6 * MB), "скан.pdf"),
        "файл больше 5 МБ",
    ),
    # no size declared: the bytes tell
    "too big (content)": (
        lambda user: send_document_as_declared(
            user, big_bytes(6 * MB), "скан.pdf", declare_size=False
        ),
        "файл больше 5 МБ",
    ),
    "html named .pdf": (
        lambda user: user.send_document(html_named_pdf(), "паспорт.pdf", "application/pdf"),
        "формат не поддерживается",
    ),
    "truncated pdf": (
        lambda user: user.send_document(truncated_pdf(), "паспорт.pdf"),
        "файл повреждён",
    ),
    "empty file": (
        lambda user: send_document_as_declared(user, b"", "паспорт.pdf"),
        "файл пустой",
    ),
    "a text file": (
        lambda user: user.send_document("Паспорт 45 05 123456".encode(), "паспорт.txt"),
        "формат не поддерживается",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_refused_file_leaves_the_slot_as_it_was(app: App, case: str) -> None:
    send, reason = REFUSED[case]
    petrov = await at_documents(app)
    await upload(petrov, "Паспорт", png_bytes(color="navy"), "паспорт.png")
    before = slot_line(petrov, PASSPORT)
    assert before.startswith("✅") and "PNG" in before
    await petrov.press("Паспорт")
    downloads = app.sandbox.count("getFile")
    await send(petrov)
    text = petrov.last.text
    assert f"⚠️ Не получилось принять документ: {reason}" in text, text
    # the same question again
    assert text.startswith(PASSPORT) and "Пришлите документ" in text
    if case == "too big (declared)":
        assert app.sandbox.count("getFile") == downloads  # never downloaded
    await petrov.press("К списку документов")
    assert slot_line(petrov, PASSPORT) == before
    # and a good file is still taken
    await upload(petrov, "Паспорт", make_pdf(), "паспорт.pdf")
    assert f"Документ «{PASSPORT}» принят: PDF" in petrov.last.text


async def test_a_refused_file_into_an_empty_slot_leaves_it_empty(app: App) -> None:
    petrov = await at_documents(app)
    await upload(petrov, "СНИЛС", html_named_pdf(), "снилс.pdf")
    assert "формат не поддерживается" in petrov.last.text
    await petrov.press("К списку документов")
    assert slot_line(petrov, "СНИЛС") == "— СНИЛС — не загружен"
    await petrov.press("Готово")
    assert "Не загружены документы: Паспорт (страница с фото), Полис ОМС, СНИЛС." in (
        petrov.last.text
    )


async def test_a_png_named_pdf_is_taken_as_a_png(app: App) -> None:
    petrov = await at_documents(app)
    picture = png_bytes((900, 700), "teal")
    await upload(petrov, "Полис ОМС", picture, "полис.pdf")
    text = petrov.last.text
    stored = inspect_upload(picture).size  # the size of the re-encoded picture
    assert f"Документ «Полис ОМС» принят: PNG, {human_size(stored)}." in text
    assert f"✅ Полис ОМС — PNG, {human_size(stored)}" in text


async def test_a_photo_is_taken_in_its_largest_size(app: App) -> None:
    petrov = await at_documents(app)
    await petrov.press("СНИЛС")
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((1600, 1200)).convert("RGB").save(buffer, "PNG")
    sent = await petrov.send_photo(buffer.getvalue())
    assert sent.photo is not None  # the largest size Telegram keeps
    assert sent.photo.width == 1600
    text = petrov.last.text
    assert f"Документ «СНИЛС» принят: JPG, {human_size(sent.photo.size)}." in text


async def test_sending_the_passport_scan_as_the_policy_is_refused(app: App) -> None:
    petrov = await at_documents(app)
    scan = make_pdf(pages=2)
    await upload(petrov, "Паспорт", scan, "документы.pdf")
    assert "тот же файл" not in petrov.last.text
    await upload(petrov, "Полис ОМС", scan, "документы.pdf")
    text = petrov.last.text
    assert (
        f"⚠️ Этот файл уже загружен в раздел «{PASSPORT}». Пришлите в этот раздел нужный документ."
    ) in text
    assert text.startswith("Полис ОМС") and "Пришлите документ" in text  # asked again
    await petrov.press("К списку документов")
    assert slot_line(petrov, "Полис ОМС").startswith("— Полис ОМС")
    assert slot_line(petrov, PASSPORT).startswith("✅")


async def test_the_passport_scan_as_proof_of_residence_is_pointed_out(app: App) -> None:
    petrov = await at_documents(app)
    scan = make_pdf(pages=2)
    await upload(petrov, "Паспорт", scan, "документы.pdf")
    await upload(petrov, "места жительства", scan, "документы.pdf")
    text = petrov.last.text
    assert "Документ «Подтверждение места жительства» принят: PDF" in text
    assert f"Это тот же файл, что и в разделе «{PASSPORT}»." in text
    assert "✅ Подтверждение места жительства (необязательно) — PDF" in text


async def test_a_thumbnail_sized_picture_is_refused(app: App) -> None:
    petrov = await at_documents(app)
    await upload(petrov, "СНИЛС", png_bytes((599, 800), "navy"), "снилс.png")
    assert (
        "⚠️ Изображение слишком маленькое: по короткой стороне нужно не меньше 600 точек. "
        "Сфотографируйте документ крупнее."
    ) in petrov.last.text
    await petrov.press("К списку документов")
    assert slot_line(petrov, "СНИЛС") == "— СНИЛС — не загружен"


async def test_text_or_a_sticker_where_a_file_is_asked(app: App) -> None:
    petrov = await at_documents(app)
    await petrov.press("Полис ОМС")
    question = petrov.last.text
    await petrov.send("вот мой полис")
    assert "Здесь нужен документ: пришлите файл или фотографию" in petrov.last.text
    assert petrov.last.text.startswith(question)
    await petrov.send_sticker()
    assert "Здесь нужен документ" in petrov.last.text
    assert petrov.last.text.startswith("Полис ОМС")
    await petrov.send_document(png_bytes(color="green"), "полис.png")
    assert "Документ «Полис ОМС» принят" in petrov.last.text
    # the list itself asks for buttons
    await petrov.send("готово")
    assert "воспользуйтесь кнопками" in petrov.last.text


async def test_replace_and_remove_a_document(app: App) -> None:
    petrov = await at_documents(app)
    await upload(petrov, "места жительства", png_bytes(color="olive"), "справка.png")
    assert "✅ Подтверждение места жительства (необязательно) — PNG" in petrov.last.text
    await petrov.press("места жительства")
    assert "Сейчас загружен файл PNG" in petrov.last.text
    assert "Новый файл заменит его." in petrov.last.text
    await petrov.send_document(make_pdf(), "справка.pdf")
    assert "✅ Подтверждение места жительства (необязательно) — PDF" in petrov.last.text
    await petrov.press("места жительства")
    await petrov.press("Удалить документ")
    assert "Документ «Подтверждение места жительства» удалён." in petrov.last.text
    assert "— Подтверждение места жительства (необязательно) — не загружен" in petrov.last.text
    await petrov.press("места жительства")
    assert "Удалить документ" not in petrov.last.buttons


async def test_documents_are_kept_when_leaving_and_coming_back(app: App) -> None:
    petrov = await at_documents(app)
    await upload(petrov, "Паспорт", png_bytes(color="navy"), "паспорт.png")
    await petrov.send("/menu")
    await petrov.press("Заявление на ЭМК")
    assert "✅ Паспорт (страница с фото) — PNG" in petrov.last.text
    await petrov.press("Документы")
    assert "✅ Паспорт (страница с фото) — PNG" in petrov.last.text
