"""Reaching the clinic's use cases from the dialogs (each call a unit of work of its own)."""

from __future__ import annotations

from aiogram_dialog import DialogManager

from dialogs.core.common import ctx, work
from services.clinic.patients import ClinicService
from services.clinic.staff import OrgAdminService
from services.core.access import CurrentUser
from services.core.work import UseCases


def clinic(manager: DialogManager) -> UseCases[ClinicService]:
    return UseCases(work(manager), ctx(manager), ClinicService)


def org_admin(manager: DialogManager) -> UseCases[OrgAdminService]:
    return UseCases(work(manager), ctx(manager), OrgAdminService)


async def is_staff(manager: DialogManager, user: CurrentUser) -> bool:
    """Whether the main menu offers «Кабинет врача» to this person."""
    return await clinic(manager).run(lambda s: s.is_staff(user))
