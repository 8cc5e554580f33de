"""The answer's rules: what the sources said, merged into what an officer is told. Pure, no I/O.

Each rule is one small function over `Answers`, written so it can be read as a row of the README's
truth table. The rules lean one way: toward "could not check" and never toward "nothing known" or
"no risk". In short:

- `known_to_services` is `yes` when any record holder holds the person under any of their numbers;
  `no` only when the person was positively identified (PDS confirmed the number) and every record
  holder answered and holds nothing; otherwise `unknown`.
- `crisis_plan` is `present` when any holder holds one; `absent` only under the same conditions as
  `no`; otherwise `unknown`.
- A safety alert category is `high` when any holder that answered records high; `unknown` when a
  trust did not answer, recorded a level it could not say, or holds an alert this service cannot
  read that could concern it; otherwise the highest level recorded; `not_recorded` only when
  nothing is recorded and the person was positively identified.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from models.contact_hours import (
    LONDON,
    ContactHours,
    is_bank_holiday,
    is_open,
    round_the_clock,
)
from models.lookup import Alerts, CallNow, CallNowReason, Identification, Known, PlanPresence
from models.partner import (
    AlertCategory,
    AlertLevel,
    CrisisContact,
    NrlResult,
    TrustCrisisPlan,
    TrustRecord,
)

RECORDED_ORDER = (AlertLevel.not_recorded, AlertLevel.low, AlertLevel.medium, AlertLevel.high)


@dataclass(frozen=True)
class Answers:
    """What the record holders said, under every number the person was asked about.

    `asked` is false when no holder could be asked (no one identified). A holder that failed is
    counted in `nrl_unanswered` or `trusts_unanswered`, never as an empty answer."""

    asked: bool = False
    nrl: tuple[NrlResult, ...] = ()
    trusts: tuple[TrustRecord, ...] = ()
    nrl_unanswered: int = 0
    trusts_unanswered: int = 0

    def __add__(self, other: "Answers") -> "Answers":
        return Answers(
            asked=self.asked or other.asked,
            nrl=(*self.nrl, *other.nrl),
            trusts=(*self.trusts, *other.trusts),
            nrl_unanswered=self.nrl_unanswered + other.nrl_unanswered,
            trusts_unanswered=self.trusts_unanswered + other.trusts_unanswered,
        )

    @property
    def complete(self) -> bool:
        """Every record holder was asked and answered."""
        return self.asked and not self.nrl_unanswered and not self.trusts_unanswered

    @property
    def pointers(self) -> bool:
        return any(result.pointers for result in self.nrl)


def positively_identified(identification: Identification) -> bool:
    """Only a number PDS confirmed can turn "nothing held" into "not known"."""
    return identification == Identification.verified


def known_to_services(identification: Identification, answers: Answers) -> Known:
    if any(record.known for record in answers.trusts) or answers.pointers:
        return Known.yes
    if positively_identified(identification) and answers.complete:
        return Known.no
    return Known.unknown


def plan_presence(identification: Identification, answers: Answers) -> PlanPresence:
    if any(record.plan for record in answers.trusts) or answers.pointers:
        return PlanPresence.present
    if positively_identified(identification) and answers.complete:
        return PlanPresence.absent
    return PlanPresence.unknown


def alert_level(
    category: AlertCategory, identification: Identification, answers: Answers
) -> AlertLevel:
    """One category's level: `high` wins over everything, since it is the one to act on; any gap
    in what could be known makes the rest `unknown`."""
    recorded = [
        alert.level
        for record in answers.trusts
        for alert in record.alerts
        if alert.category == category
    ]
    if AlertLevel.high in recorded:
        return AlertLevel.high
    unreadable = any(
        unmapped.category in (None, category)
        for record in answers.trusts
        for unmapped in record.unmapped_alerts
    )
    if (
        not answers.asked
        or answers.trusts_unanswered
        or unreadable
        or AlertLevel.unknown in recorded
    ):
        return AlertLevel.unknown
    if any(level != AlertLevel.not_recorded for level in recorded):
        return max(recorded, key=RECORDED_ORDER.index)
    if positively_identified(identification):
        return AlertLevel.not_recorded
    return AlertLevel.unknown


def safety_alerts(identification: Identification, answers: Answers) -> Alerts:
    return Alerts(
        **{
            category.value: alert_level(category, identification, answers)
            for category in AlertCategory
        }
    )


def highest_recorded(answers: Answers) -> dict[AlertCategory, AlertLevel]:
    """What the holders that answered recorded, per category, at least: a `medium` one trust
    recorded stays visible when another's silence makes the summary `unknown`."""
    levels: dict[AlertCategory, AlertLevel] = {}
    for record in answers.trusts:
        for alert in record.alerts:
            if alert.level in RECORDED_ORDER[1:]:
                known = levels.get(alert.category, AlertLevel.not_recorded)
                levels[alert.category] = max(known, alert.level, key=RECORDED_ORDER.index)
    return {category: levels[category] for category in AlertCategory if category in levels}


