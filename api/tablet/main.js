// The app: who is signed in, which incident the tablet is bound to, which screen is shown, the
// signal, and the writes kept on the tablet. Each screen is a module of its own.

import * as api from "./api.js";
import * as assessment from "./assessment.js";
import { $, clear, el, when } from "./dom.js";
import * as incidentScreen from "./incident.js";
import * as lookup from "./lookup.js";
import * as outbox from "./outbox.js";
import * as outcome from "./outcome.js";
import * as signin from "./signin.js";
import * as store from "./store.js";

const SCREENS = { incident: incidentScreen, lookup, assessment, outcome };
const FLUSH_EVERY_MS = 5000;

const app = {
  session: null,
  incident: null,
  agreement: null,
  screen: "incident",

  say(message, isError) {
    const status = $("status");
    status.textContent = message;
    status.className = "status" + (isError ? " error" : "");
  },

  /** Who made a write: it is sent only while the same person is signed in. */
  author() {
    const s = app.session;
    return s ? [s.name, s.role, s.organisation_code].join("|") : null;
  },

  async bindTo(incident) {
    app.incident = incident;
    await store.setState("incident", incident);
    await store.setState("session", app.session);
    $("hand-over").hidden = false;
    incidentScreen.showBound();
    showTabs();
    await go("lookup");
  },

  /** The incident is over for this tablet: everything about it goes. */
  async unbind() {
    app.incident = null;
    await store.wipe();
    forgetScreens();
    $("hand-over").hidden = true;
    incidentScreen.showBound();
    showTabs();
    await go("incident");
    await outbox.refresh();
  },

  async addSubject(body) {
    await outbox.enqueue({
      incidentId: app.incident.id,
      method: "POST",
      path: "/v1/incidents/" + app.incident.id + "/subjects",
      body,
      kind: "subject",
      resource: "subjects",
      label: "Person added to the incident",
      author: app.author(),
    });
    app.say(navigator.onLine ? "Added to the incident: the assessment can start." : "No signal: " +
      "kept on this tablet, and added when the signal returns.");
  },
};

/** What the screens show of people goes with them (the record keeps it). */
function forgetScreens() {
  lookup.forget();
  assessment.forget();
  outcome.forget();
}

function showTabs() {
  const bound = app.session !== null && app.incident !== null;
  $("tabs").hidden = app.session === null;
  for (const button of $("tabs").querySelectorAll("button")) {
    button.disabled = button.dataset.screen !== "incident" && !bound;
  }
}

async function go(name) {
  app.screen = name;
  for (const [screen] of Object.entries(SCREENS)) {
    $("screen-" + screen).hidden = screen !== name || app.session === null;
  }
  for (const button of $("tabs").querySelectorAll("button")) {
    if (button.dataset.screen === name) {
      button.setAttribute("aria-current", "page");
    } else {
      button.removeAttribute("aria-current");
    }
  }
  if (app.session !== null) {
    await SCREENS[name].show();
  }
}

// The signal

function showNetwork() {
  const online = navigator.onLine;
  const network = $("network");
  network.textContent = online ? "Signal: online" : "No signal: changes are kept on this tablet";
  network.dataset.online = String(online);
  if (online && app.session) {
    outbox.flush(app.author());
  }
}

// The writes kept on the tablet

const STATUS_WORDS = {
  pending: "Waiting to be sent",
  sent: "Sent",
  conflict: "Not sent: someone else changed the record; your choice is needed",
  failed: "Refused by the service",
  discarded: "Dropped by you",
};

const BLOCKED_WORDS = {
  offline: "No signal: they will be sent, in order, when the signal returns.",
  session: "Your sign-in has ended: sign in again to send them. They stay on this tablet.",
  author: "They were made by someone who is not signed in now: that person must sign in " +
    "again to send them.",
  conflict: "Sending has stopped at a change that met someone else's: resolve it to go on.",
  failed: "Sending has stopped at a change the service refused.",
};

