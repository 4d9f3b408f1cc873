"""estimate_mse: the model search, selection, intervals and the issue's JSON; strata; Chapman."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.mse._design import Design
from citizendata.integrate.mse.bootstrap import (
    BootstrapResult,
    bca_interval,
    draw_tables,
    irls_ok,
    jackknife_estimates,
    ranked_masks,
    refit_tables,
)
from citizendata.integrate.mse.histories import Histories, read_histories
from citizendata.integrate.mse.loglinear import (
    LoglinearFit,
    Term,
    _z,
    fit_loglinear,
    model_mask,
    pair_overlaps,
    parse_terms,
    term_names,
)
from citizendata.integrate.mse.select import ModelSpace, fit_models, stepwise, weights

__all__ = ["MSEResult", "StratifiedResult", "chapman", "estimate_mse", "estimate_stratified",
           "present_lists", "recombine"]

METHODS = ("loglinear", "lcmcr", "chapman", "independence")
SELECTIONS = ("bic", "aic", "stepwise", "average")
MAX_ENUMERATE_K = 6  # 2^15 models for six lists; more lists use stepwise


@dataclass
class MSEResult:
    """Models fitted, the selected (or averaged) estimate and its intervals."""

    lists: list[str]
    n_observed: int
    method: str
    selection: str | None
    models: list[dict[str, Any]]
    selected: dict[str, Any]
    n_models: int = 0
    no_estimate: list[dict[str, Any]] = field(default_factory=list)
    bootstrap: BootstrapResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    draws: np.ndarray | None = field(default=None, repr=False)  # LCMCR: posterior draws of N

    @property
    def estimate(self) -> float:
        """The selected estimate of N."""
        return float(self.selected["estimate"])

    @property
    def ci(self) -> tuple[float | None, float | None]:
        """The selected interval."""
        lo, hi = self.selected["ci"]
        return lo, hi

    def to_dict(self) -> dict[str, Any]:
        """The issue's JSON: n_observed, models, selected; then extra keys."""
        out: dict[str, Any] = {"n_observed": self.n_observed, "models": self.models,
                               "selected": self.selected, "method": self.method,
                               "selection": self.selection, "lists": self.lists,
                               "n_models": self.n_models, "no_estimate": self.no_estimate}
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap.to_dict()
        out.update(self.extra)
        return out


def _histories(h: Histories | pd.DataFrame | str, min_lists: int) -> Histories:
    return h if isinstance(h, Histories) else read_histories(h, min_lists=min_lists)


def chapman(h: Histories, *, confidence: float = 0.95) -> MSEResult:
    """Chapman's (1951) two-list estimator, Seber's (1970) variance, Chao's (1987) interval.

    The interval is log-normal on the unobserved part, n + (N - n)/C to n + (N - n) C with
    C = exp(z sqrt(log(1 + var/(N - n)^2))), as CARE1's estN.pair: it never goes below n.
    """
    if h.k != 2:
        raise BadInput("mse.invalid_model", f"Chapman's estimator takes exactly two lists, "
                       f"not {h.k}.", where=Where(field="method"),
                       fix="Use the log-linear models for three or more lists.")
    n1, n2 = h.list_totals().values()
    m = int(h.counts[h.patterns.sum(axis=1) == 2].sum())
    est = (n1 + 1) * (n2 + 1) / (m + 1) - 1
    var = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
    n = h.n_observed
    dark = max(est - n, 1e-12)
    c = float(np.exp(_z(confidence) * np.sqrt(np.log(1 + var / dark ** 2))))
    row = {"terms": [], "estimate": est, "ci": [n + dark / c, n + dark * c],
           "aic": None, "bic": None, "deviance": None, "df": None, "se": var ** 0.5}
    return MSEResult(h.lists, h.n_observed, "chapman", None, [row], {**row, "method": "chapman"},
                     n_models=1)


