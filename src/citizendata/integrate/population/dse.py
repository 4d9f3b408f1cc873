"""Dual-system estimation of census coverage from a community enumeration (a PES).

The enumeration of a sample of areas is the P-sample; the census records of the same
areas are the E-sample. By post-stratum s (PES form, UN Statistics Division 2010, US
Census Bureau; Wolter 1986):

    DSE_s = (C_s - II_s) * (CE_s / N_e,s) * (N_p,s / M_s)

C_s the census count of the post-stratum in all areas, II_s its whole-person
imputations, CE_s / N_e,s the share of correct enumerations among the census records of
the sampled areas, and N_p,s / M_s the inverse of the share of the enumeration's persons
the census matched. Intervals come from a Rao–Wu rescaling bootstrap over the sampled
areas (the clusters of the sample); Chapman's estimator with Seber's variance on the
sampled areas is given beside it, as if persons were sampled at random (too narrow when
people cluster by area).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import Where
from citizendata.integrate.population._check import (
    bad,
    check_columns,
    check_counts,
    check_flag,
    check_keys,
    labels,
    quantiles,
    text,
    z_value,
)

__all__ = ["ASSUMPTIONS", "CORRELATION_BIAS", "DSEResult", "chapman", "dual_system",
           "lincoln_petersen"]

ASSUMPTIONS = {
    "independence": "Being counted in the census does not change the chance of being "
                    "counted in the enumeration (operational independence: separate staff, "
                    "lists and timing).",
    "homogeneity": "Within a post-stratum everyone has the same chance of being counted in "
                   "the census, or the same chance in the enumeration.",
    "perfect matching": "Matched pairs are the same person and every person in both is "
                        "matched; a missed match inflates the estimate, a false one "
                        "deflates it.",
    "closure": "The population is the same on census day and on enumeration day (no "
               "births, deaths or moves between them, or they are handled by the "
               "residence rules).",
    "correct enumeration": "Erroneous census records (duplicates, fictitious, out of "
                           "scope) are found and removed by the E-sample share CE/N_e.",
}

CORRELATION_BIAS = (
    "Correlation bias: when the people the census misses are also more likely to be "
    "missed by the enumeration (within a post-stratum, capture chances vary together: "
    "informal dwellings, young men, recent movers), the two counts are positively "
    "dependent and the dual-system estimate is too low, so the undercount is understated "
    "and the interval covers the truth less often than its level says. Finer "
    "post-strata reduce it but do not remove it (Wolter 1986; Bell 1993); demographic "
    "analysis (e.g. sex ratios) is the usual check.")


def lincoln_petersen(n1: Any, n2: Any, m: Any) -> np.ndarray:
    """Lincoln–Petersen / Chandra Sekar–Deming N = n1 n2 / m (NaN when m = 0)."""
    n1, n2, m = (np.asarray(x, dtype=float) for x in (n1, n2, m))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m > 0, n1 * n2 / np.where(m > 0, m, 1), np.nan)


def chapman(n1: Any, n2: Any, m: Any, confidence: float = 0.95) -> pd.DataFrame:
    """Chapman's (1951) estimator, Seber's (1970) variance and a log-normal interval.

    N = (n1+1)(n2+1)/(m+1) - 1;  var = (n1+1)(n2+1)(n1-m)(n2-m) / ((m+1)^2 (m+2)).
    ``wald_lower``/``wald_upper``: N ± z·se. The interval is Chao's (1987): n + f/C to n + f C on the unseen f = N - n, with
    n = n1 + n2 - m and C = exp(z sqrt(log(1 + var/f^2))); it never goes below n.
    """
    z = z_value(confidence)
    n1, n2, m = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (n1, n2, m))
    est = (n1 + 1) * (n2 + 1) / (m + 1) - 1
    var = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
    seen = n1 + n2 - m
    unseen = np.maximum(est - seen, 1e-12)
    c = np.exp(z * np.sqrt(np.log1p(var / unseen ** 2)))
    return pd.DataFrame({"estimate": est, "se": np.sqrt(var), "lower": seen + unseen / c,
                         "upper": seen + unseen * c, "wald_lower": est - z * np.sqrt(var),
                         "wald_upper": est + z * np.sqrt(var)})


@dataclass
class DSEResult:
    """Census coverage by post-stratum (``strata``) and the implied population by area."""

    strata: pd.DataFrame
    areas: pd.DataFrame
    total: dict[str, Any]
    notes: list[str]
    confidence: float
    post_strata: list[str]
    assumptions: dict[str, str] = field(default_factory=lambda: dict(ASSUMPTIONS))
    draws: np.ndarray | None = field(default=None, repr=False)  # bootstrap × areas

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (without the bootstrap draws)."""
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                     for k, v in r.items()} for r in df.astype(object).to_dict("records")]
        return {"method": "dual_system", "confidence": self.confidence,
                "post_strata": self.post_strata, "strata": rows(self.strata),
                "areas": rows(self.areas), "total": self.total, "notes": self.notes,
                "assumptions": self.assumptions}


