"""Bottom-up population per small area: dwellings × occupancy × persons per dwelling.

Dwellings come per area "from imagery or community mapping"; a community listing of the
sampled areas gives, dwelling by dwelling, whether it is occupied and how many persons
live there. Within each stratum (e.g. informal / formal settlement) a two-level model
(area within stratum), fitted by empirical Bayes:

* detection: log(ground / imagery) ~ N(μ_ρ, σ²_ρ) across validated areas;
* occupancy: p_i ~ Beta(m M, (1 - m) M), occupied_i ~ Binomial(listed_i, p_i)
  (beta-binomial, moment estimates of m and M);
* persons per occupied dwelling: log μ_i ~ N(θ, τ²), log ȳ_i ~ N(log μ_i, cv² / h_i)
  (DerSimonian–Laird moment estimate of τ²), household sizes with variance cv² μ_i².

Hyper-parameter uncertainty is carried by a bootstrap over the sampled areas of each
stratum (Laird & Louis 1987); each replicate draws every area's quantities from its
posterior (sampled areas) or from the stratum (unsampled areas), so an interval
includes the between-area variation, the household-level noise and the uncertainty of
the stratum means. The structure follows Leasure et al. (2020, PNAS 117:24173) and
Wardrop et al. (2018, PNAS 115:3529), fitted by moments instead of MCMC.
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

__all__ = ["BottomUpResult", "bottom_up"]

_MIN_AREAS = 3  # sampled areas a stratum needs for its own between-area variances


@dataclass
class BottomUpResult:
    """Population per area (``areas``) and the fitted stratum parameters (``strata``)."""

    areas: pd.DataFrame
    strata: pd.DataFrame
    total: dict[str, Any]
    notes: list[str]
    confidence: float
    draws: np.ndarray | None = field(default=None, repr=False)  # replicates × areas

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (without the draws)."""
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                     for k, v in r.items()} for r in df.astype(object).to_dict("records")]
        return {"method": "bottom_up", "confidence": self.confidence,
                "areas": rows(self.areas), "strata": rows(self.strata), "total": self.total,
                "notes": self.notes}


