"""Sparse tables: an estimate or a coded refusal, never a raw scipy/numpy error."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.integrate.mse import estimate_mse, estimate_stratified, read_histories
from citizendata.integrate.mse._design import Design
from citizendata.integrate.mse.loglinear import _multinomial_loglik

# The trade unionists' killings in the Colombia scenario (seed 2016), six lists: a sparse
# stratum on which the profile interval's upper bracket used to fail inside scipy's brentq
# ("f(a) and f(b) must have different signs").
TRADE_UNIONISTS = """flip,fiscalia,defensoria,sindical,medios,somos,count
0,1,0,0,0,0,4
0,1,1,0,0,0,2
0,0,0,1,0,0,20
0,1,0,1,0,0,13
0,1,1,1,0,0,12
0,0,0,0,1,0,2
0,0,0,1,1,0,2
0,1,0,1,1,0,6
0,1,1,1,1,0,5
0,0,0,0,0,1,1
0,1,0,0,0,1,1
0,0,0,1,0,1,13
0,1,0,1,0,1,10
1,1,0,1,0,1,2
0,0,1,1,0,1,2
0,1,1,1,0,1,14
1,1,1,1,0,1,1
0,0,0,0,1,1,1
0,0,0,1,1,1,5
1,0,0,1,1,1,1
0,1,0,1,1,1,9
0,1,1,1,1,1,7
1,1,1,1,1,1,1
"""


def test_sparse_stratum_gets_a_profile_interval() -> None:
    h = read_histories(pd.read_csv(io.StringIO(TRADE_UNIONISTS)))
    res = estimate_mse(h, selection="stepwise")
    lo, hi = res.selected["ci"]
    assert res.selected["terms"] == ["fiscalia:defensoria"]
    assert lo == h.n_observed == 134
    assert hi is not None and res.selected["estimate"] < hi < 2 * res.selected["estimate"]


def test_stratified_by_group_with_a_sparse_stratum() -> None:
    part = pd.read_csv(io.StringIO(TRADE_UNIONISTS))
    other = part.assign(count=part["count"] * 3)
    frame = pd.concat([part.assign(grp="tu"), other.assign(grp="hrd")])
    frame = frame[[*part.columns[:-1], "grp", "count"]]
    res = estimate_stratified(frame, strata=["grp"], selection="stepwise")
    assert res.n_observed == 4 * 134
    assert res.ci[0] <= res.total <= res.ci[1]


def test_likelihood_is_continuous_just_above_the_observed_count() -> None:
    # Stirling's formula for log(n0!) with n0 = N - n < 1 added -log(n0)/2 (+3.5 at
    # N = n + 0.001): a spurious peak that the interval's maximiser found
    h = read_histories(pd.read_csv(io.StringIO(TRADE_UNIONISTS)))
    y = h.full_counts()
    x = Design(h.k).matrix[:, : 1 + h.k]
    x_aug = np.vstack([x[1:], np.eye(1, x.shape[1])])  # cell 0 is the unobserved one
    beta = np.zeros(x.shape[1])
    n = float(y.sum())
    values = [_multinomial_loglik(x_aug, y[1:], n, n + d, beta)[0] for d in (0.0, 1e-3, 1e-2)]
    assert max(values) - min(values) < 0.05


def test_a_numerical_failure_in_scipy_comes_back_coded(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.optimize

    def broken(*args: object, **kwargs: object) -> float:
        raise ValueError("f(a) and f(b) must have different signs")

    monkeypatch.setattr(scipy.optimize, "brentq", broken)
    h = read_histories(pd.read_csv(io.StringIO(TRADE_UNIONISTS)))
    with pytest.raises(BadInput) as err:
        estimate_mse(h, selection="stepwise")
    assert err.value.code == "mse.no_estimate"
    assert "different signs" in str(err.value)


@st.composite
def sparse_tables(draw: st.DrawFn) -> pd.DataFrame:
    k = draw(st.integers(3, 5))
    cells = draw(st.lists(st.integers(1, 2 ** k - 1), min_size=1, max_size=2 ** k - 1,
                          unique=True))
    counts = draw(st.lists(st.integers(1, 40), min_size=len(cells), max_size=len(cells)))
    rows = [[(c >> j) & 1 for j in range(k)] + [n] for c, n in zip(cells, counts, strict=True)]
    return pd.DataFrame(rows, columns=[*(f"L{j}" for j in range(k)), "count"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=sparse_tables(), selection=st.sampled_from(["bic", "aic", "stepwise", "average"]))
def test_any_sparse_table_gives_an_estimate_or_a_coded_refusal(table: pd.DataFrame,
                                                               selection: str) -> None:
    try:
        res = estimate_mse(table, selection=selection)
    except BadInput as exc:
        assert exc.code.startswith("mse.")
        return
    est = res.selected["estimate"]
    assert np.isfinite(est) and est >= res.n_observed
    lo, hi = res.selected["ci"]
    assert lo is not None and lo <= est + 1e-6 and (hi is None or hi >= est - 1e-6)


PATTERNS = [(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 1), (1, 1, 1)]


def _strata_table(strata: dict[str, list[int]]) -> pd.DataFrame:
    """Three lists A, B, C; a stratum column s; counts in PATTERNS order (the review's table)."""
    rows = [{"A": p[0], "B": p[1], "C": p[2], "s": s, "count": n}
            for s, counts in strata.items() for p, n in zip(PATTERNS, counts, strict=True)]
    return pd.DataFrame(rows)


TWO_STRATA = {"x": [30, 20, 10, 25, 8, 6, 3], "y": [40, 22, 12, 20, 9, 7, 4]}


def test_lcmcr_strata_recombine_posterior_draws_into_a_real_interval() -> None:
    # review HIGH-2: LCMCR has no standard error; summing se "or 0" gave the total the
    # interval (344, 344), a maximally confident interval on a published value
    res = estimate_stratified(_strata_table(TWO_STRATA), strata=["s"], method="lcmcr",
                              samples=200, burnin=200, chains=2, seed=1)
    lo, hi = res.ci
    medians = sum(r.estimate for r in res.results.values())
    assert res.interval == "posterior draws"
    assert lo is not None and hi is not None
    assert hi - lo > 10
    assert lo < medians < hi
    assert lo >= res.n_observed == 216


def test_a_stratum_without_se_or_draws_gives_no_total_interval_rather_than_zero() -> None:
    from citizendata.integrate.mse.estimate import recombine

    parts = [estimate_mse(pd.DataFrame({"A": [p[0] for p in PATTERNS],
                                        "B": [p[1] for p in PATTERNS],
                                        "C": [p[2] for p in PATTERNS], "count": c}))
             for c in TWO_STRATA.values()]
    parts[1].selected.pop("se")
    ci, how, note = recombine(parts)
    assert ci == (None, None) and how == "none"
    assert note is not None and "no interval" in note


def test_one_stratum_whose_lists_do_not_overlap_keeps_the_other_strata() -> None:
    # review MEDIUM-3: stratum z has A and B only, never together; it used to refuse the
    # whole call (mse.invalid_histories) and blank every stratum
    frame = pd.concat([_strata_table(TWO_STRATA), pd.DataFrame(
        [{"A": 1, "B": 0, "C": 0, "s": "z", "count": 3},
         {"A": 0, "B": 1, "C": 0, "s": "z", "count": 1}])], ignore_index=True)
    res = estimate_stratified(frame, strata=["s"], seed=1)
    assert set(res.results) == {("x",), ("y",)}
    assert list(res.failed) == [("z",)]
    assert "only 2 list(s)" in res.failed[("z",)]["note"]
    assert res.total is None and res.ci == (None, None)
    assert res.n_observed == 216 + 4
    rows = {r["s"]: r for r in res.to_dict()["by_stratum"]}
    assert rows["x"]["estimate"] is not None and rows["z"]["estimate"] is None


def test_a_list_with_no_record_in_one_stratum_is_left_out_there() -> None:
    # review MEDIUM-3: list C recorded nothing in stratum y; fit y on A and B alone is not
    # possible (two lists), but with a fourth list D the stratum keeps A, B, D
    full = _strata_table({"x": TWO_STRATA["x"]})
    frame = pd.concat([full.assign(D=[1, 0, 0, 1, 0, 1, 0]),
                       _strata_table({"y": TWO_STRATA["y"]}).assign(
                           C=0, D=[0, 1, 1, 1, 0, 1, 1])], ignore_index=True)
    frame = frame[["A", "B", "C", "D", "s", "count"]]
    res = estimate_stratified(frame, strata=["s"], seed=1)
    assert not res.failed
    assert res.results[("y",)].lists == ["A", "B", "D"]
    assert res.results[("x",)].lists == ["A", "B", "C", "D"]
    assert res.total is not None and res.ci[0] is not None
