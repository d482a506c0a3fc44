"""«Журнал действий»: who did what with a person's data and when, read from the audit journal.

Each row becomes one line in Russian: a label per action (and outcome), a
generic one for actions it does not know yet, and who did it — «Вы», a
relative, a doctor, a connected system or the service itself. Lines carry no
personal data: the rows hold none, and a line shows only the time and the label.

The journal of an account is its owner's only (``Permission.READ_ACCOUNT_HISTORY``);
reading it is journaled too. Pages are counted from the moment the journal was
opened (``upto``), so rows written meanwhile — this very view among them — do
not shift the pages being turned.

``sign_in_text`` is also what «История входов» shows (services.identity.auth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.core import audit
from services.core.access import (
    LEVEL_NAMES,
    Permission,
    Principal,
    actor_account_id,
    actor_of,
    require,
)
from services.core.context import AppContext
from storage.models import AuditEntry
from storage.uow import UnitOfWork

PAGE_SIZE = 10

# -- «История входов» ---------------------------------------------------------------

SIGN_IN_ANY = "попытка входа"
SIGN_IN_TEXT: dict[tuple[str, str], str] = {
    ("sign_in", "ok"): "успешный вход",
    ("sign_in.password", "wrong_password"): "неверный пароль",
    ("sign_in.password", "locked"): "попытка входа в заблокированную учётную запись",
    ("sign_in.phone", "mismatch"): "номер телефона не совпал",
    ("sign_in.code", "wrong_code"): "неверный код",
    ("account.lock", "ok"): "учётная запись заблокирована",
}


def sign_in_text(action: str, outcome: str) -> str:
    """The history's words for a sign-in row; «попытка входа» for one it does not know."""
    return SIGN_IN_TEXT.get((action, outcome), SIGN_IN_ANY)


# -- «Журнал действий» ------------------------------------------------------------------

# Said the same whoever caused it (a step of signing in, the service's own work).
EVENT_LABELS: dict[tuple[str, str | None], str] = {
    ("sign_in", "ok"): "Выполнен вход в учётную запись",
    ("sign_in.password", "ok"): "Пароль принят при входе",
    ("sign_in.password", "wrong_password"): "Неверный пароль при входе",
    ("sign_in.password", "locked"): "Попытка входа в заблокированную учётную запись",
    ("sign_in.phone", "ok"): "Номер телефона подтверждён при входе",
    ("sign_in.phone", "mismatch"): "Номер телефона не совпал при входе",
    ("sign_in.code", "wrong_code"): "Неверный код при входе",
    ("account.lock", None): "Учётная запись заблокирована после неверных паролей",
    ("account.unlock", None): "Учётная запись разблокирована",
    ("account.create", None): "Учётная запись создана",
    ("password.reset", None): "Пароль сброшен службой поддержки",
    ("session.expire", None): "Сеанс завершён из-за бездействия",
    ("otp.issue", "ok"): "Отправлен код подтверждения",
    ("otp.issue", "not_sent"): "Код подтверждения не удалось отправить",
    ("otp.verify", "ok"): "Код подтверждения принят",
    ("otp.verify", None): "Код подтверждения не принят",
    ("recovery.start", None): "Начато восстановление доступа",
    ("recovery.finish", None): "Доступ восстановлен, пароль изменён",
    ("application.status", None): "Изменился статус заявления на ЭМК",
    ("medical_record.create", None): "Открыта электронная медицинская карта",
    ("extract.issue", "ok"): "Подготовлена выписка, подписанная медицинской организацией",
    ("extract.issue", "failed"): "Выписку не удалось подготовить",
    ("medical_record.update", None): "Обновлена электронная медицинская карта",
    ("lab_result.receive", None): "Получен результат анализа из лаборатории",
    ("lab_result.replace", None): "Предварительный результат анализа заменён окончательным",
    ("lab_result.receive", "duplicate"): "Лаборатория повторно прислала полученный ранее результат",
    ("lab_result.receive", "denied"): "Лаборатории отказано в передаче результата анализа",
    ("lab_result.replace", "denied"): "Лаборатории отказано в замене результата анализа",
    ("api_client.create", None): "Подключена лаборатория",
    ("sharing.seed", None): "Доступ близкому человеку добавлен в демо-данные",
}
SIGN_IN_EVENT_ANY = "Попытка входа"

