"""The dashboard page, assembled once from its parts, and the security headers it is served with."""

from functools import cache

from api.pages import Page, inlined_page


@cache
def dashboard_page() -> Page:
    """Read on first use, not at import. One inline script: the chart helpers, then the page
    that uses them."""
    return inlined_page("api.dashboard", scripts=("chart.js", "page.js"), style="page.css")
