"""Bottom-up population per area: coverage of the true populations, strata, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.population import bottom_up


def simulate(seed: int, *, n_areas: int = 80, frac: float = 0.3, listed_share: float = 1.0
             ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Areas with known dwellings, occupancy and household sizes; imagery misses some
    dwellings (more in informal areas); a community listing of a sample of areas."""
    rng = np.random.default_rng(seed)
    kind = np.where(np.arange(n_areas) % 3 == 0, "informal", "formal")
    inf = kind == "informal"
    true_d = rng.integers(60, 250, n_areas)
    detect = np.exp(np.where(inf, np.log(0.85), np.log(0.97)) + rng.normal(0, 0.05, n_areas))
    imagery = rng.binomial(true_d, np.clip(detect, 0, 1))
    p_occ = rng.beta(np.where(inf, 18, 9), np.where(inf, 2, 1.5))
    mu = np.exp(np.where(inf, np.log(4.0), np.log(2.8)) + rng.normal(0, 0.12, n_areas))
    area = np.repeat(np.arange(n_areas), true_d)
    occupied = rng.random(len(area)) < p_occ[area]
    persons = np.where(occupied, 1 + rng.poisson(mu[area] - 1), 0)
    truth = np.bincount(area, weights=persons, minlength=n_areas)
    sampled = rng.random(n_areas) < frac
    keep = sampled[area] & (rng.random(len(area)) < listed_share)
    names = np.array([f"A{i:02d}" for i in range(n_areas)])
    dwellings = pd.DataFrame({"area": names, "kind": kind, "dwellings": imagery,
                              "ground": np.where(sampled, true_d, np.nan)})
    listing = pd.DataFrame({"area": names[area][keep],
                            "household": np.arange(len(area))[keep].astype(str),
                            "occupied": np.where(occupied[keep], "yes", "no"),
                            "persons": persons[keep]})
    return dwellings, listing, truth, sampled


def test_intervals_cover_the_true_populations_of_unsampled_areas() -> None:
    # 30 islands × ~56 unsampled areas. Areas of one island share the stratum estimates,
    # so the replicates are the islands: their coverage rates have sd ≈ 3% here, and the
    # mean over 30 is within 3 × 3%/√30 ≈ 1.7 points of 95% (we allow 2.5)
    cov, width = [], []
    for seed in range(30):
        dw, li, truth, sampled = simulate(seed)
        r = bottom_up(dw, li, strata="kind", draws=1000, seed=seed)
        a = r.areas
        inside = (a["lower"] <= truth) & (truth <= a["upper"])
        cov.append(inside[~sampled].mean())
        width.append(((a["upper"] - a["lower"]) / truth)[~sampled].mean())
        # a listed area's population is what the listing counted
        assert np.allclose(a.loc[sampled, "estimate"], truth[sampled])
    assert abs(np.mean(cov) - 0.95) < 0.025, np.mean(cov)
    assert np.mean(width) < 1.0


def test_a_sampled_listing_and_ground_counts() -> None:
    # half the dwellings of a sampled area listed; the ground count gives its dwellings
    cov = []
    for seed in range(15):
        dw, li, truth, sampled = simulate(seed, listed_share=0.5)
        r = bottom_up(dw, li, strata="kind", ground="ground", listing_complete=False,
                      draws=1000, seed=seed)
        a = r.areas
        cov.append(((a["lower"] <= truth) & (truth <= a["upper"])).mean())
        s = a[sampled]
        assert (s["lower"] > s["persons_listed"]).all()  # the unlisted half is added
    assert abs(np.mean(cov) - 0.95) < 0.04, np.mean(cov)


def test_strata_are_estimated_apart_and_detection_is_corrected() -> None:
    dw, li, truth, _sampled = simulate(1, n_areas=150)
    r = bottom_up(dw, li, strata="kind", draws=500)
    s = r.strata.set_index("stratum")
    # imagery sees 85% of informal dwellings, 97% of formal: ground/imagery ≈ 1/0.85, 1/0.97
    assert s.loc["informal", "detection"] == pytest.approx(1 / 0.85, rel=0.05)
    assert s.loc["formal", "detection"] == pytest.approx(1 / 0.97, rel=0.05)
    assert (s["detection_lower"] < s["detection"]).all()
    assert (s["detection"] < s["detection_upper"]).all()
    assert s.loc["informal", "persons_per_occupied"] == pytest.approx(4.0, rel=0.08)
    assert s.loc["formal", "persons_per_occupied"] == pytest.approx(2.8, rel=0.08)
    tot = r.total  # its 95% interval covered 38 of 40 islands; here a 3.5 se check
    assert abs(tot["estimate"] - truth.sum()) < 3.5 * tot["se"]
    out = json.loads(json.dumps(r.to_dict()))
    assert out["method"] == "bottom_up" and len(out["areas"]) == 150


def test_a_thin_stratum_borrows_from_all_strata() -> None:
    dw, li, _truth, _sampled = simulate(2)
    dw.loc[0, "kind"] = "camp"  # one area; listed or not, it cannot estimate its own spread
    r = bottom_up(dw, li, strata="kind", draws=300)
    assert any("'camp'" in n and "borrows" in n for n in r.notes)
    assert np.isfinite(r.areas.loc[0, "estimate"])


def test_occupied_dwellings_without_a_count_are_imputed() -> None:
    dw, li, _truth, _sampled = simulate(3)
    occ = li.index[li["occupied"] == "yes"][:5]
    li = li.astype({"persons": float})
    li.loc[occ, "persons"] = np.nan
    r = bottom_up(dw, li, strata="kind", draws=300)
    assert any("without a number of persons" in n for n in r.notes)
    area = li.loc[occ[0], "area"]
    row = r.areas.set_index("area").loc[area]
    assert row["upper"] > row["lower"] > row["persons_listed"]


@pytest.mark.parametrize(("change", "where"), [
    (lambda dw, li: dw.assign(dwellings=dw["dwellings"].where(dw.index != 4, -1)), "row 5"),
    (lambda dw, li: dw.assign(area=dw["area"].where(dw.index != 7, dw.loc[2, "area"])),
     "appears twice"),
])
def test_bad_dwelling_tables(change, where) -> None:  # type: ignore[no-untyped-def]
    dw, li, _, _ = simulate(4)
    with pytest.raises(BadInput) as e:
        bottom_up(change(dw, li), li, strata="kind")
    assert e.value.code == "population.invalid" and where in str(e.value)


def test_bad_listings_name_the_row_and_area() -> None:
    dw, li, _, _ = simulate(5)
    first = li.loc[0, "area"]

    def fails(listing: pd.DataFrame, *expected: str) -> None:
        with pytest.raises(BadInput) as e:
            bottom_up(dw, listing, strata="kind")
        assert e.value.code == "population.invalid"
        for x in expected:
            assert x in str(e.value), str(e.value)

    fails(li.assign(area=li["area"].where(li.index != 3, None)), "Listing row 4", "'area'")
    fails(li.assign(area=li["area"].where(li.index != 0, "Z99")), "row 1", "Z99",
          "not in the dwelling table")
    fails(li.assign(persons=li["persons"].where(li.index != 1, -2)), "row 2", first, "negative")
    bad = li.copy()
    bad.loc[2, ["occupied", "persons"]] = ["no", 3]
    fails(bad, "row 3", "unoccupied")
    fails(li.assign(occupied=li["occupied"].where(li.index != 0, "maybe")), "row 1",
          "yes or no")
    fails(pd.concat([li, li.iloc[[0]]], ignore_index=True), f"row {len(li) + 1}",
          "dwelling id")
    fails(li.drop(columns="persons"), "'persons'")
