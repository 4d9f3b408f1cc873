"""`citizendata survey estimate`: a survey file under its declared design, from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from citizendata.cli import app

REF = Path(__file__).parent / "data" / "r_reference"
R = json.loads((REF / "design.json").read_text())
CLUS1 = str(REF / "design_apiclus1.csv")
STYPE = str(REF / "design_pop_stype.csv")
SCHWIDE = str(REF / "design_pop_schwide.csv")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["survey", "estimate", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def as_json(*args: str) -> dict[str, Any]:
    # --domain-df design: R's confint(svyby(...), df=degf(design)), as the references hold
    code, out, err = run(*args, "--domain-df", "design", "--json")
    assert code == 0, err
    return dict(json.loads(out))


def by_key(res: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    return {(e["variable"], e["statistic"], tuple(sorted(e["by"].items()))): e
            for e in res["estimates"]}


def agree(res: dict[str, Any], case: str) -> None:
    got = by_key(res)
    for r in R["cases"][case]["estimates"]:
        e = got[(r["variable"], r["statistic"], tuple(sorted(r["by"].items())))]
        assert e["estimate"] == pytest.approx(r["estimate"], rel=1e-8)
        assert e["se"] == pytest.approx(r["se"], rel=1e-8)
        assert e["df"] == r["df"]
        if 1e-9 < r["estimate"] < 1 - 1e-9 or r["statistic"] != "proportion":
            assert e["ci"] == pytest.approx(r["ci"], rel=1e-8)


def test_raked_cluster_sample_json_as_r() -> None:
    res = as_json(CLUS1, "--psu", "dnum", "--weights", "pw", "--fpc", "fpc", "--mean",
                  "api00", "--total", "enroll", "--proportion", "sch.wide=Yes", "--by", "stype",
                  "--rake", STYPE, "--rake", SCHWIDE)
    agree(res, "apiclus1_rake")
    first = res["estimates"][0]
    assert set(first) >= {"variable", "statistic", "by", "estimate", "se", "ci", "df"}
    assert first["by"] == {} and len(first["ci"]) == 2
    assert res["variance_method"] == "linearisation"
    assert "15 first-stage units" in res["assumption"]


def test_human_output_says_method_and_assumption() -> None:
    code, out, _ = run(CLUS1, "--psu", "dnum", "--weights", "pw", "--mean", "api00",
                       "--poststratify", f"stype={STYPE}")
    assert code == 0
    assert "variance: linearisation" in out and "t with 14 degrees of freedom" in out
    assert "assumption:" in out and "post-stratified" in out
    code, out, _ = run(CLUS1, "--weights", "pw", "--mean", "api00")
    assert "no clusters or strata declared" in " ".join(out.split())


def test_calibration_options_as_r() -> None:
    api99 = R["population"]["api99"]
    strat = str(REF / "design_apistrat.csv")
    common = ["--strata", "stype", "--weights", "pw", "--fpc", "fpc", "--mean", "api00",
              "--total", "enroll", "--proportion", "sch.wide=Yes", "--by", "comp.imp"]
    agree(as_json(strat, *common, "--calibrate-total", f"api99={api99!r}"), "apistrat_ratio")
    agree(as_json(strat, *common, "--rake", STYPE, "--calibrate-total", f"api99={api99!r}"),
          "apistrat_greg")
    clus = [CLUS1, "--psu", "dnum", "--weights", "pw", "--fpc", "fpc", "--mean", "api00",
            "--total", "enroll", "--proportion", "sch.wide=Yes", "--by", "stype"]
    agree(as_json(*clus, "--calibrate-total", f"api99={api99!r}", "--population-size",
                  str(R["population"]["N"])), "apiclus1_greg")
    agree(as_json(*clus, "--rake", STYPE, "--calibrate-total", f"api99={api99!r}",
                  "--bounds", "0.7,1.7"), "apiclus1_bounded")


def test_replicates_and_other_formats(tmp_path: Path) -> None:
    args = ["--psu", "dnum", "--weights", "pw", "--mean", "api00", "--total", "enroll",
            "--proportion", "sch.wide=Yes", "--by", "stype", "--rake", STYPE, "--rake",
            SCHWIDE, "--variance", "jk1"]
    res = as_json(CLUS1, *args)
    agree(res, "apiclus1_jk1_rake")
    assert res["variance_method"] == "jk1"
    df = pd.read_csv(CLUS1)
    df.to_parquet(tmp_path / "c.parquet")
    df.to_excel(tmp_path / "c.xlsx", index=False)
    for f in ("c.parquet", "c.xlsx"):
        assert as_json(str(tmp_path / f), *args)["estimates"] == res["estimates"]
    boot = as_json(CLUS1, *args[:-1], "bootstrap", "--replicates", "50", "--seed", "3")
    assert boot["variance_method"] == "bootstrap"
    assert any("50 replicates, seed 3" in n for n in boot["notes"])


def test_errors_name_file_column_and_row(tmp_path: Path) -> None:
    code, _, err = run(CLUS1, "--psu", "district", "--mean", "api00")
    assert code == 2 and "design.invalid" in err and "'district'" in err
    code, _, err = run(CLUS1, "--psu", "dnum", "--mean", "api000", "--json")
    body = json.loads(err)["error"]
    assert body["code"] == "input.invalid" and body["where"]["column"] == "api000"
    assert body["where"]["file"] == CLUS1 and "did you mean 'api00'" in body["message"]
    df = pd.read_csv(CLUS1)
    df.loc[[4, 9], "dnum"] = None
    bad = tmp_path / "holes.csv"
    df.to_csv(bad, index=False)
    code, _, err = run(str(bad), "--psu", "dnum", "--mean", "api00", "--json")
    body = json.loads(err)["error"]
    assert code == 2 and body["code"] == "design.missing_value"
    assert body["where"] == {"file": str(bad), "row": 5, "column": "dnum"}
    assert "rows 5, 10" in body["message"]
    code, _, err = run(CLUS1, "--proportion", "sch.wide", "--json")
    assert json.loads(err)["error"]["code"] == "input.invalid"
    code, _, err = run(CLUS1, "--mean", "api00", "--bounds", "0.5", "--json")
    assert "LO,HI" in json.loads(err)["error"]["message"]
    code, _, err = run(CLUS1, "--mean", "api00", "--rake", str(tmp_path / "none.csv"),
                       "--json")
    assert "No such file" in json.loads(err)["error"]["message"]


def test_design_errors_from_the_shell(tmp_path: Path) -> None:
    lonely = str(REF / "design_lonely.csv")
    code, _, err = run(lonely, "--strata", "stype", "--weights", "pw", "--mean", "api00",
                       "--json")
    body = json.loads(err)["error"]
    assert code == 2 and body["code"] == "design.lonely_psu" and "stratum E" in body["message"]
    for option in ("remove", "certainty", "adjust", "average"):
        res = as_json(lonely, "--strata", "stype", "--weights", "pw", "--mean", "api00",
                      "--lonely-psu", option)
        assert res["estimates"][0]["se"] == pytest.approx(
            R["cases"][f"lonely_{option}"]["estimates"][0]["se"], rel=1e-10)
    df = pd.read_csv(CLUS1).assign(N=3)  # 15 districts sampled from a population of 3
    small = tmp_path / "small.csv"
    df.to_csv(small, index=False)
    code, _, err = run(str(small), "--psu", "dnum", "--fpc", "N", "--mean", "api00", "--json")
    body = json.loads(err)["error"]
    assert body["code"] == "design.fpc_invalid" and "fewer than the 15 sampled" in body["message"]
    code, _, err = run(str(REF / "design_apistrat.csv"), "--strata", "stype", "--psu",
                       "awards", "--mean", "api00", "--json")
    body = json.loads(err)["error"]
    assert body["code"] == "design.not_nested" and "--nest" in body["fix"]


def test_own_replicate_weights_from_the_shell() -> None:
    own = str(REF / "design_apiclus1_repw.csv")
    res = as_json(own, "--weights", "pw", "--mean", "api00", "--total", "enroll",
                  "--proportion", "sch.wide=Yes", "--by", "stype", "--rake", STYPE, "--rake",
                  SCHWIDE, "--replicate-weights", "repw", "--replicate-type", "jk1", "--no-mse")
    agree(res, "apiclus1_own_jk1_rake")
    cols = ",".join(f"repw{i}" for i in range(1, 16))
    res2 = as_json(own, "--weights", "pw", "--mean", "api00", "--total", "enroll",
                   "--proportion", "sch.wide=Yes", "--by", "stype", "--replicate-weights",
                   cols, "--replicate-type", "jk1", "--replicate-scale", str(14 / 15),
                   "--no-mse")
    agree(res2, "apiclus1_own_jk1")
    code, _, err = run(own, "--mean", "api00", "--replicate-weights", "rep", "--json")
    body = json.loads(err)["error"]
    assert code == 2 and body["code"] == "design.replicates_invalid"
