"""The API's contract: bounded integers, 405 with Allow, and an honest OpenAPI document.

Every route is enumerated from the app's own OpenAPI document (the HTML pages, hidden
from the public document, through a document of every route), never from a hand list,
so a new route is covered the day it is added.
"""

from __future__ import annotations

import base64
import copy
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from citizendata.server.app import create_app
from citizendata.server.params import DB_INT_MAX
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# a value for each path parameter that names something that exists
VALUES = {"slug": P, "form_id": F, "instance_id": "uuid:p1", "version": "1", "pair_id": "1",
          "name": "margins", "indicator": "skilled"}
REQUEST_LIMIT, UPLOAD_LIMIT = 4096, 8192


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Once per module: 'owner' (an administrator) owns the project with one submission,
    'collector' collects, 'outsider' belongs to no project; and their API tokens."""
    root = tmp_path_factory.mktemp("contract")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.submit(P, F, {"instance_id": "uuid:p1", "data": {"respondent": "Naserian",
                                                            "age": "30", "consent": "yes"}})
    for name in ("collector", "outsider"):
        owner.create_user(name, f"{name}-password")
    owner.add_member(P, "collector", "collector")
    tokens = {n: ws.login(n, f"{n}-password").create_token("t")
              for n in ("owner", "collector", "outsider")}
    ws.close()
    return root, tokens


@pytest.fixture
def http(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[TestClient]:
    """The app over a copy of the template, with small body limits."""
    shutil.copytree(template[0] / "ws", tmp_path / "ws")
    ws = Workspace(file_settings(tmp_path))
    settings = file_settings(tmp_path, max_request_bytes=REQUEST_LIMIT,
                             max_upload_bytes=UPLOAD_LIMIT)
    with TestClient(create_app(ws, settings=settings), follow_redirects=False) as c:
        yield c
    ws.close()


def bearer(template: tuple[Path, dict[str, str]], who: str) -> dict[str, str]:
    """A user's Authorization header."""
    return {"Authorization": f"Bearer {template[1][who]}"}


def _walk(routes: Any) -> Iterator[APIRoute]:
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)
        elif isinstance(r, APIRoute):
            yield r


def every_route_document(app: FastAPI) -> dict[str, Any]:
    """An OpenAPI document of every route, the HTML pages included."""
    shown = []
    for route in _walk(app.routes):
        route = copy.copy(route)
        route.include_in_schema = True
        shown.append(route)
    with warnings.catch_warnings():
        # /logout answers GET and POST with one function: one id for both, harmless here
        warnings.filterwarnings("ignore", message="Duplicate Operation ID", category=UserWarning)
        return get_openapi(title="all", version="0", routes=shown)


def fill(path: str, **values: str) -> str:
    """The path with its parameters replaced by real values."""
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), VALUES.get(m.group(1), "x")),
                  path)


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) for every operation of a document."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method.upper() in (*METHODS, "HEAD"):
                yield method.upper(), path, op


def required_query(op: dict[str, Any]) -> dict[str, str]:
    """A value for every required query parameter."""
    return {p["name"]: "x" for p in op.get("parameters", [])
            if p["in"] == "query" and p.get("required")}


# -- integers ------------------------------------------------------------------------------

def test_every_integer_parameter_is_bounded_to_the_database(
        http: TestClient, template: tuple[Path, dict[str, str]]) -> None:
    doc = every_route_document(http.app)  # type: ignore[arg-type]
    h = bearer(template, "owner")
    checked = set()
    for method, path, op in operations(doc):
        for param in op.get("parameters", []):
            schema = param["schema"]
            if schema.get("type") != "integer" and not any(
                    s.get("type") == "integer" for s in schema.get("anyOf", [])):
                continue
            name, where = param["name"], param["in"]
            checked.add((path, name))
            for bad in (str(DB_INT_MAX + 1), str(2**63), "-1", "99999999999999999999999"):
                query = required_query(op)
                url = fill(path, **({name: bad} if where == "path" else {}))
                if where == "query":
                    query[name] = bad
                r = http.request(method, url, params=query, headers=h)
                assert r.status_code == 422, (method, url, query, r.status_code, r.text)
                err = r.json()["error"]
                assert err["code"] == "input.invalid"
                assert name in {p["where"]["field"] for p in err["problems"]}, err
    # versions, pair ids, offsets, limits and page numbers of the API, the HTML pages and
    # the public release routes
    assert {("/public/releases/{slug}/{version}", "version"),
            ("/public/releases/{slug}/{version}/{name}", "version"),
            ("/api/v1/projects/{slug}/forms/{form_id}/duplicate-pairs/{pair_id}", "pair_id"),
            ("/api/v1/projects/{slug}/forms/{form_id}/submissions", "offset"),
            ("/projects/{slug}/forms/{form_id}", "page"),
            ("/projects/{slug}/releases/{version}/publish", "version")} <= checked
    assert len(checked) >= 20


def test_a_version_that_is_no_number_is_422_on_the_public_page(http: TestClient) -> None:
    for url in (f"/public/releases/{P}/one", f"/public/releases/{P}/1.5/report.html"):
        r = http.get(url)
        assert r.status_code == 422 and r.json()["error"]["code"] == "input.invalid"


# -- 405 -----------------------------------------------------------------------------------

def _regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$")


def test_405_names_the_allowed_methods(http: TestClient) -> None:
    doc = every_route_document(http.app)  # type: ignore[arg-type]
    templates = {path: {m.upper() for m in item} for path, item in doc["paths"].items()}
    seen = 0
    for path in templates:
        url = fill(path)
        allowed = sorted(set().union(*(ms for p, ms in templates.items()
                                       if _regex(p).match(url))))
        for method in METHODS:
            if method in allowed:
                continue
            r = http.request(method, url)
            assert r.status_code == 405, (method, url, r.status_code)
            assert sorted(m.strip() for m in r.headers["allow"].split(",")) == allowed, url
            seen += 1
    assert seen > 100


