"""Repositories, one module per area. They flush when they need ids and never commit."""

from storage.repositories.base import Repo
from storage.repositories.core import AuditRepo, OutboxRepo
from storage.repositories.enrolment import ApplicationRepo, DocumentRepo, RegistryRepo
from storage.repositories.identity import (
    AccountRepo,
    BindingRepo,
    LoginEventRepo,
    OtpRepo,
    SessionRepo,
)
from storage.repositories.record import MedicalRecordRepo

__all__ = [
    "AccountRepo",
    "ApplicationRepo",
    "AuditRepo",
    "BindingRepo",
    "DocumentRepo",
    "LoginEventRepo",
    "MedicalRecordRepo",
    "OtpRepo",
    "OutboxRepo",
    "RegistryRepo",
    "Repo",
    "SessionRepo",
]
