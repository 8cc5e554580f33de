"""Crisis contact hours: reading partners' words, and whether a number is answered at a moment in
Europe/London, across midnight, both clock changes, weekends and bank holidays."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from models.contact_hours import (
    LONDON,
    ContactHours,
    HoursPeriod,
    Weekday,
    describe,
    is_bank_holiday,
    is_open,
    parse_hours,
    phone_in,
)

MON, TUE, WED, THU, FRI, SAT, SUN = Weekday
WEEKDAYS = (MON, TUE, WED, THU, FRI)
WEEKEND = (SAT, SUN)
EVERY_DAY = tuple(Weekday)


def period(days: tuple[Weekday, ...], opens: str, closes: str) -> HoursPeriod:
    return HoursPeriod(
        days=days, opens=time.fromisoformat(opens), closes=time.fromisoformat(closes)
    )


def hours(*periods: HoursPeriod, bank_holidays: bool = False) -> ContactHours:
    return ContactHours(periods=periods, open_on_bank_holidays=bank_holidays)


ALWAYS = ContactHours(always=True)
OFFICE = hours(period(WEEKDAYS, "09:00", "17:00"))


# Reading the words partners write

PARSED: list[tuple[str, ContactHours | None]] = [
    ("24 hours", ALWAYS),
    ("24 Hours", ALWAYS),
    ("24hrs", ALWAYS),
    ("24/7", ALWAYS),
    ("24 hours a day, 7 days a week", ALWAYS),
    ("24 hours a day, seven days a week.", ALWAYS),
    ("24/7, 365 days a year", ALWAYS),
    ("24 hours (including bank holidays)", ALWAYS),
    ("Mon-Fri 09:00-17:00", OFFICE),
    ("Mon-Fri 08:30-18:00", hours(period(WEEKDAYS, "08:30", "18:00"))),
    ("Monday to Friday 9am to 5pm", OFFICE),
    ("Monday to Friday, 9am to 5pm", OFFICE),
    ("Monday to Friday from 9am to 5pm", OFFICE),
    ("Mon-Fri 9-5", OFFICE),
    ("Mon-Fri 9-5pm", OFFICE),
    ("Mon-Fri 9:00-5:00", OFFICE),
    ("Mon-Fri 9.30am-4.30pm", hours(period(WEEKDAYS, "09:30", "16:30"))),
    ("Mon-Fri 9 a.m. to 5 p.m.", OFFICE),
    ("Mon-Fri 9-17", OFFICE),
    ("weekdays 0900-1700", OFFICE),
    ("9am-5pm Monday to Friday", OFFICE),
    ("between 9am and 5pm Mon-Fri", OFFICE),
    ("9am-5pm, Mon-Fri", None),
    ("Mon\u2013Fri 09:00\u201317:00", OFFICE),
    ("MON - FRI 09:00 - 17:00", OFFICE),
    ("Sat-Sun 10:00-16:00", hours(period(WEEKEND, "10:00", "16:00"))),
    ("Saturday and Sunday 10am-4pm", hours(period(WEEKEND, "10:00", "16:00"))),
    ("Weekends 10-4", hours(period(WEEKEND, "10:00", "16:00"))),
    ("Sat 9am-noon", hours(period((SAT,), "09:00", "12:00"))),
    ("Daily 8am-8pm", hours(period(EVERY_DAY, "08:00", "20:00"))),
    ("Sat-Sun 24 hours", hours(period(WEEKEND, "00:00", "00:00"))),
    ("Mon, Wed, Fri 9-5", hours(period((MON, WED, FRI), "09:00", "17:00"))),
    (
        "Mon-Fri 09:00-17:00; Sat-Sun 10:00-16:00",
        hours(period(WEEKDAYS, "09:00", "17:00"), period(WEEKEND, "10:00", "16:00")),
    ),
    (
        "Mon-Fri 9am-5pm, Sat 10am-2pm",
        hours(period(WEEKDAYS, "09:00", "17:00"), period((SAT,), "10:00", "14:00")),
    ),
    (
        "Mon\u2013Fri 08:00\u201320:00; Sat\u2013Sun 10:00\u201316:00",
        hours(period(WEEKDAYS, "08:00", "20:00"), period(WEEKEND, "10:00", "16:00")),
    ),
    ("Fri-Sat 20:00-02:00", hours(period((FRI, SAT), "20:00", "02:00"))),
    ("Fri 8pm-2am", hours(period((FRI,), "20:00", "02:00"))),
    ("Fri-Mon 17:00-midnight", hours(period((MON, FRI, SAT, SUN), "17:00", "00:00"))),
    ("Mon-Fri 9-5 (excluding bank holidays)", OFFICE),
    ("Mon-Fri 9-5, not bank holidays", OFFICE),
    (
        "Mon-Sun 08:00-22:00 including bank holidays",
        hours(period(EVERY_DAY, "08:00", "22:00"), bank_holidays=True),
    ),
    # Not sure: never guessed.
    ("Office hours", None),
    ("", None),
    ("   ", None),
    ("varies", None),
    ("9-5", None),
    ("9am-5pm", None),
    ("Mon-Fri", None),
    ("Mon-Fri office hours", None),
    ("Mon-Fri 9-5, Sat", None),
    ("Mon-Fri 9-5, 10-4", None),
    ("Mon-Fri 9-5 and Sat 10-4", None),
    ("Funday 9-5", None),
    ("Mon-Mon 9-5", None),
    ("Mon-Fri 1-5", None),
    ("Mon-Fri 8-10", None),
    ("Mon-Fri 9am-5", None),
    ("Mon-Fri 09:00-05:00", None),
    ("Mon-Fri 9:00-17:70", None),
    ("Mon-Fri 25:00-17:00", None),
    ("Mon-Fri 13pm-5pm", None),
    ("Mon-Fri 24:00-17:00", None),
    ("24 hours excluding bank holidays", None),
    ("Usually 24 hours", None),
    ("Mon-Fri 9-5 except when short-staffed", None),
    ("; ".join(["Mon 9-5"] * 15), None),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parse_hours_reads_what_partners_write_and_never_guesses(
    text: str, expected: ContactHours | None
) -> None:
    assert parse_hours(text) == expected


@pytest.mark.parametrize("text", [text for text, expected in PARSED if expected is not None])
def test_hours_described_in_words_read_back_the_same(text: str) -> None:
    parsed = parse_hours(text)
    assert parsed is not None
    assert parse_hours(describe(parsed)) == parsed


@pytest.mark.parametrize(
    ("contact_hours", "words"),
    [
        (ALWAYS, "24 hours"),
        (OFFICE, "Mon-Fri 09:00-17:00 (excluding bank holidays)"),
        (
            hours(
                period((MON, WED, THU, FRI), "08:30", "18:00"),
                period((SAT,), "20:00", "02:00"),
                period((SUN,), "00:00", "00:00"),
                bank_holidays=True,
            ),
            "Mon, Wed-Fri 08:30-18:00; Sat 20:00-02:00; Sun 24 hours (including bank holidays)",
        ),
    ],
)
def test_describe_gives_words_an_officer_reads_at_a_glance(
    contact_hours: ContactHours, words: str
) -> None:
    assert describe(contact_hours) == words


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"days": ()}, "too_short"),
        ({"days": (MON, MON)}, "value_error"),
        ({"days": ("funday",)}, "enum"),
        ({"opens": time(9, tzinfo=UTC)}, "value_error"),
    ],
)
def test_a_period_is_days_once_each_and_wall_clock_times(
    given: dict[str, object], problem: str
) -> None:
    fields = {"days": WEEKDAYS, "opens": time(9), "closes": time(17)} | given
    with pytest.raises(ValidationError) as raised:
        HoursPeriod.model_validate(fields)
    assert raised.value.errors()[0]["type"] == problem


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"always": False},
        {"always": True, "periods": [period(WEEKDAYS, "09:00", "17:00")]},
        {"periods": [period(WEEKDAYS, "09:00", "17:00")] * 15},
    ],
)
def test_hours_are_always_or_up_to_14_periods(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ContactHours.model_validate(fields)


# Whether the number is answered now


def london(
    year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON, fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


FRIDAY_NIGHT = hours(period((FRI,), "20:00", "02:00"))
THURSDAY_NIGHT = hours(period((THU,), "20:00", "02:00"))
SUNDAY_SMALL_HOURS = hours(period((SUN,), "01:00", "02:00"))
SUNDAY_NIGHT_TO_THREE = hours(period((SUN,), "00:00", "03:00"))
SUNDAY_OFFICE = hours(period((SUN,), "09:00", "17:00"))
SATURDAY_ALL_DAY = hours(period((SAT,), "00:00", "00:00"))
WEEKEND_LINE = hours(period(WEEKEND, "10:00", "16:00"))

# 2026: Mon 30 Nov is an ordinary Monday; the clocks go forward on Sun 29 Mar (01:00 GMT becomes
# 02:00 BST) and back on Sun 25 Oct (02:00 BST becomes 01:00 GMT).
OPEN_AT: list[tuple[str, ContactHours, datetime, bool]] = [
    ("before opening", OFFICE, london(2026, 11, 30, 8, 59, 59), False),
    ("opens inclusive", OFFICE, london(2026, 11, 30, 9), True),
    ("last second", OFFICE, london(2026, 11, 30, 16, 59, 59), True),
    ("closes exclusive", OFFICE, london(2026, 11, 30, 17), False),
    ("Friday afternoon", OFFICE, london(2026, 11, 27, 16), True),
    ("Saturday", OFFICE, london(2026, 11, 28, 12), False),
    ("Sunday", OFFICE, london(2026, 11, 29, 12), False),
    ("weekend line on Saturday", WEEKEND_LINE, london(2026, 11, 28, 10), True),
    ("weekend line on Monday", WEEKEND_LINE, london(2026, 11, 30, 10), False),
    ("always, 2 a.m.", ALWAYS, london(2026, 11, 29, 2), True),
    # 09:00-17:00 is London's wall clock in summer (BST, UTC+1) and winter (GMT, UTC+0).
    ("BST 09:30 (08:30 UTC)", OFFICE, utc(2026, 7, 1, 8, 30), True),
    ("BST 08:59 (07:59 UTC)", OFFICE, utc(2026, 7, 1, 7, 59), False),
    ("BST 09:00 (08:00 UTC)", OFFICE, utc(2026, 7, 1, 8), True),
    ("BST 17:30 (16:30 UTC)", OFFICE, utc(2026, 7, 1, 16, 30), False),
    ("BST 17:00 (16:00 UTC)", OFFICE, utc(2026, 7, 1, 16), False),
    ("GMT 16:30 (16:30 UTC)", OFFICE, utc(2026, 1, 14, 16, 30), True),
    ("GMT 08:59 (08:59 UTC)", OFFICE, utc(2026, 1, 14, 8, 59), False),
    ("GMT 17:00 (17:00 UTC)", OFFICE, utc(2026, 1, 14, 17), False),
    (
        "another zone: 04:00 New York is 09:00 GMT",
        OFFICE,
        datetime(2026, 11, 30, 4, tzinfo=ZoneInfo("America/New_York")),
        True,
    ),
    # Past midnight: a Friday 20:00-02:00 period is open in Saturday's small hours.
    ("Friday 19:59", FRIDAY_NIGHT, london(2026, 11, 27, 19, 59), False),
    ("Friday 20:00", FRIDAY_NIGHT, london(2026, 11, 27, 20), True),
    ("Friday 23:59", FRIDAY_NIGHT, london(2026, 11, 27, 23, 59), True),
    ("Saturday 00:00", FRIDAY_NIGHT, london(2026, 11, 28, 0), True),
    ("Saturday 01:00", FRIDAY_NIGHT, london(2026, 11, 28, 1), True),
    ("Saturday 01:59:59", FRIDAY_NIGHT, london(2026, 11, 28, 1, 59, 59), True),
    ("Saturday 02:00", FRIDAY_NIGHT, london(2026, 11, 28, 2), False),
    ("Saturday 20:30", FRIDAY_NIGHT, london(2026, 11, 28, 20, 30), False),
    ("Friday 01:00 (Thursday night)", FRIDAY_NIGHT, london(2026, 11, 27, 1), False),
    ("whole Saturday 00:00", SATURDAY_ALL_DAY, london(2026, 11, 28, 0), True),
    ("whole Saturday 23:59", SATURDAY_ALL_DAY, london(2026, 11, 28, 23, 59, 59), True),
    ("whole Saturday, Sunday 00:00", SATURDAY_ALL_DAY, london(2026, 11, 29, 0), False),
    ("whole Saturday, Friday 23:59", SATURDAY_ALL_DAY, london(2026, 11, 27, 23, 59), False),
    # Autumn: 01:30 happens twice, at 00:30 UTC (BST) and 01:30 UTC (GMT); both are 01:30 on the wall.
    ("autumn 01:30 BST", SUNDAY_SMALL_HOURS, utc(2026, 10, 25, 0, 30), True),
    ("autumn 01:30 GMT", SUNDAY_SMALL_HOURS, utc(2026, 10, 25, 1, 30), True),
    ("autumn 01:30 second (fold)", SUNDAY_SMALL_HOURS, london(2026, 10, 25, 1, 30, fold=1), True),
    ("autumn 00:59 BST", SUNDAY_SMALL_HOURS, utc(2026, 10, 24, 23, 59), False),
    ("autumn 02:00 GMT", SUNDAY_SMALL_HOURS, utc(2026, 10, 25, 2), False),
    ("autumn office 09:00 GMT", SUNDAY_OFFICE, utc(2026, 10, 25, 9), True),
    ("autumn office 08:59 GMT", SUNDAY_OFFICE, utc(2026, 10, 25, 8, 59), False),
    ("autumn office 16:59 GMT", SUNDAY_OFFICE, utc(2026, 10, 25, 16, 59), True),
    # Spring: 01:00-02:00 never happens; one UTC second after 00:59:59 GMT it is 02:00 BST.
    ("spring 00:59:59 GMT", SUNDAY_SMALL_HOURS, utc(2026, 3, 29, 0, 59, 59), False),
    ("spring 02:00 BST", SUNDAY_SMALL_HOURS, utc(2026, 3, 29, 1), False),
    ("spring wall 01:30 that never was", SUNDAY_SMALL_HOURS, london(2026, 3, 29, 1, 30), False),
    ("spring 02:00 BST in 00:00-03:00", SUNDAY_NIGHT_TO_THREE, utc(2026, 3, 29, 1), True),
    ("spring 03:00 BST in 00:00-03:00", SUNDAY_NIGHT_TO_THREE, utc(2026, 3, 29, 2), False),
    ("spring office 09:00 BST", SUNDAY_OFFICE, utc(2026, 3, 29, 8), True),
    ("spring office 08:59 BST", SUNDAY_OFFICE, utc(2026, 3, 29, 7, 59), False),
    ("spring office 17:00 BST", SUNDAY_OFFICE, utc(2026, 3, 29, 16), False),
    # Bank holidays in England and Wales: office lines are closed unless their hours say not.
    ("Christmas Day (Friday)", OFFICE, london(2026, 12, 25, 10), False),
    ("Boxing Day substitute (Monday)", OFFICE, london(2026, 12, 28, 10), False),
    ("the day after", OFFICE, london(2026, 12, 29, 10), True),
    ("Good Friday", OFFICE, london(2026, 4, 3, 10), False),
    ("Easter Monday", OFFICE, london(2026, 4, 6, 10), False),
    ("Scotland's 2 January is not ours", OFFICE, london(2026, 1, 2, 10), True),
    (
        "open on bank holidays",
        hours(period(WEEKDAYS, "09:00", "17:00"), bank_holidays=True),
        london(2026, 12, 28, 10),
        True,
    ),
    ("always, Christmas Day", ALWAYS, london(2026, 12, 25, 3), True),
    ("night opening on Good Friday", FRIDAY_NIGHT, london(2026, 4, 3, 21), False),
    ("Good Friday's night, past midnight", FRIDAY_NIGHT, london(2026, 4, 4, 1), False),
    ("next Friday's night", FRIDAY_NIGHT, london(2026, 4, 10, 21), True),
    ("Thursday night into Good Friday", THURSDAY_NIGHT, london(2026, 4, 3, 1), True),
]


@pytest.mark.parametrize(
    ("contact_hours", "at", "expected"),
    [(h, at, expected) for _, h, at, expected in OPEN_AT],
    ids=[name for name, *_ in OPEN_AT],
)
def test_is_open(contact_hours: ContactHours, at: datetime, expected: bool) -> None:
    assert is_open(contact_hours, at) is expected


def test_is_open_refuses_a_moment_without_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2026, 11, 30, 10))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 25), True),
        (date(2026, 12, 26), True),
        (date(2026, 12, 28), True),
        (date(2026, 12, 29), False),
        (date(2026, 8, 31), True),
        (date(2026, 11, 30), False),  # St Andrew's Day: Scotland only
        (date(2027, 5, 3), True),
    ],
)
def test_bank_holidays_are_england_and_wales(day: date, expected: bool) -> None:
    assert is_bank_holiday(day) is expected


# The number in an out-of-hours alternative

PHONES: list[tuple[str, str | None]] = [
    ("Crisis line 0800 555 0199, 24 hours", "0800 555 0199"),
    ("0800 555 0199", "0800 555 0199"),
    ("Avonmere crisis line 0800 555 0188, 24 hours", "0800 555 0188"),
    ("Call 01135550100 any time", "01135550100"),
    ("Ring (0113) 555-0100 (the switchboard)", "(0113) 555-0100"),
    ("Switchboard (0113 555 0100)", "0113 555 0100"),
    ("+44 113 555 0100 out of hours", "+44 113 555 0100"),
    ("Mobile 07700 900123.", "07700 900123"),
    ("0800 555 0199 24 hours", "0800 555 0199"),
    ("Crisis line 0800 555 0199 - 24 hours", "0800 555 0199"),
    ("Mon-Fri 0900-1700, then 0800 555 0199", "0800 555 0199"),
    ("0113 555 0100, or +44 113 555 0100 from a mobile", "0113 555 0100"),
    ("Crisis line 0800 555 0199 or 0800 555 0199", "0800 555 0199"),
    # Two different numbers, or none: not ours to choose.
    ("0113 555 0100 or 0800 555 0199", None),
    ("0113 555 0100 0800 555 0199", None),
    ("NHS 111, option 2", None),
    ("Call 999 in an emergency", None),
    ("Crisis team", None),
    ("", None),
    ("Ref 12345678901234", None),
    ("Call 0113 555 01", None),
    ("Extension 40800 555 0199", None),
]


@pytest.mark.parametrize(("text", "expected"), PHONES)
def test_phone_in_finds_the_one_uk_number_as_written(text: str, expected: str | None) -> None:
    assert phone_in(text) == expected
