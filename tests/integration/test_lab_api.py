"""POST /api/v1/lab-results as a laboratory — and an attacker — calls it.

Every refusal is a 4xx JSON with an error code and a sentence, and leaves no row
behind; an accepted report is stored once with its analytes, its file, the spent
token, the audit row and the push.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import update

from services.core import notify
from services.core.access import MSG_CLIENT_REVOKED, ApiClientPrincipal, Permission
from services.core.errors import AccessDenied
from services.core.journal import line_text
from services.integration.fhir import OMS_SYSTEM, parse_bundle
from services.integration.labs import ClientKey, LabIntake
from services.integration.tokens import TokenClaims
from storage.models import (
    ApiClient,
    ApiTokenUse,
    AuditEntry,
    LabObservation,
    LabResult,
    OutboxMessage,
)
from tests.support.labs import ANNA_CHAT, ANNA_POLICY, LabApi


def _report(bundle: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = bundle["entry"][0]["resource"]
    assert resource["resourceType"] == "DiagnosticReport"
    return resource


def assert_error(status: int, body: dict[str, Any], expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"error", "detail", "field"}
    assert "Traceback" not in json.dumps(body)


async def assert_nothing_stored(api: LabApi) -> None:
    counts = await api.counts()
    assert counts["results"] == 0
    assert counts["observations"] == 0
    assert counts["tokens"] == 0
    assert counts["pushes"] == 0
    assert api.stored_files() == []


# -- accepted reports ------------------------------------------------------------------


async def test_a_laboratory_sends_a_result_and_the_patient_is_told(any_lab_api: LabApi) -> None:
    status, body = await any_lab_api.post(any_lab_api.bundle("glucose"))

    assert status == 200, body
    assert body["status"] == "final"
    assert body["sensitive"] is False
    [result] = await any_lab_api.rows(LabResult)
    assert body["result_id"] == result.id
    assert body["report_identifier"] == result.report_identifier
    assert result.account_id == any_lab_api.anna_account_id
    assert result.api_client_id == any_lab_api.lab.id
    assert (result.test_code, result.test_name) == ("14749-6", "Глюкоза")
    assert result.laboratory_name == "Демо-лаборатория"
    assert result.ordered_by == "Петрова Мария Николаевна, врач-терапевт"
    assert result.seen_at is None
    assert result.mime_type == "application/pdf"
    assert result.storage_key is not None
    assert any_lab_api.ctx.gateways.files is not None
    stored = await any_lab_api.ctx.gateways.files.get(result.storage_key)
    assert stored.startswith(b"%PDF-")
    assert b"%PDF-" not in any_lab_api.stored_files()[0].read_bytes()  # encrypted at rest
    [glucose] = await any_lab_api.rows(LabObservation)
    assert (glucose.code, glucose.name, glucose.value, glucose.unit) == (
        "14749-6",
        "Глюкоза",
        5.8,
        "ммоль/л",
    )
    assert (glucose.ref_low, glucose.ref_high, glucose.flag) == (3.9, 6.1, "normal")
    assert glucose.account_id == any_lab_api.anna_account_id
    assert glucose.issued_at == result.issued_at

    [push] = await any_lab_api.rows(OutboxMessage)
    assert push.chat_id == ANNA_CHAT
    assert push.text == "Готов результат: Глюкоза от 26.11.2026"
    assert "5.8" not in push.text and "5,8" not in push.text
    assert push.buttons == [
        {"text": "Открыть результат", "action": "result", "arg": str(result.id)}
    ]

    [entry] = await any_lab_api.rows(AuditEntry, AuditEntry.action == "lab_result.receive")
    assert entry.actor == f"api:{any_lab_api.lab.id}"
    assert entry.subject_account_id == any_lab_api.anna_account_id
    assert (entry.permission, entry.basis, entry.outcome) == (
        Permission.SUBMIT_LAB_RESULTS.value,
        "api_client",
        "ok",
    )
    assert entry.details["result_id"] == result.id
    assert "11223344595" not in json.dumps(entry.details)
    assert await any_lab_api.count(ApiTokenUse) == 1


async def test_a_laboratory_with_a_p256_key_signs_with_es256(lab_api: LabApi) -> None:
    lab = await lab_api.add_lab("ES256", name="Лаборатория P-256")
    assert lab.algorithm == "ES256"
    token = lab.token(lab_api.clock.now())
    assert jwt.get_unverified_header(token)["alg"] == "ES256"

    status, body = await lab_api.post(lab_api.bundle("cbc"), token=token)

    assert status == 200, body
    [result] = await lab_api.rows(LabResult)
    assert result.api_client_id == lab.id
    names = [o.name for o in sorted(await lab_api.rows(LabObservation), key=lambda o: o.position)]
    assert names == ["Гемоглобин", "Лейкоциты", "Эритроциты", "Тромбоциты"]


async def test_the_patient_is_found_by_the_oms_policy_number(lab_api: LabApi) -> None:
    bundle = lab_api.bundle("cholesterol", with_pdf=False)
    _report(bundle)["subject"] = {"identifier": {"system": OMS_SYSTEM, "value": ANNA_POLICY}}

    status, body = await lab_api.post(bundle)

    assert status == 200, body
    [result] = await lab_api.rows(LabResult)
    assert result.account_id == lab_api.anna_account_id
    assert result.storage_key is None
    [cholesterol] = await lab_api.rows(LabObservation)
    assert cholesterol.flag == "high"  # 5.6 above 5.2, as the laboratory marked it


async def test_the_same_report_sent_twice_is_stored_once_and_answered_the_same(
    any_lab_api: LabApi,
) -> None:
    bundle = any_lab_api.bundle("glucose")
    first = await any_lab_api.client.post(
        "/api/v1/lab-results", json=bundle, headers=any_lab_api.headers()
    )
    second = await any_lab_api.client.post(
        "/api/v1/lab-results", json=bundle, headers=any_lab_api.headers()
    )

    assert first.status == second.status == 200
    assert await first.json() == await second.json()
    assert first.headers["Idempotent-Replay"] == "false"
    assert second.headers["Idempotent-Replay"] == "true"
    counts = await any_lab_api.counts()
    assert (counts["results"], counts["observations"], counts["pushes"]) == (1, 1, 1)
    assert counts["tokens"] == 2  # each accepted request spent its own token
    assert len(any_lab_api.stored_files()) == 1
    journal = await any_lab_api.rows(AuditEntry, AuditEntry.action == "lab_result.receive")
    journal.sort(key=lambda e: e.id)
    assert [line_text(e, any_lab_api.anna_account_id) for e in journal] == [
        "Получен результат анализа из лаборатории",
        "Лаборатория повторно прислала полученный ранее результат",
    ]


async def test_a_final_report_replaces_the_preliminary_one_and_the_patient_is_told(
    any_lab_api: LabApi,
) -> None:
    preliminary = any_lab_api.bundle("glucose", preliminary=True, report_identifier="R-100")
    status, first = await any_lab_api.post(preliminary)
    assert status == 200 and first["status"] == "preliminary", first
    [old] = await any_lab_api.rows(LabResult)
    old_key = old.storage_key
    async with any_lab_api.work() as uow:  # Анна has opened it
        await uow.session.execute(
            update(LabResult).values(seen_at=any_lab_api.clock.now()).where(LabResult.id == old.id)
        )
        await uow.commit()
    any_lab_api.clock.advance(hours=5)
    final = any_lab_api.bundle("glucose", report_identifier="R-100")
    _glucose(final)["valueQuantity"]["value"] = 6.4
    _glucose(final)["interpretation"][0]["coding"][0]["code"] = "H"

    status, second = await any_lab_api.post(final)

    assert status == 200, second
    assert second["result_id"] == first["result_id"]
    assert second["status"] == "final"
    [result] = await any_lab_api.rows(LabResult)
    assert result.status == "final"
    assert result.seen_at is None  # new again
    assert result.updated_at == any_lab_api.clock.now()
    assert result.storage_key != old_key
    [glucose] = await any_lab_api.rows(LabObservation)
    assert (glucose.value, glucose.flag) == (6.4, "high")
    assert len(any_lab_api.stored_files()) == 1  # the preliminary report's file is gone
    texts = [m.text for m in await any_lab_api.rows(OutboxMessage)]
    assert texts == [
        "Готов результат: Глюкоза от 26.11.2026",
        "Готов окончательный результат: Глюкоза от 26.11.2026",
    ]
    [replaced] = await any_lab_api.rows(AuditEntry, AuditEntry.action == "lab_result.replace")
    assert replaced.details["result_id"] == result.id


def _glucose(bundle: dict[str, Any]) -> dict[str, Any]:
    observation: dict[str, Any] = bundle["entry"][1]["resource"]
    return observation


async def test_a_preliminary_report_after_the_final_one_is_refused(lab_api: LabApi) -> None:
    status, _ = await lab_api.post(lab_api.bundle("glucose", report_identifier="R-7"))
    assert status == 200
    late = lab_api.bundle("glucose", preliminary=True, report_identifier="R-7")
    _glucose(late)["valueQuantity"]["value"] = 9.9

    status, body = await lab_api.post(late)

    assert_error(status, body, 409, "final_exists")
    [result] = await lab_api.rows(LabResult)
    assert result.status == "final"
    [glucose] = await lab_api.rows(LabObservation)
    assert glucose.value == 5.8
    assert await lab_api.count(OutboxMessage) == 1
    assert await lab_api.count(ApiTokenUse) == 1  # the refused request spent nothing


async def test_a_test_code_on_the_sensitive_list_makes_the_result_sensitive(
    lab_api: LabApi,
) -> None:
    bundle = lab_api.bundle("glucose", with_pdf=False)
    hiv = {"system": "http://loinc.org", "code": "7917-8", "display": "ВИЧ 1 антитела"}
    _report(bundle)["code"] = {"coding": [hiv], "text": "Антитела к ВИЧ"}
    _glucose(bundle).pop("valueQuantity")
    _glucose(bundle).pop("referenceRange")
    _glucose(bundle)["code"] = {"coding": [hiv], "text": "Антитела к ВИЧ-1"}
    _glucose(bundle)["valueString"] = "не обнаружены"

    status, body = await lab_api.post(bundle)

    assert status == 200 and body["sensitive"] is True, body
    [result] = await lab_api.rows(LabResult)
    assert result.sensitive is True
    [observation] = await lab_api.rows(LabObservation)
    assert (observation.value, observation.value_text) == (None, "не обнаружены")
    [push] = await lab_api.rows(OutboxMessage)
    # The lock screen does not name a sensitive test.
    assert push.text == "Готов результат анализа от 26.11.2026"


async def test_a_result_the_laboratory_marks_restricted_is_sensitive(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle("cholesterol", sensitive=True))

    assert status == 200 and body["sensitive"] is True, body
    [result] = await lab_api.rows(LabResult)
    assert result.sensitive is True


async def test_an_ordinary_result_is_not_sensitive(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle("cbc"))
    assert status == 200 and body["sensitive"] is False, body


# -- replay and tokens -------------------------------------------------------------------


async def test_an_attacker_replays_a_captured_token(any_lab_api: LabApi) -> None:
    token = any_lab_api.lab.token(any_lab_api.clock.now())
    status, _ = await any_lab_api.post(any_lab_api.bundle("glucose"), token=token)
    assert status == 200

    status, body = await any_lab_api.post(any_lab_api.bundle("cholesterol"), token=token)

    assert_error(status, body, 409, "replay")
    [result] = await any_lab_api.rows(LabResult)
    assert result.test_name == "Глюкоза"
    assert await any_lab_api.count(ApiTokenUse) == 1


async def test_an_attacker_sends_no_token(lab_api: LabApi) -> None:
    response = await lab_api.client.post(
        "/api/v1/lab-results",
        data=json.dumps(lab_api.bundle()),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert_error(response.status, await response.json(), 401, "token_missing")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    await assert_nothing_stored(lab_api)


async def test_an_attacker_sends_a_token_that_is_not_a_jwt(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle(), token="not.a.jwt")
    assert_error(status, body, 401, "token_malformed")
    await assert_nothing_stored(lab_api)


async def test_an_attacker_uses_basic_auth(lab_api: LabApi) -> None:
    headers = {"Authorization": "Basic YWRtaW46YWRtaW4=", "Content-Type": "application/json"}
    response = await lab_api.client.post(
        "/api/v1/lab-results", data=json.dumps(lab_api.bundle()), headers=headers
    )
    assert_error(response.status, await response.json(), 401, "token_malformed")


async def test_an_attacker_signs_with_a_key_of_their_own(lab_api: LabApi) -> None:
    forged = lab_api.lab.token(lab_api.clock.now(), key=ed25519.Ed25519PrivateKey.generate())
    status, body = await lab_api.post(lab_api.bundle(), token=forged)
    assert_error(status, body, 401, "bad_signature")
    await assert_nothing_stored(lab_api)


async def test_an_attacker_changes_the_claims_of_a_signed_token(lab_api: LabApi) -> None:
    token = lab_api.lab.token(lab_api.clock.now())
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["exp"] += 3000
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    status, body = await lab_api.post(
        lab_api.bundle(), token=f"{header}.{forged_payload}.{signature}"
    )

    assert_error(status, body, 401, "bad_signature")


async def test_an_attacker_signs_with_hmac_over_the_public_key(lab_api: LabApi) -> None:
    claims = {
        "iss": lab_api.lab.issuer,
        "aud": "emk-bot",
        "iat": int(lab_api.clock.now().timestamp()),
        "exp": int(lab_api.clock.now().timestamp()) + 60,
        "jti": "hs-1",
    }
    token = jwt.encode(claims, "a shared secret of the attacker's", algorithm="HS256")
    status, body = await lab_api.post(lab_api.bundle(), token=token)
    assert_error(status, body, 401, "token_malformed")


async def test_an_attacker_sends_an_unsigned_token(lab_api: LabApi) -> None:
    claims = {"iss": lab_api.lab.issuer, "aud": "emk-bot", "iat": 1, "exp": 2, "jti": "x"}
    token = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    status, body = await lab_api.post(lab_api.bundle(), token=token)
    assert_error(status, body, 401, "token_malformed")


async def test_an_attacker_replays_an_expired_token(lab_api: LabApi) -> None:
    token = lab_api.lab.token(lab_api.clock.now(), lifetime=120)
    lab_api.clock.advance(minutes=10)
    status, body = await lab_api.post(lab_api.bundle(), token=token)
    assert_error(status, body, 401, "token_expired")
    await assert_nothing_stored(lab_api)


async def test_a_token_that_lives_longer_than_five_minutes_is_refused(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle(), lifetime=3600)
    assert_error(status, body, 401, "token_lifetime_too_long")
    await assert_nothing_stored(lab_api)


async def test_a_token_issued_in_the_future_is_refused(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle(), iat_shift=600, lifetime=60)
    assert_error(status, body, 401, "token_not_yet_valid")


async def test_a_token_for_another_service_is_refused(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle(), audience="another-service")
    assert_error(status, body, 401, "wrong_audience")


async def test_a_token_without_a_jti_is_refused(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle(), drop=("jti",))
    assert_error(status, body, 401, "token_malformed")
    assert "jti" in body["detail"]


async def test_an_unknown_laboratory_is_refused(lab_api: LabApi) -> None:
    stranger = lab_api.lab.token(lab_api.clock.now(), issuer="lab-nobody-knows")
    status, body = await lab_api.post(lab_api.bundle(), token=stranger)
    assert_error(status, body, 401, "unknown_client")
    await assert_nothing_stored(lab_api)


async def test_a_revoked_laboratory_is_refused(lab_api: LabApi) -> None:
    async with lab_api.work() as uow:
        await uow.session.execute(
            update(ApiClient)
            .values(revoked_at=lab_api.clock.now() - timedelta(minutes=1))
            .where(ApiClient.id == lab_api.lab.id)
        )
        await uow.commit()
    status, body = await lab_api.post(lab_api.bundle())
    assert_error(status, body, 403, "client_revoked")
    await assert_nothing_stored(lab_api)


async def test_the_access_rule_refuses_a_laboratory_revoked_while_it_sends(
    any_lab_api: LabApi,
) -> None:
    """Revoked between its token's check and the write: the access rule says no, journaled."""
    report = parse_bundle(any_lab_api.bundle("glucose", with_pdf=False))
    now = any_lab_api.clock.now()
    key = ClientKey(any_lab_api.lab.id, "Лаборатория", "pem", "EdDSA", revoked=False)
    claims = TokenClaims(any_lab_api.lab.issuer, "j-1", now, now + timedelta(minutes=2))
    async with any_lab_api.work() as uow:
        await uow.session.execute(
            update(ApiClient).values(revoked_at=now).where(ApiClient.id == any_lab_api.lab.id)
        )
        await uow.commit()

    with pytest.raises(AccessDenied) as refused:
        await LabIntake(any_lab_api.work, any_lab_api.ctx).receive(key, claims, report, None)

    assert refused.value.message == MSG_CLIENT_REVOKED
    await assert_nothing_stored(any_lab_api)
    [denied] = await any_lab_api.rows(AuditEntry, AuditEntry.outcome == "denied")
    assert denied.action == "lab_result.receive"
    assert denied.actor == f"api:{ApiClientPrincipal(any_lab_api.lab.id).client_id}"
    assert denied.details["denied"] == "client_revoked"
    # Анна's «Журнал действий» says what happened, not that a result arrived.
    assert line_text(denied, any_lab_api.anna_account_id) == (
        "Лаборатории отказано в передаче результата анализа"
    )


