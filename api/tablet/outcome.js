// The outcome of the incident, saved through the outbox, and closing the incident, which needs the
// network and every change sent, and then wipes the incident from the tablet.

import { ApiError, json, Offline } from "./api.js";
import { $, clear, el, instant, localInput, when } from "./dom.js";
import { conflictView } from "./assessment.js";
import * as outbox from "./outbox.js";
import { OUTCOME_CODES } from "./words.js";

let app = null;
let current = null; // {exists, etag, body}
const seenSent = new Set();

export function init(context) {
  app = context;
  const codes = $("o-codes");
  for (const [value, label] of OUTCOME_CODES) {
    codes.appendChild(el("label", { className: "check-row" },
      el("input", { type: "checkbox", value, testid: "o-code-" + value }), " " + label));
  }
  $("outcome-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("close").addEventListener("click", close);
  outbox.subscribe(onOutbox);
}

/** Nothing of the last incident's outcome stays on the screen. */
export function forget() {
  current = null;
  clear($("outcome-conflict"));
  $("outcome-conflict").hidden = true;
  $("outcome-state").textContent = "";
  fill(null);
}

function path() {
  return "/v1/incidents/" + app.incident.id + "/outcome";
}

export async function show() {
  if (!app.incident) {
    return;
  }
  // What the tablet knew stays until the record answers: with no signal it is all there is.
  current = current || { exists: false, etag: null, body: null };
  try {
    const read = await json("GET", path(), { incidentId: app.incident.id });
    current = { exists: true, etag: read.etag, body: read.body };
    fill(read.body);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      current = { exists: false, etag: null, body: null };
      fill(null);
    } else if (!(error instanceof Offline)) {
      app.say("The outcome could not be read: " + error.message, true);
    }
  }
  await showState();
}

function localFrom(value) {
  return value ? localInput(new Date(value)) : "";
}

function fill(outcome) {
  const o = outcome || { codes: [] };
  const codes = new Set(o.codes);
  for (const box of $("o-codes").querySelectorAll("input")) {
    box.checked = codes.has(box.value);
  }
  $("o-place").value = o.place_of_safety || "";
  $("o-conveyance").value = o.conveyance || "";
  $("o-notes").value = o.referral_notes || "";
  $("o-left").value = localFrom(o.left_scene_at);
  $("o-handover").value = localFrom(o.handover_at);
}

function read() {
  const notes = $("o-notes").value.trim();
  return {
    codes: [...$("o-codes").querySelectorAll("input:checked")].map((box) => box.value),
    place_of_safety: $("o-place").value || null,
    conveyance: $("o-conveyance").value || null,
    referral_notes: notes || null,
    left_scene_at: instant($("o-left").value),
    handover_at: instant($("o-handover").value),
  };
}

async function save() {
  const body = read();
  if (!body.codes.length) {
    app.say("Choose at least one outcome.", true);
    return;
  }
  const detained = body.codes.includes("s136_detention");
  if (detained !== Boolean(body.place_of_safety && body.conveyance)) {
    app.say(detained ? "A section 136 detention needs the place of safety and the conveyance."
      : "Place of safety and conveyance are only for a section 136 detention.", true);
    return;
  }
  const queued = (await outbox.waiting()).some((e) => e.resource === "outcome");
  await outbox.enqueue({
    incidentId: app.incident.id,
    method: "PUT",
    path: path(),
    readPath: path(),
    body,
    // None to record it the first time; the version read, to replace it.
    ifMatch: current.exists || queued ? current.etag : null,
    kind: "outcome",
    resource: "outcome",
    label: current.exists || queued ? "Outcome changed" : "Outcome recorded",
    author: app.author(),
  });
  app.say(navigator.onLine ? "Outcome saved." : "No signal: the outcome is kept on this tablet " +
    "and will be sent when the signal returns.");
}

async function showState() {
  const waiting = (await outbox.waiting()).filter((e) => e.resource === "outcome");
  if (!current) {
    // Forgotten meanwhile (a sign-out or a close).
    return;
  }
  const state = $("outcome-state");
  state.textContent = (current.exists
    ? "Recorded " + when(current.body.recorded_at) + " (version " + current.body.revision + ")."
    : "Not recorded yet.") + (waiting.length ? " A change is waiting to be sent." : "");
  state.dataset.recorded = String(current.exists);
}

async function onOutbox(all) {
  if (!current || !app.incident) {
    return;
  }
  const box = $("outcome-conflict");
  const conflict = all.find((e) => e.status === "conflict" && e.resource === "outcome");
  // A conflict already on screen stays as it is: the user may be half-way through choosing.
  const showing = conflict ? conflict.key + conflict.current.etag : "";
  if (showing !== box.dataset.showing) {
    box.dataset.showing = showing;
    clear(box);
  }
  box.hidden = !conflict;
  if (conflict && !box.firstChild) {
    box.appendChild(conflictView(conflict, () => show()));
  }
  const arrived = all.filter((e) => e.resource === "outcome" && e.status === "sent" &&
    !seenSent.has(e.key));
  for (const e of arrived) {
    seenSent.add(e.key);
  }
  if (arrived.length && navigator.onLine) {
    await show();
    return;
  }
  await showState();
}

async function close() {
  const waiting = await outbox.waiting();
  if (waiting.length) {
    app.say("Changes are still waiting to be sent (" + waiting.length + "): the incident can " +
      "be closed once they have reached the record.", true);
    return;
  }
  if (!navigator.onLine) {
    app.say("Closing needs the network: no signal.", true);
    return;
  }
  app.say("Closing the incident…");
  try {
    const closing = app.incident;
    await json("POST", "/v1/incidents/" + closing.id + "/close", {
      incidentId: closing.id, headers: { "Idempotency-Key": "close-" + closing.id },
    });
    await app.unbind();
    app.say("Incident " + closing.cad_reference + " is closed. Nothing about it is left on " +
      "this tablet.");
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      app.say("The incident cannot be closed yet: " + error.message, true);
    } else {
      app.say(error instanceof Offline ? "Closing needs the network: no signal."
        : "The incident was not closed: " + error.message, true);
    }
  }
}
