"""No server error on any input: the API fuzzed from its own OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` gets generated requests, valid and invalid (wrong
types, missing fields, odd strings in every parameter and body), sent in-process to the
app over ASGI: once as the project's owner with an API token, on a workspace with a
project, a form and submissions, and once without credentials. Each answer must not be
a 5xx and must be what the document declares: a listed status, its content type, headers
and, where the document gives one, its schema (the one error shape for every error); and
a request the document calls invalid must be refused.

Deterministic (``derandomize``) and bounded, so a failure reproduces on every run; a
fresh workspace per run, so nothing a run writes can leak into the next.
"""

from __future__ import annotations

import importlib
import os
import shutil
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx is what the project installs
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = SPEC["slug"], "household"
# names for path parameters: the project, form, version and a submission the workspace
# holds, release 1 once the run has built it, pair 1 once validation found one, and the
# reference table and indicator names a project would use (absent here: a 404 path)
REAL = {"slug": P, "form_id": F, "instance_id": "uuid:fuzz-1", "version": "1",
        "pair_id": "1", "name": "margins", "indicator": "skilled"}
# no 5xx; the status, content type, headers and body the document declares; and input the
# document calls invalid is refused (4xx). Not positive_data_acceptance: the document types
# fields as free text where the library takes one of a few words (a role, a decision), so
# a 422 for "role": "x" is right, not a failure.
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection"]
# examples per operation and mode: 72 operations, about 2,700 requests in all. A longer
# hunt: CITIZENDATA_FUZZ_EXAMPLES=100 (about 13,000 requests, a few minutes)
OWNER_EXAMPLES = int(os.environ.get("CITIZENDATA_FUZZ_EXAMPLES", "20"))
ANONYMOUS_EXAMPLES = max(1, OWNER_EXAMPLES * 3 // 10)
# fewer where each call is slow on purpose and the input small: a log-in checks an argon2
# hash; validation (path parameters only) runs every rule and the duplicate search
SLOW = {"POST /api/v1/login": 6, "POST /api/v1/projects/{slug}/forms/{form_id}/validate": 5}

CONFIG = {"seed": 14, "generation": {"mode": "all", "deterministic": True, "database": "none"}}

# Importing schemathesis patches Hypothesis for the whole process: a printer that prints
# nothing (every other test's failing example would read "n=,") and a larger buffer. So
# its pytest plugin is off (pyproject: -p no:schemathesis), it is imported only here, and
# what it patches is put back when this module is done.
_PATCHED = [("hypothesis.core", "RepresentationPrinter"), ("hypothesis.core", "BUFFER_SIZE"),
            ("hypothesis.internal.conjecture.engine", "BUFFER_SIZE"),
            ("hypothesis.strategies._internal.collections", "BUFFER_SIZE"),
            ("hypothesis.strategies._internal.core", "is_first_param_referenced_in_function"),
            ("hypothesis.internal.entropy", "register_random")]


@contextmanager
def hypothesis_as_it_was() -> Iterator[None]:
    """Run the body, then undo what importing schemathesis did to Hypothesis."""
    saved = [(module, name, getattr(module, name))
             for module, name in ((importlib.import_module(m), n) for m, n in _PATCHED)
             if hasattr(module, name)]
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
        setup = importlib.import_module("schemathesis.generation.hypothesis").setup
        setup._is_patched = False  # patch again if schemathesis is used later on


def _submission(n: int) -> dict[str, Any]:
    return {"instance_id": f"uuid:fuzz-{n}",
            "data": {"respondent": f"Respondent {n}", "age": str(18 + n), "consent": "yes",
                     "location": {"ward": "magadi" if n % 2 else "ewuaso"}}}


@pytest.fixture(scope="module")
def fuzz_workspace(http_template: tuple[Path, dict[str, str]],
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The conftest template (owner, project, household form) copied fresh for this run,
    with a few submissions."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(http_template[0] / "ws", root / "ws")
    ws = Workspace(file_settings(root))
    owner = ws.login("owner", "owner-password")
    for n in range(1, 6):
        owner.submit(P, F, _submission(n))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def api(fuzz_workspace: Workspace) -> Iterator[Any]:
    """The app's own OpenAPI document, loaded for in-process (ASGI) calls."""
    with hypothesis_as_it_was():
        yield _load(fuzz_workspace)


def _load(workspace: Workspace) -> Any:
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.parameters import ParameterLocation

    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(workspace), config=schemathesis.Config.from_dict(CONFIG))

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        # each path parameter is the generated value or the name of a real object, so that
        # requests get past "no such project" to the route's own work; a path made invalid
        # on purpose (negative mode) is left as generated
        path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
        if not case.path_parameters or (path and path.mode is GenerationMode.NEGATIVE):
            return st.just(case)

        def named(params: dict[str, Any]) -> Any:
            case.path_parameters = params
            return case

        return st.fixed_dictionaries({
            k: st.sampled_from([REAL[k], v]) if k in REAL else st.just(v)
            for k, v in case.path_parameters.items()}).map(named)

    return schema


@pytest.fixture(scope="module")
def owner_header(http_template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    """The owner's API token."""
    return {"Authorization": f"Bearer {http_template[1]['owner']}"}


_FREE = {"type", "title", "description"}


def can_be_invalid(definition: dict[str, Any]) -> bool:
    """Whether an operation takes anything that can be sent invalid: a query parameter, a
    typed or constrained path parameter, or a body with a schema (a free-text path
    parameter and an any-JSON body accept every value)."""
    for param in definition.get("parameters", []):
        spec = param.get("schema", {})
        if param["in"] != "path" or spec.get("type") != "string" or set(spec) - _FREE:
            return True
    content = definition.get("requestBody", {}).get("content", {})
    return any(set(media.get("schema", {})) - _FREE - {"format"} for media in content.values())


def fuzz(schema: Any, headers: dict[str, str], examples: int) -> tuple[Counter[int], list[str]]:
    """Every operation, valid and invalid inputs: the statuses seen and the failures."""
    from schemathesis import GenerationMode, checks
    from schemathesis.specs.openapi import checks as openapi_checks

    run_checks = [getattr(checks, name, None) or getattr(openapi_checks, name)
                  for name in CHECKS]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE]
        if can_be_invalid(operation.definition.raw):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @settings(max_examples=min(examples, SLOW.get(operation.label, examples)),
                      derandomize=True, database=None, deadline=None, print_blob=False,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                response = case.call_and_validate(headers=headers, checks=run_checks)
                statuses[response.status_code] += 1

            try:
                run()
            except Unsatisfiable:
                # nothing to make invalid: e.g. only free-text path parameters
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:
                # schemathesis' failure names the check, the answer and a curl line
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return statuses, failures


def test_owner_gets_no_server_error(api: Any, owner_header: dict[str, str]) -> None:
    """As the owner with an API token: any input is answered as the document says."""
    statuses, failures = fuzz(api, owner_header, OWNER_EXAMPLES)
    print(f"owner: {sum(statuses.values())} cases, statuses {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)
    # it reached the routes' own work, not only their refusals
    assert statuses[200] + statuses[201] > 200 and statuses[422] > 200, statuses


def test_anonymous_gets_no_server_error(api: Any) -> None:
    """Without credentials: any input is answered as the document says."""
    statuses, failures = fuzz(api, {}, ANONYMOUS_EXAMPLES)
    print(f"anonymous: {sum(statuses.values())} cases, statuses {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)
    assert statuses[401] > 300, statuses


# -- what the fuzzer found, as a user would send it ------------------------------------------
def test_latin1_json_is_invalid_json_where_the_byte_is(
        http_server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    """A client writing its JSON in Latin-1 ("ü" as the byte 0xFC) gets the coded 422 with
    the byte's position (it was a bare 400 outside the catalogue)."""
    _, http, owner = http_server
    body = '{"username": "Müller", "role": "collector"}'.encode("latin-1")
    r = http.post(f"/api/v1/projects/{P}/members", content=body,
                  headers={**owner, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "intake.invalid_json"
    assert error["where"] == {"position": body.index(b"\xfc")}


UNNAMED_PART = (b'--cut\r\nContent-Disposition: form-data; filename="household.xlsx"\r\n\r\n'
                b"PK\x03\x04\r\n--cut--\r\n")


@pytest.mark.parametrize("url", [f"/api/v1/projects/{P}/forms",
                                 f"/api/v1/projects/{P}/forms/{F}/import"])
def test_multipart_part_without_a_name_is_invalid_input(
        http_server: tuple[Workspace, TestClient, dict[str, str]], url: str) -> None:
    """A hand-made upload whose file part has no name: 422 saying why (was a bare 400)."""
    _, http, owner = http_server
    r = http.post(url, content=UNNAMED_PART,
                  headers={**owner, "Content-Type": "multipart/form-data; boundary=cut"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "input.invalid"
    assert 'header field "name" must be provided' in error["message"]


def test_openrosa_multipart_without_a_name_is_an_openrosa_422(
        http_server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    """The same broken body to the OpenRosa submission endpoint: 422 as OpenRosa XML."""
    _, http, owner = http_server
    r = http.post(f"/openrosa/{P}/submission", content=UNNAMED_PART,
                  headers={**owner, "Content-Type": "multipart/form-data; boundary=cut"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("text/xml")
    assert "input.invalid: The request body cannot be read" in r.text


@pytest.mark.parametrize("as_of", ["0", 0, "1700000000", "7/12/2026"])
def test_release_date_that_is_not_yyyy_mm_dd_is_refused(
        http_server: tuple[Workspace, TestClient, dict[str, str]], as_of: Any) -> None:
    """A release "as of" 0 was built as of 1 January 1970 (pydantic reads a Unix time);
    the document says a date (YYYY-MM-DD), and now only that is taken."""
    ws, http, owner = http_server
    r = http.post(f"/api/v1/projects/{P}/releases", json={"as_of": as_of}, headers=owner)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "input.invalid"
    assert "YYYY-MM-DD" in r.json()["error"]["message"]
    assert ws.login("owner", "owner-password").releases(P) == []


def test_encoding_name_with_a_nul_is_an_unknown_encoding(
        http_server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    """A script that builds the URL from a C string and keeps its terminating NUL
    ("utf-8\\0") got a 500 (codecs.lookup raises ValueError); now 422 naming the field."""
    ws, http, owner = http_server
    rows = "instance_id,respondent,age,consent\nuuid:n1,Naserian,30,yes\n"
    r = http.post(f"/api/v1/projects/{P}/forms/{F}/import",
                  params={"encoding": "utf-8\x00"}, headers=owner,
                  files={"file": ("rows.csv", rows.encode(), "text/csv")})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "input.invalid" and error["where"] == {"field": "encoding"}
    assert ws.login("owner", "owner-password").submissions(P, F)[0] == 0


def test_enabling_encryption_twice_is_a_declared_409(
        http_server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    """An owner who clicks "enable encryption" twice gets 409 conflict.exists, and the
    OpenAPI document now lists that 409 (it did not: a client could not expect it)."""
    _, http, owner = http_server
    url = f"/api/v1/projects/{P}/encryption"
    body = {"passphrase": "long enough passphrase", "hint": "the usual one"}
    assert http.post(url, json=body, headers=owner).status_code == 201
    again = http.post(url, json=body, headers=owner)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "conflict.exists"
    document = http.get("/openapi.json").json()
    assert "409" in document["paths"]["/api/v1/projects/{slug}/encryption"]["post"]["responses"]
