"""The provider's HTML pages: choose who signs in, signed out, and the error page. Plain HTML with
one inline style allowed by its hash; no script, no external assets."""

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from urllib.parse import urlsplit

from devidp.people import Person

STYLE = (
    "body{font:1rem/1.5 system-ui,sans-serif;margin:2rem auto;max-width:36rem;padding:0 1rem}"
    "button{display:block;width:100%;margin:.5rem 0;padding:.75rem;font:inherit;text-align:left;"
    "border:2px solid #005eb8;border-radius:4px;background:#fff;cursor:pointer}"
    "button:focus{outline:3px solid #ffb81c}fieldset{border:0;padding:0}"
    "legend{font-weight:bold}.role{display:block;color:#4c6272}.cancel{border-color:#768692}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()


def content_security_policy(form_target: str | None = None) -> str:
    """Chromium applies form-action to the redirect that follows a form post, so the page that
    posts the choice must also allow the origin of the client's redirect URI."""
    targets = "'self'"
    if form_target is not None:
        parts = urlsplit(form_target)
        targets += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action {targets}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def choose_person_page(
    *,
    provider_name: str,
    client_id: str,
    organisation: str,
    action: str,
    request_id: str,
    people: Sequence[Person],
) -> str:
    buttons = "".join(
        f'<button type="submit" name="person" value="{escape(person.key)}" '
        f'data-testid="person-{escape(person.key)}">{escape(person.display_name)}'
        f'<span class="role">{escape(person.description)}</span></button>'
        for person in people
    )
    body = (
        f"<h1>Sign in with {escape(provider_name)}</h1>"
        f'<p>Signing in to <strong data-testid="client">{escape(client_id)}</strong> '
        f'for <span data-testid="organisation">{escape(organisation)}</span>.</p>'
        "<p>This is a development identity provider: choose a demo person.</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="request" value="{escape(request_id)}">'
        f"<fieldset><legend>Who is signing in?</legend>{buttons}</fieldset>"
        '<button type="submit" name="cancel" value="1" class="cancel" data-testid="cancel">'
        "Cancel sign-in</button></form>"
    )
    return _page(f"Sign in with {provider_name}", body)


def signed_out_page(provider_name: str) -> str:
    body = (
        f'<h1 data-testid="signed-out">You have signed out of {escape(provider_name)}</h1>'
        "<p>You can close this window.</p>"
    )
    return _page("Signed out", body)


def error_page(message: str) -> str:
    body = f'<h1>Sign-in cannot continue</h1><p data-testid="error">{escape(message)}</p>'
    return _page("Sign-in error", body)
