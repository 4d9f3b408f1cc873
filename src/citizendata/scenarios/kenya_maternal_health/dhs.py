"""A synthetic DHS-like probability survey of the scenario's population, with its design known exactly.

The citizen sample (:func:`submissions.draw_sample`) over-represents accessible wards and
under-represents young women, so its naive estimate of skilled birth attendance is too
high. A Demographic and Health Survey measures the same covariates with a probability
design; this module draws one from the *same* synthetic population (same seed, so the
truth is shared), for the integration estimators of :mod:`citizendata.integrate.nonprob`.

The design, as a DHS would have it, scaled to 40,000 women:

* **frame**: every group ranch is cut into enumeration areas (EAs) of 60-160 women,
  neighbours together (women ordered by distance to the maternity ward, a stand-in
  for geography, so EAs are internally alike as real ones are);
* **strata**: the nine wards;
* **first stage**: ``clusters_per_ward`` EAs per ward with probability proportional to
  their number of women (systematic PPS in frame order, ranch by ranch),
  ``pi1 = m_h M_i / M_h``;
* **second stage**: ``women_per_cluster`` women by simple random sampling in each EA
  (all of them in a smaller EA), ``pi2 = k_i / M_i``;
* **weight** ``1 / (pi1 pi2)``, which is ``M_h / (m_h k)`` (self-weighting in a ward).

The unit of the indicator SH_STA_BRTC is the **birth** (births in the two years before
the survey): :func:`build_dhs_sample` gives one row per birth of an interviewed woman,
carrying her design weight, as the DHS births recode does (``unit="women"`` gives the
women). The covariates both samples share are ward (and county), age group,
disability status (the Washington Group Short Set, which DHS-8 asks too) and ethnicity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.scenarios.kenya_maternal_health.population import make_population
from citizendata.scenarios.kenya_maternal_health.submissions import draw_sample

__all__ = ["CLUSTERS_PER_WARD", "DEFAULT_SEED", "SHARED_COVARIATES", "WOMEN_PER_CLUSTER",
           "Frame", "births_of", "build_dhs_sample", "citizen_sample", "draw_dhs",
           "draw_dhs_rows", "ea_frame", "frame_arrays", "population", "summary", "truth"]

DEFAULT_SEED = 20260301  # the scenario's own (kenya_maternal_health.DEFAULT_SEED)
POPULATION_SIZE = 40_000  # the scenario's population for its default 5,000 submissions
CLUSTERS_PER_WARD = 8
WOMEN_PER_CLUSTER = 25
EA_SIZE = (60, 160)
SHARED_COVARIATES = ("ward", "age_group", "disability_status")
_WOMAN_COLUMNS = ["county", "ward", "group_ranch", "woman_id", "age", "age_group",
                  "disability_status", "ethnicity", "births_count"]


@lru_cache(maxsize=4)
def population(seed: int = DEFAULT_SEED, size: int = POPULATION_SIZE
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scenario's women and births for ``seed``, exactly as :func:`generate` builds them.

    Cached: treat the frames as read-only.
    """
    pop_seq = np.random.SeedSequence(seed).spawn(3)[0]
    return make_population(np.random.default_rng(pop_seq), size)


def truth(seed: int = DEFAULT_SEED, size: int = POPULATION_SIZE) -> float:
    """The population's share of births with a skilled attendant (SH_STA_BRTC), the value to recover."""
    _, births = population(seed, size)
    return float(births["skilled"].mean())


