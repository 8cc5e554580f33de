// The joint assessment of one person: every field the API takes, saved through the outbox (so it
// survives a lost signal), signed by the officer and by the practitioner. A change that meets
// someone else's is shown field by field and resolved by the user: nothing is overwritten unseen.

import { ApiError, json, Offline } from "./api.js";
import { $, clear, el, when } from "./dom.js";
import { groupNhsNumber } from "./nhs.js";
import * as outbox from "./outbox.js";
import { ALERT_CATEGORIES, POLICE_POWERS, RISK_LEVELS, ROLE_NAMES } from "./words.js";

let app = null;
let subjects = [];
let current = null; // {subjectId, exists, etag, content, status, signatures}
// Writes whose arrival this screen has already read back from the record.
const seenSent = new Set();

const FIELD_NAMES = {
  presenting_situation: "Presenting situation",
  "risk_to_self.level": "Risk to self", "risk_to_self.rationale": "Risk to self: why",
  "risk_to_others.level": "Risk to others", "risk_to_others.rationale": "Risk to others: why",
  "risk_from_others.level": "Risk from others",
  "risk_from_others.rationale": "Risk from others: why",
  intoxication: "Intoxication", physical_health_concerns: "Physical health concerns",
  "mental_capacity.considered": "Capacity considered", "mental_capacity.outcome": "Capacity",
  "mental_capacity.notes": "Capacity notes", consent_to_share: "Consent to share",
  legal_basis_without_consent: "Legal basis without consent", s136_considered: "s136 considered",
  police_powers_used: "Police powers used", crisis_flag_consulted: "Crisis flag consulted",
  crisis_flag_changed_decision: "Crisis flag changed the decision", decision: "Decision",
  decision_rationale: "Rationale",
};
const OUTCOME_FIELDS = {
  codes: "Outcome", place_of_safety: "Place of safety", conveyance: "Conveyance",
  referral_notes: "Referral notes", left_scene_at: "Left the scene", handover_at: "Handover",
};

export function init(context) {
  app = context;
  const risks = $("a-risks");
  for (const [category, name] of ALERT_CATEGORIES) {
    risks.appendChild(el("div", { className: "field" },
      el("label", { for: "a-" + category }, name),
      el("select", { id: "a-" + category, testid: "a-" + category },
        RISK_LEVELS.map(([value, label]) => el("option", { value }, label)))));
    risks.appendChild(el("div", { className: "field" },
      el("label", { for: "a-" + category + "-why" }, name + ": why (optional)"),
      el("input", { id: "a-" + category + "-why", type: "text", maxLength: 2000,
        testid: "a-" + category + "-why" })));
  }
  const powers = $("a-powers");
  for (const [value, label] of POLICE_POWERS) {
    powers.appendChild(el("label", { className: "check-row" },
      el("input", { type: "checkbox", value, testid: "a-power-" + value }), " " + label));
  }
  $("a-consent").addEventListener("change", showBasis);
  $("subject").addEventListener("change", () => load($("subject").value));
  $("assessment-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("sign").addEventListener("click", sign);
  outbox.subscribe(onOutbox);
}

/** Nothing of the last person's assessment stays on the screen. */
export function forget() {
  current = null;
  subjects = [];
  clear($("subject"));
  clear($("signatures"));
  clear($("conflict"));
  $("conflict").hidden = true;
  $("assessment-state").textContent = "";
  fill(null);
}

function showBasis() {
  $("a-basis-field").hidden = $("a-consent").value === "given";
}

function path() {
  return "/v1/incidents/" + app.incident.id + "/subjects/" + current.subjectId + "/assessment";
}

function subjectLabel(subject) {
  return subject.nhs_number ? "NHS number " + groupNhsNumber(subject.nhs_number)
    : "Described: " + subject.description;
}

export async function show() {
  if (!app.incident) {
    return;
  }
  busy(true);
  const basis = $("a-basis");
  if (!basis.options.length && app.agreement) {
    for (const legal of app.agreement.legal_basis) {
      basis.appendChild(el("option", { value: legal.code }, legal.text.slice(0, 90)));
    }
  }
  try {
    subjects = (await json("GET", "/v1/incidents/" + app.incident.id + "/subjects",
      { incidentId: app.incident.id })).body;
  } catch (error) {
    if (!(error instanceof Offline)) {
      app.say("The people on this incident could not be read: " + error.message, true);
    }
  }
  const select = $("subject");
  const chosen = select.value;
  clear(select);
  for (const subject of subjects) {
    select.appendChild(el("option", { value: subject.id }, subjectLabel(subject)));
  }
  if (!subjects.length) {
    select.appendChild(el("option", { value: "" }, "No one yet: look the person up and add them"));
    $("assessment-form").hidden = true;
    busy(false);
    return;
  }
  $("assessment-form").hidden = false;
  select.value = subjects.some((s) => s.id === chosen) ? chosen : subjects[subjects.length - 1].id;
  await load(select.value);
}

/** While the record is read the form is closed to typing: what it brings would replace it. */
function busy(yes) {
  const form = $("assessment-form");
  form.dataset.ready = String(!yes);
  form.setAttribute("aria-busy", String(yes));
  for (const control of form.elements) {
    control.disabled = yes;
  }
}

async function load(subjectId) {
  busy(true);
  try {
    await readRecord(subjectId);
  } finally {
    busy(false);
    $("sign").disabled = !current || (!current.exists && !(await outbox.waiting()).some(
      (e) => e.resource === resource()));
  }
}

async function readRecord(subjectId) {
  // What the tablet knew stays until the record answers: with no signal it is all there is.
  if (!current || current.subjectId !== subjectId) {
    current = { subjectId, exists: false, etag: null, content: null, status: null,
      signatures: [], known: false };
  }
  try {
    const read = await json("GET", path(), { incidentId: app.incident.id });
    current = { subjectId, exists: true, etag: read.etag, content: read.body.content,
      status: read.body.status, signatures: read.body.signatures, revision: read.body.revision,
      known: true };
    fill(read.body.content);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      current = { subjectId, exists: false, etag: null, content: null, status: null,
        signatures: [], known: true };
      fill(null);
    } else if (error instanceof Offline) {
      app.say("No signal: the assessment on record cannot be read now; what you save is kept " +
        "on this tablet and sent when the signal returns.", true);
    } else {
      app.say("The assessment could not be read: " + error.message, true);
    }
  }
  await showState();
}