def _all_masks(design: Design, models: Iterable[Iterable[Term]] | None,
               lists: Sequence[str]) -> np.ndarray:
    if models is not None:
        return np.array(sorted({model_mask(design, lists, parse_terms(lists, t)) for t in models}),
                        dtype=np.int64)
    if design.k > MAX_ENUMERATE_K:
        raise BadInput("mse.invalid_model", f"{design.k} lists have 2^{len(design.pairs)} "
                       "models: too many to fit them all.", where=Where(field="selection"),
                       fix="Use selection='stepwise', or give the models to compare.")
    return np.arange(2 ** len(design.pairs), dtype=np.int64)


def _row(fit: LoglinearFit) -> dict[str, Any]:
    return fit.to_dict()


def estimate_mse(h: Histories | pd.DataFrame | str, *, method: str = "loglinear",
                 selection: str = "bic", models: Iterable[Iterable[Term]] | None = None,
                 confidence: float = 0.95, bootstrap: int = 0,
                 bootstrap_kind: str = "parametric", seed: int | None = None,
                 pthresh: float = 0.02, report: int = 20, bootstrap_models: int = 10,
                 **lcmcr_kwargs: Any) -> MSEResult:
    """Estimate N from capture histories.

    ``method``: log-linear models (default), ``lcmcr`` (Bayesian latent classes),
    ``chapman`` (two lists) or ``independence`` (main effects only).  ``selection``: the
    smallest BIC or AIC among all (or the given) models, SparseMSE's stepwise search, or
    the average over models weighted by exp(-BIC/2).  ``models`` lists the models to
    compare (each a list of 'A:B' terms).  ``report`` models with the smallest criterion
    are returned with profile intervals.  ``bootstrap`` > 0 adds a bootstrap interval.
    """
    if method not in METHODS:
        raise BadInput("mse.invalid_model", f"Method {method!r}: use one of {', '.join(METHODS)}.",
                       where=Where(field="method"))
    if selection not in SELECTIONS:
        raise BadInput("mse.invalid_model", f"Selection {selection!r}: use one of "
                       f"{', '.join(SELECTIONS)}.", where=Where(field="selection"))
    if bootstrap_kind not in ("parametric", "nonparametric"):
        raise BadInput("mse.invalid_model", f"Bootstrap {bootstrap_kind!r}: parametric or "
                       "nonparametric.", where=Where(field="bootstrap_kind"))
    hist = _histories(h, 2 if method == "chapman" else 3)
    if method == "chapman":
        return chapman(hist, confidence=confidence)
    if method == "lcmcr":
        from citizendata.integrate.mse.lcmcr import fit_lcmcr

        res = fit_lcmcr(hist, confidence=confidence, seed=seed, **lcmcr_kwargs)
        d = res.to_dict()
        sel = {"terms": [], "estimate": d["estimate"], "ci": d["ci"], "aic": None, "bic": None,
               "deviance": None, "df": None, "method": "lcmcr", "diagnostics": d.get("diagnostics")}
        # chains pooled: the draws of N, for recombining strata (their sum's posterior)
        return MSEResult(hist.lists, hist.n_observed, "lcmcr", None, [], sel, n_models=0,
                         extra={"lcmcr": d}, draws=np.asarray(res.draws).ravel())
    if method == "independence":
        models, selection = [[]], "bic"
    try:
        return _loglinear(hist, selection, models, confidence, bootstrap, bootstrap_kind, seed,
                          pthresh, report, bootstrap_models)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        # a numerical failure inside scipy/numpy on a degenerate table: a coded refusal
        # naming what failed, never a raw traceback (BadInput is not a ValueError)
        raise BadInput("mse.no_estimate", f"The log-linear fit failed numerically on this table "
                       f"({type(exc).__name__}: {exc}).", where=Where(field="histories"),
                       fix="Merge sparse strata or lists, or use method='lcmcr'.") from exc