def _streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The frame's and the survey's random streams: children 3 and 4 of the scenario's seed.

    Children 0-2 are the population, margins and citizen sample of :func:`generate`, so
    the survey never shares their random numbers.
    """
    kids = np.random.SeedSequence(seed).spawn(5)
    return kids[3], kids[4]


@lru_cache(maxsize=4)
def ea_frame(seed: int = DEFAULT_SEED, size: int = POPULATION_SIZE) -> pd.DataFrame:
    """The enumeration area of every woman (a Series-like frame indexed as the women).

    Columns: ``ea_id`` (e.g. ``kimana-ilchalai-03``) and ``ea_women`` (its size M_i), in
    frame order (ward, ranch, distance).
    """
    women, _ = population(seed, size)
    rng = np.random.default_rng(_streams(seed)[0])
    order = np.lexsort((women["distance_km"].to_numpy(), women["group_ranch"].to_numpy(),
                        women["ward"].to_numpy()))
    ranch = women["group_ranch"].to_numpy()[order]
    ward = women["ward"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, ranch[1:] != ranch[:-1]])
    ends = np.r_[starts[1:], ranch.size]
    ea = np.empty(ranch.size, dtype=object)
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):  # 21 ranches
        sizes = rng.integers(EA_SIZE[0], EA_SIZE[1] + 1, size=(hi - lo) // EA_SIZE[0] + 1)
        cuts = np.cumsum(sizes)
        cuts = cuts[cuts < hi - lo]
        if cuts.size and (hi - lo) - cuts[-1] < EA_SIZE[0] // 2:
            cuts = cuts[:-1]  # a small remainder joins the last EA
        label = np.searchsorted(cuts, np.arange(hi - lo), side="right")
        ea[lo:hi] = [f"{ward[lo]}-{ranch[lo]}-{k + 1:02d}" for k in label.tolist()]
    out = pd.DataFrame({"ea_id": np.empty(len(women), dtype=object)})
    out.loc[order, "ea_id"] = ea
    out["ea_women"] = out.groupby("ea_id")["ea_id"].transform("size").astype(int)
    out["frame_order"] = np.argsort(order)
    return out


@dataclass(frozen=True)
class Frame:
    """The sampling frame as arrays: EA of each woman, EA sizes and strata, in frame order."""

    ea_of_woman: np.ndarray  # EA code (0..E-1, frame order) of each woman
    ea_ids: np.ndarray  # EA labels
    ea_size: np.ndarray  # women in each EA (M_i)
    ea_ward: np.ndarray  # ward code of each EA
    wards: np.ndarray  # ward names (strata)


@lru_cache(maxsize=4)
def frame_arrays(seed: int = DEFAULT_SEED, size: int = POPULATION_SIZE) -> Frame:
    """:func:`ea_frame` as arrays for fast repeated draws."""
    f = ea_frame(seed, size)
    women, _ = population(seed, size)
    first = f.groupby("ea_id", sort=False)["frame_order"].min().sort_values()
    ea_ids = first.index.to_numpy()
    code = pd.Series(np.arange(ea_ids.size), index=ea_ids)
    ea_of_woman = code.loc[f["ea_id"].to_numpy()].to_numpy()
    wards, ward_code = np.unique(women["ward"].to_numpy().astype(str), return_inverse=True)
    ea_ward = np.zeros(ea_ids.size, dtype=np.int64)
    ea_ward[ea_of_woman] = ward_code
    return Frame(ea_of_woman, ea_ids, np.bincount(ea_of_woman), ea_ward, wards)


def _systematic_pps(rng: np.random.Generator, sizes: np.ndarray, m: int) -> np.ndarray:
    """Positions of ``m`` units drawn by systematic PPS (sizes already in frame order)."""
    cum = np.cumsum(sizes, dtype=float)
    step = cum[-1] / m
    points = rng.uniform(0, step) + step * np.arange(m)
    return np.searchsorted(cum, points, side="right")


def draw_dhs_rows(rng: np.random.Generator, frame: Frame, *,
                  clusters_per_ward: int = CLUSTERS_PER_WARD,
                  women_per_cluster: int = WOMEN_PER_CLUSTER) -> dict[str, np.ndarray]:
    """One two-stage sample: woman positions, EA code, stage probabilities and weight."""
    m, k = clusters_per_ward, women_per_cluster
    ward_total = np.bincount(frame.ea_ward, weights=frame.ea_size)
    ward_eas = np.bincount(frame.ea_ward)
    if (ward_eas < m).any() or (m * frame.ea_size >= ward_total[frame.ea_ward]).any():
        raise BadInput("input.invalid", f"{m} clusters per ward is too many for this frame "
                       "(an EA would be taken with certainty)",
                       where=Where(field="clusters_per_ward"), fix="Draw fewer clusters per ward.")
    chosen = []
    for h in range(ward_total.size):  # nine strata
        eas = np.flatnonzero(frame.ea_ward == h)  # in frame order
        chosen.append(eas[_systematic_pps(rng, frame.ea_size[eas], m)])
    sel = np.concatenate(chosen)
    # second stage: a random key per woman of a chosen EA, the k smallest keys in each
    rows = np.flatnonzero(np.isin(frame.ea_of_woman, sel))
    ea = frame.ea_of_woman[rows]
    o = np.lexsort((rng.random(rows.size), ea))
    rows, ea = rows[o], ea[o]
    first = np.r_[0, np.flatnonzero(ea[1:] != ea[:-1]) + 1]
    rank = np.arange(ea.size) - np.repeat(first, np.diff(np.r_[first, ea.size]))
    keep = rank < k
    rows, ea = rows[keep], ea[keep]
    size = frame.ea_size[ea].astype(float)
    pi1 = m * size / ward_total[frame.ea_ward[ea]]
    pi2 = np.minimum(k, size) / size
    return {"rows": rows, "ea": ea, "pi1": pi1, "pi2": pi2, "weight": 1.0 / (pi1 * pi2),
            "eas_in_stratum": ward_eas[frame.ea_ward[ea]]}


def draw_dhs(rng: np.random.Generator, women: pd.DataFrame, frame: Frame, *,
             clusters_per_ward: int = CLUSTERS_PER_WARD,
             women_per_cluster: int = WOMEN_PER_CLUSTER) -> pd.DataFrame:
    """One DHS-like sample of women (rows of ``women``) with exact design columns."""
    d = draw_dhs_rows(rng, frame, clusters_per_ward=clusters_per_ward,
                      women_per_cluster=women_per_cluster)
    s = women.iloc[d["rows"]][_WOMAN_COLUMNS].reset_index(drop=True)
    s.insert(3, "ea_id", frame.ea_ids[d["ea"]])
    s["ea_women"] = frame.ea_size[d["ea"]]
    s["eas_in_stratum"] = d["eas_in_stratum"]
    for c in ("pi1", "pi2", "weight"):
        s[c] = d[c]
    s["row"] = d["rows"]
    return s


def births_of(rows: np.ndarray, women: pd.DataFrame) -> np.ndarray:
    """Positions in the births table of the births of the women at positions ``rows``.

    The births table lists each woman's births together, in the women's order.
    """
    counts = women["births_count"].to_numpy()
    offsets = np.r_[0, np.cumsum(counts)]
    n = counts[rows]
    start = np.repeat(offsets[rows], n)
    within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return np.asarray(start + within)


def build_dhs_sample(seed: int = DEFAULT_SEED, *, replicate: int = 0, unit: str = "births",
                     clusters_per_ward: int = CLUSTERS_PER_WARD,
                     women_per_cluster: int = WOMEN_PER_CLUSTER) -> pd.DataFrame:
    """The DHS-like sample of the scenario's population for ``seed``.

    One row per birth (``unit="births"``, with ``skilled`` 0/1 and the mother's design
    weight) or per interviewed woman (``unit="women"``). Design columns: ``ward`` (the
    stratum), ``ea_id`` (the PSU), ``weight``, ``pi1``/``pi2`` (inclusion probabilities
    of each stage), ``eas_in_stratum`` and ``ea_women`` (for finite population
    corrections). ``replicate`` draws another sample from the same frame.
    """
    if unit not in ("births", "women"):
        raise BadInput("input.invalid", f"unit must be 'births' or 'women', not {unit!r}",
                       where=Where(field="unit"), fix="Use births (the indicator's unit) or women.")
    women, births = population(seed)
    frame = frame_arrays(seed)
    seq = _streams(seed)[1]
    rng = np.random.default_rng(seq.spawn(replicate + 1)[replicate] if replicate else seq)
    s = draw_dhs(rng, women, frame, clusters_per_ward=clusters_per_ward,
                 women_per_cluster=women_per_cluster)
    if unit == "women":
        return s.drop(columns="row")
    return _to_births(s, women, births)


def _to_births(s: pd.DataFrame, women: pd.DataFrame, births: pd.DataFrame) -> pd.DataFrame:
    """The births of the sampled women, each with its mother's design columns."""
    pos = births_of(s["row"].to_numpy(), women)
    mother = np.repeat(np.arange(len(s)), s["births_count"].to_numpy())
    out = s.iloc[mother].drop(columns=["row", "births_count"]).reset_index(drop=True)
    b = births.iloc[pos].reset_index(drop=True)
    out.insert(5, "birth_id", b["birth_id"].to_numpy())
    out["skilled"] = b["skilled"].to_numpy().astype(int)
    return out


def citizen_sample(seed: int = DEFAULT_SEED, n: int = 5000) -> pd.DataFrame:
    """The births of the women the scenario's citizen sample holds (true values), for ``seed`` and ``n``.

    The same women as :func:`kenya_maternal_health.generate` (its third random stream and
    ``n - 2`` draws; the two planted copies are left out), with their true answers rather
    than the recorded ones (no item non-response or planted errors).
    """
    women, births = population(seed, max(POPULATION_SIZE, 4 * n))
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    rows = np.sort(draw_sample(rng, women, n - 2))
    pos = births_of(rows, women)
    b = births.iloc[pos]
    out = b[["county", "ward", "group_ranch", "woman_id", "birth_id", "age", "age_group",
             "disability_status", "ethnicity"]].reset_index(drop=True)
    out["skilled"] = b["skilled"].to_numpy().astype(int)
    return out


def summary(seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Sizes of the frame and of the default sample (for the docs)."""
    frame = ea_frame(seed)
    s = build_dhs_sample(seed, unit="women")
    return {"eas": int(frame["ea_id"].nunique()), "women": len(s),
            "births": int(s["births_count"].sum()),
            "clusters": int(s["ea_id"].nunique())}