function fill(content) {
  const c = content || {};
  $("a-situation").value = c.presenting_situation || "";
  for (const [category] of ALERT_CATEGORIES) {
    $("a-" + category).value = (c[category] && c[category].level) || "none";
    $("a-" + category + "-why").value = (c[category] && c[category].rationale) || "";
  }
  $("a-intoxication").value = c.intoxication || "unknown";
  $("a-physical").value = c.physical_health_concerns || "";
  const capacity = c.mental_capacity || { considered: false };
  $("a-capacity").value = capacity.considered ? capacity.outcome || "not_determined" : "";
  $("a-capacity-notes").value = capacity.notes || "";
  $("a-consent").value = c.consent_to_share || "given";
  if (c.legal_basis_without_consent) {
    $("a-basis").value = c.legal_basis_without_consent;
  }
  showBasis();
  $("a-s136").checked = Boolean(c.s136_considered);
  const powers = new Set(c.police_powers_used || []);
  for (const box of $("a-powers").querySelectorAll("input")) {
    box.checked = powers.has(box.value);
  }
  $("a-flag").checked = content === null ? true : Boolean(c.crisis_flag_consulted);
  $("a-flag-changed").value = c.crisis_flag_changed_decision === true ? "yes"
    : c.crisis_flag_changed_decision === false ? "no" : "";
  $("a-decision").value = c.decision || "";
  $("a-rationale").value = c.decision_rationale || "";
  $("a-amend").value = "";
}

function text(id) {
  const value = $(id).value.trim();
  return value ? value : null;
}

function read() {
  const content = { presenting_situation: text("a-situation") };
  for (const [category] of ALERT_CATEGORIES) {
    content[category] = { level: $("a-" + category).value, rationale: text("a-" + category + "-why") };
  }
  content.intoxication = $("a-intoxication").value;
  content.physical_health_concerns = text("a-physical");
  const capacity = $("a-capacity").value;
  content.mental_capacity = capacity
    ? { considered: true, outcome: capacity, notes: text("a-capacity-notes") }
    : { considered: false, outcome: null, notes: text("a-capacity-notes") };
  content.consent_to_share = $("a-consent").value;
  content.legal_basis_without_consent = content.consent_to_share === "given" ? null
    : $("a-basis").value || null;
  content.s136_considered = $("a-s136").checked;
  content.police_powers_used = [...$("a-powers").querySelectorAll("input:checked")]
    .map((box) => box.value);
  content.crisis_flag_consulted = $("a-flag").checked;
  const changed = $("a-flag-changed").value;
  content.crisis_flag_changed_decision = !content.crisis_flag_consulted || changed === "" ? null
    : changed === "yes";
  content.decision = text("a-decision");
  content.decision_rationale = text("a-rationale");
  return content;
}