# What a person does: «Вы …» for the owner, «<кто>: …» for anyone else.
ACT_LABELS: dict[str, tuple[str, str]] = {
    "sign_out": ("вышли из учётной записи", "выход из учётной записи"),
    "password.change": ("сменили пароль", "смена пароля"),
    "login_history.view": ("открыли историю входов", "просмотр истории входов"),
    "journal.view": ("открыли журнал действий", "просмотр журнала действий"),
    "application.create": ("начали заявление на ЭМК", "создание заявления на ЭМК"),
    "application.draft": ("открыли черновик заявления на ЭМК", "просмотр черновика заявления"),
    "application.field": ("заполнили поле заявления на ЭМК", "изменение заявления на ЭМК"),
    "application.account_phone": (
        "посмотрели телефон учётной записи в заявлении",
        "просмотр телефона в заявлении",
    ),
    "application.consent": (
        "дали согласие на обработку персональных данных",
        "согласие на обработку данных",
    ),
    "application.view": ("открыли заявление на ЭМК", "просмотр заявления на ЭМК"),
    "application.prepare_submit": (
        "подготовили заявление на ЭМК к отправке",
        "подготовка заявления к отправке",
    ),
    "application.submit": ("отправили заявление на ЭМК", "отправка заявления на ЭМК"),
    "application.status.view": ("открыли статус заявления на ЭМК", "просмотр статуса заявления"),
    "document.upload": ("загрузили документ к заявлению", "загрузка документа"),
    "document.remove": ("удалили документ из заявления", "удаление документа"),
    # The record (services.record): views and downloads name what was opened by id only.
    "record.profile.view": ("открыли личные данные и полисы в медкарте", "просмотр личных данных"),
    "record.section.view": ("открыли раздел медкарты", "просмотр раздела медкарты"),
    "record.entry.view": ("открыли запись медкарты", "просмотр записи медкарты"),
    "record.document.add": ("добавили документ в медкарту", "добавление документа в медкарту"),
    "record.document.view": ("открыли документ медкарты", "просмотр документа медкарты"),
    "record.document.download": ("скачали документ медкарты", "скачивание документа"),
    "lab_result.list": ("открыли результаты анализов", "просмотр результатов анализов"),
    "lab_result.view": ("открыли результат анализа", "просмотр результата анализа"),
    "lab_result.download": ("скачали файл результата анализа", "скачивание результата анализа"),
    "lab_result.trend": ("открыли динамику показателя", "просмотр динамики показателя"),
    "extract.list": ("открыли выписки и заключения", "просмотр выписок и заключений"),
    "extract.request": ("запросили выписку", "запрос выписки"),
    "extract.download": ("скачали выписку", "скачивание выписки"),
    "extract.email": ("отправили выписку на почту", "отправка выписки на почту"),
    "doctor.step_up": ("подтвердили доступ к карте", "подтверждение доступа врача к карте"),
    # The embedded chat (services.chat): threads and messages named by id only.
    "chat.list": ("открыли свои вопросы врачам", "просмотр вопросов врачам"),
    "chat.ask": ("задали вопрос врачу", "вопрос врачу"),
    "chat.view": ("открыли переписку с врачом", "просмотр переписки с врачом"),
    "chat.write": ("написали врачу", "сообщение врачу"),
    "chat.file": ("открыли файл из переписки с врачом", "просмотр файла из переписки"),
    "chat.doctor.view": ("прочитали вопрос пациента", "прочтение вопроса"),
    "chat.answer": ("ответили на вопрос пациента", "ответ на вопрос"),
    "chat.close": ("закрыли вопрос пациента", "закрытие вопроса"),
    # Relatives (services.sharing): what the owner does with their access.
    "sharing.list": ("открыли список доступа для близких", "просмотр доступа для близких"),
    "sharing.view": ("открыли доступ близкого человека", "просмотр доступа близкого"),
    "sharing.invite": ("пригласили близкого человека к своей карте", "приглашение к карте"),
    "sharing.resend": ("отправили приглашение ещё раз", "повторное приглашение"),
    "sharing.withdraw": ("отозвали приглашение", "отзыв приглашения"),
    "sharing.level": ("изменили уровень доступа близкого", "изменение уровня доступа"),
    "sharing.extend": ("изменили срок доступа близкого", "продление доступа"),
    "sharing.revoke": ("отозвали доступ близкого к карте", "отзыв доступа"),
    "sharing.request.allow": ("разрешили доступ по запросу близкого", "разрешение доступа"),
    "sharing.request.decline": ("отклонили запрос близкого на доступ", "отказ в доступе"),
    "sharing.request.answer": ("ответили на запрос доступа", "ответ на запрос доступа"),
}

