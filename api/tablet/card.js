// The flag card: what the lookup answered, readable in three seconds in the dark. Order: who it
// is (and what to check), known or not, plan or not, the alerts, who to call now, how to approach;
// then each custodian's plan, what did not answer, and (for practitioners) the clinical section.

import { el, when, day } from "./dom.js";
import { groupNhsNumber } from "./nhs.js";
import { dialable } from "./phone.js";
import {
  ALERT_CATEGORIES, ALERT_LEVELS, CALL_NOW, IDENTIFICATION, KNOWN, PLAN, SOURCE_NAMES,
  SOURCE_STATUS,
} from "./words.js";

const CLINICAL_HEADINGS = [
  ["triggers", "Triggers"],
  ["early_signs", "Early signs"],
  ["what_helps", "What helps"],
  ["what_to_avoid", "What to avoid"],
  ["mha_status", "Mental Health Act status"],
  ["care_coordinator", "Care coordinator"],
  ["dependants", "Dependants"],
  ["access_notes", "Access notes"],
  ["safeguarding", "Safeguarding"],
];

function custodianName(custodian) {
  return custodian.name ? custodian.name + " (" + custodian.organisation_code + ")"
    : custodian.organisation_code;
}

function sourceName(source) {
  return SOURCE_NAMES[source.kind] || SOURCE_NAMES[source.name] ||
    (source.kind === "fhir_trust" ? "Trust records (" + source.name + ")" : source.name);
}

function callButton(number, label, testid) {
  const href = dialable(number);
  if (href === null) {
    return el("p", { className: "call-undialable", testid: testid + "-undialable" },
      label + " (not one number this tablet can dial: read it before dialling)");
  }
  return el("a", { className: "call", href, testid }, label);
}

function identity(answer) {
  const person = answer.person;
  const lines = [
    el("p", { className: "identification", testid: "card-identification",
      "data-value": person.identification }, IDENTIFICATION[person.identification] ||
      person.identification),
  ];
  if (person.nhs_number) {
    lines.push(el("p", { className: "number", testid: "card-nhs-number" },
      "NHS number " + groupNhsNumber(person.nhs_number)));
  }
  if (person.number_changed && person.nhs_number_asked) {
    lines.push(el("p", { className: "caution", testid: "card-number-changed" },
      "The number asked, " + groupNhsNumber(person.nhs_number_asked) +
      ", has been replaced: this answer is about the current number."));
  }
  if (person.check) {
    lines.push(el("p", { className: "caution", testid: "card-check", role: "alert" },
      "Check: " + person.check));
  }
  if (person.demographics_restricted) {
    lines.push(el("p", { className: "restricted", testid: "card-restricted" },
      "Restricted record: no address or location is held or shown. Do not record or pass on " +
      "where this person lives."));
  }
  return el("div", { className: "identity" }, lines);
}

function headline(answer) {
  const known = KNOWN[answer.known_to_services];
  const plan = PLAN[answer.crisis_plan];
  return el("div", { className: "headline" },
    el("p", { className: "big tone-" + known.tone, testid: "card-known",
      "data-value": answer.known_to_services },
    el("span", { className: "big-word" }, known.word), el("span", { className: "big-more" },
      known.sentence)),
    el("p", { className: "big tone-" + plan.tone, testid: "card-plan",
      "data-value": answer.crisis_plan }, el("span", { className: "big-word" }, plan.word)));
}

function alerts(answer) {
  const items = ALERT_CATEGORIES.map(([category, name]) => {
    const level = answer.safety_alerts[category] || "unknown";
    const shown = ALERT_LEVELS[level] || ALERT_LEVELS.unknown;
    const recorded = (answer.highest_recorded || {})[category];
    const more = level === "unknown" && recorded && recorded !== "unknown" &&
      recorded !== "not_recorded"
      ? el("span", { className: "alert-more", testid: "alert-recorded-" + category },
        "One source recorded " + ALERT_LEVELS[recorded].word + "; another could not be checked.")
      : null;
    return el("li", { className: "alert level-" + level, testid: "alert-" + category,
      "data-level": level },
    el("span", { className: "alert-name" }, name),
    el("span", { className: "alert-level" },
      el("span", { className: "symbol", "aria-hidden": "true" }, shown.symbol), " ", shown.word),
    more);
  });
  const unread = answer.unread_alerts.map((item) => el("li", { className: "unread",
    testid: "unread-alert" }, item.message));
  return el("section", { className: "alerts", "aria-label": "Safety alerts" },
    el("h3", {}, "Safety alerts"),
    el("ul", { className: "alert-list", testid: "card-alerts" }, items),
    unread.length ? el("ul", { className: "unread-list", testid: "card-unread" }, unread) : null,
    el("p", { className: "hint" },
      "“No alert recorded” means no alert is recorded, never that there is no risk."));
}

