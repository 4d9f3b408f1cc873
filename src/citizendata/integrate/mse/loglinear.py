"""One log-linear Poisson model of the capture histories: N-hat, its intervals, fit criteria.

log E[y_c] = b0 + sum_j b_j z_cj + sum_(i,j) in model g_ij z_ci z_cj over the 2^k - 1
observable cells; the unobserved cell's expectation is exp(b0), so N-hat = n + exp(b0).
Conventions follow R's glm and Rcapture (see docs/methods/mse.md): AIC = -2 log L + 2p with
the full Poisson likelihood (log y! included), BIC = -2 log L + log(n) p with n the number
of victims observed, p counting an empty-overlap term (as SparseMSE adds it to the AIC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.special import gammaln

from citizendata.errors import BadInput, Where
from citizendata.integrate.mse._design import Design, deviance, gram, irls_batch, mle_exists
from citizendata.integrate.mse.histories import Histories

__all__ = ["LoglinearFit", "ModelStats", "fit_loglinear", "model_mask", "parse_terms",
           "profile_interval", "term_names"]

Term = tuple[str, str] | str


@dataclass(frozen=True)
class ModelStats:
    """Point estimate and criteria of one fitted model (vectorised fits produce many)."""

    mask: int
    estimate: float
    unobserved: float
    se: float
    deviance: float
    df: int
    aic: float
    bic: float
    n_params: int
    converged: bool


@dataclass
class LoglinearFit:
    """A fitted log-linear model: N-hat, the unobserved count and its intervals."""

    lists: list[str]
    terms: list[tuple[str, str]]
    n_observed: int
    estimate: float
    unobserved: float
    ci: tuple[float, float | None]
    ci_wald: tuple[float, float]
    se: float
    aic: float
    bic: float
    deviance: float
    df: int
    n_params: int
    empty_overlaps: list[tuple[str, str]]
    admissible: bool
    confidence: float
    coefficients: dict[str, float] = field(default_factory=dict)
    fitted: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def term_labels(self) -> list[str]:
        """The interactions as 'A:B' in the lists' order."""
        return [f"{a}:{b}" for a, b in self.terms]

    def to_dict(self) -> dict[str, Any]:
        """The issue's model row plus a few extras."""
        return {"terms": self.term_labels, "estimate": self.estimate,
                "ci": [self.ci[0], self.ci[1]], "aic": self.aic, "bic": self.bic,
                "deviance": self.deviance, "df": self.df, "unobserved": self.unobserved,
                "se": self.se, "ci_wald_log": list(self.ci_wald),
                "empty_overlaps": [f"{a}:{b}" for a, b in self.empty_overlaps]}


def parse_terms(lists: Sequence[str], terms: Iterable[Term]) -> list[tuple[str, str]]:
    """Interactions as pairs of list names in the lists' order; bad ones are coded errors."""
    index = {name: j for j, name in enumerate(lists)}
    out: set[tuple[str, str]] = set()
    for term in terms:
        parts = term.split(":") if isinstance(term, str) else list(term)
        if len(parts) != 2 or any(p not in index for p in parts) or parts[0] == parts[1]:
            shown = term if isinstance(term, str) else ":".join(map(str, term))
            raise BadInput("mse.invalid_model",
                           f"Interaction {shown!r}: write two different lists joined by ':' "
                           f"from {', '.join(lists)}.", where=Where(field="terms"))
        a, b = sorted(parts, key=index.__getitem__)
        out.add((a, b))
    return sorted(out, key=lambda ab: (index[ab[0]], index[ab[1]]))


def model_mask(design: Design, lists: Sequence[str], terms: Iterable[tuple[str, str]]) -> int:
    """The bit mask of a set of interactions."""
    index = {name: j for j, name in enumerate(lists)}
    position = {pair: i for i, pair in enumerate(design.pairs)}
    return sum(1 << position[(index[a], index[b])] for a, b in terms)


def term_names(design: Design, lists: Sequence[str], mask: int) -> list[tuple[str, str]]:
    """The interactions of a bit mask, as list-name pairs."""
    return [(lists[i], lists[j]) for bit, (i, j) in enumerate(design.pairs) if mask >> bit & 1]


def pair_overlaps(h: Histories) -> np.ndarray:
    """How many victims each pair of lists shares (seen on both, whatever else)."""
    design = Design(h.k)
    return design.pair_cells.astype(np.float64) @ h.full_counts()