# -- bad bodies ----------------------------------------------------------------------------


async def test_a_report_for_a_patient_without_a_record_is_refused(lab_api: LabApi) -> None:
    status, body = await lab_api.post(lab_api.bundle(snils="15623648877"))
    assert_error(status, body, 422, "unknown_patient")
    await assert_nothing_stored(lab_api)


async def test_an_invalid_fhir_bundle_names_the_field(lab_api: LabApi) -> None:
    bundle = lab_api.bundle()
    _glucose(bundle)["valueQuantity"]["value"] = "высокий"
    status, body = await lab_api.post(bundle)
    assert_error(status, body, 422, "invalid_fhir")
    assert body["field"] == "entry.1.resource.valueQuantity.value"
    await assert_nothing_stored(lab_api)


async def test_an_observation_without_a_value_after_a_valid_report_stores_nothing(
    lab_api: LabApi,
) -> None:
    bundle = lab_api.bundle("cbc")
    bundle["entry"][4]["resource"].pop("valueQuantity")
    status, body = await lab_api.post(bundle)
    assert_error(status, body, 422, "invalid_fhir")
    assert body["field"] == "entry.4.resource"
    await assert_nothing_stored(lab_api)


async def test_a_bundle_of_an_unknown_resource_type_is_refused(lab_api: LabApi) -> None:
    bundle = lab_api.bundle()
    bundle["entry"].append({"resource": {"resourceType": "Spaceship"}})
    status, body = await lab_api.post(bundle)
    assert_error(status, body, 422, "invalid_fhir")