function callNow(plan) {
  const contact = plan.crisis_contact;
  if (!contact) {
    return null;
  }
  const call = contact.call_now;
  const reason = el("p", { className: "call-reason", testid: "call-reason",
    "data-reason": call.reason }, CALL_NOW[call.reason] || call.reason);
  const buttons = [];
  if (call.phone) {
    buttons.push(callButton(call.phone, "Call now: " + call.phone, "call-now"));
  } else {
    for (const number of call.numbers) {
      buttons.push(callButton(number, "Call " + number, "call-number"));
    }
  }
  const advice = call.reason === "out_of_hours_no_number" || call.reason === "hours_unknown"
    ? el("p", { testid: "call-out-of-hours" }, "Out of hours: " + contact.out_of_hours) : null;
  return el("div", { className: "call-box", testid: "call-box",
    "data-custodian": plan.custodian.organisation_code },
  el("p", { className: "call-team" }, contact.team + ", " + custodianName(plan.custodian)),
  buttons, reason, advice);
}

function reviewState(plan) {
  const parts = [];
  if (plan.last_reviewed) {
    parts.push("Last reviewed " + day(plan.last_reviewed.slice(0, 10)));
  } else {
    parts.push("Last review date not given");
  }
  if (plan.review_due) {
    parts.push("review due " + day(plan.review_due));
  }
  let state = "current";
  if (plan.stale === true) {
    state = "stale";
  } else if (plan.stale === null) {
    state = "unknown";
  }
  const words = {
    current: "Reviewed and in date",
    stale: "OUT OF DATE: past its review date; it may no longer be right",
    unknown: "Could not check whether it is in date",
  };
  return el("p", { className: "review review-" + state, testid: "plan-review",
    "data-state": state }, words[state] + ". " + parts.join(", ") + ".");
}

function clinical(plan) {
  if (!Object.hasOwn(plan, "clinical")) {
    return null;
  }
  if (plan.clinical === null) {
    return el("p", { className: "hint", testid: "clinical-none" },
      "Clinical section: not shared with you (another trust's plan).");
  }
  const rows = [];
  for (const [key, title] of CLINICAL_HEADINGS) {
    if (plan.clinical[key]) {
      rows.push(el("dt", {}, title), el("dd", { testid: "clinical-" + key }, plan.clinical[key]));
    }
  }
  for (const action of plan.clinical.actions || []) {
    rows.push(el("dt", {}, "If " + action.when), el("dd", { testid: "clinical-action" },
      action.action));
  }
  return el("section", { className: "clinical", testid: "clinical" },
    el("h4", {}, "Clinical section (practitioners only)"),
    rows.length ? el("dl", {}, rows) : el("p", {}, "Nothing written in the clinical section."));
}

function plans(answer) {
  return answer.plans.map((plan) => {
    const contact = plan.crisis_contact;
    return el("article", { className: "plan", testid: "plan",
      "data-custodian": plan.custodian.organisation_code },
    el("h3", {}, "Crisis plan: " + custodianName(plan.custodian)),
    reviewState(plan),
    el("h4", {}, "How to approach"),
    el("p", { className: "advice", testid: "plan-advice" },
      plan.approach_advice || "No approach advice written in this plan."),
    contact ? el("p", { className: "contact", testid: "plan-contact" },
      contact.team + ": " + contact.phone + " (" + contact.hours + "). Out of hours: " +
      contact.out_of_hours + ".") : el("p", { testid: "plan-contact" },
      "No crisis contact in this plan."),
    clinical(plan));
  });
}

function sources(answer) {
  const missing = answer.sources.filter((s) => s.status === "unavailable" || s.status === "error");
  const summary = missing.length
    ? el("p", { className: "caution", testid: "card-sources-missing" },
      "Did not answer: " + missing.map((s) => sourceName(s) + " (" + SOURCE_STATUS[s.status] +
        ")").join("; ") + ". What they hold could not be checked.")
    : el("p", { testid: "card-sources-missing", "data-none": "true" }, "Every source answered.");
  const all = el("details", { className: "sources" }, el("summary", {}, "Every source asked"),
    el("ul", {}, answer.sources.map((s) => el("li", { testid: "source", "data-status": s.status },
      sourceName(s) + ": " + (SOURCE_STATUS[s.status] || s.status)))));
  return [summary, all];
}

/** The card for one answer; `role` adds the clinical section's heading for practitioners. */
export function flagCard(answer) {
  const held = answer.custodians.length
    ? el("p", { testid: "card-custodians" }, "Records held by: " +
      answer.custodians.map(custodianName).join(", ") + ".")
    : null;
  const documents = (answer.documents || []).length
    ? el("ul", { testid: "card-documents" }, answer.documents.map((d) =>
      el("li", {}, (d.title || "Crisis plan document") + " at " + d.custodian_code)))
    : null;
  return el("article", { className: "flag-card", testid: "flag-card",
    "data-lookup": answer.lookup_id },
  identity(answer),
  headline(answer),
  alerts(answer),
  answer.plans.map(callNow),
  plans(answer),
  held,
  documents,
  sources(answer),
  el("p", { className: "looked-up" }, "Looked up " + when(answer.looked_up_at) + "."),
  el("p", {}, el("a", { href: "/agreement", testid: "agreement-link" },
    "Why am I seeing this, and who will know")));
}
