"""The dashboard page, assembled once from its parts, and the security headers it is served with."""

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Page:
    html: str
    headers: dict[str, str]


def _part(name: str) -> str:
    return resources.files("api.dashboard").joinpath(name).read_text(encoding="utf-8")


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def dashboard_page() -> Page:
    """Read on first use, not at import. The inline script and style are allowed by their hashes:
    nothing else may run, load or be framed, and the page may talk only to its own origin."""
    script, style = _part("page.js"), _part("page.css")
    html = _part("page.html").replace("{{style}}", style).replace("{{script}}", script)
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_sha256(script)}",
            f"style-src {_sha256(style)}",
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return Page(
        html=html,
        headers={
            "Content-Security-Policy": policy,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )
