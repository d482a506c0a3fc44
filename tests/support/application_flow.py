"""Steps of «Заявление на ЭМК» as a person takes them (not a test module).

Values are typed exactly as the demo people type them (services.demo); a
choice is pressed by its button label; an empty optional value is skipped.
"""

from __future__ import annotations

from services.enrolment.application import FIELDS, FieldSpec
from tests.support.bot import (
    KUZNETSOV_PHONE,
    PETROV_PHONE,
    SMIRNOVA_PHONE,
    App,
    png_bytes,
)
from tgsandbox import SandboxUser

REQUIRED_SLOTS = ("Паспорт", "Полис ОМС", "СНИЛС")
# One picture per slot, each different (the same file in two slots is pointed out).
SLOT_COLORS = {"Паспорт": "navy", "Полис ОМС": "green", "СНИЛС": "maroon", "места": "olive"}

PEOPLE = {
    PETROV_PHONE: (2002, "Сергей"),
    SMIRNOVA_PHONE: (2003, "Ольга"),
    KUZNETSOV_PHONE: (2004, "Андрей"),
}


async def signed_in(app: App, phone: str = PETROV_PHONE) -> SandboxUser:
    """A demo person at the main menu."""
    user_id, name = PEOPLE[phone]
    user = app.user(user_id, phone, name)
    await app.sign_in(user, login=phone)
    return user


def field(name: str) -> FieldSpec:
    return next(spec for spec in FIELDS if spec.name == name)


async def answer(user: SandboxUser, spec: FieldSpec, value: str) -> None:
    if spec.kind == "consent":
        await user.press("Даю согласие")
    elif spec.kind == "choice":
        await user.press(value)
    elif spec.optional and not value:
        await user.press("Пропустить")
    else:
        await user.send(value)


async def fill_form(
    user: SandboxUser, values: dict[str, str], *, start: str | None = None, stop: str | None = None
) -> None:
    """Answer the questions in order, from `start` (the first) up to `stop` (excluded)."""
    names = [spec.name for spec in FIELDS]
    first = names.index(start) if start else 0
    last = names.index(stop) if stop else len(names)
    for spec in FIELDS[first:last]:
        shown = spec.question if spec.kind == "consent" else spec.label
        assert shown in user.last.text, (spec.name, user.last.text)
        await answer(user, spec, values.get(spec.name, ""))


async def upload(user: SandboxUser, slot: str, data: bytes, name: str) -> None:
    """In the list of documents: choose `slot`, send the file."""
    await user.press(slot)
    assert "Пришлите документ" in user.last.text
    await user.send_document(data, name)


async def upload_documents(user: SandboxUser, slots: tuple[str, ...] = REQUIRED_SLOTS) -> None:
    """From the review: «Документы», a picture for each slot, «Готово»."""
    await user.press("Документы")
    for slot in slots:
        await upload(user, slot, png_bytes(color=SLOT_COLORS[slot]), "скан.png")
        assert "принят" in user.last.text, user.last.text
    await user.press("Готово")
    assert "Проверьте заявление" in user.last.text


async def submit(app: App, user: SandboxUser) -> str:
    """«Отправить» and the code from the SMS; returns the application's number."""
    sent = len(app.sms.sent)
    await user.press("Отправить")
    assert "SMS на номер" in user.last.text, user.last.text
    assert len(app.sms.sent) == sent + 1
    await user.send(app.last_sms_code())
    text = user.last.text
    assert "Заявка принята" in text, text
    return text.split("Номер заявки: ")[1].split(".\n")[0]


async def apply(app: App, user: SandboxUser, values: dict[str, str]) -> str:
    """The whole application from the main menu: form, documents, code. Its number."""
    await user.press("Заявление на ЭМК")
    await fill_form(user, values)
    await upload_documents(user)
    return await submit(app, user)
