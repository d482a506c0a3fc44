"""SQLAlchemy models, one module per area. The schema itself comes only from Alembic migrations.

Importing this package registers every table on ``Base.metadata`` (Alembic and
the tests rely on it); the names are re-exported for convenience.
"""

from storage.models.base import NAMING, Base, UTCDateTime
from storage.models.conversation import FsmRecord
from storage.models.core import AuditEntry, OutboxMessage
from storage.models.enrolment import (
    APPLICATION_ACTIVE_STATUSES,
    Application,
    ApplicationDocument,
    ApplicationStatusEvent,
    RegistryPerson,
)
from storage.models.identity import Account, AuthSession, LoginEvent, OtpChallenge, TelegramBinding
from storage.models.record import MedicalRecord

__all__ = [
    "APPLICATION_ACTIVE_STATUSES",
    "NAMING",
    "Account",
    "Application",
    "ApplicationDocument",
    "ApplicationStatusEvent",
    "AuditEntry",
    "AuthSession",
    "Base",
    "FsmRecord",
    "LoginEvent",
    "MedicalRecord",
    "OtpChallenge",
    "OutboxMessage",
    "RegistryPerson",
    "TelegramBinding",
    "UTCDateTime",
]
