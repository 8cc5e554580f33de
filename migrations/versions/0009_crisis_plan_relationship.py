"""Crisis plans need a relationship; other holders are told; other organisations' plans only in a lookup.

`crisis_plan_relationship`: one row per plan written from now on, saying how the writing
organisation's relationship with the person was established (its own record endpoint knew the
person, or the practitioner stated a reason from the agreement, which waits for the organisation's
information governance review). Row-level security: the writing organisation's rows only.

`access_notification` also tells an organisation holding an active plan that another wrote one for
the same person (`access_kind` `plan_written`): such a notification has no lookup, incident or CAD
reference, so those become nullable, and a CHECK keeps them required for a lookup's.

Row-level security on `crisis_plan` becomes the second lock it was not: a tenant reads another
organisation's plan only while the transaction-local setting `app.lookup` is `on`, which only the
crisis flag lookup's read of local plans sets (and clears straight after). Versions are read by
their own organisation only: the lookup never reads them. `crisis_plan_holders(person)` gives the
organisation codes (nothing else) holding an active plan for the person, other than the caller's,
so a new plan's writer can notify them without reading their plans.

Revision ID: 0009_crisis_plan_relationship
Revises: 0008_nhs_number_ascii
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009_crisis_plan_relationship"
down_revision: str | None = "0008_nhs_number_ascii"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "triage_app"
TENANT = "current_setting('app.org', true)"
IN_LOOKUP = "coalesce(current_setting('app.lookup', true), '') = 'on'"
OWN_PLAN = f"organisation_code = {TENANT}"
VERSION_OF_OWN_PLAN = f"plan_id IN (SELECT id FROM crisis_plan WHERE {OWN_PLAN})"  # noqa: S608

# The function reads across organisations the way the lookup does, for the one query only, and
# returns organisation codes, never a plan. The setting is set and restored at run time: a SET
# clause on the function is refused to an owner who is not a superuser.
HOLDERS = f"""
CREATE FUNCTION crisis_plan_holders(person uuid) RETURNS SETOF varchar
LANGUAGE plpgsql AS $$
DECLARE
  was text := coalesce(current_setting('app.lookup', true), '');
BEGIN
  PERFORM set_config('app.lookup', 'on', true);
  RETURN QUERY SELECT DISTINCT plan.organisation_code FROM crisis_plan plan
    WHERE plan.person_id = person AND plan.status = 'active'
      AND plan.organisation_code <> {TENANT};
  PERFORM set_config('app.lookup', was, true);
