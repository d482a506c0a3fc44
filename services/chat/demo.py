"""Demo questions: Анна Смирнова has one question to Соколова answered and one waiting.

Called by ``services.demo.seed_demo`` after the demo staff; running it twice changes
nothing (Анна's threads to Соколова are looked for first). The answered one is
about Анна's newest glucose result, as a question from «Спросить врача» under it
would be; the waiting one is general. No push is queued: it is history.
"""

from __future__ import annotations

from datetime import timedelta

from services.core import audit
from services.core.context import AppContext
from services.core.journal import short_name
from storage.models import ChatMessage, ChatThread
from storage.uow import UnitOfWork

SOKOLOVA_PHONE = "+79990000101"
GLUCOSE_CODE = "14749-6"

ANSWERED_QUESTION = (
    "Здравствуйте! В последнем анализе глюкоза 6,4 ммоль/л, выше нормы. Это опасно? "
    "Нужно ли что-то делать до приёма?"
)
ANSWER = (
    "Здравствуйте, Анна Сергеевна! Показатель немного выше нормы, это не опасно, но требует "
    "проверки. Сдайте анализ повторно строго натощак и запишитесь ко мне на приём с "
    "результатом. До приёма ограничьте сладкое."
)
WAITING_QUESTION = (
    "Можно ли сделать прививку от гриппа, если две недели назад я болела ОРВИ? Температуры уже нет."
)


async def seed_chat(uow: UnitOfWork, ctx: AppContext, *, anna_account_id: int) -> list[int]:
    """Анна's two questions to Соколова, when she has none yet; returns the threads made."""
    doctor_account = await uow.identity.accounts.find_by_login("phone", SOKOLOVA_PHONE)
    if doctor_account is None:
        return []
    staff = next(
        (s for s in await uow.clinic.staff.of_account(doctor_account.id) if s.role == "doctor"),
        None,
    )
    anna = await uow.identity.accounts.get(anna_account_id)
    if staff is None or anna is None:
        return []
    if await uow.chat.threads.first_between(staff.id, anna_account_id) is not None:
        return []
    now = ctx.gateways.clock.now()
    anna_name = short_name(
        " ".join(p for p in (anna.last_name, anna.first_name, anna.middle_name) if p)
    )
    doctor_name = short_name(
        " ".join(
            p
            for p in (
                doctor_account.last_name,
                doctor_account.first_name,
                doctor_account.middle_name,
            )
            if p
        )
    )
    glucose = await uow.record.labs.page(anna_account_id, offset=0, limit=1, test_code=GLUCOSE_CODE)
    asked = now - timedelta(days=3)
    answered_at = now - timedelta(days=2)
    first = await uow.chat.threads.add_thread(
        ChatThread(
            patient_account_id=anna_account_id,
            staff_id=staff.id,
            origin="lab_result" if glucose else "general",
            origin_id=glucose[0].id if glucose else None,
            origin_label=(
                f"Результат анализа: {glucose[0].test_name} от "
                f"{(glucose[0].collected_at or glucose[0].issued_at):%d.%m.%Y}"
                if glucose
                else None
            ),
            status="answered",
            waiting_since=None,
            created_at=asked,
            updated_at=answered_at,
        )
    )
    await uow.chat.threads.add_message(
        ChatMessage(
            thread_id=first.id,
            author="patient",
            author_account_id=anna_account_id,
            author_name=anna_name,
            text=ANSWERED_QUESTION,
            created_at=asked,
            read_at=asked + timedelta(hours=5),
        )
    )
    await uow.chat.threads.add_message(
        ChatMessage(
            thread_id=first.id,
            author="doctor",
            author_account_id=doctor_account.id,
            author_staff_id=staff.id,
            author_name=f"{doctor_name}, терапевт",
            text=ANSWER,
            created_at=answered_at,
            read_at=answered_at + timedelta(hours=1),
        )
    )
    waiting_at = now - timedelta(days=1)
    second = await uow.chat.threads.add_thread(
        ChatThread(
            patient_account_id=anna_account_id,
            staff_id=staff.id,
            origin="general",
            status="waiting",
            waiting_since=waiting_at,
            created_at=waiting_at,
            updated_at=waiting_at,
        )
    )
    await uow.chat.threads.add_message(
        ChatMessage(
            thread_id=second.id,
            author="patient",
            author_account_id=anna_account_id,
            author_name=anna_name,
            text=WAITING_QUESTION,
            created_at=waiting_at,
        )
    )
    await audit.record(
        uow,
        ctx,
        actor="system:seed-demo",
        action="chat.seed",
        # Not in Анна's «Журнал действий»: the demo's history is not something done to her.
        patient_account_id=anna_account_id,
        staff_id=staff.id,
        threads=[first.id, second.id],
    )
    return [first.id, second.id]
