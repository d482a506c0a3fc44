"""Reading what a laboratory sends: a FHIR R4 Bundle with a DiagnosticReport.

The bundle is validated with fhir.resources (its R4B models, which read R4
resources of these kinds as they are) and then read into a plain
:class:`LabReport`. Whatever is wrong is a :class:`FhirError` naming the field's
path (``entry.1.resource.valueQuantity.value``) and what is wrong with it, in
English for the laboratory's developers; nothing of the patient's data goes
into it.

What is read:

* ``Bundle.type``: ``collection``, ``transaction`` or ``batch``.
* One ``DiagnosticReport``: ``identifier[0].value`` (the laboratory's report
  id), ``status`` (``preliminary``; ``final``, ``amended`` and ``corrected`` are
  stored as final), ``code`` (a LOINC coding, ``http://loinc.org``, and a name
  in Russian: ``code.text`` or the coding's ``display``), ``subject.identifier``
  (СНИЛС: system :data:`SNILS_SYSTEM`; or the ОМС policy number: system
  :data:`OMS_SYSTEM`) — or the identifiers of a ``Patient`` in the bundle that
  ``subject.reference`` names — ``effectiveDateTime`` (when the sample was
  taken), ``issued``, ``performer[0].display`` (the laboratory),
  ``resultsInterpreter[0].display`` or ``basedOn[0].display`` (the ordering
  doctor), ``conclusion`` (the laboratory's comment), ``presentedForm`` (the
  report's PDF or picture, ``data`` in base64) and ``meta.security`` (code ``R``
  or ``V`` of v3-Confidentiality: the laboratory marks the result sensitive).
* Every ``Observation`` of the bundle, in order: ``code`` (as above),
  ``valueQuantity`` (``value``, ``unit``), ``valueString`` or
  ``valueCodeableConcept``, ``referenceRange[0]`` (``low``, ``high``, ``text``)
  and ``interpretation`` (``H``/``HH`` above, ``L``/``LL`` below, ``N`` normal,
  ``A``/``AA`` abnormal; without one, a number is judged by its range).

Parsing is CPU work: callers run :func:`parse_bundle` in ``ctx.cpu``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError as PydanticError

__all__ = [
    "ACCEPTED_BUNDLE_TYPES",
    "LOINC",
    "OMS_SYSTEM",
    "SNILS_SYSTEM",
    "FhirError",
    "LabReport",
    "ParsedObservation",
    "parse_bundle",
]

LOINC = "http://loinc.org"
# СНИЛС: the OID of the Pension Fund's insurance number (used by ЕГИСЗ).
SNILS_SYSTEM = "urn:oid:1.2.643.100.3"
# The ОМС policy number (ФОМС, единый номер полиса).
OMS_SYSTEM = "urn:oid:1.2.643.2.69.1.1.1.6.228"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SENSITIVE_CONFIDENTIALITY = frozenset({"R", "V"})
ACCEPTED_BUNDLE_TYPES = frozenset({"collection", "transaction", "batch"})
REPORT_STATUSES = {
    "preliminary": "preliminary",
    "final": "final",
    "amended": "final",
    "corrected": "final",
}
INTERPRETATION_FLAGS = {
    "H": "high",
    "HH": "high",
    "HU": "high",
    "L": "low",
    "LL": "low",
    "LU": "low",
    "N": "normal",
    "A": "abnormal",
    "AA": "abnormal",
}
FILE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
MSK = ZoneInfo("Europe/Moscow")

# The stored columns' sizes (storage.models.record).
MAX_IDENTIFIER = 128
MAX_CODE = 32
MAX_NAME = 200
MAX_LABORATORY = 300
MAX_VALUE_TEXT = 200
MAX_UNIT = 32
MAX_REF_TEXT = 200
MAX_OBSERVATIONS = 200


class FhirError(Exception):
    """The bundle is not one this API takes: ``path`` names the field, ``detail`` says why."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.path = path
        self.detail = detail


@dataclass(frozen=True)
class ParsedObservation:
    code: str
    name: str
    value: float | None
    value_text: str | None
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    ref_text: str | None
    flag: str | None


@dataclass(frozen=True)
class LabReport:
    """A laboratory report as this service stores it, read from the bundle."""

    report_identifier: str
    status: str  # preliminary | final
    fhir_status: str
    test_code: str
    test_name: str
    snils: str | None
    policy_number: str | None
    collected_at: datetime | None
    issued_at: datetime
    laboratory_name: str | None
    ordered_by: str | None
    lab_comment: str | None
    marked_sensitive: bool
    observations: tuple[ParsedObservation, ...]
    file: bytes | None = field(default=None, repr=False)
    file_type: str | None = None

    def codes(self) -> set[str]:
        return {self.test_code, *(o.code for o in self.observations)}


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _validate(data: Any) -> Any:
    from fhir.resources.R4B.bundle import Bundle

    if not isinstance(data, dict):
        raise FhirError("", "the body must be a JSON object (a FHIR Bundle)")
    if data.get("resourceType") != "Bundle":
        raise FhirError("resourceType", "must be 'Bundle'")
    try:
        return Bundle.model_validate(data)
    except PydanticError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        message = " ".join(str(first.get("msg", "invalid value")).split())
        raise FhirError(_path(tuple(first.get("loc", ()))), message) from None
    except (KeyError, LookupError) as exc:
        # fhir.resources looks a resource type up by name: an unknown one is a KeyError.
        raise FhirError("entry", f"unknown resource type {exc}") from None
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise FhirError("", f"not a valid FHIR Bundle ({type(exc).__name__})") from None


