"""When a crisis contact answers: days and times in Europe/London, read once, asked at the scene.

A contact's hours decide which number an officer should call now. Hours are structured (days and
opening and closing times) for plans written here; a partner's hours arrive as words and are read
into the same structure where they can be, and otherwise are unknown, never guessed.

Bank holidays are those of England and Wales. An office line is closed on them unless its hours
say otherwise; a period belongs to the day it opens on, so a Friday 20:00-02:00 period is skipped,
past midnight too, when that Friday is a bank holiday.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Self
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LONDON = ZoneInfo("Europe/London")
MIDNIGHT = time(0, 0)
NOON = time(12, 0)


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


# Monday first, as `date.weekday()` counts.
WEEK = tuple(Weekday)


class HoursPeriod(BaseModel):
    """Answered on these days from `opens` to `closes`; a `closes` at or before `opens` runs past
    midnight into the next day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: tuple[Weekday, ...] = Field(min_length=1, max_length=7)
    opens: time
    closes: time

    @field_validator("days")
    @classmethod
    def _each_day_once(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(days)) != len(days):
            raise ValueError("names a day more than once")
        return days

    @field_validator("opens", "closes")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        # Hours are London wall-clock times; an offset would be wrong for half the year.
        if value.tzinfo is not None:
            raise ValueError("is a time of day in Europe/London, without an offset")
        return value