# What a relative did with the owner's card, in the third person («{а}»: the feminine ending).
RELATIVE_LABELS: dict[tuple[str, str | None], str] = {
    ("sharing.link", "ok"): "открыл{а} ссылку-приглашение",
    ("sharing.link", None): "открыл{а} недействительную ссылку-приглашение",
    ("sharing.accept.phone", "ok"): "подтвердил{а} номер телефона по приглашению",
    ("sharing.accept.phone", "wrong_phone"): (
        "открыл{а} приглашение с другим номером телефона — отказано"
    ),
    ("sharing.accept.phone", "foreign"): "прислал{а} чужой контакт — отказано",
    ("sharing.accept.code_sent", None): "получил{а} код для принятия приглашения",
    ("sharing.accept.code", "ok"): "подтвердил{а} код",
    ("sharing.accept.code", None): "указал{а} неверный код",
    ("sharing.accept", None): "принял{а} приглашение и дал{а} согласие",
    ("sharing.card.open", None): "открыл{а} вашу медкарту",
    ("sharing.card", None): "открыл{а} вашу медкарту",
    ("sharing.request", None): "попросил{а} снова открыть доступ",
    ("record.profile.view", None): "открыл{а} личные данные в медкарте",
    ("record.section.view", None): "открыл{а} раздел медкарты",
    ("record.entry.view", None): "открыл{а} запись медкарты",
    ("record.document.view", None): "открыл{а} документ медкарты",
    ("record.document.download", None): "скачал{а} документ медкарты",
    ("lab_result.list", None): "открыл{а} результаты анализов",
    ("lab_result.view", None): "открыл{а} результат анализа",
    ("lab_result.download", None): "скачал{а} файл результата анализа",
    ("lab_result.trend", None): "открыл{а} динамику показателя",
    ("extract.list", None): "открыл{а} выписки и заключения",
    ("extract.request", None): "запросил{а} выписку",
    ("extract.download", None): "скачал{а} выписку",
    ("extract.email", None): "отправил{а} выписку на почту",
    ("visit.book", None): "записал{а} вас на приём",
    ("visit.move", None): "перенес{ла} ваш приём",
    ("visit.cancel", None): "отменил{а} ваш приём",
    ("visit.list", None): "открыл{а} ваши записи к врачу",
    ("visit.view", None): "открыл{а} запись к врачу",
    ("chat.list", None): "открыл{а} ваши вопросы врачам",
    ("chat.ask", None): "задал{а} вопрос врачу от вашего имени",
    ("chat.view", None): "открыл{а} переписку с врачом",
    ("chat.write", None): "написал{а} врачу от вашего имени",
    ("chat.file", None): "открыл{а} файл из переписки с врачом",
}
RELATIVE_ANY = "выполнил{а} действие с вашей картой"
# What a doctor did with the card (services.clinic), named «Врач Соколова М. А. …».
DOCTOR_LABELS: dict[str, str] = {
    "doctor.card.open": "открыл{а} вашу карту: {purpose}",
    "doctor.step_up": "подтвердил{а} доступ к вашей карте кодом из приложения",
    "chat.doctor.view": "прочитал{а} ваш вопрос",
    "chat.answer": "ответил{а} на ваш вопрос",
    "chat.close": "закрыл{а} ваш вопрос",
    "chat.file": "открыл{а} файл из вашей переписки",
    # What a doctor wrote into the card (services.record.authored).
    "record.doctor.diagnosis.add": "добавил{а} в вашу карту диагноз",
    "record.doctor.diagnosis.resolve": "снял{а} диагноз в вашей карте",
    "record.doctor.prescription.add": "добавил{а} в вашу карту назначение лекарства",
    "record.doctor.note.add": "добавил{а} в вашу карту запись: {kind}",
    "record.doctor.referral.add": "выдал{а} вам направление к врачу",
    "record.doctor.conclusion.begin": "подготовил{а} заключение к подписи",
    "record.doctor.conclusion.add": "выдал{а} вам заключение с электронной подписью",
    # Extracts sent to a colleague (services.record.colleague).
    "record.colleague.send": "отправил{а} выписку из вашей карты другому врачу",
    "record.colleague.open": "открыл{а} присланную ему выписку из вашей карты",
    "record.colleague.download": "скачал{а} присланную ему выписку из вашей карты",
}
NOTE_KIND_NAMES = {"plan": "план лечения", "anamnesis": "анамнез"}
# A refusal of a relative: what they tried, and why (the refusal's code in the row).
RELATIVE_DENIED: dict[str, str] = {
    "sharing.card": "открыть вашу медкарту",
    "sharing.card.open": "открыть вашу медкарту",
    "record.profile.view": "открыть личные данные в медкарте",
    "record.section.view": "открыть раздел медкарты",
    "record.entry.view": "открыть запись медкарты",
    "record.document.view": "открыть документ медкарты",
    "record.document.download": "скачать документ медкарты",
    "lab_result.list": "открыть результаты анализов",
    "lab_result.view": "открыть результат анализа",
    "lab_result.download": "скачать файл результата анализа",
    "lab_result.trend": "открыть динамику показателя",
    "extract.list": "открыть выписки и заключения",
    "extract.request": "запросить выписку",
    "extract.download": "скачать выписку",
    "extract.email": "отправить выписку на почту",
    "visit.book": "записать вас на приём",
    "visit.move": "перенести ваш приём",
    "visit.cancel": "отменить ваш приём",
    "visit.list": "открыть ваши записи к врачу",
    "visit.view": "открыть запись к врачу",
    "chat.list": "открыть ваши вопросы врачам",
    "chat.ask": "задать вопрос врачу от вашего имени",
    "chat.view": "открыть переписку с врачом",
    "chat.write": "написать врачу от вашего имени",
    "sharing.list": "открыть список доступа для близких",
    "sharing.invite": "пригласить человека к вашей карте",
    "sharing.level": "изменить уровень доступа",
    "sharing.extend": "продлить доступ",
    "sharing.revoke": "отозвать доступ",
    "login_history.view": "открыть историю входов",
    "journal.view": "открыть журнал действий",
}
RELATIVE_DENIED_ANY = "выполнить действие с вашей картой"
DENIED_WHY: dict[str, str] = {
    "grant_revoked": "доступ отозван",
    "grant_expired": "срок доступа истёк",
    "grant_pending": "приглашение ещё не принято",
    "level": "не позволяет уровень доступа",
    "not_sensitive": "чувствительные результаты не открыты",
    "owner_only": "доступно только вам",
    "not_permitted": "не позволяет доступ",
}
_MALE_ENDINGS = ("ич", "оглы", "улы", "уулу")
_FEMALE_ENDINGS = ("на", "кызы", "гызы")
ACT_ANY = ("выполнили действие с данными учётной записи", "действие с данными учётной записи")

