"""The tablet app's files as the API serves them: public, holding no data, under a
Content-Security-Policy that runs only the app's own files, and keeping nothing personal anywhere
but the incident's IndexedDB database. The app itself is played in Chromium in
tests/api/test_tablet_scene.py.
"""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from api.tablet.router import PAGE, SHELL_FILES, shell

APP_POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "img-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}


def policy_of(response: httpx.Response) -> dict[str, str]:
    return dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )


class Markup(HTMLParser):
    """What the page loads, and anything the policy would have to allow inline."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline: list[str] = []
        self.named_fields: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.inline.append(f"{tag} {name}")
            if name in ("src", "href") and value and not value.startswith("#"):
                self.loads.append(value)
        if tag == "script":
            self.scripts.append(attributes)
        if tag in ("input", "select", "textarea") and "name" in attributes:
            self.named_fields.append(str(attributes.get("id")))

    def handle_data(self, data: str) -> None:
        if self.lasttag in ("script", "style") and data.strip():
            self.inline.append(self.lasttag)


async def test_the_app_is_public_and_runs_only_its_own_files(client: httpx.AsyncClient) -> None:
    response = await client.get("/app")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert policy_of(response) == APP_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Never kept by the HTTP cache, so an update lands on the next load (the worker keeps the
    # copy for no signal).
    assert response.headers["cache-control"] == "no-store"
    markup = Markup()
    markup.feed(response.text)
    assert markup.inline == [], "inline script, style or event handler: the policy forbids them"
    # No field has a name: a form submitted by accident would carry nothing.
    assert markup.named_fields == []
    assert markup.scripts == [{"type": "module", "src": "/app/main.js"}]
    for address in markup.loads:
        if address.startswith("/app/"):
            loaded = await client.get(address)
            assert loaded.status_code == 200, address
            assert policy_of(loaded) == APP_POLICY
        else:
            # Links to the API's own pages only; nothing from another origin.
            assert address in ("/agreement",), address


async def test_every_shell_file_is_served_with_its_type_and_nothing_else_is(
    client: httpx.AsyncClient,
) -> None:
    for name, media_type in SHELL_FILES.items():
        response = await client.get(f"/app/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type, name
    for name in (PAGE, "router.py", "__init__.py", "..%2Frouter.py", "missing.js"):
        response = await client.get(f"/app/{name}")
        assert response.status_code == 404, name
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_service_worker_controls_the_app_and_keeps_only_its_shell(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/app/sw.js")
    # The page is `/app`, outside the worker's folder: allowed to reach it, and no further.
    assert response.headers["service-worker-allowed"] == "/app"
    worker = response.text
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', worker)
    assert version is not None, "the shell's version is filled in"
    listed = re.search(r"const SHELL = \[(.*?)\];", worker, re.DOTALL)
    assert listed is not None
    cached = set(re.findall(r'"(/app[^"]*)"', listed.group(1)))
    assert cached == {"/app"} | {f"/app/{name}" for name in SHELL_FILES if name != "sw.js"}
    # It never stores an API answer: only requests for the shell's own paths are handled.
    assert "SHELL_PATHS.has(url.pathname)" in worker
    assert "cache.put" not in worker
    manifest = json.loads((await client.get("/app/manifest.webmanifest")).text)
    assert (manifest["start_url"], manifest["scope"]) == ("/app", "/app")
    assert manifest["icons"][0]["src"] == "/app/icon.svg"


@pytest.mark.parametrize("name", [name for name in SHELL_FILES if name.endswith(".js")])
def test_no_script_keeps_anything_outside_the_incident_database(name: str) -> None:
    source = shell()[name].body.decode()
    for kept_elsewhere in (
        "localStorage",
        "sessionStorage",
        "document.cookie",
        "cookieStore",
        "window.name",
        "BroadcastChannel",
        "cache.put",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "eval(",
        "new Function",
    ):
        assert kept_elsewhere not in source, f"{name}: {kept_elsewhere}"
    # Only the store touches IndexedDB; only the API module sees a token.
    if name != "store.js":
        assert "indexedDB" not in source, name
    if name != "api.js":
        assert "access_token" not in source, name


async def test_the_agreement_page_is_public_and_runs_only_its_own_script(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/agreement")
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"].startswith("'sha256-")
    assert policy["connect-src"] == "'self'"
    assert policy["form-action"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert 'fetch("/v1/agreement"' in response.text


@pytest.mark.parametrize(
    ("written", "dialled"),
    [
        ("0800 555 0199", "tel:08005550199"),
        ("0113-496-0000", "tel:01134960000"),
        ("(0113) 496 0000", "tel:01134960000"),
        ("+44 (0)113 496 0000", "tel:+441134960000"),
        ("+44 113 496 0000", "tel:+441134960000"),
        ("111", "tel:111"),
        ("116 123", "tel:116123"),
        # Free text that would dial a wrong number is shown to be read, never linked.
        ("0113 496 0000 ext 204", None),
        ("0113 496 0000 or 0800 555 0199", None),
        ("01134960000204", None),
        ("Crisis line", None),
        ("", None),
    ],
)
def test_only_one_plain_uk_number_becomes_a_number_to_dial(
    written: str, dialled: str | None
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js to run the app's module (apt-get install nodejs)")
    module = Path(__file__).resolve().parents[2] / "api" / "tablet" / "phone.js"
    script = (
        f"import {{ dialable }} from {json.dumps(module.as_uri())};"
        f"console.log(JSON.stringify(dialable({json.dumps(written)})));"
    )
    result = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout) == dialled
