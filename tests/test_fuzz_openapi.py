"""No server error on any input: the API fuzzed from its own OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` gets generated requests, valid and invalid (wrong
types, missing fields, odd strings in every parameter and body), sent in-process to the
app over ASGI: once as the project's owner with an API token, on a workspace with a
project, a form and submissions, and once without credentials. Each answer must not be
a 5xx and must be what the document declares: a listed status, its content type and,
where the document gives one, its schema (the one error shape for every error).

Deterministic (``derandomize``) and bounded, so a failure reproduces on every run; a
fresh workspace per run, so nothing a run writes can leak into the next.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings

P, F = SPEC["slug"], "household"
# what the workspace holds, so that a share of the generated paths name real objects
REAL = {"slug": P, "form_id": F, "instance_id": "uuid:fuzz-1", "version": "1",
        "pair_id": "1", "name": "margins", "indicator": "skilled"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# examples per operation and pass; 61 operations (measured: see docs/architecture.md)
OWNER_EXAMPLES, ANONYMOUS_EXAMPLES = 40, 10

CONFIG = schemathesis.Config.from_dict({
    "seed": 14,
    "generation": {"mode": "all", "deterministic": True, "database": "none"},
})


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
def api(fuzz_workspace: Workspace) -> Any:
    """The app's own OpenAPI document, loaded for in-process (ASGI) calls."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzz_workspace),
                                            config=CONFIG)

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


def fuzz(schema: Any, headers: dict[str, str], examples: int) -> tuple[Counter[int], list[str]]:
    """Every operation, valid and invalid inputs: the statuses seen and the failures."""
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck), print_blob=False)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                statuses[response.status_code] += 1

            try:
                run()
            except Unsatisfiable:
                # nothing to make invalid: e.g. only free-text path parameters
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' failure names the check and the input
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return statuses, failures


def test_owner_gets_no_server_error(api: Any, owner_header: dict[str, str]) -> None:
    """As the owner with an API token: any input is answered as the document says."""
    statuses, failures = fuzz(api, owner_header, OWNER_EXAMPLES)
    print(f"owner: {sum(statuses.values())} cases, statuses {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)


def test_anonymous_gets_no_server_error(api: Any) -> None:
    """Without credentials: any input is answered as the document says."""
    statuses, failures = fuzz(api, {}, ANONYMOUS_EXAMPLES)
    print(f"anonymous: {sum(statuses.values())} cases, statuses {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)