async def test_something_that_is_not_a_bundle_is_refused(lab_api: LabApi) -> None:
    status, body = await lab_api.post({"resourceType": "Patient", "id": "1"})
    assert_error(status, body, 422, "invalid_fhir")
    assert body["field"] == "resourceType"
    status, body = await lab_api.post([1, 2, 3])
    assert_error(status, body, 422, "invalid_fhir")


async def test_an_html_page_posing_as_the_report_pdf_is_refused(lab_api: LabApi) -> None:
    bundle = lab_api.bundle()
    page = b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF"
    _report(bundle)["presentedForm"][0]["data"] = base64.b64encode(page).decode()
    status, body = await lab_api.post(bundle)
    assert_error(status, body, 422, "invalid_file")
    await assert_nothing_stored(lab_api)


async def test_a_picture_declared_as_a_pdf_is_refused(lab_api: LabApi) -> None:
    from tests.support.bot import png_bytes

    bundle = lab_api.bundle()
    _report(bundle)["presentedForm"][0]["data"] = base64.b64encode(png_bytes()).decode()
    status, body = await lab_api.post(bundle)
    assert_error(status, body, 422, "invalid_file")


async def test_a_body_that_is_not_json_is_refused(lab_api: LabApi) -> None:
    response = await lab_api.client.post(
        "/api/v1/lab-results", data=b"{not json", headers=lab_api.headers()
    )
    assert_error(response.status, await response.json(), 400, "not_json")
    await assert_nothing_stored(lab_api)


