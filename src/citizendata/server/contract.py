"""What each route can answer, written into the OpenAPI document in one place.

A route's error statuses follow from what it is: its credentials dependency (401; 429
where a password is checked), a project in its path (403 for a role, 404 for a
non-member), any path parameter (404), any parameter or body (422), a body (413), and
a session-cookie write under /api (403 without the CSRF token). What only some routes
do (409, 415, a second success status) is declared in :data:`DECLARED`. Every error
response is documented with the one error shape (:class:`ErrorBody`) in the format the
route writes it: JSON under /api, OpenRosa XML under /openrosa, JSON or an HTML page
elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from citizendata.server.deps import api_client, odata_client, openrosa_client

__all__ = ["DECLARED", "ErrorBody", "install_contract", "route_statuses"]

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# (method, path) → statuses beyond those that follow from the route's make-up
DECLARED: dict[tuple[str, str], frozenset[int]] = {
    ("POST", "/api/v1/login"): frozenset({401, 429}),
    # an initiating organisation the caller does not belong to; a slug already taken
    ("POST", "/api/v1/projects"): frozenset({404, 409}),
    ("POST", "/api/v1/organisations"): frozenset({403, 409}),
    ("POST", "/api/v1/projects/{slug}/forms"): frozenset({409}),
    # 200: an identical resend, nothing stored
    ("POST", "/api/v1/projects/{slug}/forms/{form_id}/submissions"): frozenset({200, 409, 415}),
    ("POST", "/api/v1/projects/{slug}/forms/{form_id}/import"): frozenset({200, 409}),
    ("PUT", "/api/v1/projects/{slug}/reference-tables/{name}"): frozenset({409}),
    # the form was never validated: nothing is known to be clean
    ("POST", "/api/v1/projects/{slug}/forms/{form_id}/approve-clean"): frozenset({409}),
    ("POST", "/api/v1/projects/{slug}/forms/{form_id}/submissions/{instance_id}"
             "/consent-withdrawal"): frozenset({409}),
    ("POST", "/api/v1/projects/{slug}/indicators/{indicator}/dp-estimate"): frozenset({409}),
    ("POST", "/api/v1/projects/{slug}/releases/{version}/signoffs"): frozenset({409}),
    ("POST", "/api/v1/projects/{slug}/releases/{version}/publish"): frozenset({409}),
    ("POST", "/api/v1/projects/{slug}/releases/{version}/withdraw"): frozenset({409}),
    # 202: an identical resend, nothing changed
    ("POST", "/openrosa/{slug}/submission"): frozenset({202, 409, 415}),
    ("POST", "/projects/{slug}/forms/{form_id}/fill/submission"): frozenset({202, 409, 415}),
    # managed encryption is on already; that private key is registered already
    ("POST", "/api/v1/projects/{slug}/encryption"): frozenset({409}),
    ("POST", "/api/v1/projects/{slug}/encryption/keys"): frozenset({409}),
    # a job that has ended cannot be cancelled
    ("POST", "/api/v1/jobs/{job_id}/cancel"): frozenset({409}),
    # wrong passphrases are throttled like failed log-ins
    ("POST", "/api/v1/projects/{slug}/forms/{form_id}/export"): frozenset({429}),
    # public links: revoked or expired (410), full (409); submissions per address (429);
    # 202: an identical resend, nothing changed
    ("GET", "/f/{token}/form.xml"): frozenset({409, 410}),
    ("GET", "/f/{token}/attachments/{name}"): frozenset({409, 410}),
    ("POST", "/f/{token}/submission"): frozenset({202, 409, 410, 415, 429}),
    # cases (routers/cases.py) -- 200: the same list again, nothing changed; 409: a record
    # changed since its import
    ("POST", "/api/v1/projects/{slug}/cases/lists/{list_name}/import"): frozenset({200, 409}),
    # consent to everything was withdrawn for the case: it is no longer reviewed
    ("POST", "/api/v1/projects/{slug}/cases/{instance_id}/verification"): frozenset({409}),
}

_TITLES = {
    401: "Not logged in, or the credentials are wrong or revoked (auth.*)",
    403: "The caller's role does not allow this, or a session-cookie write lacks its "
         "X-CSRF-Token (auth.forbidden, auth.csrf, auth.not_admin, …)",
    404: "No such object, or one the caller may not know of (not_found.*, …)",
    409: "Conflicts with what is stored; nothing was changed (conflict.*, release.*, …)",
    413: "The request body is over the size limit (intake.payload_too_large, …)",
    410: "The public link was revoked or has expired (weblink.revoked, weblink.expired)",
    415: "Wrong content type (intake.unsupported_media_type)",
    422: "Invalid input: a parameter, the body or its content (input.invalid, …)",
    429: "Too many failed log-ins or passphrases, or public-link submissions from one "
         "address; wait Retry-After seconds (auth.too_many_attempts, weblink.rate_limited)",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "The scheme to authenticate with.",
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again.",
                          "schema": {"type": "integer"}}},
}


class ErrorWhere(BaseModel):
    """Where a problem is."""

    model_config = ConfigDict(extra="forbid")
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None
    position: int | None = None
    instance_id: str | None = None


class ErrorProblem(BaseModel):
    """One problem of several found in one input."""

    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    where: ErrorWhere | None = None
    rule: str | None = None
    fix: str | None = None


class ErrorDetail(BaseModel):
    """A stable code from docs/errors.md, what went wrong, where, and how to fix it."""

    model_config = ConfigDict(extra="forbid")
    code: str
    title: str
    message: str
    status: int
    where: ErrorWhere | None = None
    rule: str | None = None
    fix: str | None = None
    problems: list[ErrorProblem] | None = None
    details: dict[str, Any] | None = None
    language: str | None = Field(
        None, description="Present when `title` is translated: the language it is in (the "
                          "request's, from Accept-Language, the language switch or the "
                          "user's saved language). `code` and `message` are never "
                          "translated.")


class ErrorBody(BaseModel):
    """The one error shape of every JSON error answer."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