def summarise(design: Design, y: np.ndarray, masks: np.ndarray, coef: np.ndarray,
              mu: np.ndarray, cols: np.ndarray, cells: np.ndarray, n_empty: np.ndarray,
              converged: np.ndarray) -> list[ModelStats]:
    """Criteria and N-hat for fits of one table y (or one table per row of y)."""
    y2 = np.broadcast_to(y, mu.shape)
    n = y2.sum(axis=1)
    dev = deviance(y2, mu, cells)
    with np.errstate(divide="ignore"):
        ll = np.where(cells, y2 * np.log(np.maximum(mu, 1e-300)) - mu - gammaln(y2 + 1), 0.0).sum(axis=1)
    npar = cols.sum(axis=1) + n_empty
    aic = -2.0 * ll + 2.0 * npar
    bic = -2.0 * ll + np.log(n) * npar
    df = cells.sum(axis=1) - cols.sum(axis=1)
    unobs = np.exp(coef[:, 0])
    var0 = _intercept_variance(design.matrix, mu, cols, cells)
    # Rcapture's getN: var(N-hat) = exp(b0) + exp(2 b0) var(b0)
    se = np.sqrt(unobs + unobs ** 2 * var0)
    return [ModelStats(int(masks[i]), float(n[i] + unobs[i]), float(unobs[i]), float(se[i]),
                       float(dev[i]), int(df[i]), float(aic[i]), float(bic[i]), int(npar[i]),
                       bool(converged[i])) for i in range(len(masks))]


def _intercept_variance(x: np.ndarray, mu: np.ndarray, cols: np.ndarray,
                        cells: np.ndarray) -> np.ndarray:
    info = gram(x, mu * cells, cols)
    e0 = np.zeros((len(info), x.shape[1], 1))
    e0[:, 0, 0] = 1.0
    try:
        return np.linalg.solve(info, e0)[:, 0, 0]
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)[:, 0, 0]


def check_model(design: Design, y: np.ndarray, mask: int, overlap: np.ndarray) -> tuple[bool, bool]:
    """(exists, identifiable) for one model on one table (empty overlaps taken out first)."""
    cols, cells, _ = design.masks(np.array([mask]), overlap)
    x = design.matrix[cells[0]][:, cols[0]]
    return mle_exists(x, y[cells[0]])