function author() {
  return app.author();
}

/** The newest content this tablet knows: the record's, or the user's own change still queued. */
async function newest() {
  const waiting = (await outbox.waiting()).filter((e) => e.resource === resource() &&
    e.kind === "assessment");
  return waiting.length ? waiting[waiting.length - 1].body.content : current.content;
}

function resource() {
  return "assessment:" + current.subjectId;
}

async function save() {
  const content = read();
  const missing = ["presenting_situation", "decision", "decision_rationale"]
    .filter((name) => !content[name]);
  for (const [category] of ALERT_CATEGORIES) {
    if (content[category].level !== "none" && !content[category].rationale) {
      missing.push(category + ".rationale");
    }
  }
  if (content.consent_to_share !== "given" && !content.legal_basis_without_consent) {
    missing.push("legal_basis_without_consent");
  }
  if (content.crisis_flag_consulted && content.crisis_flag_changed_decision === null) {
    missing.push("crisis_flag_changed_decision");
  }
  if (missing.length) {
    app.say("Fill in: " + missing.map((name) => FIELD_NAMES[name]).join(", ") + ".", true);
    return;
  }
  if (content.police_powers_used.includes("section_136") && !content.s136_considered) {
    app.say("Section 136 was used: tick “Section 136 considered” too.", true);
    return;
  }
  const locked = current.status === "locked";
  const reason = text("a-amend");
  if (locked && (!reason || reason.length < 10)) {
    $("a-amend-field").hidden = false;
    app.say("This assessment is signed by both and locked: give the reason for the amendment " +
      "(at least 10 characters).", true);
    $("a-amend").focus();
    return;
  }
  const queued = (await outbox.waiting()).some((e) => e.resource === resource());
  const creating = !current.exists && !queued;
  await outbox.enqueue({
    incidentId: app.incident.id,
    method: creating ? "POST" : "PUT",
    path: path(),
    readPath: path(),
    body: locked ? { content, amendment_reason: reason } : { content },
    ifMatch: creating ? undefined : current.etag,
    kind: "assessment",
    resource: resource(),
    label: creating ? "Assessment started" : locked ? "Assessment amended" : "Assessment changed",
    author: author(),
  });
  app.say(navigator.onLine ? "Assessment saved." : "No signal: the assessment is kept on this " +
    "tablet and will be sent when the signal returns.");
}

async function sign() {
  const mine = await newest();
  if (mine === null) {
    app.say("Save the assessment before signing it.", true);
    return;
  }
  const { sameContent } = outbox;
  if (!sameContent(read(), mine)) {
    app.say("You have changes not saved: save them first, then sign what is saved.", true);
    return;
  }
  await outbox.enqueue({
    incidentId: app.incident.id,
    method: "POST",
    path: path() + "/signatures",
    readPath: path(),
    body: null,
    ifMatch: current.etag,
    kind: "signature",
    signerRole: app.session.role,
    resource: resource(),
    label: "Assessment signed (" + (ROLE_NAMES[app.session.role] || app.session.role) + ")",
    author: author(),
  });
  app.say(navigator.onLine ? "Signed." : "No signal: your signature is kept on this tablet and " +
    "will be sent when the signal returns.");
}

async function showState() {
  const state = $("assessment-state");
  const all = await outbox.waiting();
  if (!current) {
    // Forgotten meanwhile (a sign-out or a close).
    return;
  }
  const waiting = all.filter((e) => e.resource === resource());
  const parts = [];
  if (!current.exists) {
    parts.push("Not started on the record yet.");
  } else {
    parts.push("Version " + current.revision + ", " + (current.status === "locked"
      ? "signed by both and locked: a change is an amendment with a reason" : "draft") + ".");
  }
  if (waiting.length) {
    parts.push(waiting.length + " change(s) waiting to be sent.");
  }
  state.textContent = parts.join(" ");
  state.dataset.status = current.status || "none";
  $("a-amend-field").hidden = current.status !== "locked";
  $("sign").disabled = !current.exists && !waiting.length;
  const list = $("signatures");
  clear(list);
  for (const signature of current.signatures) {
    list.appendChild(el("li", { testid: "signature", "data-role": signature.role },
      "Signed by " + signature.signer.name + " (" + (ROLE_NAMES[signature.role] || signature.role) +
      ", " + signature.signer.organisation_code + ") on version " + signature.revision + ", " +
      when(signature.signed_at)));
  }
  if (!current.signatures.length) {
    list.appendChild(el("li", {}, "Not signed yet: the officer and the practitioner each sign."));
  }
}

