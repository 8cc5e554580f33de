"""The answer's rules as pure functions, each tested as a table (the README shows the same)."""

import itertools
from datetime import UTC, datetime, time

import pytest

from api.lookup import merge
from models.contact_hours import ContactHours, HoursPeriod, Weekday
from models.lookup import CallNowReason, Identification, Known, PlanPresence
from models.partner import (
    AlertCategory,
    AlertLevel,
    CrisisContact,
    CrisisPlanPointer,
    NrlResult,
    SafetyAlert,
    TrustCrisisPlan,
    TrustRecord,
    UnmappedAlert,
)

SELF = AlertCategory.risk_to_self
OTHERS = AlertCategory.risk_to_others
V, UV = Identification.verified, Identification.unverified
L = AlertLevel


def answers(
    *levels: AlertLevel,
    unanswered: int = 0,
    unmapped: tuple[AlertCategory | None, ...] = (),
    asked: bool = True,
    nrl_unanswered: int = 0,
) -> merge.Answers:
    record = TrustRecord(
        organisation_code="RQI",
        known=bool(levels or unmapped),
        alerts=[SafetyAlert(category=SELF, level=level) for level in levels],
        unmapped_alerts=[UnmappedAlert(category=category) for category in unmapped],
    )
    return merge.Answers(
        asked=asked,
        trusts=(record,) if asked else (),
        trusts_unanswered=unanswered,
        nrl_unanswered=nrl_unanswered,
    )


# identification, answers for risk_to_self -> its level
ALERT_ROWS = [
    (V, answers(), L.not_recorded),
    (UV, answers(), L.unknown),  # nothing held under a number PDS did not confirm
    (Identification.not_found, answers(), L.unknown),
    (Identification.probable, answers(), L.unknown),
    (V, answers(asked=False), L.unknown),
    (V, answers(unanswered=1), L.unknown),
    (V, answers(nrl_unanswered=1), L.not_recorded),  # NRL holds no alerts
    (V, answers(L.not_recorded), L.not_recorded),
    (V, answers(L.low), L.low),
    (UV, answers(L.low), L.low),  # a level a holder recorded is shown, verified or not
    (V, answers(L.medium, L.low), L.medium),
    (V, answers(L.high), L.high),
    (V, answers(L.low, unanswered=1), L.unknown),  # the silent trust may hold more
    (V, answers(L.high, unanswered=1), L.high),  # nothing is above high
    (V, answers(L.unknown), L.unknown),
    (V, answers(L.medium, L.unknown), L.unknown),
    (V, answers(L.high, L.unknown), L.high),
    (V, answers(unmapped=(None,)), L.unknown),  # an unreadable alert may concern any category
    (V, answers(unmapped=(SELF,)), L.unknown),
    (V, answers(unmapped=(OTHERS,)), L.not_recorded),  # concerns another category only
    (V, answers(L.low, unmapped=(None,)), L.unknown),
    (V, answers(L.high, unmapped=(None,)), L.high),
]


@pytest.mark.parametrize(("identification", "given", "level"), ALERT_ROWS)
def test_alert_level(identification: Identification, given: merge.Answers, level: L) -> None:
    assert merge.alert_level(SELF, identification, given) == level


RECORDED = [(), (L.not_recorded,), (L.low,), (L.medium,), (L.high,), (L.unknown,), (L.low, L.high)]


@pytest.mark.parametrize(
    ("identification", "levels", "unanswered", "unmapped", "asked"),
    list(
        itertools.product(
            list(Identification), RECORDED, (0, 1), ((), (None,), (SELF,), (OTHERS,)), (True, False)
        )
    ),
)
def test_alert_level_never_reassures_beyond_what_was_answered(
    identification: Identification,
    levels: tuple[L, ...],
    unanswered: int,
    unmapped: tuple[AlertCategory | None, ...],
    asked: bool,
) -> None:
    """Every combination: `not_recorded` only when it is true of every source that could hold
    an alert; `high` whenever one recorded it; a level below the highest recorded never shown."""
    given = answers(*levels, unanswered=unanswered, unmapped=unmapped, asked=asked)
    level = merge.alert_level(SELF, identification, given)
    if asked and L.high in levels:
        assert level == L.high
    if level == L.not_recorded:
        assert identification == Identification.verified
        assert asked
        assert not unanswered
        assert set(levels) <= {L.not_recorded}
        assert not set(unmapped) & {None, SELF}
    recorded = [lv for lv in levels if lv in merge.RECORDED_ORDER] if asked else []
    if recorded and level != L.unknown:
        assert merge.RECORDED_ORDER.index(level) >= max(map(merge.RECORDED_ORDER.index, recorded))