def _prepare(dwellings: pd.DataFrame, listing: pd.DataFrame, area: str, strata: list[str],
             count: str, ground: str | None, household: str, occupied: str, persons: str,
             notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = check_columns(dwellings, "dwellings", [area, count, *strata, *([ground] if ground else [])])
    check_keys(d, "dwellings", [area, *strata])
    nums = check_counts(d, "dwellings", [count], area)
    g = check_counts(d, "dwellings", [ground], area, allow_missing=True)[ground] if ground \
        else np.full(len(d), np.nan)
    d = d.assign(_area=text(d[area]), _imagery=nums[count], _ground=g,
                 _stratum=labels(d, strata))
    dup = d["_area"].duplicated()
    if dup.any():
        r = int(np.flatnonzero(dup)[0])
        raise bad(f"Dwellings row {r + 1}: area {d.at[r, '_area']!r} appears twice.",
                  where=Where(field="dwellings", row=r + 1, column=area),
                  fix="Give one row per area.")
    li = check_columns(listing, "listing", [area, household, occupied, persons])
    check_keys(li, "listing", [area, household])
    occ = check_flag(li, "listing", occupied, area)
    pers = check_counts(li, "listing", [persons], area, allow_missing=True)[persons]
    li = li.assign(_area=text(li[area]), _occ=occ, _persons=pers)
    unknown = ~li["_area"].isin(d["_area"])
    if unknown.any():
        r = int(np.flatnonzero(unknown)[0])
        missing = li.loc[unknown, "_area"].unique()
        raise bad(f"Listing row {r + 1}: area {li.at[r, '_area']!r} is not in the dwelling "
                  f"table ({len(missing)} listed area(s) missing).",
                  where=Where(field="listing", row=r + 1, column=area),
                  fix="Give every listed area its dwelling count.")
    dup = li.duplicated(["_area", household])
    if dup.any():
        r = int(np.flatnonzero(dup)[0])
        raise bad(f"Listing row {r + 1}, area {li.at[r, '_area']!r}: the dwelling id appears "
                  f"earlier in the area.", where=Where(field="listing", row=r + 1,
                                                       column=household),
                  fix="Give every dwelling of an area its own id.")
    clash = ~li["_occ"].to_numpy() & (np.nan_to_num(pers) > 0)
    if clash.any():
        r = int(np.flatnonzero(clash)[0])
        raise bad(f"Listing row {r + 1}, area {li.at[r, '_area']!r}: persons in a dwelling "
                  f"marked unoccupied.", where=Where(field="listing", row=r + 1,
                                                     column=occupied),
                  fix="Mark the dwelling occupied, or give it 0 persons.")
    empty = li["_occ"].to_numpy() & (pers == 0)
    if empty.any():
        r = int(np.flatnonzero(empty)[0])
        raise bad(f"Listing row {r + 1}, area {li.at[r, '_area']!r}: an occupied dwelling "
                  f"with 0 persons.", where=Where(field="listing", row=r + 1, column=persons),
                  fix="Mark it unoccupied, or give its number of persons.")
    nonresp = li["_occ"].to_numpy() & np.isnan(pers)
    if nonresp.any():
        notes.append(f"{int(nonresp.sum())} occupied dwelling(s) without a number of persons: "
                     f"their persons are drawn from their area's persons per dwelling.")
    return d, li


def _area_stats(d: pd.DataFrame, li: pd.DataFrame) -> pd.DataFrame:
    known = li["_occ"] & li["_persons"].notna()
    y = li["_persons"].where(known)
    g = li.assign(_known=known, _y=y, _y2=y ** 2).groupby("_area")
    st = pd.DataFrame({"listed": g.size(), "occupied": g["_occ"].sum(),
                       "responding": g["_known"].sum(), "persons": g["_y"].sum(),
                       "ss": g["_y2"].sum()})
    return d.join(st, on="_area").fillna({c: 0 for c in st.columns})


def _log_normal_hyper(r: np.ndarray, y: np.ndarray, v: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """DerSimonian–Laird θ and τ² per replicate; r: frequency weights (B × n)."""
    w = 1 / v
    sw, sw2 = r @ w, r @ w ** 2
    theta_fe = (r @ (w * y)) / sw
    q = (r * w) @ (y ** 2) - sw * theta_fe ** 2
    n = r.sum(axis=1)
    tau2 = np.maximum(0.0, (q - (n - 1)) / np.maximum(sw - sw2 / sw, 1e-12))
    ws = 1 / (v[None, :] + tau2[:, None])
    theta = (r * ws) @ y / (r * ws).sum(axis=1)
    return theta, tau2


def _beta_hyper(r: np.ndarray, k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beta-binomial mean m and prior size M by moments (ANOVA form) per replicate."""
    sn = r @ n
    m = np.clip((r @ k) / sn, 1e-4, 1 - 1e-4)
    p = k / n
    s = (r * n) @ (p ** 2) - sn * m ** 2  # Σ n_i (p_i - m)^2
    areas = r.sum(axis=1)
    var_b = (s - m * (1 - m) * (areas - 1)) / np.maximum(sn - (r @ n ** 2) / sn, 1e-12)
    var_b = np.clip(var_b, 1e-6, m * (1 - m) * 0.999)
    return m, np.clip(m * (1 - m) / var_b - 1, 0.5, 1e5)


@dataclass
class _Hyper:
    rho_mu: np.ndarray
    rho_sd: np.ndarray
    m: np.ndarray
    big_m: np.ndarray
    theta: np.ndarray
    tau2: np.ndarray
    cv2: float
    df: int  # sampled areas - 1: the Student t of a new area's deviation


def _fit(st: pd.DataFrame, idx: np.ndarray, b: int, rng: np.random.Generator,
         cv2: float, pooled: _Hyper | None) -> _Hyper:
    """Bootstrap replicates of the stratum's hyper-parameters from its sampled areas."""
    s = st.iloc[idx]
    n_s = len(idx)
    # n - 1 areas per replicate: the bootstrap variance of a mean is then s²/n, not
    # s²(n - 1)/n² (Rao & Wu 1988), which matters with a dozen areas per stratum
    r = rng.multinomial(max(n_s - 1, 1), np.full(n_s, 1 / n_s), size=b).astype(float)
    val = np.isfinite(s["_gcount"].to_numpy()) & (s["_imagery"].to_numpy() > 0) \
        & (s["_gcount"].to_numpy() > 0)
    if pooled is not None and val.sum() < _MIN_AREAS:
        rho_mu, rho_sd = pooled.rho_mu, pooled.rho_sd
    elif val.sum() == 0:
        rho_mu, rho_sd = np.zeros(b), np.zeros(b)
    else:
        lr = np.log(s["_gcount"].to_numpy()[val] / s["_imagery"].to_numpy()[val])
        rv = r[:, val]
        cnt = np.maximum(rv.sum(axis=1), 1)
        rho_mu = rv @ lr / cnt
        rho_sd = np.sqrt(np.maximum(rv @ lr ** 2 / cnt - rho_mu ** 2, 0) * cnt
                         / np.maximum(cnt - 1, 1))
    lis = s["listed"].to_numpy(float) > 0
    m, big_m = _beta_hyper(r[:, lis], s["occupied"].to_numpy(float)[lis],
                           s["listed"].to_numpy(float)[lis])
    h = s["responding"].to_numpy(float)
    ok = h > 0
    ybar = s["persons"].to_numpy(float)[ok] / h[ok]
    theta, tau2 = _log_normal_hyper(r[:, ok], np.log(ybar), cv2 / h[ok])
    if pooled is not None and n_s < _MIN_AREAS:
        return pooled
    # a replicate's variances estimate the resampled areas' spread, (n - 1)/n of the
    # sample's: scaled back so the between-area variances are not understated
    f = n_s / max(n_s - 1, 1)
    return _Hyper(rho_mu, rho_sd * np.sqrt(f), m, (big_m + 1) / f - 1, theta, tau2 * f, cv2,
                  max(n_s - 1, 1))


def _draw(st: pd.DataFrame, idx: np.ndarray, hp: _Hyper, rng: np.random.Generator,
          complete: bool) -> np.ndarray:
    """Replicates × areas population draws for the areas ``idx`` of one stratum."""
    s = st.iloc[idx]
    b = len(hp.m)
    a = len(idx)
    listed, occ = s["listed"].to_numpy(float), s["occupied"].to_numpy(float)
    h, tot = s["responding"].to_numpy(float), s["persons"].to_numpy(float)
    sampled = listed > 0
    # occupancy: posterior Beta for listed areas, the stratum's Beta elsewhere
    # the stratum's Beta is widened as the Student t below: its variance × df/(df - 2)
    df = max(hp.df, 3)
    prior = ((hp.big_m + 1) * (df - 2) / df - 1).clip(0.5)[:, None]
    alpha = hp.m[:, None] * prior + occ[None, :]
    beta = (1 - hp.m[:, None]) * prior + (listed - occ)[None, :]
    p = rng.beta(alpha, beta)
    # persons per occupied dwelling: normal-normal on the log scale
    v = np.where(h > 0, hp.cv2 / np.maximum(h, 1), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.where(h > 0, np.log(np.maximum(tot, 1e-9) / np.maximum(h, 1)), 0.0)
    prec = 1 / hp.tau2[:, None].clip(1e-9) + 1 / v[None, :]
    mean = (hp.theta[:, None] / hp.tau2[:, None].clip(1e-9) + ly[None, :] / v[None, :]) / prec
    # a new area's deviation from its stratum is Student t with (sampled areas - 1) df:
    # the predictive of a normal with an estimated variance (the bootstrap of θ adds the
    # rest); with a dozen areas a normal deviate would cover ~92.5%, not 95%
    dev = np.where(sampled[None, :], rng.standard_normal((b, a)), rng.standard_t(hp.df, (b, a)))
    mu = np.exp(mean + dev / np.sqrt(prec))
    # dwellings: ground count where known, else imagery × detection
    gcount = s["_gcount"].to_numpy(float)
    rho = np.exp(hp.rho_mu[:, None] + hp.rho_sd[:, None] * rng.standard_t(hp.df, (b, a)))
    dw = np.where(np.isfinite(gcount)[None, :], gcount[None, :],
                  s["_imagery"].to_numpy(float)[None, :] * rho)
    unlisted = np.maximum(dw - listed[None, :], 0) if not complete \
        else np.where(sampled[None, :], 0.0, dw)
    o = unlisted * p
    o = np.maximum(o + np.sqrt(np.maximum(o * (1 - p), 0)) * rng.standard_normal((b, a)), 0)
    missing = (occ - h)[None, :]  # occupied but no count: imputed from the area's μ
    k = o + missing
    pop = tot[None, :] + k * mu + np.sqrt(k * hp.cv2) * mu * rng.standard_normal((b, a))
    return np.maximum(pop, tot[None, :])


def bottom_up(dwellings: pd.DataFrame, listing: pd.DataFrame, *, area: str = "area",
              strata: str | list[str] | None = None, count: str = "dwellings",
              ground: str | None = None, household: str = "household",
              occupied: str = "occupied", persons: str = "persons",
              listing_complete: bool = True, draws: int = 2000, confidence: float = 0.95,
              seed: int = 2022) -> BottomUpResult:
    """Population of every area from dwelling counts and a listing of sampled areas.

    ``dwellings``: one row per area, its dwelling ``count`` (imagery or mapping), the
    ``strata`` columns, and optionally ``ground``: a ground count of dwellings for
    validation. ``listing``: one row per listed dwelling (``area``, ``household`` id,
    ``occupied`` yes/no, ``persons``; blank persons in an occupied dwelling are
    imputed). With ``listing_complete`` (default) the listing covers all dwellings of
    its areas, whose ground count it then is; otherwise the listing is a sample of the
    area's dwellings. Returns population draws, means and percentile intervals.
    """
    z_value(confidence)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 100:
        raise bad(f"draws is a whole number of replicates, at least 100; got {draws!r}.",
                  where=Where(field="draws"), fix="Use e.g. 2000.")
    notes: list[str] = []
    sc = [strata] if isinstance(strata, str) else list(strata or [])
    d, li = _prepare(dwellings, listing, area, sc, count, ground, household, occupied,
                     persons, notes)
    st = _area_stats(d, li)
    listed = st["listed"].to_numpy(float) > 0
    gcount = st["_ground"].to_numpy(float)
    if listing_complete:
        gcount = np.where(listed, st["listed"].to_numpy(float), gcount)
    st["_gcount"] = gcount
    if not listed.any():
        raise bad("The listing has no dwelling in any area of the dwelling table.",
                  where=Where(field="listing"), fix="Give the listing of the sampled areas.")
    # pooled within-area coefficient of variation of household size
    h = st["responding"].to_numpy(float)
    ybar = np.where(h > 0, st["persons"] / np.maximum(h, 1), np.nan)
    within = (st["ss"] - h * np.nan_to_num(ybar) ** 2).to_numpy(float)
    dfw = np.maximum(h - 1, 0).sum()
    cv2 = float(within.sum() / max(dfw, 1) / np.nanmean(ybar) ** 2) if dfw > 0 else 0.25
    rng = np.random.default_rng(seed)
    pooled = _fit(st, np.flatnonzero(listed), draws, rng, cv2, None)
    out = np.zeros((draws, len(st)))
    srows = []
    for name, grp in st.groupby("_stratum", sort=True):
        idx = grp.index.to_numpy()
        samp = idx[listed[idx]]
        if len(samp) < _MIN_AREAS:
            notes.append(f"Stratum {name!r} has {len(samp)} listed area(s): it borrows the "
                         f"occupancy and persons per dwelling of all strata.")
        hp = _fit(st, samp, draws, rng, cv2, pooled) if len(samp) else pooled
        if listing_complete:
            # a completely listed area with every occupied dwelling counted is known:
            # no draws (a third of the work in a large run)
            known = listed[idx] & (st["occupied"].to_numpy()[idx]
                                   == st["responding"].to_numpy()[idx])
            out[:, idx[known]] = st["persons"].to_numpy(float)[idx[known]]
            if (~known).any():
                out[:, idx[~known]] = _draw(st, idx[~known], hp, rng, True)
        else:
            out[:, idx] = _draw(st, idx, hp, rng, False)
        srows.append(_stratum_row(str(name), idx, samp, hp))
    return _result(st, out, pd.DataFrame(srows), notes, confidence, listed)


def _stratum_row(name: str, idx: np.ndarray, samp: np.ndarray, hp: _Hyper) -> dict[str, Any]:
    return {"stratum": name, "areas": len(idx), "sampled_areas": len(samp),
            "detection": float(np.exp(np.median(hp.rho_mu))),
            # the stratum's mean correction factor: 2.5% and 97.5% points of its replicates
            "detection_lower": float(np.exp(np.quantile(hp.rho_mu, 0.025))),
            "detection_upper": float(np.exp(np.quantile(hp.rho_mu, 0.975))),
            "detection_sd_log": float(np.median(hp.rho_sd)),
            "occupancy": float(np.median(hp.m)), "occupancy_prior_size": float(np.median(hp.big_m)),
            "persons_per_occupied": float(np.exp(np.median(hp.theta))),
            "tau2_log_persons": float(np.median(hp.tau2)), "cv2_household": hp.cv2}


def _result(st: pd.DataFrame, out: np.ndarray, strata: pd.DataFrame, notes: list[str],
            confidence: float, listed: np.ndarray) -> BottomUpResult:
    lo, hi = quantiles(out, confidence)
    areas = pd.DataFrame({
        "area": st["_area"].to_numpy(), "stratum": st["_stratum"].to_numpy(),
        "sampled": listed, "dwellings": st["_imagery"].to_numpy(),
        "listed": st["listed"].to_numpy(), "occupied": st["occupied"].to_numpy(),
        "persons_listed": st["persons"].to_numpy(),
        "estimate": out.mean(axis=0), "lower": lo, "upper": hi,
        "se": out.std(axis=0, ddof=1)})
    tot = out.sum(axis=1)
    tlo, thi = quantiles(tot, confidence)
    total = {"estimate": float(tot.mean()), "lower": float(tlo), "upper": float(thi),
             "se": float(tot.std(ddof=1))}
    notes.append("Occupancy and persons per dwelling are shrunk within strata by "
                 "empirical Bayes; unsampled areas take their stratum's distribution, so "
                 "an area unlike its stratum is predicted poorly (the interval says how "
                 "much areas vary, not why).")
    return BottomUpResult(areas=areas, strata=strata, total=total, notes=notes,
                          confidence=float(confidence), draws=out)
