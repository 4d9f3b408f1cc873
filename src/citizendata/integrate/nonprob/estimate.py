"""One call for every estimator: naive, IPW, doubly robust and mass imputation, with diagnostics.

Tables in (the citizen sample and the reference survey as pandas DataFrames), a table
out: one row per estimator with its estimate, standard error, interval, sample sizes
and, in words, the assumption it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from citizendata.errors import BadInput, Where
from citizendata.integrate.nonprob._design import Prepared, prepare
from citizendata.integrate.nonprob.doubly_robust import dr_mean
from citizendata.integrate.nonprob.mass_imputation import Match, mi_mean, nn_match, nn_mean
from citizendata.integrate.nonprob.outcome import Outcome, fit_outcome
from citizendata.integrate.nonprob.propensity import Propensity, VarB, fit_propensity, ipw_mean

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ASSUMPTIONS", "METHODS", "TOTAL", "Fits", "NonprobResult", "estimate_domains",
           "estimate_nonprob", "estimate_prepared"]

METHODS = ("naive", "ipw", "dr", "mi", "nn")
TOTAL = "_T"  # the whole population in a by-domain table, as in citizendata.stats' tables

ASSUMPTIONS: dict[str, str] = {
    "naive": "The citizen sample is like the population: who took part has nothing to do with "
             "the outcome (rarely true of a convenience or volunteer sample).",
    "ipw": "Taking part in the citizen sample is ignorable given the covariates (no other "
           "difference between those who took part and those who did not bears on the outcome), "
           "the logistic propensity model on those covariates is right, and everyone had some "
           "chance of taking part (positivity).",
    "dr": "Taking part is ignorable given the covariates, with positivity, and either the "
          "propensity model or the outcome model is right (doubly robust); its standard error is "
          "the one valid when the propensity model is right.",
    "mi": "The outcome model is right and the outcome is independent of taking part given the "
          "covariates (the model fitted on the citizen sample holds for the whole population).",
    "nn": "The outcome is independent of taking part given the covariates, and every survey "
          "unit has citizen units close to it in the covariates (no model, but the covariates "
          "must be few).",
}

VARIANCE_NOTE = ("Linearised variance (Chen, Li & Wu 2020; Kim et al. 2021): the citizen sample "
                 "treated as independent (Poisson) selection; the reference survey's part from "
                 "its PSU totals within strata, with replacement at the first stage (no finite "
                 "population correction). Normal-theory intervals.")

_EXTREME_HIGH = 0.9  # a propensity near one leaves almost no one outside the citizen sample
_EXTREME_LOW = 0.01  # a pseudo-weight over 100 times the mean: the tail positivity needs


@dataclass
class NonprobResult:
    """Estimates (one row per method), diagnostics and the citizen sample's pseudo-weights."""

    table: pd.DataFrame
    diagnostics: dict[str, Any]
    pseudo_weights: np.ndarray | None
    outcome_model: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the CLI's ``--json``)."""
        by = self.meta.get("by")
        rows = [{"method": r["method"], **({"by": {by: r[by]}} if by else {}),
                 "estimate": _num(r["estimate"]), "se": _num(r["se"]),
                 "ci": [_num(r["ci_low"]), _num(r["ci_high"])], "n_A": int(r["n_A"]),
                 "n_B": int(r["n_B"]), "assumption": r["assumption"]}
                for r in self.table.to_dict("records")]
        return {"estimates": rows, "diagnostics": self.diagnostics,
                "outcome_model": self.outcome_model, "variance": VARIANCE_NOTE, **self.meta}


def _num(v: Any) -> float | None:
    f = float(v)
    return f if np.isfinite(f) else None


