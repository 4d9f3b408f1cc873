"""The scenario releases read by an outsider: public files over HTTP, every fact they publish.

The outsider downloads a published release without logging in, sets up the linear
programme (and the integer programme) of what the files tell about each hidden count —
listed cells are non-empty, totals add up over the public geography, flags, rounding,
numerators from proportions, indicators over the same units — and bounds every hidden
count. No sensitive cell may be pinned or narrowed below its protection interval.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from citizendata.privacy.outsider import attack_tables, judge, read_release_tables, summary
from citizendata.scenarios import mexico_lgbtiq as mx
from citizendata.scenarios.mexico_lgbtiq.workspace import setup_workspace
from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from disclosure import public_files

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow
KENYA = "kenya-maternal-health"
MEXICO = "mexico-lgbtiq"


def _kenya_rollups() -> dict[str, tuple[str, dict[str, str]]]:
    """Which county each ward is in: public geography, so the outsider knows it."""
    from citizendata.scenarios.kenya_maternal_health.geography import geography_csv

    geo = pd.read_csv(io.BytesIO(geography_csv()), dtype=str)
    return {"county_of_ward": ("ward", dict(zip(geo["ward"], geo["county"], strict=True)))}


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The demo: 2,000 Kenya submissions, release v1 published after sign-off."""
    from citizendata.demo import build_demo

    ws, _ = build_demo(tmp_path_factory.mktemp("kenya-attack") / "demo", n=2000, fresh=True)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def mexico(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The Mexico scenario (1,500 respondents, strict policy), release v1 published."""
    data = mx.generate(1500, seed=mx.DEFAULT_SEED)
    ws = setup_workspace(tmp_path_factory.mktemp("mexico-attack") / "ws",
                         submissions=data.submissions, release=True)
    yield ws
    ws.close()


def _outsider(ws: Workspace, slug: str, rollups: Any, integer: bool
              ) -> tuple[dict[str, bytes], pd.DataFrame]:
    with TestClient(create_app(ws)) as http:
        files = public_files(http, slug, 1)
    return files, attack_tables(read_release_tables(files), rollups, integer=integer)


def _judge_all(ws: Workspace, owner: str, slug: str, files: dict[str, bytes],
               found: pd.DataFrame, rollups: Any) -> list[pd.DataFrame]:
    me = ws.as_user(owner)
    out = []
    for table in read_release_tables(files):
        truth = me.estimate(slug, table.indicator, purpose="publication", protect=False,
                            store=False)
        respondents = None if truth.indicator.unit is None else "n_psu"
        mine = found[found["indicator"].str.split("+").map(lambda ids, t=table: t.indicator in ids)]
        rules = json.loads(files["manifest.json"])["release"]["indicators"][table.indicator][
            "protection"]["rules"]
        out.append(judge(mine.drop(columns="indicator"), table, truth.table, rollups,
                         threshold=rules["threshold"], ratio=rules["protection_ratio"],
                         minimum=rules["protection_minimum"], respondents=respondents))
    return out


@pytest.mark.parametrize("integer", [False, True], ids=["LP", "integer"])
def test_the_kenya_release_holds_against_an_outsider(kenya: Workspace, integer: bool) -> None:
    rollups = _kenya_rollups()
    files, found = _outsider(kenya, KENYA, rollups, integer)
    judged = _judge_all(kenya, "naserian", KENYA, files, found, rollups)
    counts = summary(judged)
    assert counts["sensitive"] > 30  # the test has something to bite on
    bad = pd.concat(judged)
    assert counts == {**counts, "pinned": 0, "narrowed": 0}, bad[~bad["ok"]].head(10)


@pytest.mark.parametrize("integer", [False, True], ids=["LP", "integer"])
def test_the_mexico_release_holds_against_an_outsider(mexico: Workspace, integer: bool) -> None:
    files, found = _outsider(mexico, MEXICO, {}, integer)
    tables = read_release_tables(files)
    # both proportions count the same respondents: the outsider reads them as one table
    assert any("+" in g for g in found["indicator"].unique())
    judged = _judge_all(mexico, "ximena", MEXICO, files, found, {})
    counts = summary(judged)
    assert counts["sensitive"] > 20 and len(tables) >= 2
    bad = pd.concat(judged)
    assert counts == {**counts, "pinned": 0, "narrowed": 0}, bad[~bad["ok"]].head(10)


def test_public_files_tell_no_hidden_cell_from_another(kenya: Workspace, mexico: Workspace
                                                       ) -> None:
    for ws, slug in ((kenya, KENYA), (mexico, MEXICO)):
        with TestClient(create_app(ws)) as http:
            files = public_files(http, slug, 1)
        manifest = json.loads(files["manifest.json"])
        for ind, meta in manifest["release"]["indicators"].items():
            prot = meta["protection"]
            # no sum over hidden cells and no count of primary against secondary ones
            assert not {"info_loss", "primary", "secondary"} & set(prot), ind
            t = pd.read_csv(io.BytesIO(files[f"{ind}/estimates.csv"]), dtype=str,
                            keep_default_na=False)
            assert set(t["conf_status"]) <= {"F", "C"}
            assert set(t["suppression"]) <= {"", "confidential"}
            assert "n_psu" not in t.columns and "weighted_n" not in t.columns
        for name, data in files.items():
            if name.startswith("sdmx/") and name.endswith(".csv"):
                assert b"secondary" not in data and b"primary" not in data, name
        quality = files["quality.json"].decode()
        assert "info_loss" not in quality and '"secondary"' not in quality


def test_the_release_files_on_disk_are_what_http_serves(kenya: Workspace) -> None:
    rel = kenya.as_user("naserian").releases(KENYA)[0]
    with TestClient(create_app(kenya)) as http:
        files = public_files(http, KENYA, 1)
    root = Path(kenya.settings.workspace) / "releases" / KENYA / "v1"
    for name, data in files.items():
        assert (root / name).read_bytes() == data, name
    assert rel["version"] == 1


def test_an_owner_audits_the_release_and_an_analyst_may_not(kenya: Workspace) -> None:
    from citizendata.errors import Forbidden

    audit = kenya.as_user("naserian").audit_release(KENYA, 1)
    for mode in ("lp", "integer"):
        sba = audit[mode]["sba"]
        assert sba["hidden"] > sba["sensitive"] > 30
        assert sba["pinned"] == sba["narrowed"] == 0
    with pytest.raises(Forbidden):
        kenya.as_user("wanjiru").audit_release(KENYA, 1)
