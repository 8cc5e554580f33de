// Writes are kept on the tablet (IndexedDB) and sent in order, each exactly once:
// - a POST carries its Idempotency-Key, so a retry after a lost answer gets the first answer back;
// - a PUT carries If-Match (or none, to create), so a retry after a lost answer cannot write
//   twice: it is refused (412/428), and the record is read to see whether the write is there.
// A refusal because someone else changed the record is a conflict the user resolves; nothing is
// overwritten without them. Each write is sent with a token minted at send time, and only for the
// person who made it.

import { call, json, Offline, SessionEnded, problemOf } from "./api.js";
import * as store from "./store.js";

const listeners = new Set();
let flushing = null;
let again = false;
let blocked = null; // why sending stopped: "offline", "session", "author", "conflict", "failed"

export function subscribe(listener) {
  listeners.add(listener);
}

async function notify() {
  const all = await store.writes();
  for (const listener of listeners) {
    listener(all, blocked);
  }
}

export function blockedBy() {
  return blocked;
}

function newKey() {
  return crypto.randomUUID();
}

/**
 * Keeps a write and tries to send it. `write`: {incidentId, method, path, body, ifMatch, kind,
 * label, resource, readPath, author}. A versioned write (`ifMatch` given, null to
 * create) on a resource with a write still waiting names that write's result as its version: the
 * user's own earlier change is not a conflict.
 */
export async function enqueue(write) {
  const waiting = (await store.writes()).filter(
    (entry) => entry.resource === write.resource && entry.status !== "sent" &&
      entry.status !== "discarded");
  const previous = waiting.length ? waiting[waiting.length - 1] : null;
  const entry = {
    key: newKey(),
    status: "pending",
    createdAt: new Date().toISOString(),
    sentAt: null,
    etag: null,
    problem: null,
    ifMatchFrom: previous && write.ifMatch !== undefined ? previous.key : null,
    ...write,
  };
  if (entry.ifMatchFrom) {
    entry.ifMatch = null;
  }
  entry.seq = await store.addWrite(entry);
  await notify();
  flush();
  return entry;
}

/** Canonical form for "is what I sent what is there": no nulls or empty lists, instants as ms,
 * lists of codes in any order (the record keeps its own). */
function canonical(value) {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    return items.every((item) => typeof item !== "object") ? items.sort() : items;
  }
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      if (item === null || item === undefined || (Array.isArray(item) && item.length === 0)) {
        continue;
      }
      out[key] = canonical(item);
    }
    return out;
  }
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) {
    return new Date(value).getTime();
  }
  return value;
}

export function sameContent(left, right) {
  return JSON.stringify(canonical(left)) === JSON.stringify(canonical(right));
}

/** What the record holds now, to tell a write that landed from one that met someone else's. */
async function landed(entry, path) {
  const current = await json("GET", entry.readPath || path, { incidentId: entry.incidentId });
  if (entry.kind === "signature") {
    const signed = current.body.signatures.some(
      (signature) => signature.role === entry.signerRole &&
        '"' + signature.revision + '"' === entry.ifMatchUsed);
    return { landed: signed, current };
  }
  const mine = entry.kind === "assessment" ? entry.body.content : entry.body;
  const record = entry.kind === "assessment" ? current.body.content : current.body;
  // The record also says who wrote it, when, and its revision: only what was sent is compared.
  const theirs = Object.fromEntries(Object.keys(mine).map((key) => [key, record[key]]));
  return { landed: sameContent(mine, theirs), current };
}

/** Once on record, what was written is the record's to keep, not the tablet's. */
function sent(entry) {
  entry.body = null;
  entry.current = null;
  return entry;
}

