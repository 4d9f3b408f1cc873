"""The demo: idempotent (a rerun publishes no identical release) and names who is who."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from citizendata.demo import DEMO_ADMIN, build_demo, demo_logins, release_to_publish
from citizendata.scenarios.kenya_maternal_health import project as kp


def test_every_demo_login_is_named_with_its_role() -> None:
    logins = {u["username"]: u for u in demo_logins()}
    assert logins[DEMO_ADMIN["username"]]["role"] == "site administrator"
    for u in kp.DEMO_USERS:
        assert logins[u["username"]]["role"] == u["role"]
        assert logins[u["username"]]["password"] == u["password"]
    reps = kp.RELEASE["community_representatives"]
    assert reps and all("community representative" in logins[r]["stands_for"] for r in reps)
    nso = [u["username"] for u in kp.DEMO_USERS if u["role"] == "nso"]
    assert nso and all("NSO officer" in logins[n]["stands_for"] for n in nso)
    others = set(logins) - set(reps) - set(nso)
    assert all(not logins[o]["stands_for"] for o in others)


class _Owner:
    """Just enough of a Client for the release decision."""

    def __init__(self, releases: list[dict[str, Any]]) -> None:
        self._releases = releases

    def releases(self, slug: str) -> list[dict[str, Any]]:
        return self._releases


def _r(version: int, status: str) -> dict[str, Any]:
    return {"version": version, "status": status, "files": ["report.html"]}


def test_a_rerun_with_the_same_inputs_keeps_the_published_release() -> None:
    owner: Any = _Owner([_r(1, "published"), _r(2, "withdrawn")])
    assert release_to_publish(owner, "p", inputs_changed=False) == (_r(1, "published"), False)
    # a release someone built to try the sign-off is not signed for them
    owner = _Owner([_r(1, "published"), _r(2, "awaiting_signoff")])
    assert release_to_publish(owner, "p", inputs_changed=False) == (_r(1, "published"), False)


def test_an_interrupted_run_publishes_its_release_instead_of_building_another() -> None:
    owner: Any = _Owner([_r(1, "awaiting_signoff")])
    assert release_to_publish(owner, "p", inputs_changed=False) == (_r(1, "awaiting_signoff"),
                                                                     False)


def test_new_inputs_or_no_release_build_one() -> None:
    assert release_to_publish(_Owner([_r(1, "published")]), "p",  # type: ignore[arg-type]
                              inputs_changed=True) == (None, True)
    assert release_to_publish(_Owner([]), "p", inputs_changed=False) == (None, True)  # type: ignore[arg-type]
    assert release_to_publish(_Owner([_r(1, "withdrawn")]), "p",  # type: ignore[arg-type]
                              inputs_changed=False) == (None, True)


def _render(table: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=400).print(table)
    return out.getvalue()


@pytest.mark.slow
def test_a_rerun_builds_nothing_twice(tmp_path: Path) -> None:
    quiet = Console(file=io.StringIO())
    ws, first = build_demo(tmp_path / "demo", n=150, console=quiet)
    ws.close()
    ws, second = build_demo(tmp_path / "demo", n=150, console=quiet)
    owner = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "owner"))
    slug = kp.PROJECT["slug"]
    assert [(r["version"], r["status"]) for r in owner.releases(slug)] == [(1, "published")]
    assert len(owner.estimate_runs(slug, indicator="sba")) == 1
    assert [len(f.versions) for f in owner.forms(slug)] == [1]
    text = _render(second)
    assert "0 new, 150 already there" in text and "no identical" in text
    for login in demo_logins():
        assert login["username"] in text and login["role"] in text
    assert "community representative" in text and "NSO officer" in text
    assert "community representative" in _render(first)
    ws.close()