def _text(value: Any, path: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or not str(value).strip():
        if required:
            raise FhirError(path, "is required")
        return None
    text = " ".join(str(value).split())
    if len(text) > limit:
        raise FhirError(path, f"is longer than {limit} characters")
    return text


def _concept(concept: Any, path: str) -> tuple[str, str]:
    """(code, name) of a CodeableConcept: the LOINC coding if there is one, a Russian name."""
    if concept is None:
        raise FhirError(path, "is required")
    codings = list(concept.coding or [])
    chosen = next((c for c in codings if c.system == LOINC and c.code), None)
    if chosen is None:
        chosen = next((c for c in codings if c.code), None)
    if chosen is None:
        raise FhirError(f"{path}.coding", "needs a coding with a code (LOINC, http://loinc.org)")
    index = codings.index(chosen)
    code = _text(chosen.code, f"{path}.coding.{index}.code", MAX_CODE, required=True)
    name = _text(concept.text, f"{path}.text", MAX_NAME) or _text(
        chosen.display, f"{path}.coding.{index}.display", MAX_NAME
    )
    if name is None:
        raise FhirError(f"{path}.text", "a name of the test (text or display) is required")
    assert code is not None
    return code, name


def _number(value: Decimal | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def _aware(value: datetime) -> datetime:
    return (value if value.tzinfo is not None else value.replace(tzinfo=MSK)).astimezone(UTC)


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), MSK).astimezone(UTC)
    return None


def _flag(
    interpretation: list[Any] | None,
    value: float | None,
    low: float | None,
    high: float | None,
    path: str,
) -> str | None:
    for index, concept in enumerate(interpretation or []):
        for coding in concept.coding or []:
            if coding.code is None:
                continue
            flag = INTERPRETATION_FLAGS.get(str(coding.code).upper())
            if flag is None:
                raise FhirError(f"{path}.interpretation.{index}", "use H, HH, L, LL, N, A or AA")
            return flag
    if value is None or (low is None and high is None):
        return None
    if high is not None and value > high:
        return "high"
    if low is not None and value < low:
        return "low"
    return "normal"


def _observation(resource: Any, path: str) -> ParsedObservation:
    code, name = _concept(resource.code, f"{path}.code")
    value: float | None = None
    value_text: str | None = None
    unit: str | None = None
    if resource.valueQuantity is not None:
        quantity = resource.valueQuantity
        value = _number(quantity.value)
        if value is None:
            raise FhirError(f"{path}.valueQuantity.value", "a finite number is required")
        unit = _text(quantity.unit or quantity.code, f"{path}.valueQuantity.unit", MAX_UNIT)
    elif resource.valueString is not None:
        value_text = _text(resource.valueString, f"{path}.valueString", MAX_VALUE_TEXT)
    elif resource.valueCodeableConcept is not None:
        concept = resource.valueCodeableConcept
        shown = concept.text or next((c.display for c in concept.coding or [] if c.display), None)
        value_text = _text(shown, f"{path}.valueCodeableConcept.text", MAX_VALUE_TEXT)
    if value is None and value_text is None:
        raise FhirError(path, "needs a value: valueQuantity, valueString or valueCodeableConcept")
    low = high = None
    ref_text = None
    ranges = list(resource.referenceRange or [])
    if ranges:
        first = ranges[0]
        rpath = f"{path}.referenceRange.0"
        low = _number(first.low.value) if first.low is not None else None
        high = _number(first.high.value) if first.high is not None else None
        if low is not None and high is not None and low > high:
            raise FhirError(rpath, "low is above high")
        ref_text = _text(first.text, f"{rpath}.text", MAX_REF_TEXT)
    flag = _flag(resource.interpretation, value, low, high, path)
    return ParsedObservation(code, name, value, value_text, unit, low, high, ref_text, flag)


def _identifiers(identifiers: list[Any] | None) -> tuple[str | None, str | None]:
    snils = policy = None
    for identifier in identifiers or []:
        value = "".join(str(identifier.value or "").split()).replace("-", "")
        if identifier.system == SNILS_SYSTEM and value:
            snils = value
        elif identifier.system == OMS_SYSTEM and value:
            policy = value
    return snils, policy


