"""The exchange's pure rules, as tables: who carries `incident:open`, what justifies a break-glass,
and which incidents anchor one."""

import pytest

from auth.policy import justification_sufficient, may_break_glass_on, may_carry_scope
from models import IncidentStatus, OrganisationKind, Scope

POLICE = OrganisationKind.police_force
TRUST = OrganisationKind.nhs_trust
OPEN = IncidentStatus.open
CLOSED = IncidentStatus.closed
ZWSP = "\u200b"
RLO = "\u202e"


@pytest.mark.parametrize(
    ("kind", "explicit", "scope", "carried"),
    [
        (POLICE, [], Scope.incident_open, True),
        (POLICE, [Scope.incident_open], Scope.incident_open, True),
        # A trust's roles open incidents only where their access rule names the scope.
        (TRUST, [], Scope.incident_open, False),
        (TRUST, [Scope.incident_read], Scope.incident_open, False),
        (TRUST, [Scope.incident_open], Scope.incident_open, True),
        # Every other scope comes from the purpose alone.
        (TRUST, [], Scope.incident_read, True),
        (TRUST, [], Scope.crisis_plan_break_glass, True),
        (POLICE, [], Scope.crisis_flag_lookup, True),
    ],
)
def test_incident_open_is_police_work_unless_given_explicitly(
    kind: OrganisationKind, explicit: list[Scope], scope: Scope, carried: bool
) -> None:
    assert may_carry_scope(kind, explicit, scope) is carried


@pytest.mark.parametrize(
    ("text", "sufficient"),
    [
        ("Man on the railway bridge; his plan is needed now", True),
        ("abcdefghijklmnopqrst", True),  # 20 letters
        ("abcdefghij0123456789", True),  # 20 visible, 10 letters
        ("abcdefghi01234567890", False),  # 20 visible, 9 letters
        ("a b c d e f g h i j k l m n o p q r s", False),  # 19 letters and spaces
        (ZWSP * 20, False),
        ("." * 20, False),
        ("." * 40, False),
        ("1234567890" * 3, False),  # digits are not words
        ("abcde" + ZWSP * 15 + "fghij", False),  # 10 visible
        ("abcdefghij" + "\u2060\ufeff\u200c\u200d" * 5, False),  # word joiners, BOM, ZWNJ, ZWJ
        (RLO + "abcdefghij" + RLO * 9, False),  # bidirectional overrides are format characters
        ("\u3164" * 20, False),  # Hangul fillers: letters that show nothing
        ("abcdefghij" + "\u2800" * 10, False),  # braille blanks
        ("\U0001f6a8" * 20, False),  # emoji: visible, but no letters
        ("Risk to life: \U0001f6a8\U0001f6a8 plan needed", True),
        ("Человек на мосту, нужен план", True),  # Cyrillic letters count
        ("橋の上の男性、計画が必要です。緊急", False),  # 17 visible: short of 20
        ("男性橋上危険計画必要緊急対応今直ぐ確認願います", True),
        ("男性橋上危険計画必要緊急", False),  # 12 letters, 12 visible
        ("Mixed scripts: man 男性 on the bridge", True),
        ("", False),
        (" \t\n" * 10, False),
        ("abcdefghij" + "\ufe00" * 10, False),  # variation selectors only decorate
        ("abcdefghij" + "\u0301" * 10, False),  # combining accents are no characters of their own
        ("Cafe\u0301 owner on the bridge, plan needed", True),  # a decomposed accent still reads
    ],
)
def test_break_glass_justification_needs_visible_words(text: str, sufficient: bool) -> None:
    assert justification_sufficient(text, 20) is sufficient


def test_no_justification_is_needed_where_none_is_asked() -> None:
    assert justification_sufficient("", 0)
    assert not justification_sufficient("." * 30, 30)


@pytest.mark.parametrize(
    ("opener", "status", "partner_trust", "anchored"),
    [
        (POLICE, OPEN, "RQI", True),
        (POLICE, CLOSED, "RQI", False),
        (POLICE, OPEN, "Y05868", False),  # another trust works the incident
        (POLICE, OPEN, None, False),  # no trust named
        (TRUST, OPEN, "RQI", False),  # a trust's own incident is no police work
        (None, OPEN, "RQI", False),  # an opener the agreement no longer lists
    ],
)
def test_break_glass_is_anchored_to_an_open_police_incident_naming_the_trust(
    opener: OrganisationKind | None,
    status: IncidentStatus,
    partner_trust: str | None,
    anchored: bool,
) -> None:
    assert (
        may_break_glass_on(
            opener_kind=opener,
            status=status,
            partner_trust_code=partner_trust,
            practitioner_organisation_code="RQI",
        )
        is anchored
    )
