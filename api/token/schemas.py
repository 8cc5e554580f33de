"""RFC 8693 token exchange and RFC 7009 revocation, as the API speaks them."""

from pydantic import BaseModel, Field

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class TokenResponse(BaseModel):
    access_token: str
    issued_token_type: str = ACCESS_TOKEN_TYPE
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="Space-separated scopes granted.")


class TokenExchangeRequest(BaseModel):
    """The form fields of `POST /v1/token`; all checked by the service so errors are RFC 6749 ones."""

    grant_type: str | None = None
    subject_token: str | None = None
    subject_token_type: str | None = None
    purpose: str | None = None
    incident_id: str | None = None
    scope: str | None = None
    justification: str | None = None
    # When the provider's values map to several of our roles: the one to act in.
    role: str | None = None
    # A `cis2` provider only: the user's access token there, used once to read userinfo (the role
    # selected for the session); never stored.
    provider_access_token: str | None = None
