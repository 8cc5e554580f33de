"""The supervisors' dashboard: one static page that asks for a token and draws the outcome report.

Public on purpose: the page holds no data. Everything it shows comes from `/v1/reports/outcomes`,
called from the browser with the supervisor's own token.
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
