"""The census, the DSE and the bottom-up estimate combined by area, from a known island."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.population import bottom_up, combine_population, dual_system


def island(seed: int, n_areas: int = 60, per_kind: int = 8) -> dict[str, Any]:
    """Dwellings, households and persons; the census misses whole households (more in
    informal areas, varying by area); a community enumeration lists every dwelling of
    sampled areas and counts the households that respond (93%, independently)."""
    rng = np.random.default_rng(seed)
    kind = np.where(np.arange(n_areas) % 2 == 0, "informal", "formal")
    inf = kind == "informal"
    dw = rng.integers(60, 200, n_areas)
    d_area = np.repeat(np.arange(n_areas), dw)
    occupied = rng.random(len(d_area)) < rng.beta(np.where(inf, 18, 9), 1.5)[d_area]
    mu = np.exp(np.where(inf, np.log(4.0), np.log(2.8)) + rng.normal(0, 0.12, n_areas))
    size = np.where(occupied, 1 + rng.poisson(mu[d_area] - 1), 0)
    miss = np.clip(np.where(inf, 0.25, 0.08) + rng.normal(0, 0.03, n_areas), 0.01, 0.6)
    in_census = occupied & (rng.random(len(d_area)) >= miss[d_area])
    sampled = np.zeros(n_areas, dtype=bool)
    for k in (True, False):
        sampled[rng.choice(np.flatnonzero(inf == k), per_kind, replace=False)] = True
    responds = occupied & (rng.random(len(d_area)) < 0.93)
    # persons: one row per person of an occupied dwelling
    p_dw = np.repeat(np.arange(len(d_area)), size)
    p_area = d_area[p_dw]
    names = np.array([f"S{i:02d}" for i in range(n_areas)])
    truth = np.bincount(d_area, weights=size, minlength=n_areas)
    census_n = np.bincount(d_area, weights=size * in_census, minlength=n_areas)
    pid = np.arange(len(p_dw)).astype(str)
    in_s = sampled[p_area]
    c_sel, e_sel = in_s & in_census[p_dw], in_s & responds[p_dw]
    both = c_sel & e_sel
    det = np.clip(np.where(inf, 0.85, 0.97) + rng.normal(0, 0.03, n_areas), 0.5, 1)
    listed = sampled[d_area]
    return {
        "counts": pd.DataFrame({"area": names, "kind": kind, "count": census_n}),
        "census": pd.DataFrame({"area": names[p_area][c_sel], "kind": kind[p_area][c_sel],
                                "person_id": np.char.add("c", pid[c_sel])}),
        "enum": pd.DataFrame({"area": names[p_area][e_sel], "kind": kind[p_area][e_sel],
                              "person_id": np.char.add("e", pid[e_sel])}),
        "links": pd.DataFrame({"census_id": np.char.add("c", pid[both]),
                               "enum_id": np.char.add("e", pid[both])}),
        "dwellings": pd.DataFrame({"area": names, "kind": kind,
                                   "dwellings": rng.binomial(dw, det)}),
        "listing": pd.DataFrame({
            "area": names[d_area][listed], "household": np.arange(len(d_area))[listed],
            "occupied": occupied[listed],
            "persons": np.where(responds, size, np.where(occupied, np.nan, 0))[listed]}),
        "truth": truth, "sampled": sampled}


def _run(s: dict[str, Any], seed: int, method: str = "precision") -> Any:
    dse = dual_system(s["counts"], s["enum"], s["census"], links=s["links"],
                      post_strata="kind", bootstrap=499, seed=seed)
    bu = bottom_up(s["dwellings"], s["listing"], strata="kind", draws=500, seed=seed)
    return combine_population(s["counts"], bu, dse, method=method, seed=seed), dse, bu


def test_combined_intervals_cover_the_true_area_populations() -> None:
    # 12 islands × 60 areas; areas of an island share stratum errors, so the bound is
    # loose (the islands' coverage rates vary by about 4 points)
    cov, narrower, total_hits = [], [], []
    for seed in range(12):
        s = island(seed)
        comb, _dse, _bu = _run(s, seed)
        a = comb.areas
        t = s["truth"]
        cov.append(((a["lower"] <= t) & (t <= a["upper"])).mean())
        width = a["upper"] - a["lower"]
        # unlisted areas: narrower than either source (listed areas' bottom-up estimate is
        # their count, nearly exact, and the combination keeps min_cv of doubt)
        out = ~s["sampled"]
        narrower.append((width <= np.minimum(a["bottom_up_upper"] - a["bottom_up_lower"],
                                             a["dse_upper"] - a["dse_lower"]) * 1.02)[out].mean())
        total_hits.append(comb.total["lower"] <= t.sum() <= comb.total["upper"])
    assert np.mean(cov) >= 0.88, np.mean(cov)
    assert np.mean(narrower) > 0.95, np.mean(narrower)  # combining gains precision
    assert np.mean(total_hits) >= 0.75
    # the implied undercount is 1 - census / estimate
    row = a.iloc[0]
    assert row["undercount"] == pytest.approx(1 - row["census"] / row["estimate"])
    assert row["undercount_lower"] <= row["undercount"] <= row["undercount_upper"]


def test_methods_dse_and_bottom_up_take_one_source() -> None:
    s = island(1)
    d, dse, bu = _run(s, 1, "dse")
    assert np.allclose(d.areas["weight_dse"], 1)
    assert d.areas["estimate"].to_numpy() == pytest.approx(
        dse.areas["estimate"].to_numpy(), rel=0.03)
    b, _, _ = _run(s, 1, "bottom_up")
    assert np.allclose(b.areas["weight_dse"], 0)
    # the same draws less the one the DSE lacks (499 of 500)
    assert b.areas["estimate"].to_numpy() == pytest.approx(bu.areas["estimate"].to_numpy(),
                                                           rel=3e-3)
    # strata add up to the total
    assert b.strata["estimate"].sum() == pytest.approx(b.total["estimate"], rel=1e-9)
    json.dumps(b.to_dict())


def test_areas_missing_from_one_source_and_disagreement_are_findings() -> None:
    s = island(2)
    dse = dual_system(s["counts"], s["enum"], s["census"], links=s["links"],
                      post_strata="kind", bootstrap=199)
    # S59 has no dwelling count; S00's imagery shows a tenth of its dwellings
    dwell = s["dwellings"].iloc[:-1].copy()
    dwell.loc[0, "dwellings"] = max(1, dwell.loc[0, "dwellings"] // 10)
    listing = s["listing"][s["listing"]["area"].isin(dwell["area"])]
    if s["sampled"][0]:
        listing = listing[listing["area"] != "S00"]
    bu = bottom_up(dwell, listing, strata="kind", draws=300)
    comb = combine_population(s["counts"], bu, dse)
    a = comb.areas.set_index("area")
    assert a.loc["S59", "weight_dse"] == 1 and np.isfinite(a.loc["S59", "estimate"])
    assert any("without dwellings" in n for n in comb.notes)
    assert abs(a.loc["S00", "agreement_z"]) > 2.576
    assert any("differ by more than their uncertainty" in n for n in comb.notes)


def test_bad_combination_inputs() -> None:
    s = island(3)
    bu = bottom_up(s["dwellings"], s["listing"], strata="kind", draws=200)
    with pytest.raises(BadInput) as e:
        combine_population(s["counts"], bu, method="dse")
    assert e.value.code == "population.invalid"
    with pytest.raises(BadInput):
        combine_population(s["counts"], bu, method="average")
    neg = s["counts"].assign(count=s["counts"]["count"].where(s["counts"].index != 2, -1))
    with pytest.raises(BadInput) as e:
        combine_population(neg, bu)
    assert "row 3" in str(e.value) and "S02" in str(e.value)
    with pytest.raises(BadInput):
        combine_population(s["counts"], "not a result")  # type: ignore[arg-type]


def test_totals_over_groups_of_areas_come_from_the_draws() -> None:
    s = island(4)
    comb, _, _ = _run(s, 4)
    groups = pd.Series(np.where(np.arange(60) < 30, "north", "south"),
                       index=[f"S{i:02d}" for i in range(60)])
    t = comb.totals(groups).set_index("group")
    assert t["estimate"].sum() == pytest.approx(comb.total["estimate"], rel=1e-9)
    assert (t["lower"] < t["estimate"]).all() and (t["estimate"] < t["upper"]).all()
    assert t.loc["north", "census"] == s["counts"]["count"].iloc[:30].sum()
