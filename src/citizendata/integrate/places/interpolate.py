"""Moving figures between boundary sets: areal interpolation and population-weighted means.

Areal interpolation (Goodchild & Lam 1980; the definitions of PySAL's ``tobler``):
with a_st the area of the intersection of source s and target t,

- an extensive variable (a count) is shared out in proportion to area:
  v_t = Σ_s v_s · a_st / a_s, where a_s is the whole source area;
- an intensive variable (a rate, a density) is averaged:
  v_t = Σ_s v_s · a_st / Σ_s a_st.

With a ``weights`` layer (points such as dwellings from imagery, each with a weight such
as persons), a_st is replaced by the weight in s ∩ t (dasymetric interpolation): a count
follows where people live, not where the land is. A source area with no weight falls back
to area shares, and the result says so. Areas are measured on Lambert's cylindrical
equal-area projection of the sphere, which keeps areas exactly (the sphere is the
model; the ellipsoid differs by < 0.7 %, the same ratio for every piece of an area).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from citizendata.errors import BadInput, Where
from citizendata.integrate.places.areas import EARTH_RADIUS_M, Areas

__all__ = ["Interpolated", "areal_interpolate", "assign_areas", "equal_area_m2",
           "population_weighted_mean"]


@dataclass
class Interpolated:
    """Interpolated values by target area, and notes on what was done."""

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _equal_area(geoms: np.ndarray) -> np.ndarray:
    """Lambert cylindrical equal-area (sphere): x = R·λ, y = R·sin φ."""
    def f(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([EARTH_RADIUS_M * np.radians(xy[:, 0]),
                                EARTH_RADIUS_M * np.sin(np.radians(xy[:, 1]))])
    return np.asarray(shapely.transform(geoms, f), dtype=object)


def equal_area_m2(areas: Areas) -> np.ndarray:
    """Each area's surface in square metres (on the sphere)."""
    return np.asarray(shapely.area(_equal_area(areas.geometries)), float)


def _values(values: pd.DataFrame, area: str, columns: Sequence[str] | None,
            source: Areas) -> tuple[np.ndarray, list[str], np.ndarray]:
    if area not in values.columns:
        raise BadInput("geo.invalid_points", f"the values have no area column {area!r}",
                       where=Where(column=area))
    cols = list(columns) if columns else [c for c in values.columns
                                          if c != area and pd.api.types.is_numeric_dtype(values[c])]
    missing = [c for c in cols if c not in values.columns]
    if missing or not cols:
        raise BadInput("geo.invalid_points", f"no numeric value columns to interpolate "
                       f"({missing or 'none given'})", where=Where(column=(missing or [area])[0]))
    codes = values[area].astype(str).to_numpy()
    pos = source.index_of(codes)
    if (pos < 0).any():
        bad = sorted(set(codes[pos < 0].tolist()))
        raise BadInput("geo.invalid_boundaries", f"areas {bad[:10]} of the values are not in "
                       "the source boundaries", where=Where(column=area))
    if len(set(codes.tolist())) != len(codes):
        raise BadInput("geo.invalid_points", "an area appears more than once in the values",
                       where=Where(column=area))
    v = np.full((len(source), len(cols)), np.nan)
    v[pos] = values[cols].to_numpy(dtype=float)
    return v, cols, pos


def areal_interpolate(values: pd.DataFrame, source: Areas, target: Areas, *,
                      area: str = "area", columns: Sequence[str] | None = None,
                      extensive: bool = True, weights: pd.DataFrame | None = None,
                      lon: str = "lon", lat: str = "lat", weight: str = "weight"
                      ) -> Interpolated:
    """Values of ``source`` areas (a table: ``area`` and value columns) on ``target`` areas.

    ``weights``: optional points (``lon``, ``lat``, ``weight``) that say where the
    quantity lives inside each source area. Returns one row per target area: the
    interpolated columns and ``covered`` (the share of the target's area, or weight,
    covered by sources with values).
    """
    v, cols, _ = _values(values, area, columns, source)
    s_idx, t_idx = source.tree.query(target.geometries, predicate="intersects")[::-1]
    # query(target) returns (target, source) pairs; reversed to (source, target)
    pieces = shapely.intersection(source.geometries[s_idx], target.geometries[t_idx])
    a_st = shapely.area(_equal_area(pieces))
    keep = a_st > 0  # touching only along a border
    s_idx, t_idx, a_st = s_idx[keep], t_idx[keep], a_st[keep]
    a_s = equal_area_m2(source)
    notes: list[str] = []
    w_st, w_s = a_st, a_s
    if weights is not None:
        w_st, w_s, fallback = _point_weights(weights, source, target, s_idx, t_idx, a_st, a_s,
                                             lon, lat, weight)
        if fallback:
            notes.append(f"{len(fallback)} source area(s) hold no weight points and were "
                         f"shared by area instead: {fallback[:10]}")
    have = np.isfinite(v)
    out = np.zeros((len(target), len(cols)))
    denom = np.zeros((len(target), len(cols)))
    for k in range(len(cols)):
        ok = have[s_idx, k]
        if extensive:
            share = w_st[ok] / w_s[s_idx[ok]]
            np.add.at(out[:, k], t_idx[ok], v[s_idx[ok], k] * share)
        else:
            np.add.at(out[:, k], t_idx[ok], v[s_idx[ok], k] * w_st[ok])
        np.add.at(denom[:, k], t_idx[ok], w_st[ok])
    if not extensive:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denom > 0, out / denom, np.nan)
    total = np.zeros(len(target))
    np.add.at(total, t_idx, w_st)
    t_area = equal_area_m2(target) if weights is None else np.maximum(total, 1e-300)
    table = pd.DataFrame({"area": target.codes, **{c: out[:, k] for k, c in enumerate(cols)}})
    table["covered"] = np.round(np.clip(denom[:, 0] / t_area, 0, 1), 6)
    unmatched = int((total == 0).sum())
    if unmatched:
        notes.append(f"{unmatched} target area(s) overlap no source area: "
                     + ("0" if extensive else "no value") + " given")
    return Interpolated(table, notes)


