"""The web application factory: JSON API, OpenRosa endpoints and a few HTML pages.

Nothing is built at import time; ``create_app()`` opens the workspace from the
environment unless one is passed in. Run it with
``uvicorn --factory citizendata.server.app:create_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.sessions import SessionMiddleware

from citizendata import __version__ as _version
from citizendata.config import Settings
from citizendata.server.contract import install_contract
from citizendata.server.errors import RequestContextMiddleware, install_error_handlers, templates
from citizendata.server.instance_ids import InstanceIdPaths
from citizendata.server.middleware import (
    BodySizeLimitMiddleware,
    JsonDepthMiddleware,
    LocaleMiddleware,
    UserLocaleMiddleware,
)
from citizendata.server.routers import (
    analysis,
    api,
    attachments,
    cases,
    cases_pages,
    collect,
    combine,
    encryption,
    estimation,
    html,
    jobs,
    odata,
    openrosa,
    population,
    privacy,
    public,
    quality,
    releases,
    review,
    setup,
    setup_files,
    small_areas,
    validation,
    webforms,
    weblinks,
)
from citizendata.server.static_files import PrecompressedStaticFiles
from citizendata.server.work import lifespan
from citizendata.workspace import Workspace

__all__ = ["SESSION_COOKIE", "create_app"]

SESSION_COOKIE = "citizendata_session"
_STATIC_DIR = Path(__file__).parent / "static"


def create_app(workspace: Workspace | None = None, settings: Settings | None = None) -> FastAPI:
    """A FastAPI app serving one workspace (opened from the environment if not given)."""
    if workspace is None:
        workspace = Workspace(settings) if settings is not None else Workspace.open(None)
    settings = settings or workspace.settings
    settings.check_production()
    # made now, not at the first unknown user's log-in, which would otherwise take a third
    # of a second longer than a wrong password and tell that the user does not exist
    from citizendata.services.accounts import _dummy_hash

    _dummy_hash()
    # Swagger UI would load scripts from a CDN; /docs is rendered here from the schema instead
    app = FastAPI(title="citizendata", version=_version, docs_url=None, redoc_url=None,
                  description="Citizen data from collection to official statistics.",
                  lifespan=lifespan(workspace))
    app.state.workspace = workspace
    app.state.settings = settings

    install_error_handlers(app)
    # added innermost first: the last one added wraps all the others
    app.add_middleware(UserLocaleMiddleware)
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret(),
                       session_cookie=SESSION_COOKIE, max_age=settings.session_max_age_s,
                       same_site="lax", https_only=settings.mode == "production")
    app.add_middleware(JsonDepthMiddleware, settings=settings)
    app.add_middleware(BodySizeLimitMiddleware, settings=settings)
    app.add_middleware(InstanceIdPaths)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(RequestContextMiddleware)

    # before the API: '…/forms/{form}.svc' would otherwise be read as a form id
    app.include_router(odata.router)
    app.include_router(api.router)
    app.include_router(encryption.router)
    app.include_router(review.router)
    app.include_router(attachments.router)
    app.include_router(validation.router)
    app.include_router(estimation.router)
    app.include_router(combine.router)
    app.include_router(cases.router)
    app.include_router(cases_pages.router)
    app.include_router(small_areas.router)
    app.include_router(population.router)
    app.include_router(privacy.router)
    app.include_router(quality.router)
    app.include_router(public.router)
    app.include_router(collect.router)
    app.include_router(releases.router)
    app.include_router(jobs.router)
    app.include_router(jobs.pages)
    app.include_router(validation.pages)
    app.include_router(releases.pages)
    app.include_router(analysis.router)
    app.include_router(openrosa.router)
    app.include_router(setup.router)
    app.include_router(setup_files.router)
    app.include_router(webforms.router)
    app.include_router(weblinks.router)
    app.include_router(html.router)
    app.mount("/static", PrecompressedStaticFiles(directory=str(_STATIC_DIR)), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        """The API reference, rendered on the server from the OpenAPI schema."""
        return templates.TemplateResponse(request, "docs.html", _docs_context(app.openapi()))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok"}

    # every status each route can answer, with the one error shape, in /openapi.json
    install_contract(app)
    return app


def _docs_context(schema: dict[str, Any]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete", "head"}:
                continue
            body = op.get("requestBody", {}).get("content", {})
            groups.setdefault((op.get("tags") or ["other"])[0], []).append({
                "method": method, "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "params": op.get("parameters", []), "body": list(body)})
    return {"title": schema["info"]["title"], "version": schema["info"]["version"],
            "groups": list(groups.items()), "user": None}