def fit_loglinear(h: Histories, terms: Iterable[Term] = (), *, confidence: float = 0.95,
                  on_no_estimate: Literal["raise", "flag"] = "raise") -> LoglinearFit:
    """Fit one model (main effects plus the given two-list interactions).

    A model whose MLE does not exist or is not identifiable has no finite estimate: it
    raises ``mse.no_estimate`` (or, with ``on_no_estimate="flag"``, comes back with
    ``admissible=False`` and NaN estimates).
    """
    pairs = parse_terms(h.lists, terms)
    design = Design(h.k)
    y = h.full_counts()
    overlap = pair_overlaps(h)
    mask = model_mask(design, h.lists, pairs)
    exists, identifiable = check_model(design, y, mask, overlap)
    cols, cells, n_empty = design.masks(np.array([mask]), overlap)
    empty = [(h.lists[i], h.lists[j]) for b, (i, j) in enumerate(design.pairs)
             if mask >> b & 1 and overlap[b] == 0]
    if not (exists and identifiable):
        why = ("the maximum likelihood estimate does not exist (Fienberg & Rinaldo's linear "
               "program has optimum 0)" if not exists else
               "its parameters are not identifiable (the design is not of full rank)")
        if on_no_estimate == "raise":
            raise BadInput("mse.no_estimate",
                           f"Model {' + '.join(a + ':' + b for a, b in pairs) or 'main effects'}"
                           f": {why}.", where=Where(field="terms"))
        nan = float("nan")
        return LoglinearFit(h.lists, pairs, h.n_observed, nan, nan, (nan, nan), (nan, nan), nan,
                            nan, nan, nan, 0, 0, empty, False, confidence)
    coef, mu, conv = irls_batch(design.matrix, y[None, :], cols, cells)
    stats = summarise(design, y, np.array([mask]), coef, mu, cols, cells, n_empty, conv)[0]
    x = design.matrix[cells[0]][:, cols[0]]
    ci = profile_interval(x, y[cells[0]], confidence=confidence, n_hat=stats.estimate,
                          beta=coef[0, cols[0]])
    z = _z(confidence)
    var0 = ((stats.se ** 2 - stats.unobserved) / stats.unobserved ** 2) if stats.unobserved > 0 else 0.0
    sd0 = float(np.sqrt(max(var0, 0.0)))
    b0 = float(coef[0, 0])
    wald = (h.n_observed + float(np.exp(b0 - z * sd0)), h.n_observed + float(np.exp(b0 + z * sd0)))
    names = ["(Intercept)", *h.lists, *(f"{h.lists[i]}:{h.lists[j]}" for i, j in design.pairs)]
    coefs = {names[c]: float(coef[0, c]) for c in np.flatnonzero(cols[0])}
    return LoglinearFit(h.lists, pairs, h.n_observed, stats.estimate, stats.unobserved, ci, wald,
                        stats.se, stats.aic, stats.bic, stats.deviance, stats.df, stats.n_params,
                        empty, True, confidence, coefs, mu[0])


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def _multinomial_loglik(x_aug: np.ndarray, y: np.ndarray, n: float, big_n: float,
                        beta: np.ndarray) -> tuple[float, np.ndarray]:
    """Rcapture's profile multinomial log-likelihood of N (up to a constant), warm-started.

    The table is completed with the unobserved cell at count N - n, fitted as a Poisson
    log-linear model, and Cormack's (1992) correction turns its deviance into the
    multinomial log-likelihood; for N > 100 the correction uses Stirling's formula, as
    Rcapture's closedpCI does (so the bounds agree with it to its printed digits).
    """
    n0 = big_n - n
    yy = np.append(y, n0)
    cols = np.ones((1, x_aug.shape[1]), dtype=bool)
    cells = np.ones((1, len(yy)), dtype=bool)
    coef, mu, _ = irls_batch(x_aug, yy[None, :], cols, cells, beta=beta[None, :])
    dev = float(deviance(yy[None, :], mu, cells)[0])
    if big_n > 100 and n0 in (0.0, 1.0):
        ct = -big_n + 0.5 * np.log(2 * np.pi * big_n)
    elif big_n > 100 and n0 > 1.0:
        ct = n0 - big_n - 0.5 * np.log(n0 / big_n)
    else:
        # Stirling's formula for log(n0!) diverges as n0 -> 0 (it adds -log(n0)/2): between
        # n and n + 1 it made a spurious peak of the likelihood, which the maximiser found
        # and the upper bound's bracket then started below the cut; the exact form is used
        ct = (n0 * np.log(n0) if n0 > 0 else 0.0) + gammaln(big_n + 1) - big_n * np.log(big_n) \
            - gammaln(n0 + 1)
    return float(-dev / 2 + ct), coef[0]


def profile_interval(x: np.ndarray, y: np.ndarray, *, confidence: float, n_hat: float,
                     beta: np.ndarray, upper_factor: float = 1000.0) -> tuple[float, float | None]:
    """Profile-likelihood interval for N (Rcapture's closedpCI.t method).

    N's profile multinomial log-likelihood is maximised on (n, 1.5 N-hat); the bounds are
    where it falls by chi2_1(confidence)/2.  The lower bound is n when the likelihood never
    falls that far; the upper bound is None (unbounded) when it has not by
    ``upper_factor`` x N-hat.
    """
    from scipy.optimize import brentq, minimize_scalar
    from scipy.stats import chi2

    n = float(y.sum())
    x_aug = np.vstack([x, np.eye(1, x.shape[1])])
    state = {"beta": np.asarray(beta, dtype=np.float64)}

    def loglik(big_n: float) -> float:
        value, state["beta"] = _multinomial_loglik(x_aug, y, n, big_n, state["beta"])
        return value

    top = max(1.5 * n_hat, n + 1.0)
    opt = minimize_scalar(lambda v: -loglik(v), bounds=(n, top), method="bounded",
                          options={"xatol": 1e-6})
    n_max, l_max = float(opt.x), -float(opt.fun)
    cut = l_max - chi2.ppf(confidence, 1) / 2

    def gap(v: float) -> float:
        return loglik(v) - cut

    lower = n if gap(n) >= 0 else brentq(gap, n, n_max, xtol=1e-6)
    # the search starts where the likelihood is above the cut (at n_max it is by
    # construction), so every bracket handed to brentq changes sign
    bound = n_hat if n_hat > n_max and gap(n_hat) >= 0 else max(n_max, n + 1e-9)
    upper: float | None = None
    while bound < upper_factor * max(n_hat, 1.0):
        nxt = bound * 2.0
        if gap(nxt) < 0:
            upper = brentq(gap, bound, nxt, xtol=1e-6)
            break
        bound = nxt
    return float(lower), (None if upper is None else float(upper))