def plans(answers: Answers) -> list[TrustCrisisPlan]:
    """Every active plan, most recently reviewed first: one custodian's never hides another's."""
    found = [record.plan for record in answers.trusts if record.plan is not None]
    return sorted(
        found,
        key=lambda plan: (
            plan.last_updated is not None,
            plan.last_updated or datetime.min.replace(tzinfo=UTC),
        ),
        reverse=True,
    )


def custodians(answers: Answers) -> list[str]:
    """Every organisation found holding a record of the person, by code."""
    codes = {record.organisation_code for record in answers.trusts if record.known}
    codes |= {pointer.custodian_code for result in answers.nrl for pointer in result.pointers}
    return sorted(codes)


def is_stale(plan: TrustCrisisPlan, today: date) -> bool | None:
    return None if plan.review_date is None else plan.review_date < today


def open_now(schedule: ContactHours | None, at: datetime) -> bool | None:
    """Whether the contact answers at `at`; None when its hours could not be read, or on a bank
    holiday its hours do not say it opens on (whether an office line opens then is rarely written
    down reliably, so both numbers are given rather than one guessed)."""
    if schedule is None:
        return None
    if round_the_clock(schedule):
        return True
    if not schedule.open_on_bank_holidays and is_bank_holiday(at.astimezone(LONDON).date()):
        return None
    return is_open(schedule, at)


def call_now(contact: CrisisContact, at: datetime, answering: bool | None) -> CallNow:
    """The number to call at `at`. `answering` is whether the contact's hours cover `at`, or None
    when the hours could not be read: then no single number is chosen and both are given."""
    numbers = [contact.phone]
    if contact.out_of_hours_phone is not None and contact.out_of_hours_phone != contact.phone:
        numbers.append(contact.out_of_hours_phone)
    if answering is None:
        return CallNow(phone=None, reason=CallNowReason.hours_unknown, numbers=numbers, at=at)
    if contact.schedule is not None and round_the_clock(contact.schedule):
        return CallNow(
            phone=contact.phone, reason=CallNowReason.always_answered, numbers=numbers, at=at
        )
    if answering:
        return CallNow(phone=contact.phone, reason=CallNowReason.in_hours, numbers=numbers, at=at)
    if contact.out_of_hours_phone is None:
        # The office is closed and no other number could be read: offering the office line
        # first would ring an empty room. The alternative's words say what to do.
        return CallNow(phone=None, reason=CallNowReason.out_of_hours_no_number, numbers=[], at=at)
    return CallNow(
        phone=contact.out_of_hours_phone,
        reason=CallNowReason.out_of_hours,
        numbers=[contact.out_of_hours_phone],
        at=at,
    )


CHECKS: dict[Identification, str | None] = {
    Identification.verified: None,
    Identification.probable: (
        "Probable match only: confirm who the person is before acting on this answer."
    ),
    Identification.unverified: (
        "PDS could not be asked: the NHS number is not verified and may be wrong or out of date."
        " Confirm who the person is."
    ),
    Identification.not_found: (
        "PDS does not know this NHS number: check it. What record holders hold under it is shown."
    ),
    Identification.ambiguous: "Several people matched: give an NHS number or more details.",
    Identification.not_traced: "PDS could not be asked: no one was identified.",
    Identification.no_match: "No one matched these details: check them or give an NHS number.",
}
NUMBER_CHANGED = "The NHS number asked about has been replaced: use the current number shown."


def check(identification: Identification, number_changed: bool) -> str | None:
    """What the officer should check before relying on the answer, in words."""
    words = [text for text in (CHECKS[identification],) if text]
    if number_changed:
        words.insert(0, NUMBER_CHANGED)
    return " ".join(words) or None