def _area_table(census_counts: pd.DataFrame, area: str, ps: list[str], count: str,
                imputed: str | None, weight: str | None, sample_strata: str | None
                ) -> pd.DataFrame:
    cols = [area, *ps, count, *(c for c in (imputed, weight, sample_strata) if c)]
    cc = check_columns(census_counts, "census counts", cols)
    check_keys(cc, "census counts", [area, *ps])
    nums = check_counts(cc, "census counts", [count, *([imputed] if imputed else [])], area)
    cc = cc.assign(_area=text(cc[area]), _ps=labels(cc, ps).to_numpy(),
                   _c=nums[count], _ii=nums[imputed] if imputed else 0.0)
    over = cc["_ii"] > cc["_c"]
    if over.any():
        r = int(np.flatnonzero(over)[0])
        raise bad(f"Census counts row {r + 1}, area {cc.at[r, '_area']!r}: more imputed "
                  f"persons than persons.", where=Where(row=r + 1, column=imputed),
                  fix="The imputed persons are part of the count.")
    dup = cc.duplicated(["_area", "_ps"])
    if dup.any():
        r = int(np.flatnonzero(dup)[0])
        raise bad(f"Census counts row {r + 1}: area {cc.at[r, '_area']!r} and post-stratum "
                  f"{cc.at[r, '_ps']!r} appear twice.", where=Where(row=r + 1, column=area),
                  fix="Give one row per area and post-stratum.")
    for col in (weight, sample_strata):
        if col and (cc.groupby("_area")[col].nunique(dropna=False) > 1).any():
            a = cc.groupby("_area")[col].nunique(dropna=False).pipe(lambda s: s[s > 1]).index[0]
            raise bad(f"Area {a!r} has more than one {col!r} in the census counts.",
                      where=Where(column=col), fix=f"{col!r} is a property of the area.")
    if weight:
        w = check_counts(cc, "census counts", [weight], area, whole=False)[weight]
        if (w <= 0).any():
            r = int(np.flatnonzero(w <= 0)[0])
            raise bad(f"Census counts row {r + 1}, area {cc.at[r, '_area']!r}: the area's "
                      f"weight must be positive.", where=Where(row=r + 1, column=weight))
    return cc


def _records(df: pd.DataFrame, table: str, area: str, ps: list[str], idcol: str,
             areas: pd.Index) -> pd.DataFrame:
    rec = check_columns(df, table, [area, *ps, idcol])
    check_keys(rec, table, [area, *ps, idcol])
    rec = rec.assign(_area=text(rec[area]), _ps=labels(rec, ps).to_numpy(),
                     _id=text(rec[idcol]))
    unknown = ~rec["_area"].isin(areas)
    if unknown.any():
        r = int(np.flatnonzero(unknown)[0])
        raise bad(f"{table.capitalize()} row {r + 1}: area {rec.at[r, '_area']!r} is not in "
                  f"the census counts ({int(unknown.sum())} row(s) in such areas).",
                  where=Where(field=table, row=r + 1, column=area),
                  fix="Give the census count of every enumerated area.")
    dup = rec["_id"].duplicated()
    if dup.any():
        r = int(np.flatnonzero(dup)[0])
        raise bad(f"{table.capitalize()} row {r + 1}: the id in column {idcol!r} appears "
                  f"earlier.", where=Where(field=table, row=r + 1, column=idcol),
                  fix="Give every person record its own id.")
    return rec