def test_the_highest_level_recorded_stays_visible_when_the_summary_is_unknown() -> None:
    given = answers(L.medium, L.low, unanswered=1)
    assert merge.alert_level(SELF, V, given) == L.unknown
    assert merge.highest_recorded(given) == {SELF: L.medium}
    assert merge.highest_recorded(answers(L.not_recorded, L.unknown)) == {}


POINTER = NrlResult(known=True, pointers=[CrisisPlanPointer(custodian_code="RQI")])
HELD = TrustRecord(organisation_code="RQI", known=True)
NOTHING = TrustRecord(organisation_code="RQI", known=False)

# identification, answers -> known_to_services, crisis_plan
KNOWN_ROWS = [
    (V, merge.Answers(asked=True, trusts=(NOTHING,)), Known.no, PlanPresence.absent),
    (V, merge.Answers(asked=True, trusts=(HELD,)), Known.yes, PlanPresence.absent),
    (V, merge.Answers(asked=True, nrl=(POINTER,)), Known.yes, PlanPresence.present),
    (UV, merge.Answers(asked=True, nrl=(POINTER,)), Known.yes, PlanPresence.present),
    (V, merge.Answers(asked=True, nrl=(NrlResult(known=True),)), Known.no, PlanPresence.absent),
    (
        V,
        merge.Answers(asked=True, trusts=(NOTHING,), nrl_unanswered=1),
        Known.unknown,
        PlanPresence.unknown,
    ),
    (V, merge.Answers(asked=True, trusts_unanswered=1), Known.unknown, PlanPresence.unknown),
    (UV, merge.Answers(asked=True, trusts=(NOTHING,)), Known.unknown, PlanPresence.unknown),
    (Identification.not_found, merge.Answers(asked=True), Known.unknown, PlanPresence.unknown),
    (
        Identification.not_found,
        merge.Answers(asked=True, trusts=(HELD,)),
        Known.yes,
        PlanPresence.unknown,
    ),
    (Identification.probable, merge.Answers(asked=True), Known.unknown, PlanPresence.unknown),
    (Identification.ambiguous, merge.Answers(), Known.unknown, PlanPresence.unknown),
    (V, merge.Answers(), Known.unknown, PlanPresence.unknown),
    (
        V,
        merge.Answers(asked=True, trusts=(NOTHING,)) + merge.Answers(asked=True, nrl=(POINTER,)),
        Known.yes,
        PlanPresence.present,
    ),
]


@pytest.mark.parametrize(("identification", "given", "known", "plan"), KNOWN_ROWS)
def test_known_and_plan(
    identification: Identification, given: merge.Answers, known: Known, plan: PlanPresence
) -> None:
    assert merge.known_to_services(identification, given) == known
    assert merge.plan_presence(identification, given) == plan


def test_plans_are_listed_most_recently_reviewed_first() -> None:
    def record(code: str, updated: datetime | None) -> TrustRecord:
        plan = TrustCrisisPlan(custodian_code=code, last_updated=updated)
        return TrustRecord(organisation_code=code, known=True, plan=plan)

    given = merge.Answers(
        asked=True,
        trusts=(
            record("OLD", datetime(2025, 1, 1, tzinfo=UTC)),
            record("UNDATED", None),
            record("NEW", datetime(2026, 11, 1, tzinfo=UTC)),
        ),
    )
    assert [plan.custodian_code for plan in merge.plans(given)] == ["NEW", "OLD", "UNDATED"]


OFFICE = ContactHours(
    periods=(HoursPeriod(days=(Weekday.mon, Weekday.fri), opens=time(9), closes=time(17)),)
)
NOON = datetime(2026, 11, 30, 12, tzinfo=UTC)


def contact(schedule: ContactHours | None, out_of_hours_phone: str | None) -> CrisisContact:
    return CrisisContact(
        team="CMHT",
        phone="0113 555 0100",
        hours="Mon-Fri 09:00-17:00",
        out_of_hours="Crisis line 0800 555 0199",
        schedule=schedule,
        out_of_hours_phone=out_of_hours_phone,
    )


