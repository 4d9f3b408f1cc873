"""`citizendata fay-herriot`: JSON shape, the human table, covariate tables and coded errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from citizendata.cli import app

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "sae"
MILK = DATA / "milk.csv"
BASE = ["fay-herriot", str(MILK), "--area", "SmallArea", "--estimate", "yi"]


def test_json_is_the_issue_shape_and_matches_sae() -> None:
    res = runner.invoke(app, [*BASE, "--se", "SD", "--categorical", "MajorArea", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out) == ["method", "beta", "sigma2_u", "areas"]
    assert list(out["beta"]) == ["(Intercept)", "MajorArea2", "MajorArea3", "MajorArea4"]
    assert out["method"] == "REML"
    ref = pd.read_csv(DATA / "milk_reference.csv")
    assert [a["area"] for a in out["areas"]] == [str(i) for i in ref["SmallArea"]]
    assert [a["eblup"] for a in out["areas"]] == pytest.approx(ref["eblup_reml"].tolist(), abs=5e-8)
    assert [a["mse"] for a in out["areas"]] == pytest.approx(ref["mse_reml"].tolist(), abs=5e-10)
    assert set(out["areas"][0]) == {"area", "direct", "eblup", "mse", "gamma"}


def test_human_table_and_method(tmp_path: Path) -> None:
    d = pd.read_csv(MILK).assign(v=lambda f: f["SD"] ** 2)
    path = tmp_path / "direct.csv"
    d.to_csv(path, index=False)
    res = runner.invoke(app, ["fay-herriot", str(path), "--area", "SmallArea", "--estimate", "yi",
                              "--variance", "v", "--covariates", "MajorArea", "--categorical",
                              "MajorArea", "--method", "ml"])
    assert res.exit_code == 0, res.output
    assert "ML" in res.output and "MajorArea4" in res.output and "Shapiro" in res.output


def test_covariate_table_adds_synthetic_areas(tmp_path: Path) -> None:
    cov = pd.read_csv(MILK)[["SmallArea", "MajorArea"]]
    cov = pd.concat([cov, pd.DataFrame({"SmallArea": [44], "MajorArea": [2]})])
    path = tmp_path / "cov.csv"
    cov.to_csv(path, index=False)
    res = runner.invoke(app, [*BASE, "--se", "SD", "--categorical", "MajorArea",
                              "--covariate-table", str(path), "--json"])
    assert res.exit_code == 0, res.output
    last = json.loads(res.stdout)["areas"][-1]
    assert last["area"] == "44" and last["direct"] is None and last["gamma"] == 0


def test_bad_input_is_a_coded_error(tmp_path: Path) -> None:
    d = pd.read_csv(MILK)
    d.loc[d["SmallArea"] == 12, "SD"] = 0
    path = tmp_path / "bad.csv"
    d.to_csv(path, index=False)
    res = runner.invoke(app, ["fay-herriot", str(path), "--area", "SmallArea", "--estimate", "yi",
                              "--se", "SD", "--json"])
    assert res.exit_code == 2
    assert "sae.invalid_direct" in res.output and "12" in res.output
    res = runner.invoke(app, [*BASE, "--se", "SD", "--method", "bayes", "--json"])
    assert res.exit_code == 2 and "sae.invalid_model" in res.output


def test_smoothing_and_benchmark_options(tmp_path: Path) -> None:
    d = pd.read_csv(MILK).assign(pop=lambda f: f["ni"] * 10.0)
    path = tmp_path / "direct.csv"
    d.to_csv(path, index=False)
    res = runner.invoke(app, ["fay-herriot", str(path), "--area", "SmallArea", "--estimate", "yi",
                              "--se", "SD", "--categorical", "MajorArea", "--smooth-variances",
                              "--sample-size", "ni", "--benchmark", "1.0", "--weights", "pop",
                              "--benchmark-method", "difference", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["areas"]
    w = d["pop"] / d["pop"].sum()
    assert sum(wi * a["eblup"] for wi, a in zip(w, out, strict=True)) == pytest.approx(1.0)
    res = runner.invoke(app, [*BASE, "--se", "SD", "--benchmark", "1.0", "--json"])
    assert res.exit_code == 2 and "sae.invalid_model" in res.output