def _link_flags(links: pd.DataFrame, e: pd.DataFrame, p: pd.DataFrame
                ) -> tuple[np.ndarray, np.ndarray]:
    lk = check_columns(links, "links", ["census_id", "enum_id"])
    check_keys(lk, "links", ["census_id", "enum_id"])
    cid, eid = text(lk["census_id"]), text(lk["enum_id"])
    for col, ids, other in (("census_id", cid, e), ("enum_id", eid, p)):
        dup = ids.duplicated()
        if dup.any():
            r = int(np.flatnonzero(dup)[0])
            raise bad(f"Links row {r + 1}: the {col} is linked twice; a person matches at "
                      f"most one person.", where=Where(field="links", row=r + 1, column=col),
                      fix="Resolve the match to one pair (clerical review).")
        unknown = ~ids.isin(other["_id"])
        if unknown.any():
            r = int(np.flatnonzero(unknown)[0])
            raise bad(f"Links row {r + 1}: the {col} is not among the records.",
                      where=Where(field="links", row=r + 1, column=col))
    return e["_id"].isin(cid).to_numpy(), p["_id"].isin(eid).to_numpy()


def _rao_wu(groups: np.ndarray, weights: np.ndarray, b: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, list[str]]:
    """B × K bootstrap weights: n_h - 1 areas drawn per design stratum, rescaled."""
    out = np.empty((b, len(groups)))
    single = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        n = len(idx)
        if n < 2:
            out[:, idx] = weights[idx]
            single.append(str(g))
            continue
        r = rng.multinomial(n - 1, np.full(n, 1 / n), size=b)
        out[:, idx] = r * (n / (n - 1)) * weights[idx]
    return out, single


def dual_system(census_counts: pd.DataFrame, enumeration: pd.DataFrame,
                census_records: pd.DataFrame | None = None, *, area: str = "area",
                post_strata: str | list[str] | None = None, count: str = "count",
                imputed: str | None = None, links: pd.DataFrame | None = None,
                matched: str | None = None, erroneous: str | None = None,
                census_id: str = "person_id", enum_id: str = "person_id",
                weight: str | None = None, sample_strata: str | None = None,
                confidence: float = 0.95, bootstrap: int = 999, seed: int = 2022,
                odds_ratio: float = 1.0) -> DSEResult:
    """Census coverage and population by post-stratum and area from a community enumeration.

    ``census_counts``: the census count (``count``, and ``imputed`` whole-person
    imputations) of every area × post-stratum. ``enumeration``: the enumeration's persons
    in the sampled areas (``enum_id``, area, post-stratum columns). ``census_records``:
    the census persons of the sampled areas (``census_id``; ``erroneous`` flags
    erroneous enumerations); without them every census record counts as correct.
    Matches come from ``links`` (census_id, enum_id pairs, e.g. ``match_records``) or a
    yes/no ``matched`` column of the enumeration. ``weight``: the area's sampling weight;
    ``sample_strata``: its design stratum (default: the post-strata when they are
    properties of areas, else one stratum). Post-strata without matches or without a
    sampled area borrow the pooled ratio, with a note. ``odds_ratio`` > 1: a sensitivity
    analysis for correlation bias, the estimate if being counted by the census raised
    the odds of being counted by the enumeration that much (Wolter 1986).
    """
    z_value(confidence)
    if not isinstance(odds_ratio, float | int) or not 0.1 <= float(odds_ratio) <= 10:
        raise bad(f"odds_ratio is a number from 0.1 to 10, got {odds_ratio!r}.",
                  where=Where(field="odds_ratio"), fix="Use 1 (independence), or e.g. 1.5.")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 99:
        raise bad(f"bootstrap is a whole number of replicates, at least 99; got {bootstrap!r}.",
                  where=Where(field="bootstrap"), fix="Use e.g. 999.")
    if links is None and matched is None:
        raise bad("Give the matches: a links table (census_id, enum_id) or the "
                  "enumeration's yes/no matched column.", where=Where(field="links"),
                  fix="Use match_records(...) to link the records.")
    ps = [post_strata] if isinstance(post_strata, str) else list(post_strata or [])
    cc = _area_table(census_counts, area, ps, count, imputed, weight, sample_strata)
    areas = pd.Index(cc["_area"].unique())
    p = _records(enumeration, "enumeration", area, ps, enum_id, areas)
    e = _records(census_records, "census records", area, ps, census_id, areas) \
        if census_records is not None else None
    notes: list[str] = []
    if e is None:
        notes.append("No census records of the sampled areas were given: every census "
                     "record there is taken as a correct enumeration (CE/N_e = 1), and "
                     "N_e is the census count of the sampled areas.")
    p_match, e_ok = _flags(p, e, area, matched, erroneous, links, notes)
    sampled = pd.Index(sorted(set(p["_area"]) | (set(e["_area"]) if e is not None else set())),
                       dtype=object)
    strata_labels = pd.Index(sorted(cc["_ps"].unique()), dtype=object)
    extra = sorted(set(p["_ps"]) - set(strata_labels))
    if extra:
        notes.append(f"Post-strata in the enumeration but not in the census counts: "
                     f"{', '.join(extra[:10])}; their persons are left out.")
    k = len(sampled)
    cgrid = _grid(cc, "_c", areas, strata_labels)
    iigrid = _grid(cc, "_ii", areas, strata_labels)
    in_sample = areas.get_indexer(sampled)
    ne_, ce_, np_, m_ = _sample_cubes(p, e, p_match, e_ok, sampled, strata_labels,
                                      (cgrid - iigrid)[in_sample])
    area_info = cc.drop_duplicates("_area").set_index("_area")
    w = area_info[weight].reindex(sampled).to_numpy(float) if weight else np.ones(k)
    groups = _design_groups(cc, area_info, sampled, ps, sample_strata)
    est = _ratios(w[None, :], ne_, ce_, np_, m_, odds_ratio)[0]
    draws = _bootstrap(groups, w, ne_, ce_, np_, m_, bootstrap, seed, notes, odds_ratio)
    strata, ratio, ratio_draws = _strata_table(
        strata_labels, ne_, ce_, np_, m_, w, cgrid, iigrid, est, draws, confidence, notes)
    base = cgrid - iigrid
    sigma2 = _between_areas(base[in_sample], ne_, ce_, np_, m_, ratio)
    notes.append(f"Areas take their post-strata's coverage (synthetic estimates); the "
                 f"coverage of an area varies around it with sd {np.sqrt(sigma2):.3f} on the "
                 f"log scale (estimated from the sampled areas), which the area intervals "
                 f"include.")
    area_df, area_draws, total = _areas(areas, sampled, cgrid, base, ratio, ratio_draws,
                                        sigma2, np.random.default_rng([seed, 1]), confidence)
    notes.append(CORRELATION_BIAS)
    if odds_ratio != 1:
        notes.append(f"Sensitivity: the estimates assume an odds ratio of {odds_ratio:g} "
                     f"between being counted by the census and by the enumeration, not "
                     f"independence.")
    return DSEResult(strata=strata, areas=area_df, total=total, notes=notes,
                     confidence=float(confidence), post_strata=ps, draws=area_draws.T)


