"""Reading a laboratory's FHIR Bundle into the report this service stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.integration.demo_lab import build_bundle
from services.integration.fhir import SNILS_SYSTEM, FhirError, parse_bundle

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _bundle(test: str = "glucose", **kwargs: Any) -> dict[str, Any]:
    return build_bundle(snils="11223344595", test=test, now=NOW, with_pdf=False, **kwargs)


def _refusal(bundle: Any) -> FhirError:
    with pytest.raises(FhirError) as refused:
        parse_bundle(bundle)
    return refused.value


def test_the_demo_bundle_reads_as_the_report() -> None:
    report = parse_bundle(_bundle("cbc"))
    assert report.status == "final"
    assert (report.test_code, report.test_name) == ("58410-2", "Общий анализ крови")
    assert report.snils == "11223344595"
    assert report.issued_at == NOW
    assert report.collected_at == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    assert [o.code for o in report.observations] == ["718-7", "6690-2", "789-8", "777-3"]
    haemoglobin = report.observations[0]
    assert (haemoglobin.value, haemoglobin.unit, haemoglobin.ref_low, haemoglobin.ref_high) == (
        136.0,
        "г/л",
        120.0,
        160.0,
    )
    assert report.codes() == {"58410-2", "718-7", "6690-2", "789-8", "777-3"}


@pytest.mark.parametrize(
    ("fhir_status", "stored"),
    [
        ("preliminary", "preliminary"),
        ("final", "final"),
        ("amended", "final"),
        ("corrected", "final"),
    ],
)
def test_report_statuses(fhir_status: str, stored: str) -> None:
    bundle = _bundle()
    bundle["entry"][0]["resource"]["status"] = fhir_status
    assert parse_bundle(bundle).status == stored


def test_a_registered_report_is_not_a_result_yet() -> None:
    bundle = _bundle()
    bundle["entry"][0]["resource"]["status"] = "registered"
    assert _refusal(bundle).path == "entry.0.resource.status"


def test_without_an_interpretation_a_number_is_judged_by_its_range() -> None:
    bundle = _bundle()
    observation = bundle["entry"][1]["resource"]
    observation.pop("interpretation")
    observation["valueQuantity"]["value"] = 3.1
    assert parse_bundle(bundle).observations[0].flag == "low"
    observation["valueQuantity"]["value"] = 6.4
    assert parse_bundle(bundle).observations[0].flag == "high"
    observation["valueQuantity"]["value"] = 5.0
    assert parse_bundle(bundle).observations[0].flag == "normal"


def test_an_unknown_interpretation_code_is_refused() -> None:
    bundle = _bundle()
    bundle["entry"][1]["resource"]["interpretation"][0]["coding"][0]["code"] = "WEIRD"
    assert _refusal(bundle).path == "entry.1.resource.interpretation.0"


def test_the_patient_may_be_a_patient_resource_in_the_bundle() -> None:
    bundle = _bundle()
    bundle["entry"][0]["resource"]["subject"] = {"reference": "urn:uuid:p-1"}
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:p-1",
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": SNILS_SYSTEM, "value": "112-233-445 95"}],
            },
        }
    )
    assert parse_bundle(bundle).snils == "11223344595"


def test_a_report_without_a_patient_identifier_is_refused() -> None:
    bundle = _bundle()
    bundle["entry"][0]["resource"]["subject"] = {"display": "Иванова Анна"}
    assert _refusal(bundle).path == "DiagnosticReport.subject.identifier"


def test_a_bundle_without_a_report_or_with_two_is_refused() -> None:
    bundle = _bundle()
    report = bundle["entry"].pop(0)
    assert "exactly one DiagnosticReport" in _refusal(bundle).detail
    bundle["entry"] += [report, report]
    assert "exactly one DiagnosticReport" in _refusal(bundle).detail


def test_a_message_bundle_is_refused() -> None:
    bundle = _bundle()
    bundle["type"] = "searchset"
    assert _refusal(bundle).path == "type"


def test_a_test_without_a_name_is_refused() -> None:
    bundle = _bundle()
    code = bundle["entry"][0]["resource"]["code"]
    code.pop("text")
    code["coding"][0].pop("display")
    assert _refusal(bundle).path == "entry.0.resource.code.text"


def test_a_too_long_value_is_refused_before_it_reaches_the_database() -> None:
    bundle = _bundle()
    bundle["entry"][1]["resource"]["valueQuantity"]["unit"] = "u" * 40
    assert _refusal(bundle).path == "entry.1.resource.valueQuantity.unit"


@pytest.mark.parametrize("body", [None, 1, "Bundle", [], {"resourceType": "Bundle"}])
def test_junk_is_refused_with_a_reason(body: Any) -> None:
    refusal = _refusal(body)
    assert refusal.detail
