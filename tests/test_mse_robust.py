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
