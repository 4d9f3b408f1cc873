"""The Kenya scenario's DHS-like survey: the same population, an exact design, and what it recovers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citizendata.integrate.nonprob import estimate_nonprob
from citizendata.integrate.nonprob._variance import design_codes, psu_total_variance
from citizendata.scenarios import kenya_maternal_health as kmh
from citizendata.scenarios.kenya_maternal_health import dhs


@pytest.fixture(scope="module")
def scenario() -> kmh.ScenarioData:
    return kmh.generate()


def test_same_population_and_truth_as_the_scenario(scenario: kmh.ScenarioData) -> None:
    women, births = dhs.population()
    assert dhs.truth() == scenario.truth["overall"]
    pd.testing.assert_series_equal(women["woman_id"], scenario.population["woman_id"])
    assert births["skilled"].tolist() == scenario.births_population["skilled"].tolist()


def test_citizen_sample_is_the_scenarios_sample(scenario: kmh.ScenarioData) -> None:
    c = dhs.citizen_sample()
    sampled = scenario.population.loc[scenario.population["in_sample"], "woman_id"]
    assert set(c["woman_id"]) == set(sampled[scenario.population.loc[
        scenario.population["in_sample"], "births_count"] > 0])
    births = scenario.births_population.set_index("birth_id")
    assert (births.loc[c["birth_id"], "skilled"].astype(int).to_numpy() == c["skilled"]).all()


def test_design_is_two_stage_pps_and_self_weighting_by_ward() -> None:
    w = dhs.build_dhs_sample(unit="women")
    assert len(w) == 9 * dhs.CLUSTERS_PER_WARD * dhs.WOMEN_PER_CLUSTER
    assert w.groupby("ward")["ea_id"].nunique().eq(dhs.CLUSTERS_PER_WARD).all()
    assert w.groupby("ea_id")["ward"].nunique().eq(1).all()  # PSUs nested in strata
    np.testing.assert_allclose(w["weight"], 1 / (w["pi1"] * w["pi2"]))
    assert w["weight"].sum() == pytest.approx(40_000)  # the frame's women, exactly
    spread = w.groupby("ward")["weight"].agg(lambda s: s.max() - s.min())
    assert (spread < 1e-9).all()
    assert not w["woman_id"].duplicated().any()
    b = dhs.build_dhs_sample()
    assert len(b) == w["births_count"].sum()
    mothers = w.set_index("woman_id")["weight"]
    np.testing.assert_allclose(b["weight"], mothers.loc[b["woman_id"]].to_numpy())
    assert set(dhs.SHARED_COVARIATES) <= set(b.columns) and b["skilled"].isin([0, 1]).all()
    other = dhs.build_dhs_sample(replicate=1, unit="women")
    assert set(other["woman_id"]) != set(w["woman_id"])


def test_first_stage_probabilities_match_repeated_draws() -> None:
    frame = dhs.frame_arrays()
    rng = np.random.default_rng(11)
    reps = 400
    hits = np.zeros(frame.ea_ids.size)
    women_hits = np.zeros(frame.ea_of_woman.size)
    for _ in range(reps):
        d = dhs.draw_dhs_rows(rng, frame)
        hits[np.unique(d["ea"])] += 1
        women_hits[d["rows"]] += 1
    total = np.bincount(frame.ea_ward, weights=frame.ea_size)[frame.ea_ward]
    pi1 = dhs.CLUSTERS_PER_WARD * frame.ea_size / total
    z = (hits / reps - pi1) / np.sqrt(pi1 * (1 - pi1) / reps)
    assert np.abs(z).max() < 4.5  # 372 EAs
    # every woman's overall probability: pi1 * k / M_i, summed per ward = 8 * 25
    size = frame.ea_size[frame.ea_of_woman]
    pi = pi1[frame.ea_of_woman] * np.minimum(dhs.WOMEN_PER_CLUSTER, size) / size
    np.testing.assert_allclose(np.bincount(frame.ea_ward[frame.ea_of_woman], weights=pi), 200)
    assert women_hits.sum() / reps == pytest.approx(pi.sum())


def test_naive_citizen_estimate_is_biased_and_the_survey_corrects_it() -> None:
    truth = dhs.truth()
    c, b = dhs.citizen_sample(), dhs.build_dhs_sample()
    r = estimate_nonprob(c, b, covariates=list(dhs.SHARED_COVARIATES), y="skilled",
                         weights="weight", strata="ward", psu="ea_id")
    t = r.table.set_index("method")
    assert t.loc["naive", "estimate"] - truth > 0.05
    assert t.loc["naive", "ci_low"] > truth  # the naive interval misses the truth
    for m in ("ipw", "dr", "mi"):  # one fixed draw; the simulation test checks coverage
        assert t.loc[m, "ci_low"] <= truth <= t.loc[m, "ci_high"]
        assert abs(t.loc[m, "estimate"] - truth) < abs(t.loc["naive", "estimate"] - truth) / 2
    # the survey on its own: design-based Hajek mean within three of its standard errors
    wt, y = b["weight"].to_numpy(), b["skilled"].to_numpy(dtype=float)
    mean = wt @ y / wt.sum()
    h, p = design_codes(b["ward"].to_numpy(), b["ea_id"].to_numpy(), len(b))
    se = np.sqrt(psu_total_variance(wt * (y - mean) / wt.sum(), h, p))
    assert abs(mean - truth) < 3 * se
