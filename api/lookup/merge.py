"""Merging what the sources said into one answer. Pure rules, no I/O.

- `known_to_services` is `yes` if any source that could know says so; `no` only if every such
  source answered and none did; otherwise `unknown`. "Could not check" is never "nothing known".
- Conflicting risk levels resolve toward safety: the highest level any trust reports wins, and
  a category no trust could answer for is `unknown`, never `none`.
"""

from dataclasses import dataclass
from datetime import date

from models.lookup import Alerts, Known, PlanPresence
from models.partner import AlertCategory, AlertLevel, NrlResult, TrustCrisisPlan, TrustRecord

LEVEL_ORDER = (AlertLevel.none, AlertLevel.low, AlertLevel.medium, AlertLevel.high)


@dataclass(frozen=True)
class Answers:
    """The answers that arrived; a source that failed is counted in `unanswered`."""

    nrl: NrlResult | None
    trusts: list[TrustRecord]
    unanswered: int


def known_to_services(answers: Answers) -> Known:
    said_yes = any(record.known for record in answers.trusts) or bool(
        answers.nrl and answers.nrl.pointers
    )
    if said_yes:
        return Known.yes
    return Known.unknown if answers.unanswered else Known.no


def plan_presence(answers: Answers) -> PlanPresence:
    if any(record.plan for record in answers.trusts) or (answers.nrl and answers.nrl.pointers):
        return PlanPresence.present
    return PlanPresence.unknown if answers.unanswered else PlanPresence.absent


def merged_alerts(answers: Answers) -> Alerts:
    levels: dict[AlertCategory, AlertLevel] = {}
    for category in AlertCategory:
        reported = [
            alert.level
            for record in answers.trusts
            for alert in record.alerts
            if alert.category == category
        ]
        known = [level for level in reported if level in LEVEL_ORDER]
        if known:
            levels[category] = max(known, key=LEVEL_ORDER.index)
            if AlertLevel.unknown in reported and levels[category] != AlertLevel.high:
                levels[category] = AlertLevel.unknown
        elif reported or answers.unanswered:
            levels[category] = AlertLevel.unknown
        else:
            levels[category] = AlertLevel.none
    return Alerts(
        risk_to_self=levels[AlertCategory.risk_to_self],
        risk_to_others=levels[AlertCategory.risk_to_others],
        risk_from_others=levels[AlertCategory.risk_from_others],
    )


def current_plan(answers: Answers) -> TrustCrisisPlan | None:
    """The most recently updated active plan, if several trusts hold one."""
    plans = [record.plan for record in answers.trusts if record.plan is not None]
    if not plans:
        return None
    return max(plans, key=lambda plan: (plan.last_updated is not None, plan.last_updated))


def is_stale(plan: TrustCrisisPlan, today: date) -> bool | None:
    return None if plan.review_date is None else plan.review_date < today