# contact, open now? -> phone to call, reason, numbers in order
CALL_NOW_ROWS = [
    (
        contact(ContactHours(always=True), None),
        True,
        "0113 555 0100",
        CallNowReason.always_answered,
        ["0113 555 0100"],
    ),
    (
        contact(OFFICE, "0800 555 0199"),
        True,
        "0113 555 0100",
        CallNowReason.in_hours,
        ["0113 555 0100", "0800 555 0199"],
    ),
    # Closed: the alternative only; the office would ring an empty room.
    (
        contact(OFFICE, "0800 555 0199"),
        False,
        "0800 555 0199",
        CallNowReason.out_of_hours,
        ["0800 555 0199"],
    ),
    # Closed, and the alternative has no number we could read: no number is offered as "now".
    (contact(OFFICE, None), False, None, CallNowReason.out_of_hours_no_number, []),
    # Seven whole days is 24 hours, however written.
    (
        contact(
            ContactHours(
                periods=(HoursPeriod(days=tuple(Weekday), opens=time(0), closes=time(0)),)
            ),
            None,
        ),
        True,
        "0113 555 0100",
        CallNowReason.always_answered,
        ["0113 555 0100"],
    ),
    # Hours unreadable: both numbers, none chosen.
    (
        contact(None, "0800 555 0199"),
        None,
        None,
        CallNowReason.hours_unknown,
        ["0113 555 0100", "0800 555 0199"],
    ),
]


@pytest.mark.parametrize(("given", "answering", "phone", "reason", "numbers"), CALL_NOW_ROWS)
def test_call_now(
    given: CrisisContact,
    answering: bool | None,
    phone: str | None,
    reason: CallNowReason,
    numbers: list[str],
) -> None:
    answer = merge.call_now(given, NOON, answering)
    assert (answer.phone, answer.reason, answer.numbers, answer.at) == (
        phone,
        reason,
        numbers,
        NOON,
    )


WHOLE_WEEK = ContactHours(
    periods=(HoursPeriod(days=tuple(Weekday), opens=time(0), closes=time(0)),)
)
OFFICE_ON_BANK_HOLIDAYS = OFFICE.model_copy(update={"open_on_bank_holidays": True})
BANK_HOLIDAY_NOON = datetime(2026, 12, 28, 12, tzinfo=UTC)  # Boxing Day's substitute, a Monday
BANK_HOLIDAY_NIGHT = datetime(2026, 12, 28, 2, tzinfo=UTC)
MONDAY_NOON = datetime(2026, 11, 30, 12, tzinfo=UTC)
MONDAY_NIGHT = datetime(2026, 11, 30, 2, tzinfo=UTC)

# schedule, moment -> whether the contact answers (None: both numbers, hours said unknown)
OPEN_NOW_ROWS = [
    (None, MONDAY_NOON, None),
    (ContactHours(always=True), BANK_HOLIDAY_NIGHT, True),
    (WHOLE_WEEK, BANK_HOLIDAY_NIGHT, True),
    (OFFICE, MONDAY_NOON, True),
    (OFFICE, MONDAY_NIGHT, False),
    (OFFICE, BANK_HOLIDAY_NOON, None),  # the hours do not say whether it opens today
    (OFFICE, BANK_HOLIDAY_NIGHT, None),
    (OFFICE_ON_BANK_HOLIDAYS, BANK_HOLIDAY_NOON, True),
    (OFFICE_ON_BANK_HOLIDAYS, BANK_HOLIDAY_NIGHT, False),
]


@pytest.mark.parametrize(("schedule", "moment", "answering"), OPEN_NOW_ROWS)
def test_open_now(schedule: ContactHours | None, moment: datetime, answering: bool | None) -> None:
    assert merge.open_now(schedule, moment) is answering


@pytest.mark.parametrize("identification", list(Identification))
@pytest.mark.parametrize("number_changed", [False, True])
def test_every_identification_but_a_verified_unchanged_number_says_what_to_check(
    identification: Identification, number_changed: bool
) -> None:
    words = merge.check(identification, number_changed)
    if identification == Identification.verified and not number_changed:
        assert words is None
    else:
        assert words
        assert (merge.NUMBER_CHANGED in words) is number_changed