# -- the OpenAPI document against what the server answers ------------------------------------

def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
          "integer": int, "number": (int, float)}


def conforms(doc: dict[str, Any], schema: dict[str, Any], value: Any, at: str = "") -> str:
    """'' when ``value`` fits the JSON schema, else where it does not (what the checks of
    response conformance look at: types, required and unknown properties)."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        fits = [conforms(doc, s, value, at) for s in schema["anyOf"]]
        return "" if "" in fits else fits[0]
    kind = schema.get("type")
    if kind is not None and (not isinstance(value, _TYPES[kind]) or
                             (kind in ("integer", "number") and isinstance(value, bool))):
        return f"{at}: {value!r} is not {kind}"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        missing = set(schema.get("required", [])) - set(value)
        if missing:
            return f"{at}: missing {sorted(missing)}"
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                found = conforms(doc, props[k], v, f"{at}.{k}")
            elif extra is False:
                found = f"{at}: unknown property {k!r}"
            else:
                found = conforms(doc, extra, v, f"{at}.{k}") if isinstance(extra, dict) else ""
            if found:
                return found
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            found = conforms(doc, schema["items"], v, f"{at}[{i}]")
            if found:
                return found
    return ""


def example(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A small value of a schema: every required property, of its type."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return example(doc, schema["anyOf"][0])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: example(doc, schema["properties"][k]) for k in schema.get("required", [])}
    return {"string": "x", "integer": 1, "number": 1.0, "boolean": False,
            "array": []}.get(str(kind), {})


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class Probe:
    """Sends requests to one operation and checks each answer against the document."""

    def __init__(self, http: TestClient, doc: dict[str, Any], method: str, path: str,
                 op: dict[str, Any]) -> None:
        self.http, self.doc, self.method, self.path, self.op = http, doc, method, path, op
        self.seen: set[int] = set()

    def send(self, url: str | None = None, **kw: Any) -> Any:
        """One request; fails unless the status and the body are in the document."""
        url = url or fill(self.path)
        params = {**required_query(self.op), **kw.pop("params", {})}
        r = self.http.request(self.method, url, params=params, **kw)
        where = f"{self.method} {url} -> {r.status_code}: {r.text[:300]}"
        documented = self.op["responses"]
        assert str(r.status_code) in documented, f"undocumented status: {where}"
        self.seen.add(r.status_code)
        content = documented[str(r.status_code)].get("content", {})
        if self.method == "HEAD" or r.status_code == 204:
            return r
        media = _media(r.headers.get("content-type", ""))
        assert media in content or "*/*" in content, f"undocumented {media}: {where}"
        if media == "application/json" and "schema" in content.get(media, {}):
            problem = conforms(self.doc, content[media]["schema"], r.json())
            assert not problem, f"{problem}: {where}"
        return r


def _body(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """A plausible body for an operation, from its documented request body."""
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content and "schema" in content["application/json"]:
        return {"json": example(doc, content["application/json"]["schema"])}
    if "multipart/form-data" in content:
        return {"files": {"file": ("f.csv", b"instance_id\nuuid:z\n", "text/csv")}}
    return {"content": b"ward,n\nmagadi,3\n"}


def test_every_answer_is_in_the_openapi_document(
        http: TestClient, template: tuple[Path, dict[str, str]]) -> None:
    doc = http.get("/openapi.json").json()
    owner, outsider, collector = (bearer(template, n) for n in
                                  ("owner", "collector", "outsider"))
    # a browser session of the owner, for the CSRF check
    cookie = TestClient(http.app, follow_redirects=False)
    login = cookie.post("/api/v1/login", json={"username": "owner",
                                               "password": "owner-password"})
    assert login.status_code == 200
    statuses: dict[int, int] = {}
    for method, path, op in operations(doc):
        probe = Probe(http, doc, method, path, op)
        probe.send()  # no credentials
        for who in (outsider, collector, owner):
            probe.send(headers=who, **(_body(doc, op) if method in METHODS[1:] else {}))
        unknown = {k: "nope" for k in VALUES if k != "version" and k != "pair_id"}
        probe.send(fill(path, version="99", pair_id="99", **unknown), headers=owner)
        if method in METHODS[1:]:
            again = _body(doc, op)
            probe.send(headers=owner, **again)  # the same write again
            probe.send(headers={**owner, "Content-Type": "application/json"}, content=b'{"')
            probe.send(headers={**owner, "Content-Type": "text/plain"}, content=b"plain")
            probe.send(headers={**owner, "Content-Type": "application/octet-stream"},
                       content=b"x" * (UPLOAD_LIMIT + 1))
            probe.http, http_before = cookie, probe.http
            probe.send(**_body(doc, op))  # the cookie without its CSRF token
            probe.http = http_before
        if path.startswith("/openrosa/"):
            wrong = {"Authorization": "Basic " + base64.b64encode(b"ghost:wrong").decode()}
            for _ in range(6):
                probe.send(headers=wrong)
        for status in probe.seen:
            statuses[status] = statuses.get(status, 0) + 1
    # log-in: wrong passwords until the throttle answers
    probe = Probe(http, doc, "POST", "/api/v1/login", doc["paths"]["/api/v1/login"]["post"])
    for _ in range(6):
        probe.send(json={"username": "ghost-user", "password": "wrong"})
    assert {401, 429} <= probe.seen
    # the probing reached every kind of answer the document names
    assert {200, 201, 401, 403, 404, 409, 413, 415, 422, 429} <= set(statuses), statuses
