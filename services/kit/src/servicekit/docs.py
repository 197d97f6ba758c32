"""Each service's ``/docs``: Swagger UI from files installed with the service, nothing from a CDN.

FastAPI's own ``/docs`` and ``/redoc`` pages load their scripts and styles from a CDN (and ReDoc
Google's fonts), so they stay blank on a machine without internet access and trust a third
party with code that runs next to a bearer token. Here the page's script and stylesheet are the
Swagger UI files shipped in the ``fastapi-offline`` package (a wheel with Swagger UI 5, which
reads OpenAPI 3.1), served by the service itself under ``/docs/assets/``; the page starts Swagger
UI from a script file of ours, not an inline one, so it can be served under a strict
Content-Security-Policy: the page may load and ask for nothing but its own origin. ReDoc is not
served (its styles need inline ``<style>``); ``/redoc`` answers 404.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

ASSETS_DIRECTORY: Final = Path(str(resources.files("fastapi_offline").joinpath("static")))
"""Where the installed package keeps Swagger UI's files."""

ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
"""The files served from :data:`ASSETS_DIRECTORY`, and only those."""

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The docs page loads scripts, styles and images only from the service (Swagger UI's icons are
``data:`` URIs in its stylesheet) and sends "Try it out" requests only to it."""

_PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ASSET_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=3600",
}

_START_SCRIPT: Final = """\
// Starts Swagger UI on the service's OpenAPI document. A file rather than an inline script, so
// the page's Content-Security-Policy can forbid inline scripts altogether.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // Swagger UI would otherwise load a validity badge from validator.swagger.io.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
"""


def _page(title: str, openapi_url: str, assets: str, start_script: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - Swagger UI</title>
<link rel="icon" type="image/png" href="{escape(assets)}/favicon.png">
<link rel="stylesheet" href="{escape(assets)}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{escape(assets)}/swagger-ui-bundle.js"></script>
<script src="{escape(start_script)}"></script>
</body>
</html>
"""


def install_offline_docs(app: FastAPI) -> None:
    """Replace FastAPI's CDN-backed ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` with a
    Swagger UI page served entirely by ``app``. Safe to call more than once."""
    docs_url, openapi_url = app.docs_url, app.openapi_url
    assets, start_script = f"{docs_url}/assets", f"{docs_url}/start.js"
    replaced = {app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    if docs_url is not None:
        replaced |= {docs_url, start_script, f"{assets}/{{name}}"}
    app.router.routes[:] = [
        route for route in app.router.routes if getattr(route, "path", None) not in replaced
    ]
    app.redoc_url = None
    app.swagger_ui_oauth2_redirect_url = None  # bearer tokens only: no OAuth2 flow to finish
    if docs_url is None or openapi_url is None:
        return

    async def page(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        html = _page(app.title, root + openapi_url, root + assets, root + start_script)
        return HTMLResponse(html, headers=_PAGE_HEADERS)

    async def start(_: Request) -> Response:
        return Response(_START_SCRIPT, media_type=ASSETS["swagger-ui-bundle.js"],
                        headers=_ASSET_HEADERS)  # fmt: skip

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise StarletteHTTPException(404, f"no documentation file called {name!r}")
        return FileResponse(ASSETS_DIRECTORY / name, media_type=ASSETS[name],
                            headers=_ASSET_HEADERS)  # fmt: skip

    app.add_route(docs_url, page, methods=["GET"], include_in_schema=False)
    app.add_route(start_script, start, methods=["GET"], include_in_schema=False)
    app.add_route(f"{assets}/{{name}}", asset, methods=["GET"], include_in_schema=False)
