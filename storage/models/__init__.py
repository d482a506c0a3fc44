"""SQLAlchemy models, one module per area. The schema itself comes only from Alembic migrations.

Importing this package registers every table on ``Base.metadata`` (Alembic and
the tests rely on it); the names are re-exported for convenience.
"""

from storage.models.base import NAMING, Base, UTCDateTime
from storage.models.clinic import (
    STAFF_ROLES,
    DoctorStepUp,
    Organisation,
    PatientAttachment,
    StaffMember,
)
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
from storage.models.inbox import InboxUpdate
from storage.models.integration import ApiClient
from storage.models.record import MedicalRecord
from storage.models.sharing import GRANT_LEVELS, GRANT_STATUSES, RelativeGrant

__all__ = [
    "APPLICATION_ACTIVE_STATUSES",
    "GRANT_LEVELS",
    "GRANT_STATUSES",
    "NAMING",
    "STAFF_ROLES",
    "Account",
    "ApiClient",
    "Application",
    "ApplicationDocument",
    "ApplicationStatusEvent",
    "AuditEntry",
    "AuthSession",
    "Base",
    "DoctorStepUp",
    "FsmRecord",
    "InboxUpdate",
    "LoginEvent",
    "MedicalRecord",
    "Organisation",
    "OtpChallenge",
    "OutboxMessage",
    "PatientAttachment",
    "RegistryPerson",
    "RelativeGrant",
    "StaffMember",
    "TelegramBinding",
    "UTCDateTime",
]
