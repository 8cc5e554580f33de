"""Typed partner failures. An outage is never an empty answer: it is one of these."""


class PartnerError(Exception):
    """A partner gave no usable answer. `reason` is a short code for logs and metrics."""

    def __init__(self, partner: str, reason: str) -> None:
        super().__init__(f"{partner}: {reason}")
        self.partner = partner
        self.reason = reason


class PartnerUnavailable(PartnerError):
    """Could not be asked in time: connection failure, timeout, 5xx, 429, breaker open."""


class PartnerBadResponse(PartnerError):
    """Answered, but not with something we can trust: wrong type, malformed, oversized, bad data."""
