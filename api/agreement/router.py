"""The Information Sharing Agreement in force. Public: people are told how their data is used."""

from fastapi import APIRouter

from api.agreement.schemas import AgreementRead
from api.dependencies import ResourcesDep

router = APIRouter(prefix="/v1", tags=["agreement"])


@router.get("/agreement")
async def read_agreement(resources: ResourcesDep) -> AgreementRead:
    """The agreement in force: parties, purposes, who may see which data, legal basis, retention."""
    return resources.agreement
