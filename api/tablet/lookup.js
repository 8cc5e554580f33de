// Look up a person: by NHS number on a keypad big enough for gloves (3-3-4 grouping, check digit
// checked before anything is sent), or by name, date of birth and postcode. Lookups need the
// network; the answers seen on this incident are kept on the tablet until it is closed.

import { ApiError, json, Offline } from "./api.js";
import { $, clear, el } from "./dom.js";
import { flagCard } from "./card.js";
import { groupNhsNumber, NHS_NUMBER_LENGTH, validNhsNumber } from "./nhs.js";

let app = null;
let digits = "";
let lastAnswer = null;

export function init(context) {
  app = context;
  const keypad = $("keypad");
  for (const key of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "delete"]) {
    const label = { clear: "Clear", delete: "Delete" }[key] || key;
    keypad.appendChild(el("button", { type: "button", className: "key key-" + key,
      testid: "key-" + key, "aria-label": key === "delete" ? "Delete last digit" : null,
      onclick: () => press(key) }, label));
  }
  $("number-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validNhsNumber(digits)) {
      lookUp({ nhs_number: digits });
    }
  });
  $("details-form").addEventListener("submit", (event) => {
    event.preventDefault();
    lookUpDetails();
  });
  $("by-number").addEventListener("click", () => mode(true));
  $("by-details").addEventListener("click", () => mode(false));
  $("add-subject").addEventListener("click", addSubject);
  showNumber();
}

function mode(byNumber) {
  $("number-form").hidden = !byNumber;
  $("details-form").hidden = byNumber;
  $("by-number").setAttribute("aria-pressed", String(byNumber));
  $("by-details").setAttribute("aria-pressed", String(!byNumber));
}

function press(key) {
  if (key === "clear") {
    digits = "";
  } else if (key === "delete") {
    digits = digits.slice(0, -1);
  } else if (digits.length < NHS_NUMBER_LENGTH) {
    digits += key;
  }
  showNumber();
}

function showNumber() {
  $("nhs-number").textContent = digits ? groupNhsNumber(digits) : "— — —";
  const check = $("nhs-check");
  const complete = digits.length === NHS_NUMBER_LENGTH;
  const valid = complete && validNhsNumber(digits);
  $("number-submit").disabled = !valid;
  check.className = "check" + (complete && !valid ? " invalid" : "");
  check.dataset.state = !complete ? "incomplete" : valid ? "valid" : "invalid";
  check.textContent = !complete
    ? (NHS_NUMBER_LENGTH - digits.length) + " digits to go"
    : valid ? "The number passes its check digit."
      : "This is not a valid NHS number: its check digit does not match. Check each digit.";
}

/** Answers live in this page's memory only: a tablet left or lost keeps none of them, so a
 * reload starts with an empty card (a lookup asks the partners again). */
export async function show() {}

export function forget() {
  lastAnswer = null;
  digits = "";
  showNumber();
  clear($("card"));
  $("card").hidden = true;
  $("record-person").hidden = true;
}

function render(answer) {
  lastAnswer = answer;
  const card = $("card");
  clear(card);
  card.appendChild(flagCard(answer));
  card.hidden = false;
  const person = answer.person;
  $("record-person").hidden = !person.nhs_number ||
    !["verified", "probable", "unverified", "not_found"].includes(person.identification);
}

async function lookUp(body) {
  if (!app.incident) {
    app.say("Open the incident first.", true);
    return;
  }
  if (!navigator.onLine) {
    app.say("A lookup asks the NHS partners now and needs the network: no signal. Try again " +
      "when the signal returns.", true);
    return;
  }
  app.say("Asking the partners…");
  clear($("card"));
  $("card").hidden = true;
  $("record-person").hidden = true;
  try {
    const answer = (await json("POST", "/v1/incidents/" + app.incident.id + "/flag-lookups",
      { body, incidentId: app.incident.id })).body;
    render(answer);
    app.say("Answer received.");
    // Beside the keypad on a landscape tablet; below it otherwise, so brought into view.
    $("card").scrollIntoView({ block: "start" });
  } catch (error) {
    if (error instanceof Offline) {
      app.say("A lookup needs the network: no signal. Nothing was looked up; try again when " +
        "the signal returns.", true);
    } else if (error instanceof ApiError && error.status === 429) {
      app.say("Too many lookups: " + error.message, true);
    } else {
      app.say("The lookup did not work: " + error.message, true);
    }
  }
}

function lookUpDetails() {
  const family = $("family").value.trim();
  const given = $("given").value.trim();
  const birthDate = $("birth-date").value;
  const postcode = $("postcode").value.trim().toUpperCase();
  if (!family || !given || !birthDate) {
    app.say("Give the family name, given name and date of birth.", true);
    return;
  }
  if (postcode && !/^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$/.test(postcode)) {
    app.say("That postcode is not in the usual form (LS1 6AE).", true);
    $("postcode").focus();
    return;
  }
  lookUp({ demographics: { family, given, birth_date: birthDate, postcode: postcode || null } });
}

async function addSubject() {
  if (!lastAnswer || !lastAnswer.person.nhs_number) {
    return;
  }
  await app.addSubject({ nhs_number: lastAnswer.person.nhs_number });
  $("record-person").hidden = true;
}
