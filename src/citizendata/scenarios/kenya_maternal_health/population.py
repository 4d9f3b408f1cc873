"""The synthetic population of women aged 15-49, their recent births, the truth and census margins.

Everything is drawn with numpy from one seeded generator, so the same seed always
gives the same population. Skilled attendance falls with distance to the nearest
maternity ward and is lower for women with disabilities, so the true values differ
by ward and by disability status, as the survey is meant to show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios.kenya_maternal_health.geography import RANCHES, WARDS

__all__ = [
    "AGE_GROUPS",
    "WG_DOMAINS",
    "age_group_of",
    "compute_truth",
    "make_margins",
    "make_population",
]

AGE_GROUPS: tuple[str, ...] = ("15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49")
WG_DOMAINS: tuple[str, ...] = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")

# Annual probability of a birth by five-year age group (synthetic, roughly a pastoralist TFR of 5.5).
_BIRTH_RATE = np.array([0.09, 0.25, 0.27, 0.23, 0.17, 0.08, 0.02])
# Domain shifts of the latent difficulty: seeing and walking difficulties are the commonest.
_WG_SHIFT = np.array([0.25, 0.0, 0.2, 0.05, -0.3, -0.35])
_WG_CUTS = np.array([1.0, 1.85, 2.7])  # some / a lot / cannot do at all
_COUNTY_EFFECT = {"kajiado": 0.45, "narok": 0.1, "samburu": -0.35}
_ETHNICITY: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "kajiado": (("maasai", "other_indigenous", "turkana", "not_indigenous", "prefer_not_to_say"),
                (0.86, 0.03, 0.01, 0.08, 0.02)),
    "narok": (("maasai", "other_indigenous", "not_indigenous", "prefer_not_to_say"),
              (0.84, 0.02, 0.12, 0.02)),
    "samburu": (("samburu", "turkana", "rendille", "other_indigenous", "not_indigenous",
                 "prefer_not_to_say"), (0.78, 0.10, 0.06, 0.02, 0.02, 0.02)),
}


def age_group_of(age: np.ndarray | pd.Series) -> np.ndarray:
    """Five-year age group labels (15-19 ... 45-49) for ages 15-49."""
    idx = np.clip((np.asarray(age, dtype=int) - 15) // 5, 0, len(AGE_GROUPS) - 1)
    return np.asarray(AGE_GROUPS, dtype=object)[idx]


def _places(rng: np.random.Generator, size: int) -> pd.DataFrame:
    """County, ward and group ranch of each woman, in proportion to the ward sizes."""
    base = np.array([w.women for w in WARDS], dtype=float)
    counts = np.floor(base / base.sum() * size).astype(int)
    counts[0] += size - counts.sum()
    ward_idx = np.repeat(np.arange(len(WARDS)), counts)
    ranch = np.empty(size, dtype=object)
    for i, w in enumerate(WARDS):
        ranches = [r for r in RANCHES if r.ward == w.name]
        shares = np.array([r.share for r in ranches])
        mask = ward_idx == i
        ranch[mask] = np.array([r.name for r in ranches], dtype=object)[
            rng.choice(len(ranches), size=int(mask.sum()), p=shares / shares.sum())]
    return pd.DataFrame({
        "county": np.array([w.county for w in WARDS], dtype=object)[ward_idx],
        "ward": np.array([w.name for w in WARDS], dtype=object)[ward_idx],
        "group_ranch": ranch,
        "ward_idx": ward_idx,
    })


def _wg_answers(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Six WG answers (1-4) per woman from one latent difficulty plus domain noise."""
    latent = rng.standard_normal(age.size) + 0.025 * (age - 30)
    z = 0.75 * latent[:, None] + 0.66 * rng.standard_normal((age.size, 6)) + _WG_SHIFT[None, :]
    return (1 + (z[:, :, None] > _WG_CUTS[None, None, :]).sum(axis=2)).astype(np.int8)