def _patient(report: Any, patients: dict[str, Any]) -> tuple[str | None, str | None]:
    subject = report.subject
    if subject is None:
        raise FhirError("DiagnosticReport.subject", "is required")
    snils, policy = _identifiers([subject.identifier] if subject.identifier else [])
    if snils is None and policy is None and subject.reference in patients:
        snils, policy = _identifiers(patients[subject.reference].identifier)
    if snils is None and policy is None:
        raise FhirError(
            "DiagnosticReport.subject.identifier",
            f"the patient's СНИЛС (system {SNILS_SYSTEM}) or ОМС policy number "
            f"(system {OMS_SYSTEM}) is required",
        )
    if snils is not None and not (len(snils) == 11 and snils.isdigit() and snils.isascii()):
        raise FhirError("DiagnosticReport.subject.identifier.value", "a СНИЛС is 11 digits")
    if policy is not None and not (
        1 <= len(policy) <= 16 and policy.isdigit() and policy.isascii()
    ):
        raise FhirError("DiagnosticReport.subject.identifier.value", "a policy is up to 16 digits")
    return snils, policy


def _file(report: Any) -> tuple[bytes | None, str | None]:
    for index, attachment in enumerate(report.presentedForm or []):
        path = f"DiagnosticReport.presentedForm.{index}"
        if attachment.data is None:
            continue
        if attachment.contentType not in FILE_TYPES:
            raise FhirError(
                f"{path}.contentType", "must be application/pdf, image/jpeg or image/png"
            )
        raw = attachment.data
        if isinstance(raw, bytes):  # fhir.resources has decoded the base64 already
            data = raw
        else:
            try:
                data = base64.b64decode(str(raw), validate=True)
            except (binascii.Error, ValueError):
                raise FhirError(f"{path}.data", "is not valid base64") from None
        if not data:
            raise FhirError(f"{path}.data", "is empty or not valid base64")
        return data, attachment.contentType
    return None, None


def _marked_sensitive(report: Any, bundle: Any) -> bool:
    for meta in (report.meta, bundle.meta):
        for coding in (meta.security if meta is not None else None) or []:
            if coding.code in SENSITIVE_CONFIDENTIALITY and coding.system in (
                CONFIDENTIALITY,
                None,
            ):
                return True
    return False


def _display(references: list[Any] | None, path: str, limit: int) -> str | None:
    for index, reference in enumerate(references or []):
        shown = _text(reference.display, f"{path}.{index}.display", limit)
        if shown:
            return shown
    return None


def parse_bundle(data: Any) -> LabReport:
    """Validate the decoded JSON body and read the report from it; FhirError otherwise."""
    bundle = _validate(data)
    if bundle.type not in ACCEPTED_BUNDLE_TYPES:
        raise FhirError("type", "must be collection, transaction or batch")
    reports: list[tuple[int, Any]] = []
    observations: list[tuple[int, Any]] = []
    patients: dict[str, Any] = {}
    for index, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if resource is None:
            continue
        kind = resource.get_resource_type()
        if kind == "DiagnosticReport":
            reports.append((index, resource))
        elif kind == "Observation":
            observations.append((index, resource))
        elif kind == "Patient":
            if entry.fullUrl:
                patients[str(entry.fullUrl)] = resource
            if resource.id:
                patients[f"Patient/{resource.id}"] = resource
    if len(reports) != 1:
        raise FhirError("entry", "the bundle must hold exactly one DiagnosticReport")
    if len(observations) > MAX_OBSERVATIONS:
        raise FhirError("entry", f"at most {MAX_OBSERVATIONS} Observations in one report")
    index, report = reports[0]
    rpath = f"entry.{index}.resource"
    identifier = next((i.value for i in report.identifier or [] if i.value), None)
    report_identifier = _text(identifier, f"{rpath}.identifier", MAX_IDENTIFIER, required=True)
    status = REPORT_STATUSES.get(str(report.status))
    if status is None:
        raise FhirError(f"{rpath}.status", "must be preliminary, final, amended or corrected")
    test_code, test_name = _concept(report.code, f"{rpath}.code")
    snils, policy = _patient(report, patients)
    issued = _moment(report.issued)
    if issued is None:
        raise FhirError(f"{rpath}.issued", "is required")
    parsed = tuple(_observation(resource, f"entry.{i}.resource") for i, resource in observations)
    file, file_type = _file(report)
    lab_comment = report.conclusion.strip() if report.conclusion else None
    if lab_comment is not None and len(lab_comment) > 4000:
        raise FhirError(f"{rpath}.conclusion", "is longer than 4000 characters")
    if not parsed and file is None and not lab_comment:
        raise FhirError("entry", "the report has no Observation, conclusion or presentedForm")
    assert report_identifier is not None
    return LabReport(
        report_identifier=report_identifier,
        status=status,
        fhir_status=str(report.status),
        test_code=test_code,
        test_name=test_name,
        snils=snils,
        policy_number=policy,
        collected_at=_moment(report.effectiveDateTime),
        issued_at=issued,
        laboratory_name=_display(report.performer, f"{rpath}.performer", MAX_LABORATORY),
        ordered_by=_display(report.resultsInterpreter, f"{rpath}.resultsInterpreter", MAX_NAME)
        or _display(report.basedOn, f"{rpath}.basedOn", MAX_NAME),
        lab_comment=lab_comment or None,
        marked_sensitive=_marked_sensitive(report, bundle),
        observations=parsed,
        file=file,
        file_type=file_type,
    )