class ContactHours(BaseModel):
    """`always` (24 hours, every day), or the periods in which the number is answered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    always: bool = False
    periods: tuple[HoursPeriod, ...] = Field(default=(), max_length=14)
    open_on_bank_holidays: bool = Field(
        default=False,
        description="The periods apply on bank holidays in England and Wales too; by default the"
        " number is not answered on a bank holiday (an office line). `always` is answered on them.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.always == bool(self.periods):
            raise ValueError("give always: true, or the periods the number is answered in")
        return self


def round_the_clock(hours: ContactHours) -> bool:
    """Answered at every hour of every day, however it was written ("24 hours", or "Mon-Sun 24
    hours" as seven whole-day periods): bank holidays cannot close it."""
    whole_days = {
        day
        for period in hours.periods
        if period.opens == period.closes == MIDNIGHT
        for day in period.days
    }
    return hours.always or whole_days == set(WEEK)


def is_open(hours: ContactHours, at: datetime) -> bool:
    """Whether the number is answered at the aware moment `at`, read in Europe/London."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware")
    if round_the_clock(hours):
        return True
    # Through UTC, so a wall time in the spring gap is read as the moment it really is.
    local = at.astimezone(UTC).astimezone(LONDON)
    # Both 01:30s of the autumn change are 01:30 on the wall; the fold only tells them apart.
    now = local.time().replace(fold=0)
    today = local.date()
    yesterday = today - timedelta(days=1)
    for period in hours.periods:
        overnight = period.closes <= period.opens
        if _applies(hours, period, today) and (
            now >= period.opens if overnight else period.opens <= now < period.closes
        ):
            return True
        if overnight and _applies(hours, period, yesterday) and now < period.closes:
            return True
    return False


def is_bank_holiday(day: date) -> bool:
    """A bank holiday in England and Wales, substitute days included."""
    return day in _bank_holidays(day.year)


def _applies(hours: ContactHours, period: HoursPeriod, day: date) -> bool:
    """The period opens on `day`."""
    if WEEK[day.weekday()] not in period.days:
        return False
    return hours.open_on_bank_holidays or not is_bank_holiday(day)


def load_bank_holidays(today: date) -> None:
    """Load this year's and next year's bank holidays now: the first load imports the calendar
    (a fraction of a second), which must not fall on the first lookup at a scene."""
    for year in (today.year, today.year + 1):
        _bank_holidays(year)


@lru_cache(maxsize=16)
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share their bank holidays; Scotland and Northern Ireland differ.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def describe(hours: ContactHours) -> str:
    """The hours in words an officer reads at a glance, and `parse_hours` reads back."""
    if hours.always:
        return "24 hours"
    periods = "; ".join(
        f"{_describe_days(period.days)} {_describe_times(period)}" for period in hours.periods
    )
    bank_holidays = "including" if hours.open_on_bank_holidays else "excluding"
    return f"{periods} ({bank_holidays} bank holidays)"


def _describe_days(days: tuple[Weekday, ...]) -> str:
    indexes = sorted(WEEK.index(day) for day in days)
    runs: list[list[int]] = []
    for index in indexes:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ", ".join(
        _DAY_LABELS[run[0]] if len(run) == 1 else f"{_DAY_LABELS[run[0]]}-{_DAY_LABELS[run[-1]]}"
        for run in runs
    )


def _describe_times(period: HoursPeriod) -> str:
    if period.opens == period.closes == MIDNIGHT:
        return "24 hours"
    return f"{period.opens:%H:%M}-{period.closes:%H:%M}"


_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# Reading partners' words. Every rule fails closed: a piece of text that does not fit exactly is
# not read at all, so "Office hours" or "9-5" (no days) give None rather than a likely meaning.

_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
_ALWAYS = re.compile(
    r"(?:24 ?(?:hours|hrs|hr|h)(?: a day)?(?:,? (?:7|seven) days(?: a week)?)?|24/7|24 ?x ?7)"
    r"(?:,? 365 days(?: a year)?)?"
)
_WITH_BANK_HOLIDAYS = re.compile(
    r"[,;]? ?\(?\b(?:including|incl\.?|inc\.?|and|open on|open) bank holidays?\)?$"
)
_WITHOUT_BANK_HOLIDAYS = re.compile(
    r"[,;]? ?\(?\b(?:excluding|excl\.?|exc\.?|except|not on|not|closed on|closed) bank holidays?\)?$"
)
_CLOCK = r"(?:\d{4}|\d{1,2}(?:[:.]\d{2})? ?(?:am|pm|a\.m\.?|p\.m\.?)?|noon|midday|midnight)(?!\d)"
_TIMES = re.compile(
    rf"(?:from )?(?P<opens>{_CLOCK}) ?(?:-|to|until|till|til) ?(?P<closes>{_CLOCK})"
    rf"|between (?P<b_opens>{_CLOCK}) and (?P<b_closes>{_CLOCK})"
    r"|(?P<whole>24 ?(?:hours|hrs)|all day)"
)
_CLOCK_PARTS = re.compile(
    r"(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))? ?(?P<suffix>am|pm|a\.m\.?|p\.m\.?)?"
    r"|(?P<hhmm>\d{4})"
)
_DAY_WORDS: dict[str, Weekday] = {
    word: day
    for day, words in zip(
        WEEK,
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ),
        strict=True,
    )
    for word in (*words, f"{words[-1]}s")
}
_DAY_GROUPS: dict[str, tuple[Weekday, ...]] = {
    "daily": WEEK,
    "every day": WEEK,
    "7 days": WEEK,
    "7 days a week": WEEK,
    "seven days a week": WEEK,
    "weekdays": WEEK[:5],
    "weekends": WEEK[5:],
    "weekend": WEEK[5:],
}
_DAY_RANGE = re.compile(r"(?P<first>[a-z]+)\.? ?(?:-|to|through|thru) ?(?P<last>[a-z]+)\.?")
_DAY_LIST_SEPARATOR = re.compile(r" ?(?:&|\+|/| and ) ?")
_PIECE_SEPARATOR = re.compile(r"[;,\n]")


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    suffix: str | None
    # Written so that only the 24-hour clock reads it: "17:00", "09:00", "0900", "noon".
    certain: bool


_CLOCK_WORDS = {
    "noon": _Clock(12, 0, None, certain=True),
    "midday": _Clock(12, 0, None, certain=True),
    "midnight": _Clock(0, 0, None, certain=True),
}


def parse_hours(text: str) -> ContactHours | None:
    """A partner's hours as written ("24 hours", "Mon-Fri 09:00-17:00"), or None if unreadable."""
    words = " ".join(text.translate(_DASHES).lower().split()).rstrip(".")
    open_on_bank_holidays = False
    if match := _WITH_BANK_HOLIDAYS.search(words):
        open_on_bank_holidays = True
        words = words[: match.start()].strip()
    elif match := _WITHOUT_BANK_HOLIDAYS.search(words):
        words = words[: match.start()].strip()
    if _ALWAYS.fullmatch(words):
        # Closed on bank holidays contradicts 24 hours: the words are not clear.
        return None if match and not open_on_bank_holidays else ContactHours(always=True)
    periods = _periods(words)
    if not periods:
        return None
    try:
        return ContactHours(periods=tuple(periods), open_on_bank_holidays=open_on_bank_holidays)
    except ValidationError:
        return None


def _periods(words: str) -> list[HoursPeriod] | None:
    """Periods separated by ";" or ","; days alone ("Mon, Wed") carry on to the next times."""
    periods: list[HoursPeriod] = []
    pending: list[Weekday] = []
    for piece in (part.strip() for part in _PIECE_SEPARATOR.split(words)):
        if not piece:
            return None
        match = _TIMES.search(piece)
        before = piece[: match.start()].strip().rstrip(":").strip() if match else piece
        after = piece[match.end() :].strip() if match else ""
        if before and after:
            return None
        days = _days(before or after) if before or after else ()
        if days is None:
            return None
        pending += [day for day in days if day not in pending]
        if match is None:
            continue
        times = _times(match)
        if times is None or not pending:
            return None
        periods.append(
            HoursPeriod(
                days=tuple(day for day in WEEK if day in pending), opens=times[0], closes=times[1]
            )
        )
        pending = []
    return None if pending else periods


def _days(words: str) -> tuple[Weekday, ...] | None:
    days: list[Weekday] = []
    for item in _DAY_LIST_SEPARATOR.split(words):
        found = _day_item(item.strip())
        if found is None:
            return None
        days += found
    return tuple(days)


def _day_item(item: str) -> tuple[Weekday, ...] | None:
    if item in _DAY_GROUPS:
        return _DAY_GROUPS[item]
    if (day := _DAY_WORDS.get(item.rstrip("."))) is not None:
        return (day,)
    match = _DAY_RANGE.fullmatch(item)
    if match is None:
        return None
    first, last = _DAY_WORDS.get(match["first"]), _DAY_WORDS.get(match["last"])
    if first is None or last is None or first == last:
        return None
    start, end = WEEK.index(first), WEEK.index(last)
    # "Fri-Mon" runs over the weekend.
    span = (end - start) % 7
    return tuple(WEEK[(start + offset) % 7] for offset in range(span + 1))


def _times(match: re.Match[str]) -> tuple[time, time] | None:
    if match["whole"]:
        return MIDNIGHT, MIDNIGHT
    opens_word = match["opens"] or match["b_opens"]
    closes_word = match["closes"] or match["b_closes"]
    opens, closes = _clock(opens_word), _clock(closes_word)
    if opens is None or closes is None:
        return None
    read = _resolve(opens, closes)
    if read is None:
        return None
    opening, closing = read
    # Services that run past midnight open in the evening: "09:00-05:00" is far likelier a
    # misread "9 to 5" than a night service, so it is not read.
    if closing <= opening < NOON and closing != MIDNIGHT:
        return None
    return opening, closing


def _clock(word: str) -> _Clock | None:
    if word in _CLOCK_WORDS:
        return _CLOCK_WORDS[word]
    match = _CLOCK_PARTS.fullmatch(word)
    if match is None:
        return None
    if match["hhmm"]:
        hour, minute = int(match["hhmm"][:2]), int(match["hhmm"][2:])
        return _Clock(hour, minute, None, certain=True) if _valid(hour, minute) else None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    suffix = match["suffix"].replace(".", "") if match["suffix"] else None
    if suffix is not None:
        return (
            _Clock(hour, minute, suffix, certain=True) if 1 <= hour <= 12 and minute < 60 else None
        )
    if not _valid(hour, minute):
        return None
    two_digits = len(match["hour"]) == 2 and match["minute"] is not None
    return _Clock(hour, minute, None, certain=hour == 0 or hour >= 13 or two_digits)


def _valid(hour: int, minute: int) -> bool:
    return minute < 60 and (hour < 24 or (hour == 24 and minute == 0))


def _resolve(opens: _Clock, closes: _Clock) -> tuple[time, time] | None:
    """Both ends on the 24-hour clock, reading an end without am/pm from the other end."""
    if opens.hour == 24:
        return None
    if opens.suffix is None and closes.suffix is not None and not opens.certain:
        # "9-5pm" is 9am; "1-5pm" is 1pm.
        suffix = closes.suffix
        if closes.suffix == "pm" and _hour24(opens.hour, "pm") > _hour24(closes.hour, "pm"):
            suffix = "am"
        return _at(opens, suffix), _at(closes, closes.suffix)
    if opens.suffix is not None and closes.suffix is None and not closes.certain:
        return None
    if opens.suffix is not None or closes.suffix is not None or opens.certain or closes.certain:
        return _at(opens, opens.suffix), _at(closes, closes.suffix)
    # Two bare hours of the twelve-hour clock: only office hours read one way ("9-5", "8.30-6").
    if 7 <= opens.hour <= 11 and (1 <= closes.hour <= 8 or closes.hour == 12):
        return _at(opens, "am"), _at(closes, "pm")
    return None


def _hour24(hour: int, suffix: str | None) -> int:
    if suffix is None:
        return hour % 24
    return hour % 12 + (12 if suffix == "pm" else 0)


def _at(clock: _Clock, suffix: str | None) -> time:
    return time(_hour24(clock.hour, suffix), clock.minute)


# Runs of digits and the separators people write inside phone numbers.
_NUMBER_RUN = re.compile(r"(?<![\w+])[(+]*\d[\d ()-]*")
_GROUP = re.compile(r"\S+")
_PHONE_SEPARATORS = re.compile(r"[ ()-]")
# 0 and 9 or 10 digits, or +44 and the same number without its leading 0.
_UK_PHONE = re.compile(r"^(?:0\d{9,10}|\+44[1-9]\d{8,9})$")


def is_uk_phone(value: str) -> bool:
    """A UK number as people write it: 0 and 9 or 10 digits, or +44 and 9 or 10, with spaces,
    hyphens or brackets between."""
    return bool(_UK_PHONE.match(_PHONE_SEPARATORS.sub("", value)))


def phone_in(text: str) -> str | None:
    """The one UK phone number written in `text` (an out-of-hours alternative), or None."""
    found: list[str] = []
    for run in _NUMBER_RUN.finditer(text):
        found += _phones_in_run(run.group())
    numbers = {_national(phone) for phone in found}
    return found[0] if len(numbers) == 1 else None


def _phones_in_run(run: str) -> list[str]:
    """The numbers in a run of digits and spaces, longest first from the left, so "0800 555 0199
    24 hours" gives one number and two numbers side by side give two."""
    groups = [(group.start(), group.end()) for group in _GROUP.finditer(run)]
    phones: list[str] = []
    first = 0
    while first < len(groups):
        for last in range(len(groups), first, -1):
            candidate = _trimmed(run[groups[first][0] : groups[last - 1][1]])
            if candidate and is_uk_phone(candidate):
                phones.append(candidate)
                first = last
                break
        else:
            first += 1
    return phones


def _trimmed(candidate: str) -> str:
    candidate = candidate.lstrip(" -").rstrip(" -(")
    # Brackets around the whole number, or closing the sentence around it, are not part of it.
    inner = candidate[1:-1]
    if candidate.startswith("(") and candidate.endswith(")") and not {"(", ")"} & set(inner):
        return inner.strip()
    if candidate.endswith(")") and candidate.count(")") > candidate.count("("):
        candidate = candidate[:-1].rstrip(" -")
    if candidate.startswith("(") and candidate.count("(") > candidate.count(")"):
        candidate = candidate[1:].lstrip(" -")
    return candidate


def _national(phone: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", phone)
    return "0" + digits[3:] if digits.startswith("+44") else digits
