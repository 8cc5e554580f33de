// The account panel: sign in with the organisation's provider, who is signed in, sign out, and
// hand the tablet over to a colleague without losing the incident.

import { listProviders } from "./api.js";
import { $, clear, el } from "./dom.js";
import { ROLE_NAMES, SIGN_IN_RESULTS } from "./words.js";

let providersListed = false;

/** The outcome of a sign-in the provider sent the browser back from, said once. */
export function signInResult() {
  const query = new URLSearchParams(location.search);
  const result = query.get("sign_in");
  if (result === null) {
    return null;
  }
  query.delete("sign_in");
  const rest = query.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  return Object.hasOwn(SIGN_IN_RESULTS, result) ? SIGN_IN_RESULTS[result] : SIGN_IN_RESULTS.failed;
}

export async function showSignedOut() {
  $("checking").hidden = true;
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  if (providersListed) {
    return;
  }
  let providers = [];
  try {
    providers = await listProviders();
    providersListed = true;
  } catch (error) {
    providers = [];
  }
  const list = $("providers");
  clear(list);
  for (const provider of providers) {
    const href = "/auth/login?" +
      new URLSearchParams({ provider: provider.id, return_to: "/app" }).toString();
    list.appendChild(el("li", {}, el("a", { className: "sign-in", href,
      testid: "sign-in-" + provider.id }, "Sign in with " + provider.title)));
  }
  if (!providers.length) {
    list.appendChild(el("li", {}, providersListed
      ? "No sign-in is set up here: ask your administrator."
      : "Signing in needs the network: no signal now."));
  }
}

export function showSignedIn(session) {
  $("checking").hidden = true;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  $("who-name").textContent = session.name;
  $("who-role").textContent = ROLE_NAMES[session.role] || session.role;
  $("who-organisation").textContent = session.organisation_code;
}

/** Asks before a sign-out would lose writes not yet sent; resolves true to go ahead. */
export function confirmLoss(count) {
  const box = $("confirm-wipe");
  $("confirm-wipe-text").textContent = count === 1
    ? "One change has not been sent yet. Signing out now wipes it from this tablet, and it " +
      "will never reach the record."
    : count + " changes have not been sent yet. Signing out now wipes them from this tablet, " +
      "and they will never reach the record.";
  box.hidden = false;
  $("confirm-wipe-no").focus();
  return new Promise((resolve) => {
    const answer = (value) => () => {
      box.hidden = true;
      $("confirm-wipe-yes").onclick = null;
      $("confirm-wipe-no").onclick = null;
      resolve(value);
    };
    $("confirm-wipe-yes").onclick = answer(true);
    $("confirm-wipe-no").onclick = answer(false);
  });
}