WHO = {
    "relative": "Родственник",
    "staff": "Врач",
    "api": "Подключённая система",
    "admin": "Служба поддержки",
    "system": "Сервис",
}
BY_BASIS = {
    "relative_grant": "Родственник",
    "doctor_step_up": "Врач",
    "doctor_question": "Врач",
    "api_client": "Подключённая система",
}
SOMEONE = "Другой пользователь"


@dataclass(frozen=True)
class JournalLine:
    at: datetime
    text: str


@dataclass(frozen=True)
class JournalPage:
    """One page of the journal, newest first; `number` counts from 1."""

    lines: list[JournalLine]
    number: int
    pages: int
    # The newest row the pages are counted up to (pass it back for the next page).
    upto: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def short_name(full_name: str) -> str:
    """«Петров Сергей Иванович» → «Петров С. И.» (the last name and the initials)."""
    words = full_name.split()
    if not words:
        return ""
    initials = " ".join(f"{w[0]}." for w in words[1:3] if w)
    return f"{words[0]} {initials}".strip()


def _feminine(full_name: str) -> bool | None:
    """From the patronymic: True for a woman, False for a man, None when it does not say."""
    words = full_name.lower().split()
    if len(words) < 3:
        return None
    if words[-1].endswith(_MALE_ENDINGS):
        return False
    if words[-1].endswith(_FEMALE_ENDINGS):
        return True
    return None


