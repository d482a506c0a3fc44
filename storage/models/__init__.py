"""SQLAlchemy models, one module per area. The schema itself comes only from Alembic migrations.

Importing this package registers every table on ``Base.metadata`` (Alembic and
the tests rely on it); the names are re-exported for convenience.
"""

from storage.models.base import NAMING, Base, UTCDateTime
from storage.models.booking import (
    VISIT_STATUSES,
    Appointment,
    Department,
    Doctor,
    ScheduleDay,
    Slot,
    Specialty,
    WaitlistEntry,
    WaitlistOffer,
)
from storage.models.chat import AUTHOR_KINDS, THREAD_STATUSES, ChatMessage, ChatThread
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
from storage.models.integration import ApiClient, ApiTokenUse
from storage.models.record import (
    ColleagueExtract,
    Diagnosis,
    ExtractRequest,
    Hospitalisation,
    Icd10Code,
    InsurancePolicy,
    LabObservation,
    LabResult,
    MedicalRecord,
    Medication,
    Procedure,
    RecordDocument,
    RecordVisit,
    Referral,
    Screening,
    Vaccination,
)
from storage.models.sharing import GRANT_LEVELS, GRANT_STATUSES, RelativeGrant

__all__ = [
    "APPLICATION_ACTIVE_STATUSES",
    "AUTHOR_KINDS",
    "GRANT_LEVELS",
    "GRANT_STATUSES",
    "NAMING",
    "STAFF_ROLES",
    "THREAD_STATUSES",
    "VISIT_STATUSES",
    "Account",
    "ApiClient",
    "ApiTokenUse",
    "Application",
    "ApplicationDocument",
    "ApplicationStatusEvent",
    "Appointment",
    "AuditEntry",
    "AuthSession",
    "Base",
    "ChatMessage",
    "ChatThread",
    "ColleagueExtract",
    "Department",
    "Diagnosis",
    "Doctor",
    "DoctorStepUp",
    "ExtractRequest",
    "FsmRecord",
    "Hospitalisation",
    "Icd10Code",
    "InboxUpdate",
    "InsurancePolicy",
    "LabObservation",
    "LabResult",
    "LoginEvent",
    "MedicalRecord",
    "Medication",
    "Organisation",
    "OtpChallenge",
    "OutboxMessage",
    "PatientAttachment",
    "Procedure",
    "RecordDocument",
    "RecordVisit",
    "Referral",
    "RegistryPerson",
    "RelativeGrant",
    "ScheduleDay",
    "Screening",
    "Slot",
    "Specialty",
    "StaffMember",
    "TelegramBinding",
    "UTCDateTime",
    "Vaccination",
    "WaitlistEntry",
    "WaitlistOffer",
]
