"""psu_totals_variance and svyrecvar: R survey's onestage/multistage, vectorised."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.survey import SurveyDesign, psu_totals_variance, svyrecvar

REF = Path(__file__).parent / "data" / "r_reference"
R = json.loads((REF / "design.json").read_text())["cases"]


def naive(t: np.ndarray, strata: np.ndarray, pop: np.ndarray | None) -> np.ndarray:
    """The textbook stratified with-replacement formula, one stratum at a time."""
    k = t.shape[1]
    v = np.zeros((k, k))
    for h in np.unique(strata):
        th = t[strata == h]
        n = len(th)
        f = 1.0 if pop is None else 1.0 - n / pop[strata == h][0]
        dev = th - th.mean(axis=0)
        v += f * n / (n - 1) * dev.T @ dev
    return v


def test_matches_the_textbook_formula_and_diag() -> None:
    rng = np.random.default_rng(1)
    strata = np.repeat(np.arange(6), [2, 3, 4, 2, 5, 3])
    t = rng.normal(size=(len(strata), 4))
    pop = np.array([10, 10, 7, 7, 7, 9, 9, 9, 9, 2, 2, 50, 50, 50, 50, 50, 8, 8, 8], float)
    for fpc in (None, pop):
        full = psu_totals_variance(t, strata, fpc=fpc)
        assert np.allclose(full, naive(t, strata, fpc), rtol=1e-12)
        assert np.allclose(psu_totals_variance(t, strata, fpc=fpc, diag=True), np.diag(full))
    # a stratum sampled in full (f_h = 1) adds nothing
    pop2 = pop.copy()
    pop2[strata == 0] = 2
    d = psu_totals_variance(t, strata, fpc=pop2, diag=True)
    assert np.allclose(d, psu_totals_variance(t[strata > 0], strata[strata > 0] - 1,
                                              fpc=pop2[strata > 0], diag=True))


def test_lonely_options() -> None:
    strata = np.array([0, 0, 0, 1, 2, 2])
    t = np.array([[1.0], [2.0], [4.0], [10.0], [3.0], [5.0]])
    with pytest.raises(BadInput, match="stratum B") as e:
        psu_totals_variance(t, strata, stratum_labels=np.array(["A", "B", "C"]))
    assert e.value.code == "design.lonely_psu"
    ok = naive(t[strata != 1], np.array([0, 0, 0, 2, 2]), None)[0, 0]
    for option in ("remove", "certainty"):
        assert psu_totals_variance(t, strata, lonely_psu=option)[0, 0] == pytest.approx(ok)
    # adjust: the lonely PSU total's deviation from 0 (R), or from a given grand mean
    assert psu_totals_variance(t, strata, lonely_psu="adjust")[0, 0] == pytest.approx(ok + 100)
    gm = np.array([t.mean()])
    assert psu_totals_variance(t, strata, lonely_psu="adjust", grand_mean=gm)[0, 0] == \
        pytest.approx(ok + (10 - t.mean()) ** 2)
    # average: the other strata's variance times strata / strata with a variance
    assert psu_totals_variance(t, strata, lonely_psu="average")[0, 0] == pytest.approx(ok * 1.5)
    assert np.isnan(psu_totals_variance(t[3:4], np.array([0]), lonely_psu="average")[0, 0])


def test_all_psus_kept_for_domains() -> None:
    # zeros for PSUs outside a domain: the domain variance keeps every PSU (R's svyby)
    strata = np.array([0, 0, 0, 1, 1])
    t = np.array([[5.0, 0.0], [0.0, 0.0], [3.0, 2.0], [1.0, 0.0], [0.0, 4.0]])
    v = psu_totals_variance(t, strata, diag=True)
    assert np.allclose(v, np.diag(naive(t, strata, None)))


def test_many_cells_are_fast() -> None:
    rng = np.random.default_rng(2)
    m, k = 2000, 3000
    strata = np.sort(rng.integers(0, 50, m))
    t = rng.normal(size=(m, k))
    start = time.perf_counter()
    v = psu_totals_variance(t, strata, fpc=np.full(m, 400.0), diag=True)
    # a generous bound on a shared machine: the dense einsum path takes well under a second
    assert time.perf_counter() - start < 20.0
    assert v.shape == (k,) and np.all(v > 0)


def mean_var(df: pd.DataFrame, d: SurveyDesign, y: str) -> tuple[float, float]:
    w = d.weights
    mu = float((w * df[y]).sum() / w.sum())
    x = (w * (df[y] - mu) / w.sum()).to_numpy()[:, None]
    return mu, float(np.sqrt(svyrecvar(x, d)[0, 0]))


@pytest.mark.parametrize(("case", "kwargs"), [
    ("apiclus2", {"psu": "dnum", "ssu": "snum", "fpc": "fpc1", "fpc2": "fpc2"}),
    ("apiclus2_weights", {"psu": "dnum", "ssu": "snum", "weights": "pw"}),
    # the second stage with replacement: PSUs with one school are lonely at stage 2
    ("apiclus2_fpc1_remove", {"psu": "dnum", "ssu": "snum", "weights": "pw", "fpc": "fpc1",
                              "lonely_psu": "remove"}),
    ("apiclus2_fpc1_certainty", {"psu": "dnum", "ssu": "snum", "weights": "pw", "fpc": "fpc1",
                                 "lonely_psu": "certainty"}),
])
def test_two_stage_as_r(case: str, kwargs: dict) -> None:
    df = pd.read_csv(REF / "design_apiclus2.csv")
    d = SurveyDesign.from_frame(df, **kwargs)
    mu, se = mean_var(df, d, "api00")
    ref = R[case]["estimates"][0]
    assert mu == pytest.approx(ref["estimate"], rel=1e-10)
    assert se == pytest.approx(ref["se"], rel=1e-10)


def test_second_stage_lonely_fails_by_default() -> None:
    df = pd.read_csv(REF / "design_apiclus2.csv")
    d = SurveyDesign.from_frame(df, psu="dnum", ssu="snum", weights="pw", fpc="fpc1")
    with pytest.raises(BadInput, match="only one sampled second-stage unit") as e:
        mean_var(df, d, "api00")
    assert e.value.code == "design.lonely_psu" and "stage 2" in e.value.message


def test_lonely_fpc_certain_as_r() -> None:
    df = pd.read_csv(REF / "design_lonely.csv")
    df.loc[df.stype == "E", "fpc"] = 1
    d = SurveyDesign.from_frame(df, strata="stype", weights="pw", fpc="fpc")
    _, se = mean_var(df, d, "api00")
    assert se == pytest.approx(R["lonely_fpc_certain"]["estimates"][0]["se"], rel=1e-10)
