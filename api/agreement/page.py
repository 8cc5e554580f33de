"""The agreement page, assembled once from its parts, and the security headers it is served with."""

from functools import cache

from api.pages import Page, inlined_page


@cache
def agreement_page() -> Page:
    """Read on first use, not at import. It may talk only to its own origin (the agreement)."""
    return inlined_page("api.agreement", scripts=("page.js",), style="page.css")