def _loglinear(h: Histories, selection: str, models: Iterable[Iterable[Term]] | None,
               confidence: float, n_boot: int, kind: str, seed: int | None, pthresh: float,
               report: int, boot_models: int) -> MSEResult:
    design = Design(h.k)
    y = h.full_counts()
    overlap = pair_overlaps(h)
    crit = "aic" if selection == "aic" else "bic"
    extra: dict[str, Any] = {}
    if models is None and selection != "stepwise" and h.k > MAX_ENUMERATE_K:
        # 2^21 or 2^28 models: search stepwise instead, and say so
        extra["note"] = (f"{h.k} lists: {selection} over all 2^{len(design.pairs)} models is "
                         "too many; the model was chosen stepwise")
        selection = "stepwise"
    if selection == "stepwise":
        mask = stepwise(design, y, overlap, pthresh=pthresh)
        given = _all_masks(design, models, h.lists) if models is not None else np.zeros(0, np.int64)
        space = fit_models(design, y, np.unique(np.append(given, [0, mask])), overlap)
    else:
        space = fit_models(design, y, _all_masks(design, models, h.lists), overlap)
    fitted = [(int(m), s) for m, s in zip(space.masks, space.stats, strict=True) if s is not None]
    no_est = [{"terms": [f"{a}:{b}" for a, b in term_names(design, h.lists, m)], "reason": r}
              for m, r in space.reasons.items()]
    if not fitted:
        raise BadInput("mse.no_estimate", "No model among those asked for has a finite estimate "
                       f"({len(no_est)} checked).", where=Where(field="models"))
    ranked = sorted(fitted, key=lambda ms: getattr(ms[1], crit))
    chosen = mask if selection == "stepwise" else ranked[0][0]
    top = [m for m, _ in ranked[:report]]
    if chosen not in top:
        top.append(chosen)
    rows = {m: fit_loglinear(h, term_names(design, h.lists, m), confidence=confidence)
            for m in top}
    model_rows = [_row(rows[m]) for m in top]
    selected = {**_row(rows[chosen]), "method": "loglinear", "selection": selection}
    if selection == "average":
        selected = _average(h, fitted, confidence)
        extra["weights"] = selected.pop("weights")
    boot = None
    if n_boot > 0:
        boot = _bootstrap(h, design, y, overlap, space, ranked, chosen, selection, crit, n_boot,
                          kind, seed, confidence, boot_models, pthresh)
        selected["ci_bootstrap"] = list(boot.ci)
        if boot.note:
            selected["bootstrap_note"] = boot.note
    return MSEResult(h.lists, h.n_observed, "loglinear", selection, model_rows, selected,
                     n_models=len(space.masks), no_estimate=no_est, bootstrap=boot, extra=extra)


def _average(h: Histories, fitted: list[tuple[int, Any]], confidence: float) -> dict[str, Any]:
    """exp(-BIC/2)-weighted average; variance of Buckland, Burnham & Augustin (1997);
    interval Wald on the log of the unobserved count (see docs/methods/mse.md)."""
    design = Design(h.k)
    bic = np.array([s.bic for _, s in fitted])
    w = weights(bic)
    est = np.array([s.estimate for _, s in fitted])
    se = np.array([s.se for _, s in fitted])
    mean = float((w * est).sum())
    se_avg = float((w * np.sqrt(se ** 2 + (est - mean) ** 2)).sum())
    # Wald on log(N - n), the unobserved count (skewed; never below n): delta method
    # se(log(N - n)) = se / (N - n), back-transformed as in LoglinearFit.ci_wald
    n = float(h.n_observed)
    dark = max(mean - n, 1e-12)
    c = float(np.exp(_z(confidence) * se_avg / dark))
    top = np.argsort(-w)[:20]
    return {"terms": [], "estimate": mean, "ci": [n + dark / c, n + dark * c],
            "aic": None, "bic": None, "deviance": None, "df": None, "se": se_avg,
            "method": "loglinear", "selection": "average",
            "weights": [{"terms": [f"{a}:{b}" for a, b in term_names(design, h.lists, fitted[i][0])],
                         "weight": float(w[i]), "estimate": float(est[i])} for i in top]}


