"""Margins that share variables must agree; bounds with numeric auxiliaries; trimming."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.stats.calibrate import Margin, NumericTotal, calibrate, margins_from_table

WARDS = ["W1", "W2"]
AGES = ["15-24", "25-49"]
SEXES = ["f", "m"]


def census() -> pd.DataFrame:
    """A population table ward x age x sex with counts."""
    idx = pd.MultiIndex.from_product([WARDS, AGES, SEXES], names=["ward", "age_group", "sex"])
    counts = [300, 310, 280, 300, 240, 250, 230, 240]
    return idx.to_frame(index=False).assign(population=counts)


def sample(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "ward": rng.choice(WARDS, n, p=[0.4, 0.6]),
        "age_group": rng.choice(AGES, n, p=[0.6, 0.4]),
        "sex": rng.choice(SEXES, n),
        "household_size": rng.integers(1, 9, n).astype(float),
    })


def test_nested_margins_from_one_table_are_consistent_and_met() -> None:
    margins = margins_from_table(census(), ["ward", ("ward", "age_group"), ("ward", "sex")])
    cal = calibrate(sample(), margins, method="raking")
    assert cal.diagnostics.max_abs_rel_diff_after < 1e-8


def test_a_coarse_and_a_fine_margin_that_disagree_name_the_cell() -> None:
    fine = margins_from_table(census(), [("ward", "age_group")])[0]
    # the same grand total (2,150), but 1,200 vs 1,190 in W1 and 950 vs 960 in W2
    coarse = Margin(("ward",), {("W1",): 1200, ("W2",): 950})
    assert coarse.grand_total == fine.grand_total
    with pytest.raises(BadInput) as err:
        calibrate(sample(), [coarse, fine])
    e = err.value
    assert e.code == "calibration.inconsistent_margins"
    messages = [p.message for p in e.problems]
    assert messages == [
        "ward 'W1': 1,200 in margin 'ward' but 1,190 summed from 'ward x age_group'",
        "ward 'W2': 950 in margin 'ward' but 960 summed from 'ward x age_group'",
    ]
    assert {p.where.field for p in e.problems if p.where} == {"ward"}
    assert all(p.code == "calibration.inconsistent_margins" for p in e.problems)
    assert "2 cells where margins sharing variables disagree" in e.message
    cells = e.details["cells"]
    assert cells[0]["variables"] == ["ward"] and cells[0]["category"] == ["W1"]
    assert cells[0]["totals"] == {"ward": 1200.0, "ward x age_group": 1190.0}
    # the order of the margins does not change the message
    with pytest.raises(BadInput) as again:
        calibrate(sample(), [fine, coarse])
    assert [p.message for p in again.value.problems] == messages


def test_two_crosses_sharing_one_variable_and_a_cell_only_one_lists() -> None:
    by_age, by_sex = margins_from_table(census(), [("ward", "age_group"), ("ward", "sex")])
    totals = dict(by_sex.totals)
    totals[("W1", "f")] -= 40
    totals[("W2", "f")] += 40
    shifted = Margin(("ward", "sex"), totals)
    with pytest.raises(BadInput) as err:
        calibrate(sample(), [by_age, shifted])
    assert [p.message for p in err.value.problems] == [
        "ward 'W1': 1,190 summed from 'ward x age_group' but 1,150 summed from 'ward x sex'",
        "ward 'W2': 960 summed from 'ward x age_group' but 1,000 summed from 'ward x sex'",
    ]
    # a ward only the coarse margin lists: 0 in the other
    extra = Margin(("ward",), {("W1",): 1190, ("W2",): 960, ("W3",): 5})
    with pytest.raises(BadInput) as err3:
        calibrate(sample(), [extra, by_age])
    assert [p.message for p in err3.value.problems] == [
        "ward 'W3': 5 in margin 'ward' but 0 summed from 'ward x age_group'"]


def test_sub_totals_within_margin_rtol_are_accepted() -> None:
    fine = margins_from_table(census(), [("ward", "age_group")])[0]
    coarse = Margin(("ward",), {("W1",): 1190.0001, ("W2",): 960})
    cal = calibrate(sample(), [coarse, fine], method="linear", margin_rtol=1e-6)
    assert cal.diagnostics.max_abs_rel_diff_after < 1e-6


def test_margins_not_sharing_variables_keep_the_grand_total_check() -> None:
    ward, sex = margins_from_table(census(), ["ward", "sex"])
    sex = Margin(("sex",), {("f",): 1100, ("m",): 1100})
    with pytest.raises(BadInput) as err:
        calibrate(sample(), [ward, sex])
    assert err.value.code == "calibration.inconsistent_margins"
    assert err.value.message == ("the margins do not add up to the same population: "
                                 "'ward' 2,150; 'sex' 2,200")


def test_numeric_totals_are_exempt_and_the_intercept_must_agree() -> None:
    ward = margins_from_table(census(), ["ward"])[0]
    size = NumericTotal("household_size", 9_000.0)
    cal = calibrate(sample(), [ward, size], method="linear", population_size=2150)
    assert cal.weights @ sample()["household_size"] == pytest.approx(9000, rel=1e-10)
    with pytest.raises(BadInput) as err:
        calibrate(sample(), [ward, size], method="linear", population_size=2000)
    assert err.value.code == "calibration.inconsistent_margins"
    assert "'population_size' 2,000; 'ward' 2,150" in err.value.message


BOUNDED = [("linear", (0.4, 1.8)), ("raking", (0.4, 1.8)), ("logit", (0.4, 1.8))]


@pytest.mark.parametrize(("method", "bounds"), BOUNDED, ids=[b[0] for b in BOUNDED])
@pytest.mark.parametrize("q", [None, "household_size"])
def test_bounds_hold_with_a_numeric_auxiliary(method: Any, bounds: tuple[float, float],
                                              q: str | None) -> None:
    s = sample()
    margins: list[Margin | NumericTotal] = [
        *margins_from_table(census(), ["ward", "age_group"]),
        NumericTotal("household_size", 2150 * 4.2)]
    free = calibrate(s, margins, method="linear", variance=q)
    assert free.g.min() < bounds[0] or free.g.max() > bounds[1]  # the bounds must bind
    cal = calibrate(s, margins, method=method, bounds=bounds, variance=q)
    assert cal.g.min() >= bounds[0] - 1e-12 and cal.g.max() <= bounds[1] + 1e-12
    assert cal.diagnostics.max_abs_rel_diff_after < 1e-9
    at_bound = np.isclose(cal.g, bounds[0]) | np.isclose(cal.g, bounds[1])
    if method != "logit":  # logit approaches its bounds but never reaches them
        assert at_bound.any()


def test_trimming_with_a_numeric_auxiliary_keeps_every_total() -> None:
    s = sample()
    margins: list[Margin | NumericTotal] = [
        *margins_from_table(census(), ["ward"]), NumericTotal("household_size", 2150 * 4.2)]
    cal = calibrate(s, margins, method="raking", trim=(None, 1.5))
    mean = cal.weights.mean()
    assert cal.weights.max() <= 1.5 * mean * (1 + 1e-9)
    assert cal.diagnostics.trimmed > 0
    assert cal.weights @ s["household_size"] == pytest.approx(2150 * 4.2, rel=1e-8)
