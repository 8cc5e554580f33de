"""Identity and purpose-bound tokens, the principal, purposes, scopes and policy rules."""
