"""The medical record: its sections, lab results, extracts; laboratories' keys

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Each section is a table keyed by the account whose record it is, with an index
led by (account_id, date, id) so that a page of it is one index range. Lab
results are stored once per laboratory and report id; their analytes repeat
the account and the time so that a trend is one range too. The МКБ-10 subset
shipped in data/icd10_ru.csv is loaded into icd10_codes. API clients get the
JWT issuer and key they sign with; api_token_uses keeps used token ids until
the tokens expire.
"""

import csv
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ICD10 = Path(__file__).resolve().parent.parent / "data" / "icd10_ru.csv"


def upgrade() -> None:
    icd10 = op.create_table(
        "icd10_codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_icd10_codes")),
    )
    op.create_table(
        "api_token_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_api_token_uses_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token_uses")),
        sa.UniqueConstraint("client_id", "jti", name="uq_api_token_uses_jti"),
    )
    op.create_index("ix_api_token_uses_expires_at", "api_token_uses", ["expires_at"])

    op.create_table(
        "insurance_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("insurer", sa.String(length=300), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('oms', 'dms')", name=op.f("ck_insurance_policies_kind")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_policies_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_policies")),
    )
    op.create_index("ix_insurance_policies_account_id", "insurance_policies", ["account_id"])

    op.create_table(
        "lab_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("api_client_id", sa.Integer(), nullable=True),
        sa.Column("report_identifier", sa.String(length=128), nullable=False),
        sa.Column("test_code", sa.String(length=32), nullable=False),
        sa.Column("test_name", sa.String(length=200), nullable=False),
        sa.Column("ordered_by", sa.String(length=200), nullable=True),
        sa.Column("laboratory_name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("lab_comment", sa.Text(), nullable=True),
        sa.Column("doctor_comment", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("mime_type", sa.String(length=64), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_lab_results_source")
        ),
        sa.CheckConstraint(
            "status IN ('preliminary', 'final')", name=op.f("ck_lab_results_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_lab_results_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_clients.id"],
            name=op.f("fk_lab_results_api_client_id_api_clients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_results")),
        sa.UniqueConstraint("api_client_id", "report_identifier", name="uq_lab_results_report"),
        sa.UniqueConstraint("storage_key", name=op.f("uq_lab_results_storage_key")),
    )
    op.create_index(
        "ix_lab_results_account_order", "lab_results", ["account_id", "issued_at", "id"]
    )
    op.create_index(
        "ix_lab_results_account_test", "lab_results", ["account_id", "test_code", "issued_at", "id"]
    )

    op.create_table(
        "procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("organisation_name", sa.String(length=300), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('operation', 'imaging', 'examination')", name=op.f("ck_procedures_kind")
        ),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_procedures_source")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_procedures_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
    )
    op.create_index(
        "ix_procedures_account_order", "procedures", ["account_id", "performed_on", "id"]
    )

    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=200), nullable=True),
        sa.Column("indicator", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("interpretation", sa.String(length=300), nullable=True),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_screenings_source")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_screenings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screenings")),
    )
    op.create_index(
        "ix_screenings_account_order", "screenings", ["account_id", "measured_on", "id"]
    )

    op.create_table(
        "vaccinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("vaccine", sa.String(length=200), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("reaction", sa.String(length=300), nullable=True),
        sa.Column("organisation_name", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_vaccinations_source")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_vaccinations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccinations")),
    )
    op.create_index(
        "ix_vaccinations_account_order", "vaccinations", ["account_id", "given_on", "id"]
    )

    op.create_table(
        "diagnoses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("icd10_code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("set_on", sa.Date(), nullable=False),
        sa.Column("doctor_name", sa.String(length=200), nullable=True),
        sa.Column("organisation_name", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_diagnoses_source")
        ),
        sa.CheckConstraint("status IN ('active', 'resolved')", name=op.f("ck_diagnoses_status")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_diagnoses_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_diagnoses_author_staff_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnoses")),
    )
    op.create_index("ix_diagnoses_account_order", "diagnoses", ["account_id", "set_on", "id"])

    op.create_table(
        "lab_observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("ref_low", sa.Float(), nullable=True),
        sa.Column("ref_high", sa.Float(), nullable=True),
        sa.Column("ref_text", sa.String(length=200), nullable=True),
        sa.Column("flag", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "flag IN ('high', 'low', 'normal', 'abnormal')", name=op.f("ck_lab_observations_flag")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_lab_observations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["lab_results.id"],
            name=op.f("fk_lab_observations_result_id_lab_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_observations")),
    )
    op.create_index("ix_lab_observations_result", "lab_observations", ["result_id", "position"])
    op.create_index(
        "ix_lab_observations_series", "lab_observations", ["account_id", "code", "issued_at"]
    )

    op.create_table(
        "medications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dose", sa.String(length=100), nullable=False),
        sa.Column("instructions", sa.String(length=500), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("prescribed_by", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_medications_source")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_medications_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_medications_author_staff_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medications")),
    )
    op.create_index("ix_medications_account_order", "medications", ["account_id", "start_on", "id"])

    op.create_table(
        "record_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("document_date", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("organisation_name", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("mime_type", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('conclusion', 'discharge_summary', 'extract', 'result', 'other')",
            name=op.f("ck_record_documents_kind"),
        ),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')",
            name=op.f("ck_record_documents_source"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_record_documents_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_record_documents_author_staff_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_documents")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_record_documents_storage_key")),
    )
    op.create_index(
        "ix_record_documents_account_order",
        "record_documents",
        ["account_id", "document_date", "id"],
    )

    op.create_table(
        "record_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("doctor_name", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=False),
        sa.Column("organisation_name", sa.String(length=300), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')", name=op.f("ck_record_visits_source")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_record_visits_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff_members.id"],
            name=op.f("fk_record_visits_author_staff_id_staff_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_visits")),
    )
    op.create_index(
        "ix_record_visits_account_order", "record_visits", ["account_id", "visited_on", "id"]
    )

    op.create_table(
        "extract_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('period', 'discharge', 'lab_summary')", name=op.f("ck_extract_requests_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed')", name=op.f("ck_extract_requests_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_extract_requests_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["record_documents.id"],
            name=op.f("fk_extract_requests_document_id_record_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extract_requests")),
    )
    op.create_index(
        "ix_extract_requests_account_order",
        "extract_requests",
        ["account_id", "requested_at", "id"],
    )

    op.create_table(
        "hospitalisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=True),
        sa.Column("organisation_name", sa.String(length=300), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("summary_document_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('doctor', 'lab', 'patient', 'import')",
            name=op.f("ck_hospitalisations_source"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_hospitalisations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["summary_document_id"],
            ["record_documents.id"],
            name=op.f("fk_hospitalisations_summary_document_id_record_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospitalisations")),
    )
    op.create_index(
        "ix_hospitalisations_account_order", "hospitalisations", ["account_id", "admitted_on", "id"]
    )

    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("public_key_pem", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("algorithm", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_api_clients_issuer"), ["issuer"])

    op.create_index("ix_medical_records_policy_number", "medical_records", ["policy_number"])
    op.create_index("ix_medical_records_snils", "medical_records", ["snils"])

    _load_icd10(icd10)


def _load_icd10(table: sa.Table) -> None:
    with ICD10.open(encoding="utf-8", newline="") as source:
        rows = [{"code": r["code"], "name": r["name"]} for r in csv.DictReader(source)]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_medical_records_snils", table_name="medical_records")
    op.drop_index("ix_medical_records_policy_number", table_name="medical_records")

    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_clients_issuer"), type_="unique")
        batch_op.drop_column("algorithm")
        batch_op.drop_column("public_key_pem")
        batch_op.drop_column("issuer")

    op.drop_index("ix_hospitalisations_account_order", table_name="hospitalisations")

    op.drop_table("hospitalisations")
    op.drop_index("ix_extract_requests_account_order", table_name="extract_requests")

    op.drop_table("extract_requests")
    op.drop_index("ix_record_visits_account_order", table_name="record_visits")

    op.drop_table("record_visits")
    op.drop_index("ix_record_documents_account_order", table_name="record_documents")

    op.drop_table("record_documents")
    op.drop_index("ix_medications_account_order", table_name="medications")

    op.drop_table("medications")
    op.drop_index("ix_lab_observations_series", table_name="lab_observations")
    op.drop_index("ix_lab_observations_result", table_name="lab_observations")

    op.drop_table("lab_observations")
    op.drop_index("ix_diagnoses_account_order", table_name="diagnoses")

    op.drop_table("diagnoses")
    op.drop_index("ix_vaccinations_account_order", table_name="vaccinations")

    op.drop_table("vaccinations")
    op.drop_index("ix_screenings_account_order", table_name="screenings")

    op.drop_table("screenings")
    op.drop_index("ix_procedures_account_order", table_name="procedures")

    op.drop_table("procedures")
    op.drop_index("ix_lab_results_account_test", table_name="lab_results")
    op.drop_index("ix_lab_results_account_order", table_name="lab_results")

    op.drop_table("lab_results")
    op.drop_index("ix_insurance_policies_account_id", table_name="insurance_policies")

    op.drop_table("insurance_policies")
    op.drop_index("ix_api_token_uses_expires_at", table_name="api_token_uses")

    op.drop_table("api_token_uses")
    op.drop_table("icd10_codes")