def relative_text(entry: AuditEntry, full_name: str) -> str:
    """«Петров С. И. (доступ «просмотр и скачивание») открыл результаты анализов»."""
    details = entry.details or {}
    level = LEVEL_NAMES.get(str(details.get("level", "")))
    who = short_name(full_name) or "Близкий человек"
    if level:
        who += f" (доступ «{level}»)"
    label = None
    for key in ((entry.action, entry.outcome), (entry.action, None)):
        if key in RELATIVE_LABELS:
            label = RELATIVE_LABELS[key]
            break
    feminine = _feminine(full_name)
    if entry.outcome == "denied":
        tried = RELATIVE_DENIED.get(entry.action, RELATIVE_DENIED_ANY)
        why = DENIED_WHY.get(str(details.get("denied", "")))
        text = f"получил{{а}} отказ: {tried}" + (f" ({why})" if why else "")
    else:
        text = label or RELATIVE_ANY
    text = text.replace("{ла}", {True: "ла", False: "", None: "(ла)"}[feminine])
    text = text.replace("{а}", {True: "а", False: "", None: "(а)"}[feminine])
    return f"{who} {text}"


def _relative_named(full_name: str, level: object) -> str:
    """«Петров С. И. (доступ «просмотр и скачивание»)», as the owner's lines name a relative."""
    who = short_name(full_name) or "близкий человек"
    level_name = LEVEL_NAMES.get(str(level or ""))
    return f"{who} (доступ «{level_name}»)" if level_name else who


def _event_label(entry: AuditEntry) -> str | None:
    for key in ((entry.action, entry.outcome), (entry.action, None)):
        if key in EVENT_LABELS:
            return EVENT_LABELS[key]
    if entry.action.startswith("sign_in.") or entry.action == "sign_in":
        return SIGN_IN_EVENT_ANY
    return None


def _who(entry: AuditEntry, owner: int) -> str | None:
    """None when the owner did it themselves; else who, as a person reads it."""
    if entry.actor_account_id == owner and not entry.actor.startswith(("staff:", "relative:")):
        return None
    if entry.actor.startswith("telegram:") and entry.actor_account_id is None:
        return None  # a step before the session exists: the person at the keyboard
    by_basis = BY_BASIS.get(entry.basis or "")
    if by_basis is not None:
        return by_basis
    kind = entry.actor.split(":", 1)[0]
    return WHO.get(kind, SOMEONE)


def _grant_id(entry: AuditEntry) -> int | None:
    grant_id = (entry.details or {}).get("grant_id")
    return grant_id if isinstance(grant_id, int) and not isinstance(grant_id, bool) else None


def _grant_of(entry: AuditEntry, owner: int) -> int | None:
    """The relative's grant a row is about, when a relative did it.

    A relative acts by their Telegram account (``relative:…``) or by a portal
    account the card was shared with: then the row rests on the grant (basis
    ``relative_grant``), or it is a refusal or a request that names the grant
    without resting on it (no basis; the actor is an account other than the owner).
    """
    if entry.actor.startswith("relative:") or entry.basis == "relative_grant":
        return _grant_id(entry)
    if (
        entry.actor.startswith("account:")
        and entry.basis is None
        and entry.actor_account_id is not None
        and entry.actor_account_id != owner
    ):
        return _grant_id(entry)
    return None


