"""The development identity provider vouches for the partnership's organisations, and no other."""

from pathlib import Path

from auth.development import DEV_ISSUER, ensure_development_keys, mint_identity_token
from auth.issuers import load_trusted_issuers

AUDIENCE = "urn:street-triage:api"


def test_the_development_issuers_file_lists_the_partnerships_organisations(
    tmp_path: Path,
) -> None:
    # A token minted first (as `triage dev-token` may be) makes the key; the server writes the file.
    assert mint_identity_token(tmp_path, audience=AUDIENCE, role="officer", organisation_code="NSP")
    _, path = ensure_development_keys(
        tmp_path, audience=AUDIENCE, organisation_codes=["RQI", "NSP", "RQI"]
    )
    (issuer,) = load_trusted_issuers(path, own_issuer="urn:street-triage:own")
    assert (issuer.issuer, issuer.organisations) == (DEV_ISSUER, ["NSP", "RQI"])
    # Minting again keeps the list the server wrote.
    mint_identity_token(tmp_path, audience=AUDIENCE, role="officer", organisation_code="NSP")
    (again,) = load_trusted_issuers(path, own_issuer="urn:street-triage:own")
    assert again.organisations == ["NSP", "RQI"]
