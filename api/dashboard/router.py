"""The supervisors' dashboard: one static page that signs the supervisor in through their
organisation's identity provider and draws the outcome report.

Public on purpose: the page holds no data. Everything it shows comes from `/auth/session` and
`/v1/reports/outcomes`, the latter called with a short supervision token the page mints from the
sign-in session (`/auth/session/token`) and keeps in memory only.
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.dashboard.page import dashboard_page

router = APIRouter(tags=["dashboard"])


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def show_dashboard() -> HTMLResponse:
    """The dashboard page, under a Content-Security-Policy that runs only its own script."""
    page = dashboard_page()
    return HTMLResponse(page.html, headers=page.headers)
