"""``citizendata linkage link``: records CSV in, clusters CSV out, no names printed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from citizendata.cli import app
from linkage_data import make_lists

runner = CliRunner()


def _no_names(recs: pd.DataFrame, text: str) -> None:
    for name in pd.concat([recs["victim_given_names"], recs["victim_surnames"]]):
        for word in str(name).split():
            if len(word) > 3:
                assert word not in text


def test_link_writes_clusters_without_names_and_decisions_apply(tmp_path: Path) -> None:
    recs = make_lists(n_events=30, seed=11)
    src = tmp_path / "records.csv"
    recs.drop(columns="_event_id").to_csv(src, index=False)
    out, pairs = tmp_path / "clusters.csv", tmp_path / "pairs.csv"
    res = runner.invoke(app, ["linkage", "link", str(src), "--out", str(out), "--pairs",
                              str(pairs), "--threshold", "0.9"])
    assert res.exit_code == 0, res.output
    assert "clusters at threshold" in res.output and "fiscalia" in res.output
    clusters = pd.read_csv(out, dtype=str)
    assert list(clusters.columns) == ["key", "cluster_id"]
    assert len(clusters) == len(recs)
    assert "victim_given_names" not in pd.read_csv(pairs, nrows=1).columns
    _no_names(recs, res.output + out.read_text() + pairs.read_text())

    top = pd.read_csv(pairs).iloc[0]
    c = clusters.set_index("key")["cluster_id"]
    assert c[top["left_key"]] == c[top["right_key"]]
    pd.DataFrame({"left_key": [top["left_key"]], "right_key": [top["right_key"]],
                  "decision": ["non_match"]}).to_csv(tmp_path / "d.csv", index=False)
    res = runner.invoke(app, ["linkage", "link", str(src), "--out", str(tmp_path / "c2.csv"),
                              "--decisions", str(tmp_path / "d.csv"), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    c2 = pd.read_csv(tmp_path / "c2.csv", dtype=str).set_index("key")["cluster_id"]
    assert c2[top["left_key"]] != c2[top["right_key"]]
    assert summary["records"] == len(recs) and summary["clusters"] == c2.nunique()
    assert summary["records_by_list"] == recs["source"].value_counts().sort_index().to_dict()
    assert summary["model"]["decisions"] == {"match": 0, "non_match": 1, "unsure": 0}
    _no_names(recs, res.output)


def test_link_reports_coded_errors(tmp_path: Path) -> None:
    recs = make_lists(n_events=8, seed=2).drop(columns=["_event_id", "event_date"])
    src = tmp_path / "records.csv"
    recs.to_csv(src, index=False)
    res = runner.invoke(app, ["linkage", "link", str(src), "--out", str(tmp_path / "c.csv"),
                              "--json"])
    assert res.exit_code == 2
    assert "linkage.invalid" in res.output and "event_date" in res.output
    res = runner.invoke(app, ["linkage", "link", str(tmp_path / "none.csv"), "--out",
                              str(tmp_path / "c.csv")])
    assert res.exit_code == 2 and "input.invalid" in res.output