def _point_weights(weights: pd.DataFrame, source: Areas, target: Areas, s_idx: np.ndarray,
                   t_idx: np.ndarray, a_st: np.ndarray, a_s: np.ndarray, lon: str, lat: str,
                   weight: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    for c in (lon, lat, weight):
        if c not in weights.columns:
            raise BadInput("geo.invalid_points", f"the weight points have no column {c!r}",
                           where=Where(column=c))
    x, y = weights[lon].to_numpy(float), weights[lat].to_numpy(float)
    w = weights[weight].to_numpy(float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise BadInput("geo.invalid_points", f"weights in {weight!r} must be numbers >= 0",
                       where=Where(column=weight))
    ps, pt = source.locate_index(x, y), target.locate_index(x, y)
    ok = (ps >= 0) & (pt >= 0)
    # weight per (source, target) piece, matched to the pieces by a combined key
    key = ps[ok] * len(target) + pt[ok]
    sums = pd.Series(w[ok]).groupby(key).sum()
    w_st = sums.reindex(s_idx * len(target) + t_idx).fillna(0.0).to_numpy()
    # a source's whole weight, inside any target or not: counts outside the targets are lost
    inside = ps >= 0
    w_s = np.bincount(ps[inside], weights=w[inside], minlength=len(source)).astype(float)
    empty = w_s <= 0
    # sources without any weight point: back to area shares, for them only
    w_st = np.where(empty[s_idx], a_st, w_st)
    w_s = np.where(empty, a_s, w_s)
    used = np.unique(s_idx)
    fallback = source.codes[np.intersect1d(np.flatnonzero(empty), used)].tolist()
    return w_st, w_s, fallback


def assign_areas(table: pd.DataFrame, areas: Areas, *, lon: str = "lon", lat: str = "lat",
                 into: str = "area") -> pd.DataFrame:
    """The table with a column ``into``: the area each row's point lies in (None outside)."""
    for c in (lon, lat):
        if c not in table.columns:
            raise BadInput("geo.invalid_points", f"the table has no column {c!r}",
                           where=Where(column=c))
    out = table.copy()
    out[into] = areas.locate(pd.to_numeric(table[lon], errors="coerce").to_numpy(float),
                             pd.to_numeric(table[lat], errors="coerce").to_numpy(float))
    return out


def population_weighted_mean(values: pd.DataFrame, population: pd.DataFrame, *,
                             value: str, weight: str, area: str = "area",
                             by: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Σ C·P / Σ P over areas: e.g. PM2.5 by area weighted by the areas' population.

    ``values`` has ``area``, ``value`` (and the ``by`` columns, e.g. year); ``population``
    has ``area`` and ``weight`` (one row per area). Areas without a value or without
    population drop out, and the output counts what was used: one row per ``by`` group
    with ``mean``, ``population`` (Σ P used), ``areas`` (used) and ``areas_missing``.
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    for t, cols, what in ((values, [area, value, *by_cols], "values"),
                          (population, [area, weight], "population")):
        missing = [c for c in cols if c not in t.columns]
        if missing:
            raise BadInput("population.invalid", f"the {what} table has no column(s) {missing}",
                           where=Where(column=missing[0]))
    if population[area].duplicated().any():
        dup = population.loc[population[area].duplicated(), area].astype(str).tolist()
        raise BadInput("population.invalid", f"areas {dup[:10]} appear more than once in the "
                       "population table", where=Where(column=area))
    pop = pd.to_numeric(population[weight], errors="coerce")
    if (pop < 0).any():
        raise BadInput("population.invalid", f"negative population in {weight!r}",
                       where=Where(column=weight))
    p = pd.Series(pop.to_numpy(float), index=population[area].astype(str).to_numpy())
    df = values[[area, value, *by_cols]].copy()
    df["_p"] = df[area].astype(str).map(p)
    df["_c"] = pd.to_numeric(df[value], errors="coerce")
    ok = df["_p"].notna() & df["_c"].notna()
    df["_cp"] = df["_c"] * df["_p"]
    df["_ok"] = ok
    df["_all"] = 0  # one group when there is no ``by``
    used = df[ok]
    keys = by_cols or ["_all"]
    agg = used.groupby(keys, sort=True).agg(num=("_cp", "sum"), population=("_p", "sum"),
                                            areas=(area, "nunique"))
    miss = df[~ok].groupby(keys, sort=True)[area].nunique().rename("areas_missing")
    res = agg.join(miss, how="left").fillna({"areas_missing": 0})
    with np.errstate(invalid="ignore", divide="ignore"):
        res["mean"] = np.where(res["population"] > 0, res["num"] / res["population"], np.nan)
    res = res.drop(columns="num").reset_index()
    if not by_cols:
        res = res.drop(columns=res.columns[0])
    res["areas_missing"] = res["areas_missing"].astype(int)
    return res[[*by_cols, "mean", "population", "areas", "areas_missing"]]