def _bootstrap(h: Histories, design: Design, y: np.ndarray, overlap: np.ndarray,
               space: ModelSpace, ranked: list[tuple[int, Any]], chosen: int, selection: str,
               crit: str, n_boot: int, kind: str, seed: int | None, confidence: float,
               boot_models: int, pthresh: float) -> BootstrapResult:
    rng = np.random.default_rng(seed)
    stats = dict(ranked)
    mu = irls_ok(design, y, chosen, overlap)
    tables = draw_tables(y, mu, stats[chosen].estimate, kind, n_boot, rng)  # type: ignore[arg-type]
    if selection == "stepwise":
        cands = [np.array([stepwise(design, t, t @ design.pair_cells.T.astype(float),
                                    pthresh=pthresh)]) for t in tables]
        reps = np.array([refit_tables(design, t[None, :], c, "bic")[0]
                         for t, c in zip(tables, cands, strict=True)])
        masks = np.array([chosen])
    else:
        masks = ranked_masks(np.array([m for m, _ in ranked]),
                             [getattr(s, crit) for _, s in ranked], boot_models)
        reps = refit_tables(design, tables, masks, crit)  # type: ignore[arg-type]
    good = reps[np.isfinite(reps)]
    failed = int(len(reps) - len(good))
    if not len(good):
        # no replicate table had a finite estimate: no interval, said as such
        return BootstrapResult(kind, good, (None, None), failed, "none",
                               note=f"all {failed} bootstrap replicates failed to fit")
    alpha = (1 - confidence) / 2
    if kind == "nonparametric" and selection != "stepwise":
        def one(t: np.ndarray) -> float:
            return float(refit_tables(design, t[None, :], masks, crit)[0])  # type: ignore[arg-type]
        jack = jackknife_estimates(y, one)
        ci = bca_interval(good, stats[chosen].estimate, jack, y, confidence)
        how = "bca"
    else:
        lo, hi = np.quantile(good, [alpha, 1 - alpha])
        ci, how = (float(lo), float(hi)), "percentile"
    return BootstrapResult(kind, good, ci, failed, how)