def _inside_own_ward(rng: np.random.Generator, ward_idx: np.ndarray, lat: np.ndarray,
                     lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homes outside their ward's (synthetic) cell drawn again, until inside it.

    A genuine answer must pass the project's GPS-in-ward check; only the planted record
    fails it. The redraws come from a stream of their own (a child of ``rng``'s seed
    sequence, which ``rng`` itself does not use), so every other number of the scenario
    stays as it was. Homes are stored with six decimals: a point is kept only if it is
    inside once rounded too.
    """
    import shapely

    from citizendata.scenarios.kenya_maternal_health.geography import _cells

    cells = _cells()
    polys = np.array([shapely.Polygon(cells[w.name]) for w in WARDS], dtype=object)
    shapely.prepare(polys)
    ss = getattr(rng.bit_generator, "seed_seq", None)
    seq = (np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 0x6E0))
           if isinstance(ss, np.random.SeedSequence) else np.random.SeedSequence(0x6E0))
    redraw = np.random.default_rng(seq)
    centre_lat = np.array([w.lat for w in WARDS])
    centre_lon = np.array([w.lon for w in WARDS])
    lat, lon = lat.copy(), lon.copy()
    for _ in range(100):
        out = ~shapely.contains_xy(polys[ward_idx], np.round(lon, 6), np.round(lat, 6))
        if not out.any():
            break
        k = int(out.sum())
        lat[out] = centre_lat[ward_idx[out]] + 0.06 * redraw.standard_normal(k)
        lon[out] = centre_lon[ward_idx[out]] + 0.06 * redraw.standard_normal(k)
    return lat, lon


def make_population(rng: np.random.Generator, size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The women (one row each, true values) and their births in the last two years."""
    women = _places(rng, size)
    ages = np.arange(15, 50)
    age_w = np.exp(-0.035 * (ages - 15))
    women["age"] = rng.choice(ages, size=size, p=age_w / age_w.sum())
    women["age_group"] = age_group_of(women["age"].to_numpy())
    women["sex"] = "female"  # census sex; the survey asks for self-identified sex separately
    women["sex_self_identified"] = rng.choice(
        np.array(["female", "prefer_not_to_say", "intersex"], dtype=object), size=size,
        p=[0.985, 0.012, 0.003])
    eth = np.empty(size, dtype=object)
    for county, (codes, probs) in _ETHNICITY.items():
        mask = (women["county"] == county).to_numpy()
        eth[mask] = rng.choice(np.array(codes, dtype=object), size=int(mask.sum()), p=probs)
    women["ethnicity"] = eth
    women["indigenous"] = ~np.isin(eth, ["not_indigenous", "prefer_not_to_say"])
    ward_idx = women.pop("ward_idx").to_numpy()
    mean_d = np.array([w.mean_distance_km for w in WARDS])[ward_idx]
    women["distance_km"] = np.round(mean_d * np.exp(0.5 * rng.standard_normal(size) - 0.125), 1)
    minutes_per_km = rng.choice(np.array([3.0, 6.0, 12.0]), size=size, p=[0.3, 0.3, 0.4])
    women["travel_minutes"] = np.maximum(5, np.round(women["distance_km"] * minutes_per_km)).astype(int)
    lat = np.array([w.lat for w in WARDS])[ward_idx] + 0.06 * rng.standard_normal(size)
    lon = np.array([w.lon for w in WARDS])[ward_idx] + 0.06 * rng.standard_normal(size)
    women["lat"], women["lon"] = _inside_own_ward(rng, ward_idx, lat, lon)
    women["altitude"] = np.round(rng.uniform(900, 2100, size), 1)
    women["gps_accuracy"] = np.round(rng.uniform(3, 20, size), 1)
    wg = _wg_answers(rng, women["age"].to_numpy())
    for j, d in enumerate(WG_DOMAINS):
        women[f"wg_{d}"] = wg[:, j]
    women["disability3"] = (wg >= 3).any(axis=1)
    women["disability_status"] = np.where(women["disability3"], "disability", "no_disability")
    rate = _BIRTH_RATE[(women["age"].to_numpy() - 15) // 5]
    women["births_count"] = rng.binomial(2, rate).astype(int)
    women.insert(0, "woman_id", np.arange(1, size + 1))
    return women, _births(rng, women)


def _births(rng: np.random.Generator, women: pd.DataFrame) -> pd.DataFrame:
    """One row per birth with the true place, attendants and skilled attendance."""
    rep = np.repeat(np.arange(len(women)), women["births_count"].to_numpy())
    b = women.iloc[rep][["woman_id", "county", "ward", "group_ranch", "age", "age_group",
                         "disability3", "disability_status", "ethnicity", "indigenous",
                         "distance_km", "travel_minutes"]].reset_index(drop=True)
    b.insert(0, "birth_id", np.arange(1, len(b) + 1))
    b["birth_index"] = b.groupby("woman_id").cumcount() + 1
    county = b["county"].map(_COUNTY_EFFECT).to_numpy(dtype=float)
    logit = (1.25 + county - 0.045 * b["distance_km"].to_numpy() - 0.75 * b["disability3"].to_numpy()
             + 0.5 * (b["ethnicity"] == "not_indigenous").to_numpy()
             + 0.2 * b["age_group"].isin(["20-24", "25-29", "30-34"]).to_numpy())
    b["p_skilled"] = 1.0 / (1.0 + np.exp(-logit))
    n = len(b)
    skilled = rng.random(n) < b["p_skilled"].to_numpy()
    b["skilled"] = skilled
    u = rng.random(n)
    place_s = np.where(u < 0.80, "facility_public", np.where(u < 0.95, "facility_private", "home"))
    v = rng.random(n)
    place_u = np.where(v < 0.80, "home", np.where(v < 0.93, "on_the_way", np.where(v < 0.97, "other",
                                                                                   "facility_public")))
    b["place"] = np.where(skilled, place_s, place_u)
    w = rng.random(n)
    att_s = np.where(w < 0.55, "nurse_midwife", np.where(w < 0.75, "doctor nurse_midwife",
                     np.where(w < 0.85, "doctor", "nurse_midwife relative_friend")))
    att_u = np.where(w < 0.45, "tba", np.where(w < 0.65, "tba relative_friend",
                     np.where(w < 0.88, "relative_friend", np.where(w < 0.96, "none", "other"))))
    b["attendants"] = np.where(skilled, att_s, att_u)
    b["child_sex"] = np.where(rng.random(n) < 0.512, "male", "female")
    return b


def _rate(df: pd.DataFrame, by: str | None) -> Any:
    """Proportion of births with a skilled attendant, overall or by a column."""
    if by is None:
        return float(df["skilled"].mean())
    g = df.groupby(by, sort=True)["skilled"].mean()
    return {str(k): float(v) for k, v in g.items()}


def compute_truth(women: pd.DataFrame, births: pd.DataFrame, *, seed: int) -> dict[str, Any]:
    """The true SBA proportions (overall, by ward, disability, age group, county) of the population."""
    return {
        "indicator": "SH_STA_BRTC",
        "sdg": "3.1.2",
        "definition": "Proportion of births in the two years before the survey attended by "
                      "skilled health personnel (doctor or nurse/midwife)",
        "unit": "proportion",
        "seed": seed,
        "women": len(women),
        "births": len(births),
        "overall": _rate(births, None),
        "by_ward": _rate(births, "ward"),
        "by_county": _rate(births, "county"),
        "by_disability": _rate(births, "disability_status"),
        "by_age_group": _rate(births, "age_group"),
        "births_by_ward": {str(k): int(v) for k, v in births.groupby("ward").size().items()},
        "disability3_prevalence": float(women["disability3"].mean()),
    }


def make_margins(rng: np.random.Generator, women: pd.DataFrame) -> pd.DataFrame:
    """Census-style counts by ward x sex x age group; the female counts equal the population's."""
    ages = pd.Categorical(women["age_group"], categories=list(AGE_GROUPS))
    wards = [w.name for w in WARDS]
    fem = (pd.crosstab(pd.Categorical(women["ward"], categories=wards), ages, dropna=False)
           .stack().rename("population").reset_index())
    fem.columns = pd.Index(["ward", "age_group", "population"])
    fem["sex"] = "female"
    male = fem.copy()
    male["sex"] = "male"
    ratio = rng.normal(0.97, 0.04, size=len(male))
    male["population"] = np.round(fem["population"].to_numpy() * ratio).astype(int)
    out = pd.concat([fem, male], ignore_index=True)[["ward", "sex", "age_group", "population"]]
    out["ward"] = out["ward"].astype(str)
    out["age_group"] = out["age_group"].astype(str)
    out["population"] = out["population"].astype("int64")
    order = {w: i for i, w in enumerate(wards)}
    out = out.sort_values(["ward", "sex", "age_group"], key=lambda s: s.map(order) if s.name == "ward" else s)
    return out.reset_index(drop=True)
