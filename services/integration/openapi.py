"""The OpenAPI 3 document of the laboratories' API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from services.integration.fhir import OMS_SYSTEM, SNILS_SYSTEM

__all__ = ["ERROR_CODES", "openapi_document"]

# Every error the API answers, by HTTP status.
ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ("not_json",),
    401: (
        "token_missing",
        "token_malformed",
        "unknown_client",
        "bad_signature",
        "wrong_audience",
        "token_expired",
        "token_not_yet_valid",
        "token_lifetime_too_long",
    ),
    403: ("client_revoked", "forbidden"),
    404: ("not_found",),
    405: ("method_not_allowed",),
    409: ("replay", "final_exists", "identifier_conflict"),
    413: ("body_too_large",),
    415: ("unsupported_media_type",),
    422: ("invalid_fhir", "invalid_file", "unknown_patient"),
    500: ("internal",),
}

_DESCRIPTION = f"""\
Laboratories send results of tests into patients' electronic medical records.

**Authentication.** Every request carries `Authorization: Bearer <JWT>`, signed
with the laboratory's own key — EdDSA (Ed25519) or ES256 (P-256), the one it was
registered with (`python -m bot admin add-lab`). Claims: `iss` (the issuer given
at registration), `aud` (`{{audience}}`), `iat`, `exp` (at most {{max_age}} seconds
after `iat`), `jti` (unique per request). A token is spent by the request that is
accepted with it; using it again is a replay, answered **409** `replay`.

**The body** is a FHIR R4 Bundle (`type` collection, transaction or batch) with
one DiagnosticReport and its Observations, at most {{max_body}} bytes:

* `DiagnosticReport.identifier[0].value` — the laboratory's report id;
* `status` — preliminary, final, amended or corrected (the last three are stored as final);
* `code` — a LOINC coding (`http://loinc.org`) and the test's name in Russian (`text` or `display`);
* `subject.identifier` — the patient's СНИЛС (system `{SNILS_SYSTEM}`, 11 digits) or
  ОМС policy number (system `{OMS_SYSTEM}`, up to 16 digits); or `subject.reference`
  to a Patient in the bundle carrying these identifiers;
* `effectiveDateTime` (sample taken), `issued` (required);
* `performer[0].display` — the laboratory; `resultsInterpreter[0].display` or
  `basedOn[0].display` — the ordering doctor; `conclusion` — the laboratory's comment;
* `presentedForm[0]` — the report as a PDF (or JPEG/PNG), `data` in base64, optional;
* `meta.security` with code `R` or `V` (v3-Confidentiality) marks the result sensitive
  (tests of HIV, hepatitis, STI, genetic and psychiatric ones are sensitive whatever the mark).

Each Observation: `code` (LOINC and a Russian name), `valueQuantity` (`value`, `unit`),
`valueString` or `valueCodeableConcept`, `referenceRange[0]` (`low`, `high`, `text`),
`interpretation` (H, HH, L, LL, N, A, AA).

**Idempotency.** A report is stored once per laboratory and report id: the same report
sent again gets the same answer (header `Idempotent-Replay: true`). A final report for a
stored preliminary one replaces it; a preliminary one after the final is refused (409).

**Errors** are JSON `{{{{"error": "<code>", "detail": "<sentence>"}}}}` (and `field`, the
path of the FHIR field at fault, where there is one).
"""


def _error_schema() -> dict[str, Any]:
    codes = sorted({code for group in ERROR_CODES.values() for code in group})
    return {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "enum": codes},
            "detail": {"type": "string"},
            "field": {"type": "string"},
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(*, audience: str, max_age_seconds: int, max_body_bytes: int) -> dict[str, Any]:
    description = _DESCRIPTION.format(
        audience=audience, max_age=max_age_seconds, max_body=max_body_bytes
    )
    errors = {
        "400": _error("The body is not JSON."),
        "401": _error(
            "No token, a malformed one, an unknown laboratory, a bad signature, "
            "a wrong audience, an expired token or one that lives too long."
        ),
        "403": _error("The laboratory's access is revoked, or the access rule refuses."),
        "404": _error("No such route."),
        "405": _error("The method is not allowed here."),
        "409": _error(
            "A replayed token; a preliminary report after the final one; "
            "a report id sent for another patient."
        ),
        "413": _error(f"The body is larger than {max_body_bytes} bytes."),
        "415": _error("The body is not application/json or application/fhir+json."),
        "422": _error("Invalid FHIR, a refused file, or no open record for the patient."),
        "500": _error("An unexpected failure (nothing was stored)."),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ЭМК: results sent by laboratories",
            "version": "1.0.0",
            "description": description,
        },
        "paths": {
            "/api/v1/lab-results": {
                "post": {
                    "operationId": "submitLabResult",
                    "summary": "Send a laboratory report (a FHIR R4 Bundle)",
                    "security": [{"labJwt": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/fhir+json": {
                                "schema": {"$ref": "#/components/schemas/Bundle"}
                            },
                            "application/json": {"schema": {"$ref": "#/components/schemas/Bundle"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": (
                                "The report is stored (or was stored before: the same answer)."
                            ),
                            "headers": {
                                "Idempotent-Replay": {
                                    "description": "true when this report was stored before",
                                    "schema": {"type": "string", "enum": ["true", "false"]},
                                }
                            },
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}
                                }
                            },
                        },
                        **errors,
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "500": errors["500"],
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "labJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "A JWT signed with the laboratory's key (EdDSA or ES256) with iss, "
                        f"aud ({audience}), iat, exp (at most {max_age_seconds} s after iat) "
                        "and a unique jti."
                    ),
                }
            },
            "schemas": {
                "Error": _error_schema(),
                "Accepted": {
                    "type": "object",
                    "required": ["result_id", "report_identifier", "status", "sensitive"],
                    "properties": {
                        "result_id": {"type": "integer"},
                        "report_identifier": {"type": "string"},
                        "status": {"type": "string", "enum": ["preliminary", "final"]},
                        "sensitive": {"type": "boolean"},
                    },
                },
                "Bundle": {
                    "type": "object",
                    "description": "A FHIR R4 Bundle (http://hl7.org/fhir/R4/bundle.html).",
                    "required": ["resourceType", "type", "entry"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["Bundle"]},
                        "type": {
                            "type": "string",
                            "enum": ["collection", "transaction", "batch"],
                        },
                        "entry": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "fullUrl": {"type": "string"},
                                    "resource": {
                                        "type": "object",
                                        "required": ["resourceType"],
                                        "properties": {
                                            "resourceType": {
                                                "type": "string",
                                                "enum": [
                                                    "DiagnosticReport",
                                                    "Observation",
                                                    "Patient",
                                                ],
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