@dataclass
class StratifiedResult:
    """Per-stratum estimates and their recombined total.

    ``failed`` holds the strata without an estimate (their n_observed and why); the total
    needs every stratum, so with one failed the total and its interval are None.
    """

    strata: list[str]
    results: dict[tuple[Any, ...], MSEResult]
    total: float | None
    ci: tuple[float | None, float | None]
    n_observed: int
    interval: str
    failed: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Per stratum the selected row (or its note), then the total."""
        rows = [{**dict(zip(self.strata, key, strict=True)), "n_observed": r.n_observed,
                 **{k: r.selected[k] for k in ("terms", "estimate", "ci")},
                 "lists": r.lists, "note": None}
                for key, r in self.results.items()]
        rows += [{**dict(zip(self.strata, key, strict=True)), "n_observed": f["n_observed"],
                  "terms": [], "estimate": None, "ci": [None, None], "lists": f["lists"],
                  "note": f["note"]} for key, f in self.failed.items()]
        return {"strata": self.strata, "n_observed": self.n_observed, "estimate": self.total,
                "ci": list(self.ci), "interval": self.interval, "note": self.note,
                "by_stratum": rows}


def recombine(results: Sequence[MSEResult], confidence: float = 0.95
              ) -> tuple[tuple[float | None, float | None], str, str | None]:
    """The interval of the sum of independent strata's estimates: (ci, how, note).

    Bootstrap replicates summed replicate by replicate when every part has them; else
    LCMCR posterior draws of N summed draw by draw (chains pooled; strata independent, so
    the sum's draws are draws of the total's posterior), equal-tailed quantiles; else a
    normal interval on the sum of the parts' variances (their standard errors).  A part
    with none of these gives no interval, never a zero variance.
    """
    tail = (1 - confidence) / 2
    total = float(sum(r.estimate for r in results))
    boots = [r.bootstrap for r in results]
    if results and all(b is not None and len(b.replicates) for b in boots):
        b_min = min(len(b.replicates) for b in boots if b is not None)
        sums = np.sum([b.replicates[:b_min] for b in boots if b is not None], axis=0)
        lo, hi = np.quantile(sums, [tail, 1 - tail])
        return (float(lo), float(hi)), "bootstrap", None
    draws = [r.draws for r in results]
    if results and all(d is not None and len(d) for d in draws):
        d_min = min(len(d) for d in draws if d is not None)
        sums = np.sum([d[:d_min] for d in draws if d is not None], axis=0)
        lo, hi = np.quantile(sums, [tail, 1 - tail])
        return (float(lo), float(hi)), "posterior draws", None
    ses = [r.selected.get("se") for r in results]
    if all(se is not None and np.isfinite(se) for se in ses):
        var = float(np.sum(np.square(np.asarray(ses, dtype=float))))
        half = _z(confidence) * var ** 0.5
        n_obs = sum(r.n_observed for r in results)
        return (max(total - half, float(n_obs)), total + half), "sum of variances", None
    # e.g. LCMCR strata mixed with log-linear ones: no common scale to add them on
    return (None, None), "none", ("no interval for the total: some strata have neither a "
                                  "standard error, bootstrap replicates nor posterior draws")


def present_lists(part: pd.DataFrame, names: list[str], count: str
                  ) -> tuple[list[str], pd.DataFrame]:
    """The lists with at least one record in this stratum, and its table on them alone
    (patterns that differed only on a dropped list become one)."""
    has = part[count].to_numpy() > 0
    here = [c for c in names if bool((part[c].to_numpy()[has] != 0).any())]
    if not here:
        return here, part.iloc[:0][[count]]
    sub = part[[*here, count]].groupby(here, as_index=False, sort=False)[count].sum()
    return here, sub[sub[here].to_numpy().any(axis=1)].reset_index(drop=True)


def estimate_stratified(frame: pd.DataFrame, *, strata: list[str], lists: list[str] | None = None,
                        **kw: Any) -> StratifiedResult:
    """Estimate each stratum separately; the total is their sum.

    In each stratum a list with no record there is left out (a list that did not exist or
    recorded nothing in that period says nothing about the others); a stratum with fewer
    than three lists left, or whose fit is refused, has no estimate and says why, and then
    the total has none either (a total needs every stratum).  The total's interval: see
    :func:`recombine` (bootstrap replicates, LCMCR draws, or the sum of variances).
    """
    missing = [c for c in strata if c not in frame.columns]
    if missing:
        raise BadInput("mse.invalid_histories", f"No stratum column {missing[0]!r}.",
                       where=Where(column=missing[0]))
    count = frame.columns[-1]
    names = lists or [c for c in frame.columns if c not in (*strata, count)]
    results: dict[tuple[Any, ...], MSEResult] = {}
    failed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key, part in frame.groupby(strata, sort=True):
        key_t = key if isinstance(key, tuple) else (key,)
        here, sub = present_lists(part, names, count)
        n_here = int(part[count].sum())
        if len(here) < 3:
            failed[key_t] = {"n_observed": n_here, "lists": here, "note": (
                f"mse.no_estimate: only {len(here)} list(s) have records in this stratum "
                f"({', '.join(here) or 'none'}); three are needed")}
            continue
        try:
            results[key_t] = estimate_mse(sub, **kw)
        except BadInput as exc:
            failed[key_t] = {"n_observed": n_here, "lists": here,
                             "note": f"{exc.code}: {exc.message}"}
    n_obs = sum(r.n_observed for r in results.values()) + sum(
        f["n_observed"] for f in failed.values())
    if failed:
        return StratifiedResult(strata, results, None, (None, None), n_obs, "none", failed,
                                f"no total: {len(failed)} stratum/strata without an estimate")
    total = float(sum(r.estimate for r in results.values()))
    ci, how, note = recombine(list(results.values()), float(kw.get("confidence", 0.95)))
    return StratifiedResult(strata, results, total, ci, n_obs, how, note=note)
