"""SurveyDesign: a declared design checked against the data, with coded errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.projects.design import DesignSpec
from citizendata.survey import SurveyDesign, survey_estimate

REF = Path(__file__).parent / "data" / "r_reference"


@pytest.fixture(scope="module")
def strat() -> pd.DataFrame:
    return pd.read_csv(REF / "design_apistrat.csv")


@pytest.fixture(scope="module")
def clus2() -> pd.DataFrame:
    return pd.read_csv(REF / "design_apiclus2.csv")


def toy() -> pd.DataFrame:
    return pd.DataFrame({"region": ["a", "a", "a", "a", "b", "b", "b", "b"],
                         "village": [1, 1, 2, 2, 3, 3, 4, 4],
                         "hh": [1, 2, 1, 2, 1, 2, 1, 2],
                         "w": [10.0] * 8, "y": [1.0, 2, 3, 4, 5, 6, 7, 9],
                         "N": [20] * 4 + [30] * 4})


def test_codes_and_summaries() -> None:
    d = SurveyDesign.from_frame(toy(), strata="region", psu="village", weights="w", fpc="N")
    assert d.strata.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert d.psu.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert d.n_psu_by_stratum.tolist() == [2, 2]
    assert d.df == 2
    assert d.psu_fpc is not None and d.psu_fpc.tolist() == [20, 20, 30, 30]
    assert "2 strata" in d.assumption and "finite population correction" in d.assumption
    assert "2 degrees of freedom" in d.assumption
    simple = SurveyDesign.from_frame(toy(), weights="w")
    assert simple.df == 7 and simple.simple
    assert "independent draws with replacement" in simple.assumption
    nonprob = SurveyDesign.from_frame(toy(), non_probability=True)
    assert np.all(nonprob.weights == 1) and "non-probability" in nonprob.assumption


def test_from_spec_matches_from_frame(strat: pd.DataFrame) -> None:
    spec = DesignSpec(strata="stype", weights="pw", fpc="fpc", lonely_psu="average")
    a = SurveyDesign.from_spec(strat, spec, source="apistrat.csv")
    b = SurveyDesign.from_frame(strat, strata="stype", weights="pw", fpc="fpc",
                                lonely_psu="average")
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.psu, b.psu)
    assert a.lonely_psu == "average" and a.source == "apistrat.csv"


def test_fpc_as_fraction_dict_and_column_agree(strat: pd.DataFrame) -> None:
    sizes = strat.groupby("stype")["fpc"].first().to_dict()
    n_h = strat.groupby("stype").size().to_dict()
    fractions = {k: n_h[k] / v for k, v in sizes.items()}
    col = SurveyDesign.from_frame(strat, strata="stype", weights="pw", fpc="fpc")
    by_dict = SurveyDesign.from_frame(strat, strata="stype", weights="pw", fpc=sizes)
    by_frac = SurveyDesign.from_frame(strat, strata="stype", weights="pw", fpc=fractions)
    assert col.fpc1 is not None and by_dict.fpc1 is not None and by_frac.fpc1 is not None
    assert np.allclose(col.fpc1, by_dict.fpc1) and np.allclose(col.fpc1, by_frac.fpc1)


def test_weights_from_fpc_as_r(clus2: pd.DataFrame) -> None:
    # R's svydesign without weights: the inverse sampling fractions of both stages
    d = SurveyDesign.from_frame(clus2, psu="dnum", ssu="snum", fpc="fpc1", fpc2="fpc2")
    assert np.allclose(d.weights, clus2["pw"].to_numpy(), rtol=1e-6)
    probs = SurveyDesign.from_frame(clus2.assign(p=1 / clus2["pw"]), psu="dnum",
                                    probabilities="p")
    assert np.allclose(probs.weights, clus2["pw"])


def test_missing_psu_value_is_refused() -> None:
    df = toy()
    df.loc[[2, 5], "village"] = np.nan
    with pytest.raises(BadInput) as e:
        SurveyDesign.from_frame(df, psu="village", weights="w", source="villages.csv")
    err = e.value
    assert err.code == "design.missing_value"
    assert "'village'" in err.message and "rows 3, 6" in err.message
    assert err.where is not None and err.where.file == "villages.csv"
    assert err.where.column == "village" and err.where.row == 3


def test_missing_weight_and_blank_stratum_are_refused() -> None:
    df = toy()
    df.loc[4, "w"] = np.nan
    with pytest.raises(BadInput, match="row 5") as e:
        SurveyDesign.from_frame(df, weights="w")
    assert e.value.code == "design.missing_value"
    df = toy()
    df.loc[0, "region"] = " "
    with pytest.raises(BadInput, match=r"'region'.*row 1") as e:
        SurveyDesign.from_frame(df, strata="region", weights="w")
    assert e.value.code == "design.missing_value"


def test_psu_in_two_strata_unless_nested() -> None:
    df = toy()
    df["village"] = [1, 1, 2, 2, 1, 1, 2, 2]  # ids repeat across regions
    with pytest.raises(BadInput) as e:
        SurveyDesign.from_frame(df, strata="region", psu="village", weights="w")
    assert e.value.code == "design.not_nested"
    assert "first-stage unit 1" in e.value.message and "'a', 'b'" in e.value.message
    assert "nest" in (e.value.fix or "")
    d = SurveyDesign.from_frame(df, strata="region", psu="village", weights="w", nest=True)
    assert d.n_psu == 4 and d.df == 2


def test_ssu_in_two_psus() -> None:
    with pytest.raises(BadInput) as e:
        SurveyDesign.from_frame(toy(), psu="village", ssu="hh", weights="w")
    assert e.value.code == "design.not_nested"
    assert "second-stage unit 1 (hh)" in e.value.message
    d = SurveyDesign.from_frame(toy(), psu="village", ssu="hh", weights="w", nest=True)
    assert d.ssu is not None and int(d.ssu.max()) == 7


def test_fpc_smaller_than_the_sample() -> None:
    df = toy()
    df["N"] = [20] * 4 + [1] * 4  # region b: population of 1 village, 2 sampled
    with pytest.raises(BadInput) as e:
        SurveyDesign.from_frame(df, strata="region", psu="village", weights="w", fpc="N")
    assert e.value.code == "design.fpc_invalid"
    assert "stratum 'b'" in e.value.message and "fewer than the 2 sampled" in e.value.message
    assert e.value.where is not None and e.value.where.row == 5


def test_fpc_not_constant_mixed_or_out_of_range() -> None:
    df = toy()
    df.loc[1, "N"] = 25
    with pytest.raises(BadInput, match="not constant within stratum 'a'") as e:
        SurveyDesign.from_frame(df, strata="region", psu="village", weights="w", fpc="N")
    assert e.value.code == "design.fpc_invalid"
    with pytest.raises(BadInput, match="mixes sampling fractions") as e:
        SurveyDesign.from_frame(toy(), strata="region", psu="village", weights="w",
                                fpc={"a": 0.1, "b": 30})
    with pytest.raises(BadInput, match=r"no population size for stratum.*'b'") as e:
        SurveyDesign.from_frame(toy(), strata="region", psu="village", weights="w",
                                fpc={"a": 20})
    with pytest.raises(BadInput, match=r"\(0, 1\]") as e:
        SurveyDesign.from_frame(toy(), strata="region", psu="village", weights="w",
                                fpc={"a": 0.0, "b": 0.5})
    assert e.value.code == "design.fpc_invalid"


def test_invalid_declarations() -> None:
    with pytest.raises(BadInput, match="did you mean 'village'") as e:
        SurveyDesign.from_frame(toy(), psu="vilage", weights="w", source="s.csv")
    assert e.value.code == "design.invalid" and e.value.where is not None
    assert e.value.where.column == "vilage"
    df = toy()
    df.loc[3, "w"] = 0
    with pytest.raises(BadInput, match=r"positive number.*row 4") as e:
        SurveyDesign.from_frame(df, weights="w")
    assert e.value.code == "design.invalid"
    with pytest.raises(BadInput, match=r"\(0, 1\]"):
        SurveyDesign.from_frame(toy().assign(p=1.5), probabilities="p")
    with pytest.raises(BadInput, match="lonely_psu"):
        SurveyDesign.from_frame(toy(), lonely_psu="ignore")
    with pytest.raises(BadInput, match="need first-stage units"):
        SurveyDesign.from_frame(toy(), ssu="hh")
    with pytest.raises(BadInput, match="not both"):
        SurveyDesign.from_frame(toy().assign(p=0.1), weights="w", probabilities="p")


def test_lonely_psu_fail_names_the_stratum() -> None:
    df = toy().iloc[:6]  # region b keeps one village
    with pytest.raises(BadInput) as e:
        survey_estimate(df, strata="region", psu="village", weights="w", means=["y"])
    assert e.value.code == "design.lonely_psu"
    assert "stratum b" in e.value.message and "lonely_psu" in (e.value.fix or "")
    assert e.value.where is not None and e.value.where.column == "region"
    for option in ("remove", "certainty", "adjust", "average"):
        r = survey_estimate(df, strata="region", psu="village", weights="w", means=["y"],
                            lonely_psu=option)
        assert np.isfinite(r.table["se"]).all()
        assert f"strata with one PSU: {option}" in r.assumption
    # a stratum sampled in full (fpc = 1 village of 1) is certain, not lonely
    full = df.assign(N=[20] * 4 + [1] * 2)
    r = survey_estimate(full, strata="region", psu="village", weights="w", fpc="N",
                        means=["y"])
    assert np.isfinite(r.table["se"]).all()


def test_subset_keeps_population_sizes(strat: pd.DataFrame) -> None:
    d = SurveyDesign.from_frame(strat, strata="stype", weights="pw", fpc="fpc")
    s = d.subset(np.flatnonzero(strat["stype"].to_numpy() != "E"))
    assert s.n_strata == 2 and s.fpc1 is not None
    assert set(np.unique(s.fpc1)) == set(strat.loc[strat.stype != "E", "fpc"])


def test_weights_that_cannot_come_from_the_fpc(clus2: pd.DataFrame) -> None:
    # as R: two stages with a first-stage fpc only leave the second stage's weights unknown
    with pytest.raises(BadInput, match="second stage has no population sizes") as e:
        SurveyDesign.from_frame(clus2, psu="dnum", ssu="snum", fpc="fpc1")
    assert e.value.code == "design.invalid" and "fpc2" in (e.value.fix or "")
    d = SurveyDesign.from_frame(clus2, psu="dnum", ssu="snum", fpc="fpc1", weights="pw",
                                lonely_psu="remove")
    assert d.fpc2 is not None and np.isinf(d.fpc2).all()
    with pytest.raises(BadInput, match="infinite"):
        SurveyDesign.from_frame(toy().assign(N=np.inf), strata="region", psu="village",
                                fpc="N")
