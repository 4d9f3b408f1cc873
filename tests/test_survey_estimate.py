"""survey_estimate against R's survey package on its api examples (design.json, R 4.1.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.survey import survey_estimate

REF = Path(__file__).parent / "data" / "r_reference"
R = json.loads((REF / "design.json").read_text())
POP = R["population"]


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"design_{name}.csv")


def pop(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"design_pop_{name}.csv")


# domain_df="design": R's confint(svyby(...), df=degf(design)), the df the references hold
STANDARD = {"means": ["api00"], "proportions": [("sch.wide", "Yes")], "domain_df": "design"}

# each R case: the data, the design and weighting arguments, the by column, the total
CASES: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "apisrs": ("apisrs", {"fpc": "fpc"}, "stype", "enroll"),
    "apistrat": ("apistrat", {"strata": "stype", "weights": "pw", "fpc": "fpc"}, "comp.imp",
                 "enroll"),
    "apiclus1": ("apiclus1", {"psu": "dnum", "weights": "pw", "fpc": "fpc"}, "stype", "enroll"),
    "apiclus1_wr": ("apiclus1", {"psu": "dnum", "weights": "pw"}, "stype", "enroll"),
    "apiclus2": ("apiclus2", {"psu": "dnum", "ssu": "snum", "fpc": "fpc1", "fpc2": "fpc2"},
                 "stype", "enroll"),
    "lonely_remove": ("lonely", {"strata": "stype", "weights": "pw", "lonely_psu": "remove"},
                      "comp.imp", "enroll"),
    "lonely_certainty": ("lonely", {"strata": "stype", "weights": "pw",
                                    "lonely_psu": "certainty"}, "comp.imp", "enroll"),
    "lonely_adjust": ("lonely", {"strata": "stype", "weights": "pw", "lonely_psu": "adjust"},
                      "comp.imp", "enroll"),
    "lonely_average": ("lonely", {"strata": "stype", "weights": "pw", "lonely_psu": "average"},
                       "comp.imp", "enroll"),
    "apiclus1_poststratify": ("apiclus1", {"psu": "dnum", "weights": "pw", "fpc": "fpc",
                                           "poststratify": ("stype", pop("stype"))},
                              "sch.wide", "enroll"),
    "apiclus1_rake": ("apiclus1", {"psu": "dnum", "weights": "pw", "fpc": "fpc",
                                   "rake": [pop("stype"), pop("schwide")]}, "stype", "enroll"),
    "apistrat_greg": ("apistrat", {"strata": "stype", "weights": "pw", "fpc": "fpc",
                                   "rake": [pop("stype")],
                                   "calibrate_totals": {"api99": POP["api99"]}},
                      "comp.imp", "enroll"),
    "apiclus1_greg": ("apiclus1", {"psu": "dnum", "weights": "pw", "fpc": "fpc",
                                   "calibrate_totals": {"api99": POP["api99"]},
                                   "population_size": POP["N"]}, "stype", "enroll"),
    "apistrat_ratio": ("apistrat", {"strata": "stype", "weights": "pw", "fpc": "fpc",
                                    "calibrate_totals": {"api99": POP["api99"]}},
                       "comp.imp", "enroll"),
    "apiclus1_bounded": ("apiclus1", {"psu": "dnum", "weights": "pw", "fpc": "fpc",
                                      "rake": [pop("stype")],
                                      "calibrate_totals": {"api99": POP["api99"]},
                                      "bounds": (0.7, 1.7)}, "stype", "enroll"),
    "apiclus1_jk1_rake": ("apiclus1", {"psu": "dnum", "weights": "pw", "variance": "jk1",
                                       "rake": [pop("stype"), pop("schwide")]}, "stype",
                          "enroll"),
    "apiclus1_jk1_fpc": ("apiclus1", {"psu": "dnum", "weights": "pw", "fpc": "fpc",
                                      "variance": "jk1"}, "stype", "enroll"),
    "apistrat_jkn": ("apistrat", {"strata": "stype", "weights": "pw", "fpc": "fpc",
                                  "variance": "jkn"}, "comp.imp", "enroll"),
}
OWN = {"apiclus1_own_jk1": [], "apiclus1_own_jk1_rake": [pop("stype"), pop("schwide")]}
SCD = {"scd_brr": {"variance": "brr"}, "scd_fay": {"variance": "fay", "fay_rho": 0.3},
       "scd_linear": {}}


def key(e: dict[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return e["variable"], e["statistic"], tuple(sorted(e["by"].items()))


def compare(ours: dict[str, Any], ref: list[dict[str, Any]], rtol: float) -> int:
    got = {key(e): e for e in ours["estimates"]}
    for r in ref:
        e = got[key(r)]
        assert e["df"] == r["df"], key(r)
        assert e["estimate"] == pytest.approx(r["estimate"], rel=rtol), key(r)
        assert e["se"] == pytest.approx(r["se"], rel=rtol), key(r)
        if r["statistic"] == "proportion" and not 1e-9 < r["estimate"] < 1 - 1e-9:
            # R's logit interval collapses to a point; ours falls back to Clopper-Pearson
            assert e["ci"][0] <= r["estimate"] <= e["ci"][1] and e["ci"][1] > e["ci"][0]
            continue
        assert e["ci"] == pytest.approx(r["ci"], rel=rtol), key(r)
    return len(ref)


@pytest.mark.parametrize("case", sorted(CASES))
def test_agrees_with_r(case: str) -> None:
    name, kwargs, by, total = CASES[case]
    res = survey_estimate(data(name), **STANDARD, totals=[total], by=[by], **kwargs)
    assert compare(res.to_dict(), R["cases"][case]["estimates"], 1e-8) >= 3


@pytest.mark.parametrize("case", sorted(SCD))
def test_paired_design_brr_as_r(case: str) -> None:
    res = survey_estimate(data("scd"), strata="ESA", psu="ambulance", nest=True,
                          means=["arrests"], totals=["arrests", "alive"], **SCD[case])
    assert compare(res.to_dict(), R["cases"][case]["estimates"], 1e-10) == 3
    assert res.variance_method == SCD[case].get("variance", "linearisation")


def test_motivating_case_raked_cluster_se() -> None:
    """apiclus1 raked: SE 23.70 under the cluster design, not 7.78 as if each school a PSU."""
    kwargs: dict[str, Any] = {"weights": "pw", "means": ["api00"],
                              "rake": [pop("stype"), pop("schwide")]}
    clus = survey_estimate(data("apiclus1"), psu="dnum", fpc="fpc", **kwargs).to_dict()
    flat = survey_estimate(data("apiclus1"), **kwargs).to_dict()
    assert round(clus["estimates"][0]["se"], 2) == 23.70
    assert round(flat["estimates"][0]["se"], 2) == 7.78
    assert "15 first-stage units" in clus["assumption"]
    assert "no clusters or strata declared" in flat["assumption"]


def test_values_inputs_and_missing_answers() -> None:
    df = pd.DataFrame({"g": [1.0, 2, 2, None, 1, 2], "y": [1.0, None, 3, 4, 5, 6],
                       "c": ["x", "y", "x", "x", None, "y"], "w": [1.0, 2, 1, 1, 2, 1]})
    res = survey_estimate(df, weights="w", means=["y"], proportions=[("g", "2.0"), ("c", "x")],
                          by=["c"]).to_dict()
    got = {key(e): e for e in res["estimates"]}
    # a missing y leaves the unit out (R's na.rm); a missing by value leaves it out of domains
    assert got[("y", "mean", ())]["estimate"] == pytest.approx((1 + 3 + 4 + 10 + 6) / 6)
    assert got[("y", "mean", ())]["n"] == 5
    assert got[("g", "proportion", ())]["estimate"] == pytest.approx(4 / 7)
    assert got[("c", "proportion", (("c", "x"),))]["estimate"] == 1.0
    assert set(e["by"].get("c") for e in res["estimates"]) == {None, "x", "y"}
    with pytest.raises(BadInput, match="must be numeric") as e:
        survey_estimate(df, means=["c"])
    assert e.value.code == "input.invalid" and e.value.where is not None
    with pytest.raises(BadInput, match="Nothing to estimate"):
        survey_estimate(df)
    with pytest.raises(BadInput, match="variance must be one of"):
        survey_estimate(df, means=["y"], variance="taylor")


def test_non_probability_and_simple_designs_say_so() -> None:
    df = data("apisrs")
    res = survey_estimate(df, non_probability=True, means=["api00"])
    assert "non-probability" in res.assumption and res.table["df"].iloc[0] == 199
    res = survey_estimate(df, means=["api00"], rake=[pop("stype")])
    assert "raked" in res.assumption and res.weighting is not None
    assert res.weighting["kind"] == "rake"


def test_population_size_alone_scales_to_n() -> None:
    """Calibration to N alone (R's calibrate(design, ~1, N)): total = N x mean, same for SEs."""
    kw: dict[str, Any] = {"psu": "dnum", "weights": "pw", "fpc": "fpc", "means": ["api00"]}
    plain = survey_estimate(data("apiclus1"), **kw).table.iloc[0]
    res = survey_estimate(data("apiclus1"), **kw, totals=["api00"],
                          population_size=POP["N"]).table
    mean, total = res.iloc[0], res.iloc[1]
    assert mean["estimate"] == pytest.approx(plain["estimate"], rel=1e-12)
    assert mean["se"] == pytest.approx(plain["se"], rel=1e-12)
    assert total["estimate"] == pytest.approx(POP["N"] * mean["estimate"], rel=1e-12)
    assert total["se"] == pytest.approx(POP["N"] * mean["se"], rel=1e-10)
    with pytest.raises(BadInput, match="Bounds belong to a calibration"):
        survey_estimate(data("apiclus1"), **kw, bounds=(0.5, 2))


@pytest.mark.parametrize("case", sorted(OWN))
def test_own_replicate_weights_as_r(case: str) -> None:
    """A survey's own JK1 columns (R's svrepdesign), raked replicate by replicate."""
    res = survey_estimate(data("apiclus1_repw"), weights="pw", means=["api00"],
                          totals=["enroll"], proportions=[("sch.wide", "Yes")], by=["stype"],
                          rake=OWN[case],  # R's svrepdesign centres at the replicates' mean
                          replicate_weights={"columns": "repw", "type": "jk1", "mse": False})
    assert compare(res.to_dict(), R["cases"][case]["estimates"], 1e-8) == 12
    assert res.variance_method == "jk1 replicate weights (the survey's own)"
    assert any("15 replicate weight columns" in n for n in res.notes)
    with pytest.raises(BadInput, match="not both") as e:
        survey_estimate(data("apiclus1_repw"), weights="pw", means=["api00"], variance="jk1",
                        replicate_weights={"columns": "repw", "type": "jk1"})
    assert e.value.code == "design.replicates_invalid"