def estimate_nonprob(citizen: pd.DataFrame, reference: pd.DataFrame, *, covariates: list[str],
                     y: str, weights: str | None, strata: str | None = None,
                     psu: str | None = None, method: str | list[str] = "all",
                     propensity_covariates: list[str] | None = None,
                     outcome_covariates: list[str] | None = None, outcome: str = "auto",
                     by: str | None = None, level: float = 0.95) -> NonprobResult:
    """The population mean of ``y`` from a citizen sample and a reference probability survey.

    ``covariates`` must be measured the same way in both samples (categorical columns
    become indicator columns; numbers enter as they are); ``propensity_covariates`` and
    ``outcome_covariates`` give either model its own set. ``weights``, ``strata`` and ``psu``
    are the reference survey's design columns. ``method`` is ``all`` or some of ``ipw``,
    ``dr``, ``mi``, ``nn``; the naive mean is always given for comparison. ``by`` adds
    the estimates in each category of a column both samples have (a domain: a ward, a
    disability status), the models fitted once on the whole samples; the table then has
    that column, ``_T`` marking the whole population.
    """
    methods = _methods(method)
    if not 0 < level < 1:
        raise BadInput("nonprob.invalid", f"level must be between 0 and 1, not {level!r}",
                       where=Where(field="level"), fix="Use e.g. 0.95 for 95% intervals.")
    prep = prepare(citizen, reference, covariates=list(covariates), y=y, weights=weights,
                   strata=strata, psu=psu, propensity_covariates=propensity_covariates,
                   outcome_covariates=outcome_covariates, outcome=outcome, by=by)
    found, fits = estimate_prepared(prep, methods)
    every: dict[str | None, dict[str, tuple[float, float]]] = {None: found}
    every.update(estimate_domains(prep, methods, fits))
    prop = fits.propensity
    table = _table(every, prep, level)
    diag = diagnostics(prep, prop) if prop is not None else {}
    return NonprobResult(table=table, diagnostics=diag,
                         pseudo_weights=None if prop is None else 1.0 / prop.pi_a,
                         outcome_model="logistic" if prep.binary else "linear",
                         meta={"y": y, "level": level, "by": by, "covariates": list(covariates),
                               "propensity_covariates": prep.names_p[1:],
                               "outcome_covariates": prep.names_o[1:]})


def _methods(method: str | list[str]) -> list[str]:
    asked = list(METHODS[1:]) if method == "all" else (
        [m.strip() for m in method.split(",")] if isinstance(method, str) else list(method))
    bad = [m for m in asked if m not in METHODS]
    if bad or not asked:
        raise BadInput("nonprob.invalid", f"unknown method(s) {', '.join(map(repr, bad)) or '(none)'}",
                       where=Where(field="method"), fix="Use ipw, dr, mi, nn or all.")
    return ["naive", *[m for m in METHODS[1:] if m in asked]]


@dataclass
class Fits:
    """The models fitted once on the whole samples, shared by the overall and domain estimates."""

    propensity: Propensity | None = None
    outcome: Outcome | None = None
    match: Match | None = None


def estimate_prepared(prep: Prepared, methods: list[str] | tuple[str, ...] = METHODS
                      ) -> tuple[dict[str, tuple[float, float]], Fits]:
    """Estimate and standard error of each method from checked arrays (the simulation's entry)."""
    fits = _fit(prep, methods)
    return _estimates(prep, methods, fits), fits


def estimate_domains(prep: Prepared, methods: list[str] | tuple[str, ...], fits: Fits
                     ) -> dict[str, dict[str, tuple[float, float]]]:
    """Estimates in each domain of ``prep.by``, with the models fitted on the whole samples."""
    if prep.dom_a is None or prep.dom_b is None:
        return {}
    return {label: _estimates(prep, methods, fits, (prep.dom_a == k).astype(float),
                              (prep.dom_b == k).astype(float))
            for k, label in enumerate(prep.domains)}


def _fit(prep: Prepared, methods: list[str] | tuple[str, ...]) -> Fits:
    fits = Fits()
    if "ipw" in methods or "dr" in methods:
        fits.propensity = fit_propensity(prep.xa_p, prep.xb_p, prep.d, prep.names_p)
    if "dr" in methods or "mi" in methods:
        fits.outcome = fit_outcome(prep.xa_o, prep.y, prep.binary, prep.names_o)
    if "nn" in methods:
        fits.match = nn_match(prep.xa_o, prep.y, prep.xb_o, prep.d)
    return fits


