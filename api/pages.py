"""Browser pages served from the package as one HTML document: their script and style inlined and
allowed by hash, so nothing else may run, load or be framed, and they may talk only to their own
origin."""

import base64
import hashlib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Page:
    html: str
    headers: dict[str, str]


def sha256_source(source: str) -> str:
    """A CSP hash source for an inline script or style."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def inlined_page(package: str, *, scripts: tuple[str, ...], style: str) -> Page:
    """`page.html` of `package` with `{{style}}` and `{{script}}` filled from its files (the
    scripts joined, in order, into one), and the headers it is served with."""

    def part(name: str) -> str:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")

    script, css = "".join(part(name) for name in scripts), part(style)
    html = part("page.html").replace("{{style}}", css).replace("{{script}}", script)
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {sha256_source(script)}",
            f"style-src {sha256_source(css)}",
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