function renderOutbox(all, blocked) {
  const items = $("outbox-items");
  clear(items);
  const waiting = all.filter((e) => e.status !== "sent" && e.status !== "discarded");
  const sent = all.filter((e) => e.status === "sent");
  $("outbox").hidden = all.length === 0;
  for (const entry of all) {
    const words = STATUS_WORDS[entry.status] + (entry.status === "sent" && entry.sentAt
      ? " " + when(entry.sentAt) : "") + (entry.problem ? ": " + (entry.problem.detail ||
      entry.problem.title) : "");
    const item = el("li", { className: "outbox-item status-" + entry.status,
      testid: "outbox-item", "data-status": entry.status, "data-kind": entry.kind },
    el("span", { className: "outbox-label" }, entry.label), " — ",
    el("span", { className: "outbox-status" }, words));
    if (entry.status === "failed") {
      const drop = el("button", { type: "button", className: "quiet", testid: "drop-failed" },
        "Drop it and send the rest");
      drop.onclick = () => outbox.discard(entry);
      item.appendChild(drop);
    }
    items.appendChild(item);
  }
  const summary = waiting.length + " waiting to be sent, " + sent.length + " sent." +
    (waiting.length && blocked ? " " + BLOCKED_WORDS[blocked] : "");
  $("outbox-summary").textContent = summary;
  $("outbox-summary").dataset.waiting = String(waiting.length);
  if (blocked === "session" && app.session !== null) {
    sessionEnded();
  }
}

// Signing in and out

async function sessionEnded() {
  app.session = null;
  api.forgetTokens();
  // Answers were for the person who looked; the writes wait for them to sign in again.
  await store.forgetAnswers();
  forgetScreens();
  await signin.showSignedOut();
  showTabs();
  await go(app.screen);
  const waiting = await outbox.waiting();
  app.say("Your sign-in has ended." + (waiting.length ? " " + waiting.length + " change(s) wait " +
    "on this tablet: sign in again to send them." : " Sign in again to go on."), true);
}

async function signOut() {
  const waiting = await outbox.waiting();
  if (waiting.length && !(await signin.confirmLoss(waiting.length))) {
    app.say("Still signed in; your changes are kept.");
    return;
  }
  app.say("Signing out…");
  let ended = { provider_sign_out_url: null };
  let reached = true;
  try {
    ended = await api.signOut();
  } catch (error) {
    reached = false;
  }
  app.session = null;
  app.incident = null;
  await store.wipe();
  forgetScreens();
  showTabs();
  await go("incident");
  await outbox.refresh();
  const provider = ended.provider_sign_out_url;
  if (provider && /^https?:\/\//.test(provider)) {
    location.assign(provider);
    return;
  }
  await signin.showSignedOut();
  app.say(reached ? "Signed out. Nothing from this incident is left on this tablet."
    : "Wiped from this tablet, but the service could not be reached to end your sign-in: it " +
      "ends by itself after an hour unused.", !reached);
}

/** The officer hands the tablet to the practitioner: the incident stays, their sign-in ends. */
async function handOver() {
  const waiting = await outbox.waiting();
  if (waiting.length) {
    app.say("Changes are still waiting to be sent: hand over once they have reached the " +
      "record, so they are sent as yours.", true);
    return;
  }
  try {
    await api.signOut();
  } catch (error) {
    app.say("Handing over needs the network to end your sign-in: no signal.", true);
    return;
  }
  app.session = null;
  await store.forgetAnswers();
  forgetScreens();
  showTabs();
  await go(app.screen);
  await signin.showSignedOut();
  app.say("Your sign-in has ended; the incident stays on this tablet. Colleague: sign in to " +
    "work on " + (app.incident ? app.incident.cad_reference : "it") + ".");
  $("account-title").focus();
}

function samePerson(one, other) {
  return one.name === other.name && one.role === other.role &&
    one.organisation_code === other.organisation_code;
}

// With no signal the sign-in cannot be checked: the tablet trusts its last check for no longer
// than the API would keep an unused sign-in (an hour), and never past the sign-in's end.
const OFFLINE_TRUST_MS = 60 * 60 * 1000;

function stillTrusted(saved) {
  return Boolean(saved && saved.checked_at &&
    Date.now() - saved.checked_at < OFFLINE_TRUST_MS &&
    Date.parse(saved.expires_at) > Date.now());
}

async function signedIn(session, verified = true) {
  // When the API last said this sign-in is live: a session saved on the tablet carries it.
  app.session = verified ? { ...session, checked_at: Date.now() } : session;
  outbox.setAuthor(app.author());
  if (app.agreement === null) {
    app.agreement = await api.readAgreement().catch(() => null);
  }
  signin.showSignedIn(session);
  const stored = await store.getState("incident");
  if (stored) {
    const before = await store.getState("session");
    app.incident = stored;
    if (before && !samePerson(before, session)) {
      // Someone else now: what the last person looked up is not theirs to see.
      await store.forgetAnswers();
    }
    await store.setState("session", app.session);
  }
  $("hand-over").hidden = app.incident === null;
  incidentScreen.showBound();
  showTabs();
  await go(app.incident ? "lookup" : "incident");
  outbox.flush(app.author());
}

async function boot() {
  const result = signin.signInResult();
  if (result) {
    app.say(result, true);
  }
  // Answers were never kept on the tablet; clear any an older version of the app left.
  await store.forgetAnswers();
  let session = null;
  let verified = true;
  try {
    session = await api.readSession();
  } catch (error) {
    if (error instanceof api.Offline) {
      // No signal: carry on with the incident this tablet holds, for the person who held it,
      // only while their sign-in would still be live.
      const saved = await store.getState("session");
      if (stillTrusted(saved)) {
        session = saved;
        verified = false;
        app.say("No signal: working offline. Lookups need the network.", true);
      }
    }
  }
  if (session) {
    await signedIn(session, verified);
  } else {
    await signin.showSignedOut();
    await store.forgetAnswers();
    const waiting = await outbox.waiting();
    if (waiting.length) {
      app.say(waiting.length + " change(s) wait on this tablet: sign in again to send them.",
        true);
    }
    showTabs();
  }
  await outbox.refresh();
}

// Theme: dark from 7 in the evening to 7 in the morning, unless the user says otherwise.

function setTheme(dark) {
  document.documentElement.classList.toggle("dark", dark);
  $("theme").setAttribute("aria-pressed", String(dark));
}

/** Back in signal with no one signed in on this page: the sign-in may still be live. */
async function recheckSignIn() {
  if (app.session !== null) {
    return;
  }
  try {
    await signedIn(await api.readSession());
  } catch (error) {
    // Still signed out (or no signal after all): the sign-in buttons stay.
  }
}

function start() {
  const hour = new Date().getHours();
  setTheme(hour >= 19 || hour < 7);
  $("theme").addEventListener("click", () =>
    setTheme(!document.documentElement.classList.contains("dark")));
  for (const button of $("tabs").querySelectorAll("button")) {
    button.addEventListener("click", () => go(button.dataset.screen));
  }
  $("sign-out").addEventListener("click", signOut);
  $("hand-over").addEventListener("click", handOver);
  window.addEventListener("online", showNetwork);
  window.addEventListener("online", recheckSignIn);
  window.addEventListener("offline", showNetwork);
  outbox.subscribe(renderOutbox);
  for (const screen of Object.values(SCREENS)) {
    screen.init(app);
  }
  showNetwork();
  setInterval(async () => {
    if (navigator.onLine && app.session && (await outbox.waiting()).length) {
      outbox.flush(app.author());
    }
  }, FLUSH_EVERY_MS);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(() => {
      // Without the worker the app still works; it cannot open with no signal.
    });
  }
  boot();
}

start();