def _estimates(prep: Prepared, methods: list[str] | tuple[str, ...], fits: Fits,
               da: np.ndarray | None = None, db: np.ndarray | None = None
               ) -> dict[str, tuple[float, float]]:
    """Every asked method, overall or in the domain ``da``/``db`` (indicators in A and B)."""
    var_b = VarB(prep.strata, prep.psu)
    out: dict[str, tuple[float, float]] = {}
    y, prop, model = prep.y, fits.propensity, fits.outcome
    if "naive" in methods:
        yd = y if da is None else y[da == 1]
        out["naive"] = (float(yd.mean()), float(yd.std(ddof=1) / np.sqrt(yd.size)))
    if prop is not None and "ipw" in methods:
        mu, se, _ = ipw_mean(y, prop, prep.xa_p, prep.xb_p, prep.d, var_b, da)
        out["ipw"] = (mu, se)
    if prop is not None and model is not None and "dr" in methods:
        out["dr"] = dr_mean(y, prop, model, prep.xa_p, prep.xb_p, prep.xa_o, prep.xb_o, prep.d,
                            var_b, da, db)
    if model is not None and "mi" in methods:
        out["mi"] = mi_mean(model, prep.xa_o, y, prep.xb_o, prep.d, var_b, db)
    if fits.match is not None and "nn" in methods:
        out["nn"] = nn_mean(fits.match, prep.d, var_b, db)
    return out


def _table(found: dict[str | None, dict[str, tuple[float, float]]], prep: Prepared,
           level: float) -> pd.DataFrame:
    """One row per domain (``_T`` for the whole population) and method."""
    import pandas as pd

    z = NormalDist().inv_cdf(0.5 + level / 2)
    rows = []
    for label, by_method in found.items():
        k = None if label is None else prep.domains.index(label)
        n_a = prep.y.size if k is None else int(np.sum(prep.dom_a == k))
        n_b = prep.d.size if k is None else int(np.sum(prep.dom_b == k))
        for m, (est, se) in by_method.items():
            row: dict[str, Any] = {"method": m}
            if prep.by is not None:
                row[prep.by] = TOTAL if label is None else label
            row.update({"estimate": est, "se": se, "ci_low": est - z * se,
                        "ci_high": est + z * se, "n_A": n_a, "n_B": n_b,
                        "assumption": ASSUMPTIONS[m]})
            rows.append(row)
    return pd.DataFrame(rows)


def diagnostics(prep: Prepared, prop: Propensity) -> dict[str, Any]:
    """Pseudo-weights, Kish's effective sample size, covariate balance and overlap."""
    w = 1.0 / prop.pi_a
    d = prep.d
    n_hat = float(d.sum())
    mean_pi = prep.y.size / n_hat
    balance = []
    for j, name in enumerate(prep.names_p[1:], start=1):
        xa, xb = prep.xa_p[:, j], prep.xb_p[:, j]
        ref = float(d @ xb / n_hat)
        sd = float(np.sqrt(max(float(d @ (xb - ref) ** 2) / n_hat, 1e-300)))
        wa = float(w @ xa / w.sum())
        balance.append({"covariate": name, "citizen_unweighted": float(xa.mean()),
                        "citizen_weighted": wa, "reference": ref,
                        "std_difference_before": (float(xa.mean()) - ref) / sd,
                        "std_difference_after": (wa - ref) / sd})
    low = _EXTREME_LOW * mean_pi
    return {
        "pseudo_weights": {"min": float(w.min()), "max": float(w.max()),
                           "ratio_max_min": float(w.max() / w.min()), "sum": float(w.sum()),
                           "reference_population": n_hat},
        "kish_effective_n": float(w.sum() ** 2 / np.sum(w ** 2)),
        "balance": balance,
        "overlap": {
            "propensity_citizen": [float(prop.pi_a.min()), float(prop.pi_a.max())],
            "propensity_reference": [float(prop.pi_b.min()), float(prop.pi_b.max())],
            "share_citizen_extreme": float(np.mean((prop.pi_a < low) | (prop.pi_a > _EXTREME_HIGH))),
            "share_reference_extreme": float(np.mean((prop.pi_b < low) | (prop.pi_b > _EXTREME_HIGH))),
            "extreme_means": f"propensity above {_EXTREME_HIGH} or below {_EXTREME_LOW} times the "
                             f"mean propensity ({low:.2g})",
        },
        "propensity_iterations": prop.iterations,
    }
