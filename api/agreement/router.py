"""The Information Sharing Agreement in force. Public: people are told how their data is used."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.agreement.page import agreement_page
from api.agreement.schemas import AgreementRead
from api.dependencies import ResourcesDep

router = APIRouter(prefix="/v1", tags=["agreement"])
# The same agreement in words, for staff: linked from the flag card ("who will know").
page_router = APIRouter(tags=["agreement"])


@router.get("/agreement")
async def read_agreement(resources: ResourcesDep) -> AgreementRead:
    """The agreement in force: parties, purposes, who may see which data, legal basis, retention."""
    return resources.agreement


@page_router.get("/agreement", response_class=HTMLResponse, include_in_schema=False)
async def show_agreement() -> HTMLResponse:
    """The agreement in words: who may see what, why, on which basis, for how long, who is told."""
    page = agreement_page()
    return HTMLResponse(page.html, headers=page.headers)
