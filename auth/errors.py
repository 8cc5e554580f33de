"""Typed refusals. Each carries a reason code for the audit trail; none carries token content."""


class AuthError(Exception):
    """A token or request was refused. `reason` is a stable code, recorded but not shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidToken(AuthError):
    """The token cannot be trusted: malformed, badly signed, expired, revoked, or its user inactive."""


class InsufficientAccess(AuthError):
    """A trusted token that does not cover this request."""


class ExchangeRefused(AuthError):
    """A token exchange refused with an RFC 6749 / RFC 8693 error code."""

    def __init__(
        self,
        error: str,
        reason: str,
        description: str,
        organisation_code: str | None = None,
        *,
        verified: bool = False,
    ) -> None:
        super().__init__(reason)
        self.error = error
        self.description = description
        # Of a verified token refused for what it says: the organisation it would act for, so
        # that organisation's information governance sees the refusal.
        self.organisation_code = organisation_code
        # The provider did sign the token: the person is known to it, if not acting here.
        self.verified = verified or organisation_code is not None
