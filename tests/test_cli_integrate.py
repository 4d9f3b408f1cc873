"""`citizendata integrate nonprob`: the Kenya citizen sample with the DHS-like survey, from CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citizendata.cli import app
from citizendata.integrate.nonprob import estimate_nonprob
from citizendata.scenarios.kenya_maternal_health import dhs

runner = CliRunner()
COVS = "ward,age_group,disability_status"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("nonprob")
    a, b = d / "citizen.csv", d / "dhs.csv"
    dhs.citizen_sample().to_csv(a, index=False)
    dhs.build_dhs_sample().to_csv(b, index=False)
    return a, b


def _args(files: tuple[Path, Path], *extra: str) -> list[str]:
    return ["integrate", "nonprob", str(files[0]), str(files[1]), "--covariates", COVS,
            "--y", "skilled", "--ref-weights", "weight", "--ref-strata", "ward",
            "--ref-psu", "ea_id", *extra]


def test_json_matches_the_library(files: tuple[Path, Path]) -> None:
    res = runner.invoke(app, _args(files, "--json"))
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    lib = estimate_nonprob(dhs.citizen_sample(), dhs.build_dhs_sample(), covariates=COVS.split(","),
                           y="skilled", weights="weight", strata="ward", psu="ea_id")
    want = lib.table.set_index("method")
    assert [e["method"] for e in out["estimates"]] == ["naive", "ipw", "dr", "mi", "nn"]
    for e in out["estimates"]:
        assert e["estimate"] == pytest.approx(want.loc[e["method"], "estimate"], rel=1e-12)
        assert e["se"] == pytest.approx(want.loc[e["method"], "se"], rel=1e-12)
        assert e["ci"][0] < e["estimate"] < e["ci"][1] and e["assumption"]
    assert out["outcome_model"] == "logistic"
    assert out["diagnostics"]["kish_effective_n"] > 0 and "PSU" in out["variance"]


def test_table_output_says_the_assumptions(files: tuple[Path, Path]) -> None:
    res = runner.invoke(app, _args(files, "--method", "ipw"))
    assert res.exit_code == 0, res.output
    assert "ipw assumes" in res.stdout and "naive assumes" in res.stdout
    assert "covariate balance" in res.stdout and "Kish" in res.stdout
    assert "mi assumes" not in res.stdout


def test_by_domain(files: tuple[Path, Path]) -> None:
    res = runner.invoke(app, _args(files, "--by", "disability_status", "--method", "dr", "--json"))
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["estimates"]
    assert [r["by"]["disability_status"] for r in rows] == ["_T", "_T", "disability", "disability",
                                                            "no_disability", "no_disability"]
    shown = runner.invoke(app, _args(files, "--by", "disability_status", "--method", "dr"))
    assert shown.exit_code == 0 and "no_disab" in shown.stdout  # rich may cut the label
    assert shown.stdout.count("dr assumes") == 1


def test_bad_input_is_a_coded_error(files: tuple[Path, Path]) -> None:
    args = _args(files, "--json")
    args[args.index("--covariates") + 1] = "ward,religion"
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    err = json.loads(res.stderr)["error"]
    assert err["code"] == "nonprob.invalid" and "religion" in err["message"]
    no_w = [a for a in _args(files) if a not in ("--ref-weights", "weight")]
    res = runner.invoke(app, no_w)
    assert res.exit_code == 2 and "nonprob.invalid" in res.stderr and "--ref-weights" in res.stderr