def _flags(p: pd.DataFrame, e: pd.DataFrame | None, area: str, matched: str | None,
           erroneous: str | None, links: pd.DataFrame | None, notes: list[str]
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Matched enumeration persons, and correct census records (None without records)."""
    p_match = check_flag(p, "enumeration", matched, area) if matched else None
    e_ok = None
    if e is not None:
        e_ok = ~check_flag(e, "census records", erroneous, area) if erroneous \
            else np.ones(len(e), dtype=bool)
        if not erroneous:
            notes.append("No erroneous-enumeration flag: CE/N_e = 1 unless links say so.")
    if links is not None:
        if e is None or e_ok is None:
            raise bad("Links need the census records of the sampled areas.",
                      where=Where(field="census_records"))
        e_linked, p_linked = _link_flags(links, e, p)
        p_match = p_linked if p_match is None else (p_match | p_linked)
        e_ok = e_ok | e_linked  # a matched census record is a correct enumeration
    assert p_match is not None
    return p_match, e_ok


def _sample_cubes(p: pd.DataFrame, e: pd.DataFrame | None, p_match: np.ndarray,
                  e_ok: np.ndarray | None, sampled: pd.Index, labels: pd.Index,
                  counted: np.ndarray) -> tuple[np.ndarray, ...]:
    """N_e, CE, N_p, M as sampled areas × post-strata; without census records N_e and CE
    are the census counts less imputations (``counted``)."""
    np_ = _cube(p, np.ones(len(p)), sampled, labels)
    m = _cube(p, p_match.astype(float), sampled, labels)
    if e is not None and e_ok is not None:
        return (_cube(e, np.ones(len(e)), sampled, labels),
                _cube(e, e_ok.astype(float), sampled, labels), np_, m)
    return counted, counted.copy(), np_, m


def _cube(df: pd.DataFrame, values: np.ndarray, sampled: pd.Index, labels: pd.Index
          ) -> np.ndarray:
    """Sampled areas × post-strata sums of ``values`` over the records."""
    ai, si = sampled.get_indexer(df["_area"]), labels.get_indexer(df["_ps"])
    ok = si >= 0
    out = np.zeros((len(sampled), len(labels)))
    np.add.at(out, (ai[ok], si[ok]), values[ok])
    return out


def _bootstrap(groups: np.ndarray, w: np.ndarray, ne: np.ndarray, ce: np.ndarray,
               np_: np.ndarray, m: np.ndarray, b: int, seed: int, notes: list[str],
               theta: float) -> np.ndarray:
    """Replicates × post-strata ratios from Rao–Wu replicates over the sampled areas."""
    bw, single = _rao_wu(groups, w, b, np.random.default_rng(seed))
    if single:
        notes.append(f"Design strata with one sampled area add no variance: "
                     f"{', '.join(single[:10])}.")
    thin = float((bw @ m == 0)[:, (m.sum(0) > 0)].mean()) if m.sum() else 0.0
    if thin > 0:
        notes.append(f"{thin:.1%} of bootstrap post-stratum replicates had no matches and "
                     f"used the replicate's pooled ratio: the post-strata are thin.")
    return _ratios(bw, ne, ce, np_, m, theta)


def _between_areas(base: np.ndarray, ne: np.ndarray, ce: np.ndarray, np_: np.ndarray,
                   m: np.ndarray, ratio: np.ndarray) -> float:
    """Variance across areas of log(area's own coverage ratio / its synthetic ratio).

    Moments: the spread of the sampled areas' log ratios less their own estimates'
    relative variance, Seber's (CE - M)(N_p - M) / (CE N_p M) (Wolter 1986: the area's
    census and enumeration are both complete counts of it, so that is the only sampling
    error), floored at 0.
    """
    tne, tce, tnp, tm = (x.sum(axis=1) for x in (ne, ce, np_, m))
    ok = (tm > 0) & (tce > 0) & (base.sum(axis=1) > 0)
    if ok.sum() < 3:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.log((tce / tne) * (tnp / tm))[ok]
        synth = np.log(base[ok] @ ratio / base[ok].sum(axis=1))
        v = ((tce - tm) * (tnp - tm) / (tce * tnp * tm))[ok]
    r = own - synth
    return float(max(0.0, r.var(ddof=1) - v.mean()))


def _areas(areas: pd.Index, sampled: pd.Index, cgrid: np.ndarray, base: np.ndarray,
           ratio: np.ndarray, ratio_draws: np.ndarray, sigma2: float,
           rng: np.random.Generator, confidence: float
           ) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Areas' estimates: (C - II) × the post-strata's ratios, with the area's own
    deviation (log-normal, variance ``sigma2``) in its draws; the total has none (the
    deviations of all areas are in the post-strata's ratios already)."""
    synth = base @ ratio_draws.T  # areas × B
    dev = np.exp(np.sqrt(sigma2) * rng.standard_normal(synth.shape) - sigma2 / 2)
    area_draws = synth * dev
    area_est = base @ ratio
    lo, hi = quantiles(area_draws, confidence, axis=1)
    c_area = cgrid.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        area_df = pd.DataFrame({
            "area": areas, "census": c_area, "sampled": areas.isin(sampled),
            "estimate": area_est, "lower": lo, "upper": hi,
            "se": area_draws.std(axis=1, ddof=1),
            "undercount": 1 - c_area / area_est,
            "undercount_lower": 1 - c_area / lo, "undercount_upper": 1 - c_area / hi})
    tot = synth.sum(axis=0)
    tlo, thi = quantiles(tot, confidence)
    ctot, etot = float(c_area.sum()), float(area_est.sum())
    total = {"census": ctot, "estimate": etot, "lower": float(tlo), "upper": float(thi),
             "se": float(tot.std(ddof=1)), "undercount": 1 - ctot / etot,
             "undercount_lower": 1 - ctot / float(tlo), "undercount_upper": 1 - ctot / float(thi),
             "between_area_sd_log": float(np.sqrt(sigma2))}
    return area_df, area_draws, total


def _grid(cc: pd.DataFrame, col: str, areas: pd.Index, labels: pd.Index) -> np.ndarray:
    g = np.zeros((len(areas), len(labels)))
    np.add.at(g, (areas.get_indexer(cc["_area"]), labels.get_indexer(cc["_ps"])),
              cc[col].to_numpy(float))
    return g


def _design_groups(cc: pd.DataFrame, info: pd.DataFrame, sampled: pd.Index, ps: list[str],
                   sample_strata: str | None) -> np.ndarray:
    if sample_strata:
        return info[sample_strata].reindex(sampled).astype(str).to_numpy()
    # post-strata columns that are properties of areas (settlement type, not sex): the
    # areas were sampled within them
    per_area = [c for c in ps if (cc.groupby("_area")[c].nunique() == 1).all()]
    if per_area:
        return labels(info, per_area).reindex(sampled).to_numpy(dtype=str)
    return np.zeros(len(sampled), dtype=int)


def _ratios(w: np.ndarray, ne: np.ndarray, ce: np.ndarray, np_: np.ndarray, m: np.ndarray,
            theta: float = 1.0) -> np.ndarray:
    """Per replicate (row of w) and post-stratum: N_θ / N_e, NaN when undefined.

    N_θ = CE + N_p - M + θ (CE - M)(N_p - M) / M is the sampled areas' population when the
    odds ratio of being counted by both is θ (Wolter 1986); θ = 1 (independence) gives
    (CE/N_e)(N_p/M). A replicate's post-stratum without matches takes the replicate's
    pooled ratio, as a collapsed post-stratum would.
    """
    tne, tce, tnp, tm = (w @ x for x in (ne, ce, np_, m))

    def ratio(ne_: Any, ce_: Any, np__: Any, m_: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (ce_ + np__ - m_ + theta * (ce_ - m_) * (np__ - m_) / m_) / ne_
    pooled = ratio(tne.sum(1), tce.sum(1), tnp.sum(1), tm.sum(1))
    return np.where((tm > 0) & (tne > 0), ratio(tne, tce, tnp, tm), pooled[:, None])


def _strata_table(labels: pd.Index, ne: np.ndarray, ce: np.ndarray, np_: np.ndarray,
                  m: np.ndarray, w: np.ndarray, cgrid: np.ndarray, iigrid: np.ndarray,
                  est: np.ndarray, draws: np.ndarray, confidence: float, notes: list[str]
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    tot = {n: w @ x for n, x in (("ne", ne), ("ce", ce), ("np", np_), ("m", m))}
    status = np.where(tot["np"] == 0, "not_sampled",
                      np.where(tot["m"] == 0, "no_matches", "ok"))
    pooled = (tot["ce"].sum() / tot["ne"].sum()) * (tot["np"].sum() / tot["m"].sum()) \
        if tot["m"].sum() > 0 and tot["ne"].sum() > 0 else np.nan
    if not np.isfinite(pooled):
        raise bad("No enumerated person matches a census record in any post-stratum: "
                  "coverage cannot be estimated.", where=Where(field="links"),
                  fix="Check the matching (ids, keys, areas) of the two lists.")
    bad_s = status != "ok"
    if bad_s.any():
        notes.append(f"Post-strata {', '.join(labels[bad_s][:10])} have no matches or no "
                     f"sampled persons: they use the pooled ratio of all post-strata.")
    ratio = np.where(bad_s, pooled, est)
    rd = np.where(np.isnan(draws), pooled, draws)
    c, ii = cgrid.sum(axis=0), iigrid.sum(axis=0)
    dse, dse_draws = (c - ii) * ratio, (c - ii)[None, :] * rd
    lo, hi = quantiles(dse_draws, confidence)
    chap = chapman(tot["ce"], tot["np"], tot["m"], confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = pd.DataFrame({
            "post_stratum": labels, "status": status, "sampled_areas": (np_ > 0).sum(axis=0),
            "n_census": tot["ne"], "correct": tot["ce"], "erroneous": tot["ne"] - tot["ce"],
            "n_enum": tot["np"], "matched": tot["m"],
            "match_rate": tot["m"] / tot["np"], "correct_rate": tot["ce"] / tot["ne"],
            "lincoln_petersen": lincoln_petersen(tot["ce"], tot["np"], tot["m"]),
            "chapman": chap["estimate"], "chapman_se": chap["se"],
            "chapman_lower": chap["lower"], "chapman_upper": chap["upper"],
            "census": c, "imputed": ii, "ratio": ratio, "estimate": dse,
            "lower": lo, "upper": hi, "se": dse_draws.std(axis=0, ddof=1),
            "se_srs": dse * chap["se"].to_numpy() / chap["estimate"].to_numpy(),
            "coverage": c / dse, "undercount": 1 - c / dse,
            "undercount_lower": 1 - c / lo, "undercount_upper": 1 - c / hi})
    return df, ratio, rd
