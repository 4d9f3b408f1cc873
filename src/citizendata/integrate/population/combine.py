"""The census, the dual-system estimate and the bottom-up estimate combined by area.

``precision`` (default): where both estimates exist, a precision-weighted mean on the log
scale, w = (1/v_dse) / (1/v_dse + 1/v_bottom_up) with v the variance of the log of each
source's draws (each at least ``min_cv``², so no source is taken as exact); the two
sources' draws are taken as independent, so the combined draws have the variance of the
weighted mean. ``dse``: the DSE-corrected census where the DSE applies, the bottom-up
estimate elsewhere. ``bottom_up``: the bottom-up estimate only. The implied undercount is
1 - census / estimate, its interval from the estimate's (the census count is fixed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import Where
from citizendata.integrate.population._check import (
    bad,
    check_columns,
    check_counts,
    check_keys,
    quantiles,
    text,
    z_value,
)
from citizendata.integrate.population.bottom_up import BottomUpResult
from citizendata.integrate.population.dse import DSEResult

__all__ = ["METHODS", "CombinedResult", "combine_population"]

METHODS = ("precision", "dse", "bottom_up")


@dataclass
class CombinedResult:
    """Population and implied census undercount by area (``areas``) and stratum."""

    areas: pd.DataFrame
    strata: pd.DataFrame
    total: dict[str, Any]
    notes: list[str]
    method: str
    confidence: float
    draws: np.ndarray | None = field(default=None, repr=False)  # replicates × areas

    def totals(self, groups: pd.Series) -> pd.DataFrame:
        """Totals over groups of areas (``groups``: area -> group, e.g. district) with
        percentile intervals from the draws, and the implied undercount."""
        assert self.draws is not None
        g = groups.reindex(self.areas["area"].to_numpy())
        rows = []
        for name, idx in pd.Series(np.arange(len(g)), index=g.to_numpy()).groupby(
                level=0, sort=True):
            c = self.areas["census"].to_numpy(float)[idx.to_numpy()]
            rows.append({"group": name, "areas": len(idx),
                         **_total(self.draws[:, idx.to_numpy()], c, self.confidence)})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                     for k, v in r.items()} for r in df.astype(object).to_dict("records")]
        return {"method": self.method, "confidence": self.confidence,
                "areas": rows(self.areas), "strata": rows(self.strata), "total": self.total,
                "notes": self.notes}


def _aligned(draws: np.ndarray | None, areas: pd.Series, index: pd.Index, b: int
             ) -> np.ndarray:
    """Draws (b × len(index)) in ``index`` order; NaN for areas the source lacks."""
    out = np.full((b, len(index)), np.nan)
    if draws is None:
        return out
    pos = index.get_indexer(text(areas))
    ok = pos >= 0
    out[:, pos[ok]] = draws[:b, ok]
    return out


def _summary(draws: np.ndarray, census: np.ndarray, confidence: float, prefix: str = ""
             ) -> dict[str, np.ndarray]:
    lo, hi = quantiles(draws, confidence)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an area a source lacks: NaN
        est = np.nanmean(draws, axis=0) if draws.ndim > 1 else np.nanmean(draws)
        return {f"{prefix}estimate": est, f"{prefix}lower": lo, f"{prefix}upper": hi,
                f"{prefix}undercount": 1 - census / est,
                f"{prefix}undercount_lower": 1 - census / lo,
                f"{prefix}undercount_upper": 1 - census / hi}


def combine_population(census: pd.DataFrame, bottom_up_result: BottomUpResult,
                       dse_result: DSEResult | None = None, *, area: str = "area",
                       count: str = "count", method: str = "precision",
                       min_cv: float = 0.02, confidence: float | None = None,
                       seed: int = 2022) -> CombinedResult:
    """Population by area with interval and the implied undercount 1 - census/estimate.

    ``census``: census counts by area (several rows of an area, e.g. by post-stratum,
    are summed). See the module docstring for ``method``.
    """
    if method not in METHODS:
        raise bad(f"method {method!r}: use one of {', '.join(METHODS)}.",
                  where=Where(field="method"))
    if not isinstance(bottom_up_result, BottomUpResult) or bottom_up_result.draws is None:
        raise bad("bottom_up_result must be the result of bottom_up(...).",
                  where=Where(field="bottom_up_result"))
    if dse_result is not None and (not isinstance(dse_result, DSEResult)
                                   or dse_result.draws is None):
        raise bad("dse_result must be the result of dual_system(...).",
                  where=Where(field="dse_result"))
    if method == "dse" and dse_result is None:
        raise bad("method 'dse' needs a dse_result.", where=Where(field="dse_result"))
    if not 0 <= min_cv < 1:
        raise bad(f"min_cv is from 0 to 1, got {min_cv!r}.", where=Where(field="min_cv"))
    conf = float(confidence if confidence is not None else bottom_up_result.confidence)
    z_value(conf)
    cc = check_columns(census, "census counts", [area, count])
    check_keys(cc, "census counts", [area])
    cc = cc.assign(_c=check_counts(cc, "census counts", [count], area)[count],
                   _area=text(cc[area])).groupby("_area", sort=False)["_c"].sum()
    bu_areas = text(bottom_up_result.areas["area"])
    index = pd.Index(list(dict.fromkeys([*bu_areas, *cc.index])), name="area")
    notes: list[str] = []
    no_census = ~index.isin(cc.index)
    if no_census.any():
        notes.append(f"{int(no_census.sum())} area(s) without a census count (e.g. "
                     f"{index[no_census][0]!r}): no undercount for them.")
    no_bu = ~index.isin(bu_areas)
    if no_bu.any():
        notes.append(f"{int(no_bu.sum())} census area(s) without dwellings (e.g. "
                     f"{index[no_bu][0]!r}): the DSE alone, if any, estimates them.")
    b = len(bottom_up_result.draws)
    if dse_result is not None:
        assert dse_result.draws is not None
        b = min(b, len(dse_result.draws))
    bu = _aligned(bottom_up_result.draws, bu_areas, index, b)
    dse = _aligned(dse_result.draws if dse_result else None,
                   dse_result.areas["area"] if dse_result else pd.Series([], dtype=str),
                   index, b)
    rng = np.random.default_rng(seed)
    dse = dse[rng.permutation(b)]  # the sources are independent: no pairing of replicates
    combined, w = _combine(bu, dse, method, min_cv)
    c = cc.reindex(index).to_numpy(float)
    areas = pd.DataFrame({"area": index, "census": c,
                          "stratum": bottom_up_result.areas.set_index(
                              bu_areas)["stratum"].reindex(index).to_numpy()})
    for name, d in (("bottom_up_", bu), ("dse_", dse)):
        s = _summary(d, c, conf, name)
        areas[f"{name}estimate"], areas[f"{name}lower"], areas[f"{name}upper"] = \
            s[f"{name}estimate"], s[f"{name}lower"], s[f"{name}upper"]
    areas["weight_dse"] = w
    areas["agreement_z"] = _agreement(bu, dse)
    far = np.abs(areas["agreement_z"].to_numpy()) > 2.576
    if far.any():
        notes.append(f"{int(far.sum())} area(s) where the DSE and bottom-up estimates differ "
                     f"by more than their uncertainty (|z| > 2.58, e.g. "
                     f"{areas.loc[far, 'area'].iloc[0]!r}): check the dwelling counts and the "
                     f"census there before using the combined estimate.")
    for k, v in _summary(combined, c, conf).items():
        areas[k] = v
    areas["se"] = combined.std(axis=0, ddof=1)
    strata = _strata(areas, combined, conf)
    tot = _total(combined, c, conf)
    notes.append({"precision": "Where both estimates exist they are weighted by their "
                               "precision on the log scale, as independent sources.",
                  "dse": "The DSE-corrected census where the DSE applies; the bottom-up "
                         "estimate elsewhere.",
                  "bottom_up": "The bottom-up estimate; the census gives the undercount."
                  }[method])
    return CombinedResult(areas=areas, strata=strata, total=tot, notes=notes, method=method,
                          confidence=conf, draws=combined)


def _combine(bu: np.ndarray, dse: np.ndarray, method: str, min_cv: float
             ) -> tuple[np.ndarray, np.ndarray]:
    has_bu, has_dse = np.isfinite(bu).all(axis=0), np.isfinite(dse).all(axis=0)
    if method == "bottom_up":
        w = np.zeros(bu.shape[1])
    elif method == "dse":
        w = has_dse.astype(float)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            lb, ld = np.log(np.maximum(bu, 1e-9)), np.log(np.maximum(dse, 1e-9))
            vb = np.maximum(lb.var(axis=0, ddof=1), np.log1p(min_cv ** 2))
            vd = np.maximum(ld.var(axis=0, ddof=1), np.log1p(min_cv ** 2))
            w = np.where(has_dse & has_bu, (1 / vd) / (1 / vd + 1 / vb),
                         has_dse.astype(float))
    w = np.where(~has_bu & has_dse, 1.0, np.where(~has_dse, 0.0, w))
    with np.errstate(divide="ignore", invalid="ignore"):
        lb = np.log(np.maximum(np.nan_to_num(bu, nan=1.0), 1e-9))
        ld = np.log(np.maximum(np.nan_to_num(dse, nan=1.0), 1e-9))
        out = np.exp(w * ld + (1 - w) * lb)
    out[:, ~has_bu & ~has_dse] = np.nan
    return out, w


def _agreement(bu: np.ndarray, dse: np.ndarray) -> np.ndarray:
    """(log DSE - log bottom-up) / its sd, per area; NaN where a source is missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lb, ld = np.log(np.maximum(bu, 1e-9)), np.log(np.maximum(dse, 1e-9))
        sd = np.sqrt(lb.var(axis=0, ddof=1) + ld.var(axis=0, ddof=1))
        return (ld.mean(axis=0) - lb.mean(axis=0)) / np.where(sd > 0, sd, np.nan)


def _strata(areas: pd.DataFrame, draws: np.ndarray, conf: float) -> pd.DataFrame:
    rows = []
    for name, idx in areas.groupby(areas["stratum"].fillna("(none)"), sort=True).indices.items():
        d = np.nansum(draws[:, idx], axis=1)
        c = float(np.nansum(areas["census"].to_numpy()[idx]))
        rows.append({"stratum": name, "areas": len(idx), **_total(d[:, None], np.array([c]),
                                                                    conf)})
    return pd.DataFrame(rows)


def _total(draws: np.ndarray, census: np.ndarray, conf: float) -> dict[str, Any]:
    ok = np.isfinite(draws).all(axis=0) & np.isfinite(census)
    t = draws[:, ok].sum(axis=1)
    c = float(census[ok].sum())
    s = _summary(t, np.array(c), conf)
    return {"census": c, **{k: float(v) for k, v in s.items()}, "se": float(t.std(ddof=1))}