END
$$
"""  # noqa: S608 - built from this file's constants only

NOTIFICATION_KIND_CHECKS = {
    "ck_access_notification_access_kind": "access_kind IN ('lookup', 'plan_written')",
    "ck_access_notification_lookup_in_full": (
        "(access_kind = 'lookup')"
        " = (lookup_id IS NOT NULL AND incident_id IS NOT NULL AND cad_reference IS NOT NULL)"
    ),
}
LOOKUP_ONLY_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "lookup_id": sa.Uuid(),
    "incident_id": sa.Uuid(),
    "cad_reference": sa.String(length=40),
}


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _ = target.split(".")
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_crisis_plan_relationship_{column}_{referred}")
    )


def _plan_read_policies(plan: str, version: str) -> None:
    op.execute("DROP POLICY crisis_plan_read ON crisis_plan")
    op.execute("DROP POLICY crisis_plan_version_read ON crisis_plan_version")
    op.execute(f"CREATE POLICY crisis_plan_read ON crisis_plan FOR SELECT USING ({plan})")
    op.execute(
        f"CREATE POLICY crisis_plan_version_read ON crisis_plan_version FOR SELECT USING ({version})"
    )


def upgrade() -> None:
    op.create_table(
        "crisis_plan_relationship",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_code", sa.String(length=10), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("stated_by", sa.Uuid(), nullable=False),
        sa.Column("stated_by_name", sa.String(length=200), nullable=False),
        _timestamp("created_at"),
        sa.Column("review_status", sa.String(length=10), nullable=True),
        _timestamp("reviewed_at", nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewer_name", sa.String(length=200), nullable=True),
        sa.Column("conclusion", sa.String(length=15), nullable=True),
        sa.Column("finding", sa.String(length=2000), nullable=True),
        sa.CheckConstraint(
            "basis IN ('trust_record', 'stated')", name=op.f("ck_crisis_plan_relationship_basis")
        ),
        sa.CheckConstraint(
            "review_status IS NULL OR review_status IN ('pending', 'reviewed')",
            name=op.f("ck_crisis_plan_relationship_review_status"),
        ),
        sa.CheckConstraint(
            "conclusion IS NULL OR conclusion IN ('confirmed', 'not_confirmed')",
            name=op.f("ck_crisis_plan_relationship_conclusion"),
        ),
        sa.CheckConstraint(
            "(basis = 'stated') = (reason IS NOT NULL AND review_status IS NOT NULL)",
            name=op.f("ck_crisis_plan_relationship_stated_with_reason"),
        ),
        sa.CheckConstraint(
            "(coalesce(review_status, '') = 'reviewed') = (reviewed_at IS NOT NULL"
            " AND reviewed_by IS NOT NULL AND reviewer_name IS NOT NULL AND conclusion IS NOT NULL"
            " AND finding IS NOT NULL)",
            name=op.f("ck_crisis_plan_relationship_reviewed_in_full"),
        ),
        _fk("plan_id", "crisis_plan.id"),
        _fk("person_id", "person.id"),
        _fk("organisation_code", "organisation.code"),
        _fk("stated_by", "user_account.id"),
        _fk("reviewed_by", "user_account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_plan_relationship")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_crisis_plan_relationship_plan_id")),
    )
    op.create_index(
        "ix_crisis_plan_relationship_queue",
        "crisis_plan_relationship",
        ["organisation_code", "review_status", "created_at", "id"],
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON crisis_plan_relationship TO {APP_ROLE}")
    op.execute("ALTER TABLE crisis_plan_relationship ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE crisis_plan_relationship FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY crisis_plan_relationship_tenant ON crisis_plan_relationship"
        f" USING ({OWN_PLAN}) WITH CHECK ({OWN_PLAN})"
    )

    op.add_column(
        "access_notification",
        sa.Column("access_kind", sa.String(length=20), server_default="lookup", nullable=False),
    )
    for column, kind in LOOKUP_ONLY_COLUMNS.items():
        op.alter_column("access_notification", column, existing_type=kind, nullable=True)
    for name, rule in NOTIFICATION_KIND_CHECKS.items():
        op.create_check_constraint(name, "access_notification", rule)

    _plan_read_policies(
        f"{OWN_PLAN} OR {IN_LOOKUP}",
        VERSION_OF_OWN_PLAN,
    )
    op.execute(HOLDERS)
    op.execute("REVOKE EXECUTE ON FUNCTION crisis_plan_holders(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION crisis_plan_holders(uuid) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION crisis_plan_holders(uuid)")
    _plan_read_policies("true", "true")
    # Notifications of a plan written have no lookup, and the old table cannot hold them. Under
    # forced row-level security the owner sees them only as the retention purge does (0007).
    op.execute("SELECT set_config('app.maintenance', 'retention', true)")
    op.execute("DELETE FROM access_notification WHERE access_kind = 'plan_written'")
    op.execute("SELECT set_config('app.maintenance', '', true)")
    for name in NOTIFICATION_KIND_CHECKS:
        op.drop_constraint(name, "access_notification", type_="check")
    for column, kind in LOOKUP_ONLY_COLUMNS.items():
        op.alter_column("access_notification", column, existing_type=kind, nullable=False)
    op.drop_column("access_notification", "access_kind")
    op.drop_table("crisis_plan_relationship")
