"""The street triage tablet app: a progressive web app the API serves from its own package data.

Public on purpose: its files hold no data. Everything personal it shows comes from the API, called
with short purpose-bound tokens the app mints from the sign-in session (`/auth/session/token`) and
keeps in memory only; its service worker caches the shell (these files) and nothing else.
"""

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

router = APIRouter(tags=["tablet"])

# The shell: each file, its media type. Nothing outside this table is served under /app/.
SHELL_FILES = {
    "app.css": "text/css; charset=utf-8",
    "main.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "store.js": "text/javascript; charset=utf-8",
    "outbox.js": "text/javascript; charset=utf-8",
    "nhs.js": "text/javascript; charset=utf-8",
    "phone.js": "text/javascript; charset=utf-8",
    "words.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "signin.js": "text/javascript; charset=utf-8",
    "incident.js": "text/javascript; charset=utf-8",
    "lookup.js": "text/javascript; charset=utf-8",
    "card.js": "text/javascript; charset=utf-8",
    "assessment.js": "text/javascript; charset=utf-8",
    "outcome.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "manifest.webmanifest": "application/manifest+json",
    "sw.js": "text/javascript; charset=utf-8",
}
PAGE = "app.html"

# Scripts and styles are files of this origin; nothing is inline, nothing comes from elsewhere.
POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Never kept by the browser's HTTP cache, so an update reaches every tablet on its next load;
    # the service worker keeps its own copy (Cache Storage) for when there is no signal.
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ShellFile:
    body: bytes
    media_type: str


def _read(name: str) -> bytes:
    return resources.files("api.tablet").joinpath(name).read_bytes()


@cache
def shell() -> dict[str, ShellFile]:
    """Read on first use, not at import. The service worker names the shell's version, a digest
    of every file, so a changed file makes the tablets fetch the shell anew."""
    files = {name: ShellFile(_read(name), media) for name, media in SHELL_FILES.items()}
    files[PAGE] = ShellFile(_read(PAGE), "text/html; charset=utf-8")
    digest = hashlib.sha256()
    for name in sorted(files):
        if name != "sw.js":
            digest.update(name.encode() + b"\0" + files[name].body)
    worker = files["sw.js"]
    files["sw.js"] = ShellFile(
        worker.body.replace(b"{{version}}", digest.hexdigest()[:16].encode()), worker.media_type
    )
    return files


def _answer(name: str) -> Response:
    found = shell()[name]
    headers = HEADERS
    if name == "sw.js":
        # The page is `/app` itself, outside the worker's folder `/app/`: the worker may control
        # `/app` and what is under it, and nothing else of the origin.
        headers = HEADERS | {"Service-Worker-Allowed": "/app"}
    return Response(found.body, media_type=found.media_type, headers=headers)


@router.get("/app", include_in_schema=False)
async def show_tablet_app() -> Response:
    """The tablet app's page, under a Content-Security-Policy that runs only its own files."""
    return _answer(PAGE)


# One route for the shell's files, rather than one exact public path each: the public paths share
# a per-address rate (for routes that cost something), and loading the app plus its worker's
# install asks for every file twice within a second. Serving bytes held in memory costs nothing.
@router.get("/app/{file_name}", include_in_schema=False)
async def read_tablet_file(file_name: str) -> Response:
    """One file of the app's shell (script, style, icon, manifest or service worker)."""
    if file_name not in SHELL_FILES:
        raise HTTPException(status_code=404)
    return _answer(file_name)
