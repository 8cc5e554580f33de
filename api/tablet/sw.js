// The service worker keeps the app's shell (its own files, which hold no data) so the app opens
// with no signal. It never stores an answer of the API: /v1 and /auth are not touched.

const VERSION = "{{version}}";
const CACHE = "street-triage-shell-" + VERSION;
const SHELL = [
  "/app",
  "/app/app.css",
  "/app/main.js",
  "/app/api.js",
  "/app/store.js",
  "/app/outbox.js",
  "/app/nhs.js",
  "/app/phone.js",
  "/app/words.js",
  "/app/dom.js",
  "/app/signin.js",
  "/app/incident.js",
  "/app/lookup.js",
  "/app/card.js",
  "/app/assessment.js",
  "/app/outcome.js",
  "/app/icon.svg",
  "/app/manifest.webmanifest",
];
const SHELL_PATHS = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name !== CACHE)
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin ||
      !SHELL_PATHS.has(url.pathname)) {
    return;
  }
  // The network first, so an update lands at once; the kept copy when there is no signal. The
  // page's address may carry ?sign_in=..., which is the same shell.
  event.respondWith(fetch(event.request).catch(() =>
    caches.open(CACHE).then((cache) => cache.match(url.pathname))
      .then((kept) => kept || Response.error())));
});