async function sendOne(entry, all, author) {
  if (author && entry.author && entry.author !== author) {
    blocked = "author";
    return false;
  }
  const path = entry.path;
  let ifMatch = entry.ifMatch;
  if (entry.ifMatchFrom) {
    const earlier = all.find((other) => other.key === entry.ifMatchFrom);
    ifMatch = earlier && earlier.status === "sent" ? earlier.etag : null;
    if (ifMatch === null && earlier && earlier.status !== "discarded") {
      return false;
    }
  }
  const headers = { "Idempotency-Key": entry.key };
  if (ifMatch) {
    headers["If-Match"] = ifMatch;
  }
  entry.ifMatchUsed = ifMatch || null;
  const response = await call(entry.method, path, {
    body: entry.body === null ? undefined : entry.body, headers, incidentId: entry.incidentId,
  });
  if (response.ok) {
    entry.status = "sent";
    entry.sentAt = new Date().toISOString();
    entry.etag = response.headers.get("ETag");
    entry.replayed = response.headers.get("Idempotent-Replayed") === "true";
    await store.updateWrite(sent(entry));
    return true;
  }
  const versioned = ["assessment", "outcome", "signature"].includes(entry.kind);
  if (versioned && [409, 412, 428].includes(response.status)) {
    const check = await landed(entry, path);
    if (check.landed) {
      entry.status = "sent";
      entry.sentAt = new Date().toISOString();
      entry.etag = check.current.etag;
      entry.landedEarlier = true;
      await store.updateWrite(sent(entry));
      return true;
    }
    entry.status = "conflict";
    entry.current = { body: check.current.body, etag: check.current.etag };
    await store.updateWrite(entry);
    blocked = "conflict";
    return false;
  }
  const problem = await problemOf(response);
  entry.status = "failed";
  // Which fields were refused, by name only: the values stay out of the message.
  const fields = (problem.invalid_params || []).map((param) => param.location.replace(/^body\./, ""));
  entry.problem = {
    status: response.status,
    title: problem.title || "",
    detail: (problem.detail || "") + (fields.length ? " (" + fields.join(", ") + ")" : ""),
  };
  await store.updateWrite(entry);
  blocked = "failed";
  return false;
}

/** Sends what is waiting, oldest first, stopping at the first that cannot go yet. */
export function flush(author) {
  if (flushing !== null) {
    // A write kept while this round was under way is sent by the next round.
    again = true;
    return flushing;
  }
  flushing = (async () => {
    blocked = null;
    try {
      const all = (await store.writes()).sort((a, b) => a.seq - b.seq);
      for (const entry of all) {
        if (entry.status === "sent" || entry.status === "discarded") {
          continue;
        }
        if (entry.status === "conflict") {
          blocked = "conflict";
          break;
        }
        if (entry.status === "failed") {
          blocked = "failed";
          break;
        }
        if (!(await sendOne(entry, all, author || currentAuthor))) {
          break;
        }
        await notify();
      }
    } catch (error) {
      if (error instanceof Offline) {
        blocked = "offline";
      } else if (error instanceof SessionEnded) {
        blocked = "session";
      } else {
        blocked = "failed";
      }
    } finally {
      flushing = null;
      await notify();
      if (again && blocked === null) {
        again = false;
        flush(author);
      }
      again = false;
    }
  })();
  return flushing;
}

let currentAuthor = null;

/** Who is signed in now ("name|role|organisation"): writes are sent for their author only. */
export function setAuthor(author) {
  currentAuthor = author;
}

/** The user's answer to a conflict: send this instead, over the version now there. */
export async function resolve(entry, body) {
  entry.body = body;
  if (entry.kind === "assessment") {
    // Started by someone else meanwhile: what the user chose is a change of theirs.
    entry.method = "PUT";
  }
  if (entry.kind === "signature") {
    // A signature of another version is another request.
    entry.key = newKey();
  }
  entry.ifMatch = entry.current.etag;
  entry.ifMatchFrom = null;
  entry.status = "pending";
  entry.current = null;
  await store.updateWrite(entry);
  await notify();
  return flush();
}

/** The user drops a write (theirs is kept, or a refused write is given up). */
export async function discard(entry) {
  entry.status = "discarded";
  entry.current = null;
  await store.updateWrite(entry);
  await notify();
  return flush();
}

export async function waiting() {
  return (await store.writes()).filter(
    (entry) => entry.status !== "sent" && entry.status !== "discarded");
}

export { notify as refresh };
