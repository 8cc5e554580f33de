"""The API's documentation pages, Swagger UI at `/docs` and ReDoc at `/redoc`, served with their
scripts and styles from the package: force networks are often closed, and a page that loads its
code from a CDN is blank there (and runs whatever the CDN serves).

Mounted only when docs are enabled. The pages run only the vendored scripts and their own inline
start-up script (allowed by hash); they may talk only to this origin.
"""

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

from api.errors import ServiceError
from api.pages import sha256_source

router = APIRouter(include_in_schema=False)

OPENAPI_URL = "/openapi.json"
ASSETS = "/docs/assets"
TITLE = "Street triage API"
# The vendored files (see api/docs/assets/*.LICENSE): Swagger UI 5.35.0 (Apache-2.0) and
# ReDoc 2.5.4 (MIT), as published on the npm registry.
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
ASSET_PATHS = tuple(f"{ASSETS}/{name}" for name in ASSET_TYPES)
PAGE_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


class DocsAssetNotFound(ServiceError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


@dataclass(frozen=True)
class DocsPage:
    html: str
    headers: dict[str, str]


def _policy(html: str) -> dict[str, str]:
    hashes = " ".join(sha256_source(script) for script in _INLINE_SCRIPT.findall(html))
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}".strip(),
            # Both renderers set styles from script (ReDoc writes <style> elements).
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            # ReDoc's search runs in a worker it builds from a blob.
            "worker-src blob:",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def _page(response: HTMLResponse) -> DocsPage:
    html = bytes(response.body).decode("utf-8")
    return DocsPage(html=html, headers=_policy(html))


@cache
def swagger_page() -> DocsPage:
    return _page(
        get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{TITLE}: documentation",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )
    )


@cache
def redirect_page() -> DocsPage:
    return _page(get_swagger_ui_oauth2_redirect_html())


@cache
def redoc_page() -> DocsPage:
    return _page(
        get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{TITLE}: reference",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
            with_google_fonts=False,
        )
    )


@router.get("/docs", response_class=HTMLResponse)
async def show_swagger_ui() -> HTMLResponse:
    """Swagger UI, from the package."""
    page = swagger_page()
    return HTMLResponse(page.html, headers=page.headers)


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
async def show_swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth 2.0 redirect page."""
    page = redirect_page()
    return HTMLResponse(page.html, headers=page.headers)


@router.get("/redoc", response_class=HTMLResponse)
async def show_redoc() -> HTMLResponse:
    """ReDoc, from the package."""
    page = redoc_page()
    return HTMLResponse(page.html, headers=page.headers)


@router.get("/docs/assets/{name}")
async def send_docs_asset(name: str) -> Response:
    """One of the vendored files, by name; nothing else in the folder is served."""
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise DocsAssetNotFound("No such documentation file.")
    content = resources.files("api.docs").joinpath("assets", name).read_bytes()
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
