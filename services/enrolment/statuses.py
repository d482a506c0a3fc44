"""The names the enrolment area stores and compares, as enums.

They are ``StrEnum``s, so a member equals the text kept in the database
(``ApplicationStatus.DRAFT == "draft"``), hashes like it and is written as it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EDITABLE_STATUSES", "ApplicationStatus", "FieldKind"]


class ApplicationStatus(StrEnum):
    """``applications.status`` and ``application_status_events.status``."""

    DRAFT = "draft"
    ACCEPTED = "accepted"
    IN_WORK = "in_work"
    OPENED = "opened"
    NEEDS_FIX = "needs_fix"
    REJECTED = "rejected"


# Statuses in which the person may still change the form and its documents.
EDITABLE_STATUSES = (ApplicationStatus.DRAFT, ApplicationStatus.NEEDS_FIX)


class FieldKind(StrEnum):
    """How a field of the form is answered (``FieldSpec.kind``)."""

    TEXT = "text"
    CHOICE = "choice"
    CONSENT = "consent"
