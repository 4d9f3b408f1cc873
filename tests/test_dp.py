"""Differential privacy for counts and proportions, and the privacy budget."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput, Conflict
from citizendata.privacy.budget import Spend, check_budget, compose
from citizendata.privacy.dp import (
    _largest_remainder,
    _sample,
    _simplex_projection,
    add_noise,
    calibrate_scale,
    make_measurement,
    noise_variance,
    noisy_counts,
    noisy_proportions,
)
from citizendata.privacy.structure import TableStructure


def cube(leaf: dict[tuple[str, ...], int], dims: list[str],
         parents: dict[str, dict[str, str]] | None = None) -> pd.DataFrame:
    """Every cell of the cube over the leaf cells: each code, its ancestors and _T."""
    parents = parents or {}

    def up(d: str, code: str) -> list[str]:
        out = [code]
        while out[-1] != "_T":
            out.append(parents.get(d, {}).get(out[-1], "_T"))
        return out

    sums: dict[tuple[str, ...], int] = {}
    for key, n in leaf.items():
        for cell in itertools.product(*(up(d, c) for d, c in zip(dims, key, strict=True))):
            sums[cell] = sums.get(cell, 0) + n
    return pd.DataFrame([(*k, v) for k, v in sums.items()], columns=[*dims, "n"])


# a household survey's respondents by sex and age group, all margins
SEX_AGE = cube({("F", "0-14"): 31, ("F", "15-64"): 120, ("F", "65+"): 4,
                ("M", "0-14"): 28, ("M", "15-64"): 97, ("M", "65+"): 0}, ["sex", "age"])
# counties within regions, by sex
REGIONS = {"county": {"Kisumu": "Nyanza", "Siaya": "Nyanza", "Nakuru": "Rift", "Kericho": "Rift",
                      "Turkana": "Rift"}}
COUNTY_SEX = cube({("Kisumu", "F"): 40, ("Kisumu", "M"): 35, ("Siaya", "F"): 2,
                   ("Siaya", "M"): 0, ("Nakuru", "F"): 61, ("Nakuru", "M"): 58,
                   ("Kericho", "F"): 1, ("Kericho", "M"): 3, ("Turkana", "F"): 0,
                   ("Turkana", "M"): 7}, ["county", "sex"], REGIONS)


def moments_check(noise: np.ndarray, variance: float, k: float = 5.0) -> tuple[float, float]:
    """Sample mean and variance within k standard errors of 0 and the theoretical variance."""
    n = noise.size
    x = noise.astype(float)
    m = x.mean()
    s2 = x.var(ddof=1)
    mu4 = ((x - m) ** 4).mean()
    se_var = math.sqrt((mu4 - s2 ** 2) / n)  # SE of the sample variance, from the fourth moment
    assert abs(m) < k * math.sqrt(variance / n)
    assert abs(s2 - variance) < k * se_var, (s2, variance, se_var)
    return m, s2


@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_opendp_discrete_laplace_has_its_theoretical_variance(scale):
    noise = add_noise(np.zeros(20_000, dtype=np.int64), "discrete_laplace", scale)
    assert noise.dtype == np.int64
    moments_check(noise, noise_variance("discrete_laplace", scale))


def test_opendp_discrete_gaussian_has_its_theoretical_variance():
    noise = add_noise(np.full(20_000, 50, dtype=np.int64), "discrete_gaussian", 2.5) - 50
    variance = noise_variance("discrete_gaussian", 2.5)
    assert variance == pytest.approx(6.25, rel=1e-9)  # σ² up to an exponentially small gap
    moments_check(noise, variance)


@pytest.mark.parametrize("mechanism, scale", [("discrete_laplace", 2.0),
                                              ("discrete_gaussian", 0.7)])
def test_test_sampler_draws_the_same_distributions(mechanism, scale):
    noise = _sample(mechanism, scale, 20_000, np.random.default_rng(1))
    moments_check(noise, noise_variance(mechanism, scale))


def test_noise_variance_formulas():
    q = math.exp(-1 / 2.0)
    assert noise_variance("discrete_laplace", 2.0) == pytest.approx(2 * q / (1 - q) ** 2)
    # a small discrete Gaussian has visibly less variance than σ²
    assert noise_variance("discrete_gaussian", 0.5) < 0.25 * 0.99
    assert noise_variance("discrete_gaussian", 0.0) == 0.0


def test_scale_for_epsilon_one_is_certified_by_opendp():
    scale = calibrate_scale("discrete_laplace", 1, 1.0)
    assert make_measurement("discrete_laplace", scale).map(1) <= 1.0
    assert scale == pytest.approx(1.0, rel=1e-6)
    # four grouping sets: four times the noise for the same epsilon
    scale4 = calibrate_scale("discrete_laplace", 4, 1.0)
    assert scale4 == pytest.approx(4 * scale, rel=1e-6)
    assert make_measurement("discrete_laplace", scale4).map(4) <= 1.0
    assert make_measurement("discrete_laplace", scale).map(4) > 1.0


def test_gaussian_scale_grows_with_the_l2_sensitivity():
    s1 = calibrate_scale("discrete_gaussian", 1.0, 1.0, 1e-6)
    s4 = calibrate_scale("discrete_gaussian", 2.0, 1.0, 1e-6)  # L2 of 4 grouping sets = √4
    assert s4 == pytest.approx(2 * s1, rel=1e-3)
    eps, delta = make_measurement("discrete_gaussian", s4, 1e-6).map(2.0)
    assert eps <= 1.0 and delta <= 1e-6


def additive_and_whole(result, dims, count="n", hierarchies=None):
    x = result.table[count].to_numpy()
    assert x.dtype.kind == "i" and (x >= 0).all()
    s = TableStructure.from_table(result.table, dims, hierarchies)
    values = np.zeros(s.n_cells, dtype=np.int64)
    values[s.positions(result.table)] = x
    assert (s.A @ values == 0).all()


@pytest.mark.parametrize("strategy", ["finest", "consistent"])
@pytest.mark.parametrize("mechanism, delta", [("discrete_laplace", 0.0),
                                              ("discrete_gaussian", 1e-6)])
def test_noisy_cube_is_whole_non_negative_and_additive(strategy, mechanism, delta):
    # a small epsilon: many cells go below zero before post-processing
    r = noisy_counts(SEX_AGE, ["sex", "age"], epsilon=0.1, delta=delta, mechanism=mechanism,
                     strategy=strategy)
    additive_and_whole(r, ["sex", "age"])
    assert list(r.table.columns) == ["sex", "age", "n", "dp_noise_sd"]
    assert (r.table[["sex", "age"]] == SEX_AGE[["sex", "age"]]).all().all()
    assert r.grouping_sets == 4
    assert r.delta == delta


@pytest.mark.parametrize("strategy", ["finest", "consistent"])
def test_hierarchical_table_stays_additive(strategy):
    r = noisy_counts(COUNTY_SEX, ["county", "sex"], epsilon=0.2, strategy=strategy,
                     hierarchies=REGIONS)
    additive_and_whole(r, ["county", "sex"], hierarchies=REGIONS)
    assert r.grouping_sets == 6  # county, region, total × sex, total
    assert r.sensitivity == (1 if strategy == "finest" else 6)


def test_finest_strategy_sensitivity_and_noise_sd():
    r = noisy_counts(SEX_AGE, ["sex", "age"], epsilon=1.0)
    assert (r.strategy, r.sensitivity, r.noised_cells) == ("finest", 1.0, 6)
    v = noise_variance("discrete_laplace", r.scale)
    t = r.table.set_index(["sex", "age"])["dp_noise_sd"]
    assert t["F", "0-14"] == pytest.approx(math.sqrt(v))
    assert t["F", "_T"] == pytest.approx(math.sqrt(3 * v))  # three age groups summed
    assert t["_T", "_T"] == pytest.approx(math.sqrt(6 * v))


def test_consistent_strategy_noise_sd_is_the_least_squares_variance():
    r = noisy_counts(SEX_AGE, ["sex", "age"], epsilon=1.0, strategy="consistent")
    v = noise_variance("discrete_laplace", r.scale)
    assert r.sensitivity == 4 and r.noised_cells == 12
    # for a 2 × 3 table with all margins the projection keeps half of every cell's variance
    np.testing.assert_allclose(r.noise_sd ** 2, 0.5 * v, rtol=1e-9)


def test_finest_strategy_is_unbiased_for_cells_well_above_zero():
    rng = np.random.default_rng(7)
    draws = np.array([noisy_counts(SEX_AGE, ["sex", "age"], epsilon=0.5, rng=rng).table["n"]
                      for _ in range(120)])
    true = SEX_AGE["n"].to_numpy()
    sd = draws.std(axis=0, ddof=1)
    big = true >= 25
    assert (np.abs(draws.mean(axis=0) - true)[big] < 5 * sd[big] / math.sqrt(120)).all()


def test_proportions_carry_the_delta_method_noise_sd():
    t = SEX_AGE.rename(columns={"n": "persons"})
    t["with_disability"] = (t["persons"] * 0.2).round().astype(int)
    t.loc[(t.sex == "M") & (t.age == "65+"), "with_disability"] = 0  # an empty cell
    r = noisy_proportions(t, ["sex", "age"], "with_disability", "persons", epsilon=1.0)
    out = r.table
    v = noise_variance("discrete_laplace", r.scale)
    leaves = np.where(out.sex.eq("_T"), 2, 1) * np.where(out.age.eq("_T"), 3, 1)
    sd_yes = sd_no = np.sqrt(v * leaves)
    n, d = out["with_disability"].to_numpy(), out["persons"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = n / d
        expect = np.sqrt(sd_yes ** 2 + p ** 2 * (sd_yes ** 2 + sd_no ** 2)
                         - 2 * p * sd_yes ** 2) / d
    np.testing.assert_allclose(out["proportion"], p)
    np.testing.assert_allclose(out["dp_noise_sd"], expect, rtol=1e-9)
    assert (out["proportion"].dropna().between(0, 1)).all()
    assert r.sensitivity == 1  # yes and no are disjoint: no split of epsilon


def test_empty_denominator_gives_nan():
    t = pd.DataFrame({"ward": ["A", "B", "_T"], "yes": [0, 0, 0], "all": [0, 0, 0]})
    # epsilon so large that the noise is almost surely zero
    r = noisy_proportions(t, ["ward"], "yes", "all", epsilon=60.0)
    assert r.table["all"].tolist() == [0, 0, 0]
    assert r.table["proportion"].isna().all() and r.table["dp_noise_sd"].isna().all()


def test_refuses_weighted_counts_and_incomplete_cubes():
    weighted = SEX_AGE.assign(n=SEX_AGE["n"] * 1.5)
    with pytest.raises(BadInput) as e:
        noisy_counts(weighted, ["sex", "age"], epsilon=1.0)
    assert e.value.code == "privacy.invalid_table"
    margins_only = SEX_AGE[(SEX_AGE.sex == "_T") | (SEX_AGE.age == "_T")]
    with pytest.raises(BadInput, match="finest"):
        noisy_counts(margins_only, ["sex", "age"], epsilon=1.0)
    with pytest.raises(BadInput, match="delta"):
        noisy_counts(SEX_AGE, ["sex", "age"], epsilon=1.0, mechanism="discrete_gaussian")


def test_group_simplex_projection_matches_the_one_group_algorithm():
    def one_group(v, s):
        if s == 0:
            return np.zeros_like(v)
        u = np.sort(v)[::-1]
        j = np.arange(1, u.size + 1)
        cs = np.cumsum(u)
        rho = j[u - (cs - s) / j > 0].max()
        return np.maximum(v - (cs[rho - 1] - s) / rho, 0)

    rng = np.random.default_rng(5)
    group = np.array([2, 0, 1, 0, 2, 2, 1, 0, 3])
    v = rng.normal(0, 10, group.size)
    total = np.array([12.0, 0.0, 30.0, 4.0])
    w = _simplex_projection(v, group, total)
    for k in range(4):
        np.testing.assert_allclose(w[group == k], one_group(v[group == k], total[k]), atol=1e-12)
    x = _largest_remainder(w, group, total)
    assert (np.bincount(group, weights=x) == total).all() and (np.abs(x - w) < 1).all()


def test_a_table_without_totals_is_rounded_and_clamped():
    wards = pd.DataFrame({"ward": ["A", "B", "C"], "n": [0, 3, 250]})
    r = noisy_counts(wards, ["ward"], epsilon=0.5, rng=np.random.default_rng(2))
    assert (r.table["n"] >= 0).all() and r.table["n"].dtype.kind == "i"
    assert r.grouping_sets == 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=6, max_size=6),
       st.sampled_from(["finest", "consistent"]), st.floats(0.05, 2.0), st.integers(0, 2 ** 32))
def test_post_processed_counts_are_always_additive_and_non_negative(leaves, strategy, eps, seed):
    keys = list(itertools.product(["a", "b"], ["x", "y", "z"]))
    table = cube(dict(zip(keys, leaves, strict=True)), ["g", "h"])
    r = noisy_counts(table, ["g", "h"], epsilon=eps, strategy=strategy,
                     rng=np.random.default_rng(seed))
    additive_and_whole(r, ["g", "h"])


# --- budget ---------------------------------------------------------------------------

def test_budget_composes_by_adding():
    assert compose([Spend(0.5, 1e-7, "a"), Spend(1.0, 0.0, "b")]) == (1.5, 1e-7)


def test_budget_refuses_a_release_beyond_it():
    spent = [Spend(1.0, 0.0, "counts by ward"), Spend(2.5, 0.0, "by age")]
    with pytest.raises(Conflict) as e:
        check_budget(spent, Spend(1.0, 0.0, "by sex"), 4.0, 1e-6)
    err = e.value
    assert err.code == "privacy.budget_exceeded" and err.http_status == 409
    assert "only 0.5 of 4 is left" in err.message
    assert err.details["remaining"] == {"epsilon": 0.5, "delta": 1e-6}
    assert err.details["requested"]["epsilon"] == 1.0
    assert err.details["spent"]["epsilon"] == 3.5


def test_budget_allows_the_exact_boundary():
    spent = [Spend(0.1), Spend(0.2)]
    assert check_budget(spent, Spend(0.7), 1.0, 0.0) == (0.0, 0.0)
    left = check_budget([Spend(1.0, 4e-7)], Spend(1.0, 6e-7), 4.0, 1e-6)
    assert left[0] == pytest.approx(2.0) and left[1] == pytest.approx(0.0, abs=1e-18)


def test_budget_refuses_too_much_delta():
    with pytest.raises(Conflict, match="delta"):
        check_budget([Spend(0.5, 9e-7)], Spend(0.5, 2e-7, "gaussian"), 4.0, 1e-6)