async def test_a_body_of_another_content_type_is_refused(lab_api: LabApi) -> None:
    headers = lab_api.headers() | {"Content-Type": "application/xml"}
    response = await lab_api.client.post("/api/v1/lab-results", data=b"<Bundle/>", headers=headers)
    assert_error(response.status, await response.json(), 415, "unsupported_media_type")


async def test_a_body_too_large_is_refused(lab_api: LabApi) -> None:
    bundle = lab_api.bundle()
    _report(bundle)["conclusion"] = "а" * 300_000  # over the 256 KiB the fixture allows
    status, body = await lab_api.post(bundle)
    assert_error(status, body, 413, "body_too_large")
    await assert_nothing_stored(lab_api)


async def test_a_body_too_large_without_a_declared_length_is_refused(lab_api: LabApi) -> None:
    async def chunks() -> Any:
        for _ in range(40):
            yield b" " * 10_000

    response = await lab_api.client.post(
        "/api/v1/lab-results", data=chunks(), headers=lab_api.headers()
    )
    assert_error(response.status, await response.json(), 413, "body_too_large")


async def test_an_unknown_route_answers_json(lab_api: LabApi) -> None:
    for path in ("/api/v1/patients", "/", "/admin/../etc/passwd"):
        response = await lab_api.client.get(path)
        assert_error(response.status, await response.json(), 404, "not_found")