def _dependants(dependant: Any) -> Iterator[Any]:
    yield dependant
    for dep in dependant.dependencies:
        yield from _dependants(dep)


def route_statuses(route: APIRoute, method: str, path: str) -> set[int]:
    """Every status the route can answer ``method`` at ``path`` with."""
    deps = list(_dependants(route.dependant))
    calls = {d.call for d in deps}
    path_params = {p.name for d in deps for p in d.path_params}
    inputs = any(d.path_params or d.query_params or d.body_params for d in deps) or bool(
        (route.openapi_extra or {}).get("requestBody"))
    authed = bool(calls & {api_client, openrosa_client, odata_client})
    out = {route.status_code or 200} | DECLARED.get((method, path), frozenset())
    if authed:
        out.add(401)
    if authed and ("slug" in path_params or (method in WRITES and path.startswith("/api/"))):
        out.add(403)  # a role in the project; the CSRF token of a cookie session
    if calls & {openrosa_client, odata_client}:
        out.add(429)  # HTTP Basic checks a password, and failed ones are throttled
    if path_params:
        out.add(404)
    if method in WRITES:
        out.add(413)  # any body is counted, whether the route reads one or not
    if inputs:
        out.add(422)
    return out


def _error_content(path: str) -> dict[str, Any]:
    """How a route writes its errors (server/errors.py ``response_kind``)."""
    text = {"schema": {"type": "string"}}
    if path == "/openrosa" or path.startswith("/openrosa/"):
        return {"text/xml": text}
    json = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return json if path.startswith("/api") else {**json, "text/html": text}


def _walk(routes: Any) -> Iterator[APIRoute]:
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)
        elif isinstance(r, APIRoute):
            yield r


def document_errors(schema: dict[str, Any], routes: list[APIRoute]) -> None:
    """Write every route's statuses into the generated OpenAPI ``schema``."""
    by_id = {r.unique_id: r for r in routes}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            route = by_id[op["operationId"]]
            statuses = route_statuses(route, method.upper(), path)
            responses = op.setdefault("responses", {})
            main = responses.get(str(route.status_code or 200), {})
            for status in sorted(statuses):
                if status < 400:
                    responses.setdefault(str(status), {**main, "description": "Success"})
                    continue
                entry: dict[str, Any] = {"description": _TITLES[status],
                                         "content": _error_content(path)}
                if status in _HEADERS:
                    entry["headers"] = _HEADERS[status]
                responses[str(status)] = entry
            op["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["ErrorBody"] = body
    # FastAPI's own 422 shape is never sent: the one error shape replaces it
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def install_contract(app: FastAPI) -> None:
    """Serve the OpenAPI document with every route's statuses; refuse stale declarations."""
    routes = list(_walk(app.routes))
    # the document writes {name:path} as {name}; so does DECLARED
    known = {(m, re.sub(r"{(\w+):\w+}", r"{\1}", r.path))
             for r in routes for m in r.methods or ()}
    stale = set(DECLARED) - known
    if stale:
        raise RuntimeError(f"DECLARED names routes that do not exist: {sorted(stale)}")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            document_errors(schema, routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
