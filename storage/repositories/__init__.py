"""Repositories, one module per area. They flush when they need ids and never commit."""

from storage.repositories.base import Repo
from storage.repositories.clinic import AttachmentRepo, OrganisationRepo, StaffRepo, StepUpRepo
from storage.repositories.core import AuditRepo, OutboxRepo
from storage.repositories.enrolment import ApplicationRepo, DocumentRepo, RegistryRepo
from storage.repositories.identity import (
    AccountRepo,
    BindingRepo,
    LoginEventRepo,
    OtpRepo,
    SessionRepo,
)
from storage.repositories.inbox import InboxRepo
from storage.repositories.integration import ApiClientRepo
from storage.repositories.record import MedicalRecordRepo
from storage.repositories.sharing import RelativeGrantRepo

__all__ = [
    "AccountRepo",
    "ApiClientRepo",
    "ApplicationRepo",
    "AttachmentRepo",
    "AuditRepo",
    "BindingRepo",
    "DocumentRepo",
    "InboxRepo",
    "LoginEventRepo",
    "MedicalRecordRepo",
    "OrganisationRepo",
    "OtpRepo",
    "OutboxRepo",
    "RegistryRepo",
    "RelativeGrantRepo",
    "Repo",
    "SessionRepo",
    "StaffRepo",
    "StepUpRepo",
]
