// The tablet's memory of one incident, in IndexedDB: the incident it is bound to, the writes
// waiting for a signal (the outbox), and when the sign-in was last checked. Lookup answers are
// never kept here (the page's memory only). All of it goes at once (`wipe`) when the incident is
// closed or someone signs out.

const NAME = "street-triage";
const VERSION = 1;
let opened = null;

function request(action) {
  return new Promise((resolve, reject) => {
    action.onsuccess = () => resolve(action.result);
    action.onerror = () => reject(action.error);
  });
}

/** Whether the database exists, without creating it (opening would). */
export async function exists() {
  const all = await indexedDB.databases();
  return all.some((database) => database.name === NAME);
}

function open() {
  if (opened === null) {
    const opening = indexedDB.open(NAME, VERSION);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      db.createObjectStore("state", { keyPath: "key" });
      db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      db.createObjectStore("answers", { keyPath: "lookup_id" });
    };
    opened = request(opening);
  }
  return opened;
}

async function run(storeName, mode, action) {
  const db = await open();
  const transaction = db.transaction(storeName, mode);
  const result = request(action(transaction.objectStore(storeName)));
  await new Promise((resolve, reject) => {
    transaction.oncomplete = resolve;
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
  return result;
}

export async function getState(key) {
  if (opened === null && !(await exists())) {
    return null;
  }
  const found = await run("state", "readonly", (store) => store.get(key));
  return found ? found.value : null;
}

export function setState(key, value) {
  return run("state", "readwrite", (store) => store.put({ key, value }));
}

export function addWrite(entry) {
  return run("outbox", "readwrite", (store) => store.add(entry));
}

export function updateWrite(entry) {
  return run("outbox", "readwrite", (store) => store.put(entry));
}

export function removeWrite(seq) {
  return run("outbox", "readwrite", (store) => store.delete(seq));
}

/** Every write, oldest first (the order they are sent in). */
export async function writes() {
  if (opened === null && !(await exists())) {
    return [];
  }
  return run("outbox", "readonly", (store) => store.getAll());
}

/** Answers an older version of the app kept here: cleared at every start and hand-over. */
export async function forgetAnswers() {
  if (opened === null && !(await exists())) {
    return;
  }
  await run("answers", "readwrite", (store) => store.clear());
}

/** Everything, the database itself included. */
export async function wipe() {
  if (opened !== null) {
    (await opened).close();
    opened = null;
  }
  await new Promise((resolve, reject) => {
    const deleting = indexedDB.deleteDatabase(NAME);
    deleting.onsuccess = resolve;
    deleting.onerror = () => reject(deleting.error);
    // Another tab holding it open: the deletion completes when that tab lets go.
    deleting.onblocked = resolve;
  });
}
