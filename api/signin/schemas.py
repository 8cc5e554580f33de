"""What the browser sign-in routes take and answer."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models import Role


class ProviderRead(BaseModel):
    id: str = Field(description="Use as `provider` in `/auth/login`.")
    title: str = Field(description="The provider's name, for the sign-in button.")


class ProvidersRead(BaseModel):
    providers: list[ProviderRead]


class SessionRead(BaseModel):
    """Who is signed in to this browser, as their provider said at sign-in."""

    name: str
    role: Role
    organisation_code: str
    expires_at: datetime = Field(description="When the sign-in ends at the latest.")


class SessionTokenRequest(BaseModel):
    """What a page asks a token for; the person is the one signed in."""

    model_config = ConfigDict(extra="forbid")

    purpose: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    incident_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    scope: Annotated[str, StringConstraints(max_length=1000)] | None = None
    justification: Annotated[str, StringConstraints(max_length=2000)] | None = None


class SignedOut(BaseModel):
    provider_sign_out_url: str | None = Field(
        description="The provider's own sign-out page, to end the sign-in there too."
    )