def _staff_of(entry: AuditEntry) -> int | None:
    """The staff member a row is about, when a doctor did it."""
    kind, _, rest = entry.actor.partition(":")
    return int(rest) if kind == "staff" and rest.isdigit() else None


def doctor_text(entry: AuditEntry, full_name: str) -> str | None:
    """«Врач Соколова М. А. открыла вашу карту: приём» (None: no label of its own)."""
    label = DOCTOR_LABELS.get(entry.action)
    if label is None or entry.outcome != "ok":
        return None
    feminine = _feminine(full_name)
    text = label.replace("{а}", {True: "а", False: "", None: "(а)"}[feminine])
    details = entry.details or {}
    purpose = str(details.get("purpose", "")) or "другое"
    kind = NOTE_KIND_NAMES.get(str(details.get("kind", "")), "запись")
    text = text.replace("{purpose}", purpose).replace("{kind}", kind)
    return f"Врач {short_name(full_name)} {text}"


def line_text(
    entry: AuditEntry,
    owner: int,
    relatives: Mapping[int, str] | None = None,
    doctors: Mapping[int, str] | None = None,
) -> str:
    """The Russian line for one row of `owner`'s journal.

    `relatives` names the relatives by their grant (the name the owner invited them
    by): a relative's action reads «Петров С. И. (доступ «…») открыл …». `doctors`
    names the staff by their id: «Врач Соколова М. А. открыла вашу карту: приём».
    """
    staff_id = _staff_of(entry)
    doctor = doctors.get(staff_id) if doctors and staff_id is not None else None
    doctor_line = doctor_text(entry, doctor) if doctor is not None else None
    if doctor_line is not None:
        return doctor_line
    grant_id = _grant_of(entry, owner)
    if grant_id is not None and relatives is not None and grant_id in relatives:
        return relative_text(entry, relatives[grant_id])
    event = _event_label(entry)
    if event is not None:
        return event
    mine, theirs = ACT_LABELS.get(entry.action, ACT_ANY)
    who = _who(entry, owner)
    if doctor is not None and who == "Врач":
        who = f"Врач {short_name(doctor)}"
    denied = entry.outcome == "denied"
    if who is None:
        line = f"Отказано: вы {mine}" if denied else f"Вы {mine}"
        # The owner's own work on a relative's access names that relative.
        own_grant = _grant_id(entry) if entry.action.startswith("sharing.") else None
        if own_grant is not None and relatives is not None and own_grant in relatives:
            line += ": " + _relative_named(relatives[own_grant], (entry.details or {}).get("level"))
        return line
    return f"{who}: отказано — {theirs}" if denied else f"{who}: {theirs}"


class JournalService:
    def __init__(self, uow: UnitOfWork, ctx: AppContext) -> None:
        self.uow = uow
        self.ctx = ctx

    async def page(
        self,
        principal: Principal,
        subject_account_id: int,
        number: int = 1,
        upto: int | None = None,
    ) -> JournalPage:
        """Page `number` of the account's journal (the owner's only; AccessDenied otherwise)."""
        decision = await require(
            self.uow,
            self.ctx,
            principal,
            subject_account_id,
            Permission.READ_ACCOUNT_HISTORY,
            action="journal.view",
        )
        subject = decision.subject_account_id
        repo = self.uow.core.audit
        if upto is None:
            upto = await repo.last_seq_for_subject(subject)
        total = await repo.count_for_subject(subject, upto_seq=upto)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(1, number), pages)
        rows = await repo.subject_page(
            subject, upto_seq=upto, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        await audit.record(
            self.uow,
            self.ctx,
            actor=actor_of(principal),
            action="journal.view",
            actor_account_id=actor_account_id(principal),
            subject_account_id=subject,
            page=number,
            **decision.audit_fields(),
        )
        grants = {g.id: g.relative_name for g in await self.uow.sharing.grants.for_patient(subject)}
        staff = [s for s in (_staff_of(row) for row in rows) if s is not None]
        doctors = await self.uow.clinic.staff.names(staff)
        lines = [JournalLine(row.at, line_text(row, subject, grants, doctors)) for row in rows]
        return JournalPage(lines=lines, number=number, pages=pages, upto=upto)
