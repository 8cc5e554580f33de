"""NHS numbers are ten ASCII digits, in the database too.

Until now the API accepted any Unicode digit (full-width, Arabic-Indic, Devanagari...): such a
number passes the Modulus 11 check but is a different string from the same number in ASCII, so it
was stored as a second person. `person` is the only table holding NHS numbers; everything else
refers to the person by id.

Upgrading refuses to go on while any stored number is not exactly ten ASCII digits: which row is
the real person (merge, correct or delete) is a clinical decision, not a migration's. The error
gives how many rows, never the numbers. Then a CHECK constraint makes the database refuse them.

Revision ID: 0008_nhs_number_ascii
Revises: 0007_reporting
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_nhs_number_ascii"
down_revision: str | None = "0007_reporting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_person_nhs_number_ascii_digits"
TEN_ASCII_DIGITS = "nhs_number ~ '^[0-9]{10}$'"

# In SQL so that offline mode (`alembic upgrade --sql`) checks too. The lock keeps the count true
# until the constraint is in place; ADD CONSTRAINT would refuse such rows anyway, but without
# saying how many.
REFUSE_NON_ASCII = """
DO $$
DECLARE
  offending bigint;
BEGIN
  LOCK TABLE person IN SHARE ROW EXCLUSIVE MODE;
  SELECT count(*) INTO offending FROM person WHERE NOT (nhs_number ~ '^[0-9]{10}$');
  IF offending > 0 THEN
    RAISE EXCEPTION
      'migration 0008: % person row(s) have an NHS number that is not exactly 10 ASCII digits',
      offending
      USING HINT = 'Correct, merge or remove those people before upgrading; they may be'
                   ' duplicates of people stored with the same number in ASCII digits.';
  END IF;
END
$$
"""


def upgrade() -> None:
    op.execute(REFUSE_NON_ASCII)
    op.create_check_constraint(op.f(CONSTRAINT), "person", TEN_ASCII_DIGITS)


def downgrade() -> None:
    op.drop_constraint(op.f(CONSTRAINT), "person", type_="check")