async def test_a_wrong_method_answers_json(lab_api: LabApi) -> None:
    response = await lab_api.client.get("/api/v1/lab-results")
    assert_error(response.status, await response.json(), 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


async def test_a_failure_in_the_middle_of_storing_leaves_nothing(
    any_lab_api: LabApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The push fails after the result, its analytes, its file and the token were written."""

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the outbox is down")

    monkeypatch.setattr(notify, "to_account", broken)
    journal_before = await any_lab_api.count(AuditEntry)
    status, body = await any_lab_api.post(any_lab_api.bundle("cbc"))

    assert_error(status, body, 500, "internal")
    await assert_nothing_stored(any_lab_api)
    assert await any_lab_api.count(AuditEntry) == journal_before


async def test_the_openapi_document_is_served(lab_api: LabApi) -> None:
    response = await lab_api.client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/api/v1/lab-results"]["post"]
    assert operation["security"] == [{"labJwt": []}]
    assert {"200", "400", "401", "403", "409", "413", "415", "422"} <= set(operation["responses"])
    scheme = document["components"]["securitySchemes"]["labJwt"]
    assert (scheme["scheme"], scheme["bearerFormat"]) == ("bearer", "JWT")
    assert "urn:oid:1.2.643.100.3" in document["info"]["description"]


async def test_the_same_report_sent_twice_at_once_is_stored_once(any_lab_api: LabApi) -> None:
    import asyncio

    bundle = any_lab_api.bundle("cbc")
    answers = await asyncio.gather(*(any_lab_api.post(bundle) for _ in range(3)))

    assert [status for status, _ in answers] == [200, 200, 200], answers
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    counts = await any_lab_api.counts()
    assert (counts["results"], counts["observations"], counts["pushes"]) == (1, 4, 1)
    assert len(any_lab_api.stored_files()) == 1
