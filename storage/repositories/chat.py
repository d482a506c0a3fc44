"""Repositories: the embedded chat's threads and messages.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update

from storage.models import ChatMessage, ChatThread, Doctor, StaffMember
from storage.repositories.base import Repo

OPEN_STATUSES = ("waiting", "answered")


class ChatRepo(Repo):
    async def add_thread(self, thread: ChatThread) -> ChatThread:
        self.session.add(thread)
        await self.session.flush()
        return thread

    async def add_message(self, message: ChatMessage) -> ChatMessage:
        self.session.add(message)
        await self.session.flush()
        return message

    async def thread(self, thread_id: int) -> ChatThread | None:
        """The thread as the database holds it now (closed a moment ago counts)."""
        stmt = (
            select(ChatThread)
            .where(ChatThread.id == thread_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_patient(
        self, patient_account_id: int, *, offset: int = 0, limit: int
    ) -> Sequence[ChatThread]:
        """A page of the patient's threads, the latest activity first."""
        stmt = (
            select(ChatThread)
            .where(ChatThread.patient_account_id == patient_account_id)
            .order_by(ChatThread.updated_at.desc(), ChatThread.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def count_of_patient(self, patient_account_id: int) -> int:
        stmt = select(func.count(ChatThread.id)).where(
            ChatThread.patient_account_id == patient_account_id
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def of_staff(self, staff_id: int, *, offset: int = 0, limit: int) -> Sequence[ChatThread]:
        """A page of the doctor's open threads: those waiting first, the oldest first."""
        waiting_first = case((ChatThread.status == "waiting", 0), else_=1)
        stmt = (
            select(ChatThread)
            .where(ChatThread.staff_id == staff_id, ChatThread.status.in_(OPEN_STATUSES))
            .order_by(
                waiting_first,
                ChatThread.waiting_since.asc(),
                ChatThread.updated_at.desc(),
                ChatThread.id,
            )
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def count_open(self, staff_id: int) -> int:
        stmt = select(func.count(ChatThread.id)).where(
            ChatThread.staff_id == staff_id, ChatThread.status.in_(OPEN_STATUSES)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def count_waiting(self, staff_id: int) -> int:
        stmt = select(func.count(ChatThread.id)).where(
            ChatThread.staff_id == staff_id, ChatThread.status == "waiting"
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def first_between(self, staff_id: int, patient_account_id: int) -> int | None:
        """The first thread the patient opened with this staff member (any state), if any."""
        stmt = (
            select(ChatThread.id)
            .where(
                ChatThread.staff_id == staff_id,
                ChatThread.patient_account_id == patient_account_id,
            )
            .order_by(ChatThread.id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def messages(self, thread_id: int) -> Sequence[ChatMessage]:
        stmt = (
            select(ChatMessage).where(ChatMessage.thread_id == thread_id).order_by(ChatMessage.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def relative_grants(self, thread_id: int) -> list[int]:
        """The relatives' grants the messages of the thread were written under, first first."""
        stmt = (
            select(ChatMessage.author_grant_id)
            .where(
                ChatMessage.thread_id == thread_id,
                ChatMessage.author == "relative",
                ChatMessage.author_grant_id.is_not(None),
            )
            .group_by(ChatMessage.author_grant_id)
            .order_by(func.min(ChatMessage.id))
        )
        return [int(g) for g in (await self.session.execute(stmt)).scalars() if g is not None]

    async def message(self, message_id: int) -> ChatMessage | None:
        return await self.session.get(ChatMessage, message_id)

    async def unread(self, thread_ids: Sequence[int], authors: Sequence[str]) -> dict[int, int]:
        """Messages of `authors` nobody on the other side has read yet, per thread."""
        if not thread_ids:
            return {}
        stmt = (
            select(ChatMessage.thread_id, func.count(ChatMessage.id))
            .where(
                ChatMessage.thread_id.in_(set(thread_ids)),
                ChatMessage.author.in_(tuple(authors)),
                ChatMessage.read_at.is_(None),
            )
            .group_by(ChatMessage.thread_id)
        )
        return {row[0]: int(row[1]) for row in (await self.session.execute(stmt)).all()}

    async def unread_of_patient(self, patient_account_id: int) -> int:
        """The doctors' messages to the patient not read yet, over all their threads."""
        stmt = (
            select(func.count(ChatMessage.id))
            .join(ChatThread, ChatThread.id == ChatMessage.thread_id)
            .where(
                ChatThread.patient_account_id == patient_account_id,
                ChatMessage.author == "doctor",
                ChatMessage.read_at.is_(None),
            )
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def mark_read(self, thread_id: int, authors: Sequence[str], now: datetime) -> int:
        """The messages of `authors` in the thread are read now; returns how many were new."""
        stmt = (
            update(ChatMessage)
            .where(
                ChatMessage.thread_id == thread_id,
                ChatMessage.author.in_(tuple(authors)),
                ChatMessage.read_at.is_(None),
            )
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def askable_doctors(
        self, organisation_id: int, specialty_code: str | None, now: datetime
    ) -> Sequence[tuple[Doctor, StaffMember]]:
        """The organisation's booking doctors who are confirmed staff doctors (the bot's own)."""
        stmt = (
            select(Doctor, StaffMember)
            .join(StaffMember, StaffMember.id == Doctor.staff_member_id)
            .where(
                Doctor.organisation_id == organisation_id,
                Doctor.active.is_(True),
                StaffMember.role == "doctor",
                StaffMember.confirmed_at.is_not(None),
                StaffMember.confirmed_at <= now,
            )
            .order_by(Doctor.last_name, Doctor.first_name, Doctor.id)
        )
        if specialty_code is not None:
            stmt = stmt.where(Doctor.specialty_code == specialty_code)
        return [(row[0], row[1]) for row in (await self.session.execute(stmt)).all()]

    async def doctor_of_staff(self, staff_id: int) -> Doctor | None:
        stmt = select(Doctor).where(Doctor.staff_member_id == staff_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()
