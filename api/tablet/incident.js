// Pick or open the incident and bind the tablet to it: every later call uses a token bound to it.

import { ApiError, json, Offline, readAgreement, token } from "./api.js";
import { $, clear, el, instant, localInput, when } from "./dom.js";
import { ATTENDANCE } from "./words.js";

let app = null;

export function init(context) {
  app = context;
  $("reason").addEventListener("change", () => {
    $("reason-text-field").hidden = $("reason").value !== "other";
  });
  $("incident-form").addEventListener("submit", openIncident);
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    bind($("join-id").value.trim().toLowerCase());
  });
}

async function fillTrusts() {
  const select = $("trust");
  if (select.options.length) {
    return;
  }
  try {
    const agreement = await readAgreement();
    app.agreement = agreement;
    select.appendChild(el("option", { value: "" }, "None named"));
    for (const organisation of agreement.organisations) {
      if (organisation.kind === "nhs_trust") {
        select.appendChild(el("option", { value: organisation.code },
          organisation.name + " (" + organisation.code + ")"));
      }
    }
  } catch (error) {
    app.say("The list of partner trusts could not be read: " + error.message, true);
  }
}

function describe(incident) {
  return incident.cad_reference + ", called " + when(incident.time_of_call_at);
}

async function listOpen() {
  const list = $("incidents");
  clear(list);
  try {
    const page = (await json("GET", "/v1/incidents?status=open&limit=20")).body;
    for (const incident of page.items) {
      list.appendChild(el("li", {}, el("button", { type: "button", className: "choice",
        testid: "incident-" + incident.cad_reference, onclick: () => bind(incident.id) },
      describe(incident))));
    }
    if (!page.items.length) {
      list.appendChild(el("li", { testid: "no-incidents" }, "You have no open incidents."));
    }
  } catch (error) {
    list.appendChild(el("li", {}, error instanceof Offline
      ? "Your incidents cannot be listed: no signal." : "Your incidents could not be listed: " +
        error.message));
  }
}

export async function show() {
  const officer = app.session && app.session.role === "officer";
  $("open-new").hidden = !officer;
  $("join-form").hidden = officer;
  $("incidents").parentElement.querySelector("h3").hidden = !officer;
  $("incidents").hidden = !officer;
  showBound();
  if (officer && !app.incident) {
    if (!$("called-at").value) {
      $("called-at").value = localInput();
    }
    await Promise.all([fillTrusts(), listOpen()]);
  }
}

export function showBound() {
  const incident = app.incident;
  $("bound").hidden = incident === null;
  $("incident-choice").hidden = incident !== null;
  for (const id of ["bound-cad", "bound-called", "bound-reason", "bound-area", "bound-trust",
    "bound-id"]) {
    $(id).textContent = "";
  }
  if (incident) {
    $("bound-cad").textContent = incident.cad_reference;
    $("bound-called").textContent = "called " + when(incident.time_of_call_at);
    $("bound-reason").textContent = ATTENDANCE[incident.attendance_reason] +
      (incident.attendance_reason_text ? " (" + incident.attendance_reason_text + ")" : "");
    $("bound-area").textContent = incident.location.area_code ||
      (incident.location.latitude !== null ? incident.location.latitude + ", " +
        incident.location.longitude : "not given");
    $("bound-trust").textContent = incident.partner_trust_code || "none named";
    $("bound-id").textContent = incident.id;
  }
}

/** Binds the tablet to an incident the signed-in person may work on. */
export async function bind(incidentId) {
  if (!/^[0-9a-f-]{36}$/.test(incidentId)) {
    app.say("That is not an incident reference: it has 36 letters, digits and dashes.", true);
    return;
  }
  app.say("Opening the incident…");
  try {
    await token(incidentId);
    const incident = (await json("GET", "/v1/incidents/" + incidentId, { incidentId })).body;
    await app.bindTo(incident);
    app.say("Working on " + incident.cad_reference + ".");
  } catch (error) {
    if (error instanceof ApiError && [400, 403, 404].includes(error.status)) {
      app.say("This incident cannot be opened with your account: it is not yours or your " +
        "trust's, or it does not exist.", true);
    } else {
      app.say(error instanceof Offline ? "Opening an incident needs the network: no signal."
        : error.message, true);
    }
  }
}

async function openIncident(event) {
  event.preventDefault();
  const reason = $("reason").value;
  const area = $("area").value.trim().toUpperCase();
  const body = {
    cad_reference: $("cad").value.trim().toUpperCase(),
    time_of_call_at: instant($("called-at").value),
    arrival_at: instant($("arrived-at").value),
    location: area ? { area_code: area } : {},
    attendance_reason: reason,
    attendance_reason_text: reason === "other" ? $("reason-text").value.trim() || null : null,
    triage_mode: $("mode").value,
    partner_trust_code: $("trust").value || null,
  };
  if (!/^[A-Z0-9][A-Z0-9-]{2,39}$/.test(body.cad_reference)) {
    app.say("The CAD reference is 3 to 40 capital letters, digits and dashes.", true);
    $("cad").focus();
    return;
  }
  if (!body.time_of_call_at) {
    app.say("Give the time of the call.", true);
    $("called-at").focus();
    return;
  }
  app.say("Opening the incident…");
  try {
    // One key for this form's content: pressing again after a lost answer opens it once.
    const key = "open-" + body.cad_reference + "-" + body.time_of_call_at;
    const opened = await json("POST", "/v1/incidents", { body, headers: { "Idempotency-Key": key } });
    $("incident-form").reset();
    $("called-at").value = "";
    await bind(opened.body.id);
  } catch (error) {
    app.say(error instanceof Offline ? "Opening an incident needs the network: no signal."
      : "The incident was not opened: " + error.message, true);
  }
}
