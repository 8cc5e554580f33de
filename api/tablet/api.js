// The API, as the app calls it. Tokens are minted from the sign-in session (an HttpOnly cookie the
// app cannot read) and live in this module's memory only: never in storage, a cookie or a URL.

const SESSION_HEADERS = { "X-Triage-Session": "1" };
const RENEW_BEFORE_EXPIRY_MS = 30 * 1000;
const PURPOSE = "street-triage";
const grants = new Map();

export class Offline extends Error {
  constructor() {
    super("No signal: the service cannot be reached.");
  }
}

export class SessionEnded extends Error {
  constructor() {
    super("Your sign-in has ended: sign in again.");
  }
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "The service answered " + status + ".");
    this.status = status;
    this.problem = problem || {};
  }
}

async function send(url, options) {
  try {
    return await fetch(url, { cache: "no-store", ...options });
  } catch (error) {
    throw new Offline();
  }
}

export async function problemOf(response) {
  try {
    return await response.json();
  } catch (error) {
    return {};
  }
}

/** Who is signed in, or null. */
export async function readSession() {
  const response = await send("/auth/session", {});
  if (response.status === 401) {
    return null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  return response.json();
}

export async function listProviders() {
  const response = await send("/auth/providers", {});
  return response.ok ? (await response.json()).providers : [];
}

export function forgetTokens() {
  grants.clear();
}

/** A street-triage token, bound to `incidentId` when given, minted now unless one is fresh. */
export async function token(incidentId) {
  const key = incidentId || "";
  const held = grants.get(key);
  if (held && Date.now() < held.renewAt) {
    return held.token;
  }
  grants.delete(key);
  const body = incidentId ? { purpose: PURPOSE, incident_id: incidentId } : { purpose: PURPOSE };
  const response = await send("/auth/session/token", {
    method: "POST",
    headers: { ...SESSION_HEADERS, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status === 401) {
    grants.clear();
    throw new SessionEnded();
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  const minted = await response.json();
  grants.set(key, {
    token: minted.access_token,
    renewAt: Date.now() + minted.expires_in * 1000 - RENEW_BEFORE_EXPIRY_MS,
  });
  return minted.access_token;
}

/** A call with a token; a token refused before its time (revoked, say) is minted once more. */
export async function call(method, path, { body, headers, incidentId } = {}) {
  const attempt = async () => {
    const bearer = await token(incidentId);
    return send(path, {
      method,
      headers: {
        Authorization: "Bearer " + bearer,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(headers || {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let response = await attempt();
  if (response.status === 401) {
    grants.delete(incidentId || "");
    response = await attempt();
  }
  return response;
}

/** The JSON of a successful call, or ApiError with the problem document. */
export async function json(method, path, options) {
  const response = await call(method, path, options);
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  return { body: await response.json(), etag: response.headers.get("ETag"), status: response.status };
}

/** Ends the session at the API (every token it minted is revoked). */
export async function signOut() {
  const response = await send("/auth/logout", { method: "POST", headers: SESSION_HEADERS });
  grants.clear();
  if (response.status === 401) {
    return { provider_sign_out_url: null };
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  return response.json();
}

export async function readAgreement() {
  const response = await send("/v1/agreement", {});
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  return response.json();
}
