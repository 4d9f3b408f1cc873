"""The quality record kept in the workspace: read back on a repeat view, never stale.

One small demo workspace for the module; each change that the record depends on
(an approval, an attestation, a decision, a spec change, a consent withdrawal, an
erasure) must give a new record, and a repeat view with nothing changed must not
compute anything.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from citizendata.errors import Forbidden
from citizendata.privacy.client import ProtectionMethods
from citizendata.projects.spec import ProjectSpec
from citizendata.quality import cache as qcache
from citizendata.quality.client import QualityMethods
from citizendata.workspace import Client, Workspace

SLUG, FORM, IND = "kenya-maternal-health", "kenya_maternal_health", "sba"
TODAY = date(2026, 6, 1)


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The demo workspace with a few hundred submissions, validated and approved."""
    from citizendata.demo import build_demo

    root = tmp_path_factory.mktemp("qcache")
    ws, _ = build_demo(root / "demo", n=600, fresh=True)
    yield ws
    ws.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the expensive parts run: the whole computation and the protected run."""
    calls = {"evidence": 0, "protected": 0}
    record, protected = QualityMethods._quality_evidence, ProtectionMethods._protected

    def count_record(self: Any, *a: Any, **k: Any) -> Any:
        calls["evidence"] += 1
        return record(self, *a, **k)

    def count_protected(self: Any, *a: Any, **k: Any) -> Any:
        calls["protected"] += 1
        return protected(self, *a, **k)

    monkeypatch.setattr(QualityMethods, "_quality_evidence", count_record)
    monkeypatch.setattr(ProtectionMethods, "_protected", count_protected)
    return calls


def user(ws: Workspace, name: str) -> Client:
    return ws.as_user(name)


def close(a: Any, b: Any, path: str = "") -> None:
    """Equal records, floats to 1e-9 (the estimates' sums are not bit-reproducible)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def files(ws: Workspace) -> list[Path]:
    folder = ws.settings.workspace / "cache" / "quality" / SLUG / FORM
    return sorted(folder.glob("*.json")) if folder.exists() else []


def test_a_repeat_view_reads_the_kept_record(kenya: Workspace,
                                              counted: dict[str, int]) -> None:
    nso = user(kenya, "otieno")
    first = nso.quality(SLUG, FORM, IND, today=TODAY)
    assert counted == {"evidence": 1, "protected": 1}
    assert files(kenya)
    again = nso.quality(SLUG, FORM, IND, today=TODAY)
    assert counted == {"evidence": 1, "protected": 1}  # nothing computed again
    assert again == first
    # and in another client (another server process reads the same files)
    assert user(kenya, "otieno").quality(SLUG, FORM, IND, today=TODAY) == first
    assert counted["evidence"] == 1
    fresh = nso.quality(SLUG, FORM, IND, today=TODAY, cache=False)
    assert counted == {"evidence": 2, "protected": 2}
    close(again, fresh)


def test_every_role_reads_the_same_evidence(kenya: Workspace,
                                            counted: dict[str, int]) -> None:
    nso = user(kenya, "otieno").quality(SLUG, FORM, IND, today=TODAY)
    n = counted["evidence"]
    for name in ("wanjiru", "naserian"):  # the analyst, the owner (who sees unprotected)
        assert user(kenya, name).quality(SLUG, FORM, IND, today=TODAY) == nso
    assert counted["evidence"] == n
    close(user(kenya, "naserian").quality(SLUG, FORM, IND, today=TODAY, cache=False), nso)
    with pytest.raises(Forbidden):  # the rights are checked on every call
        user(kenya, "lekishon").quality(SLUG, FORM, IND, today=TODAY)


def test_the_day_and_the_indicator_are_part_of_the_key(kenya: Workspace,
                                                       counted: dict[str, int]) -> None:
    nso = user(kenya, "otieno")
    a = nso.quality(SLUG, FORM, IND, today=TODAY)
    later = nso.quality(SLUG, FORM, IND, today=date(2026, 9, 1))
    assert later["evidence"]["lag_days"] == a["evidence"]["lag_days"] + 92
    form_only = nso.quality(SLUG, FORM, today=TODAY)
    assert form_only["indicator"] is None and "headline_cv" not in {
        k for k, v in form_only["evidence"].items() if v is not None}
    assert counted["evidence"] >= 2


def test_a_damaged_file_is_computed_again(kenya: Workspace, counted: dict[str, int]) -> None:
    nso = user(kenya, "otieno")
    nso.quality(SLUG, FORM, today=TODAY)
    n = counted["evidence"]
    for f in files(kenya):
        f.write_text("{not json", encoding="utf-8")
    rec = nso.quality(SLUG, FORM, today=TODAY)
    assert counted["evidence"] == n + 1 and rec["dataset"] == FORM


def test_an_attestation_and_a_decision_change_the_record(kenya: Workspace,
                                                         counted: dict[str, int]) -> None:
    owner, nso = user(kenya, "naserian"), user(kenya, "otieno")
    before = nso.quality(SLUG, FORM, today=TODAY)
    nso.quality(SLUG, FORM)  # as of today: what deciding reads the recommendation from
    n = counted["evidence"]
    owner.attest(SLUG, "accessibility_clarity", "low", "the report was never read out",
                 form_id=FORM)
    after = nso.quality(SLUG, FORM, today=TODAY)
    dim = {d["key"]: d for d in after["scorecard"]["dimensions"]}["accessibility_clarity"]
    assert after != before
    assert any("attested low by naserian" in r for r in dim["reasons"]), dim
    rec = after["recommendation"]["recommendation"]
    nso.decide_fitness(SLUG, rec, form_id=FORM)
    decided = nso.quality(SLUG, FORM, today=TODAY)
    # attestations and decisions are applied on every call: the evidence is not made again
    assert counted["evidence"] == n
    assert decided["recommendation"]["decision"] == rec and decided["decisions"]


def test_a_spec_change_changes_the_record(kenya: Workspace) -> None:
    owner, nso = user(kenya, "naserian"), user(kenya, "otieno")
    before = nso.quality(SLUG, FORM, today=TODAY)
    spec = owner.project(SLUG).spec
    assert isinstance(spec, ProjectSpec)
    late = spec.model_copy(update={"quality": spec.quality.model_copy(
        update={"released_on": date(2028, 12, 31)})})
    owner.update_project(late)
    try:
        after = nso.quality(SLUG, FORM, today=TODAY)
        assert after["evidence"]["lag_days"] > before["evidence"]["lag_days"]
    finally:
        owner.update_project(spec)
    close(nso.quality(SLUG, FORM, today=TODAY), before)


def test_an_approval_changes_the_record(kenya: Workspace, counted: dict[str, int]) -> None:
    nso, validator = user(kenya, "otieno"), user(kenya, "nkoitoi")
    before = nso.quality(SLUG, FORM, IND, today=TODAY)
    rows, _ = validator.review_queue(SLUG, FORM, statuses=("received", "has_issues"),
                                     limit=50)
    assert rows, "the demo leaves some submissions waiting for a person"
    n = counted["protected"]
    validator.decide(SLUG, FORM, [r["instance_id"] for r in rows], "approved",
                     comment="test: looked at again")
    after = nso.quality(SLUG, FORM, IND, today=TODAY)
    assert counted["protected"] == n + 1  # the estimates were made again
    assert after["evidence"] != before["evidence"]
    close(after, nso.quality(SLUG, FORM, IND, today=TODAY, cache=False))


def test_a_consent_withdrawal_and_an_erasure_change_the_record(
        kenya: Workspace, counted: dict[str, int]) -> None:
    owner, nso = user(kenya, "naserian"), user(kenya, "otieno")
    before = nso.quality(SLUG, FORM, IND, today=TODAY)
    _, rows = owner.submissions(SLUG, FORM, limit=2, review_status="approved")
    n = counted["protected"]
    owner.withdraw_consent(SLUG, FORM, rows[0]["instance_id"])
    after = nso.quality(SLUG, FORM, IND, today=TODAY)
    assert counted["protected"] == n + 1
    assert after["evidence"]["submissions"] == before["evidence"]["submissions"] - 1
    kept = files(kenya)
    assert kept
    owner.withdraw_consent(SLUG, FORM, rows[1]["instance_id"], erase=True)
    assert not files(kenya)  # erasure removes the form's kept records with its snapshots
    erased = nso.quality(SLUG, FORM, IND, today=TODAY)
    assert counted["protected"] == n + 2
    assert erased["evidence"]["submissions"] == after["evidence"]["submissions"] - 1


def test_the_cache_writes_whole_files_and_prunes(tmp_path: Path) -> None:
    store = qcache.QualityCache.of(tmp_path, "p", "f")
    for i in range(qcache.KEEP + 5):
        store.put(f"k{i:03d}", {"i": i})
    kept = sorted(store.folder.iterdir())
    assert len(kept) == qcache.KEEP and not [p for p in kept if p.suffix != ".json"]
    assert store.get("nope") is None
    with pytest.raises(ValueError):
        qcache.QualityCache.of(tmp_path, "..", "f")
    assert qcache.record_key({"a": 1}) != qcache.record_key({"a": 2})


def test_writers_racing_leave_whole_files(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = qcache.QualityCache.of(tmp_path, "p", "f")
    big = {"rows": list(range(20_000))}

    def write_then_read(i: int) -> dict[str, Any] | None:
        store.put("same", {**big, "by": i % 2})
        return store.get("same")

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(write_then_read, range(40)))
    assert all(s is not None and s["rows"] == big["rows"] for s in seen)
    assert [p.name for p in store.folder.iterdir()] == ["same.json"]