function flatten(value, prefix, out) {
  for (const [key, item] of Object.entries(value || {})) {
    const name = prefix ? prefix + "." + key : key;
    if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      flatten(item, name, out);
    } else {
      out[name] = item;
    }
  }
  return out;
}

function said(value) {
  if (value === null || value === undefined || value === "") {
    return "(empty)";
  }
  if (Array.isArray(value)) {
    return value.length ? value.join(", ") : "(none)";
  }
  return String(value);
}

function unflatten(flat) {
  const out = {};
  for (const [name, value] of Object.entries(flat)) {
    const parts = name.split(".");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      node[part] = node[part] || {};
      node = node[part];
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

/** What changed: the record now against the user's change, each field chosen by the user. */
export function conflictView(entry, onDone) {
  const changedAt = entry.current.body.updated_at || entry.current.body.recorded_at;
  const outcome = entry.kind === "outcome";
  const headings = outcome ? OUTCOME_FIELDS : FIELD_NAMES;
  // Only what the user can write is compared and sent back.
  const writable = (flat) => Object.fromEntries(Object.entries(flat)
    .filter(([name]) => Object.hasOwn(headings, name)));
  const theirs = writable(flatten(outcome ? entry.current.body : entry.current.body.content, "",
    {}));
  const mine = writable(flatten(outcome ? entry.body : entry.body.content, "", {}));
  const names = Object.keys(headings).filter(
    (name) => !outbox.sameContent({ value: theirs[name] }, { value: mine[name] }));
  const rows = names.map((name, index) => el("fieldset", { className: "diff", testid: "diff-row",
    "data-field": name },
  el("legend", {}, headings[name]),
  el("label", { className: "check-row" }, el("input", { type: "radio", name: "pick-" + index,
    value: "theirs", testid: "keep-theirs", checked: true }), " On record now: " +
    said(theirs[name])),
  el("label", { className: "check-row" }, el("input", { type: "radio", name: "pick-" + index,
    value: "mine", testid: "use-mine" }), " Yours: " + said(mine[name]))));
  const apply = el("button", { type: "button", className: "primary", testid: "resolve-conflict" },
    "Save with these choices");
  const drop = el("button", { type: "button", className: "quiet", testid: "discard-mine" },
    "Discard my change");
  const box = el("div", {},
    el("p", {}, "Someone changed this record after you read it" + (changedAt ? ", at " +
      when(changedAt) : "") + " (now version " + String(entry.current.etag).replace(/"/g, "") +
      "). Choose, for each field that differs, what to keep."),
    rows.length ? rows : el("p", {}, "The fields are the same; only the version moved on."),
    el("div", { className: "row" }, apply, drop));
  apply.onclick = async () => {
    const merged = { ...theirs };
    rows.forEach((row, index) => {
      if (row.querySelector("input[value=mine]").checked) {
        merged[names[index]] = mine[names[index]];
      }
    });
    const content = unflatten(merged);
    const body = entry.kind === "outcome" ? content
      : { ...entry.body, content };
    await outbox.resolve(entry, body);
    onDone();
  };
  drop.onclick = async () => {
    await outbox.discard(entry);
    onDone();
  };
  return box;
}

function signatureConflict(conflict) {
  const again = el("button", { type: "button", className: "primary", testid: "sign-current" },
    "Read the current version");
  again.onclick = async () => {
    await outbox.discard(conflict);
    await load(current.subjectId);
    app.say("The assessment changed before your signature reached it: read it, then sign " +
      "again.", true);
  };
  return el("div", {}, el("p", {}, "The assessment changed before your signature reached it, " +
    "so it was not signed. Read what is on record now and sign again if you agree."), again);
}

async function onOutbox(all) {
  if (!current || !app.incident) {
    return;
  }
  const subjectId = current.subjectId;
  const box = $("conflict");
  const conflict = all.find((e) => e.status === "conflict" && e.resource === resource());
  // A conflict already on screen stays as it is: the user may be half-way through choosing.
  const showing = conflict ? conflict.key + conflict.current.etag : "";
  if (showing !== box.dataset.showing) {
    box.dataset.showing = showing;
    clear(box);
  }
  box.hidden = !conflict;
  if (conflict && !box.firstChild) {
    box.appendChild(conflict.kind === "signature" ? signatureConflict(conflict)
      : conflictView(conflict, () => load(subjectId)));
  }
  const arrived = all.filter((e) => e.resource === resource() && e.status === "sent" &&
    !seenSent.has(e.key));
  if (arrived.length) {
    for (const e of arrived) {
      seenSent.add(e.key);
    }
    if (navigator.onLine) {
      await load(subjectId);
      return;
    }
  }
  await showState();
}
