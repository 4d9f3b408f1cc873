"""The outcome model m(x; beta), fitted on the citizen sample: linear, or logistic for a 0/1 outcome.

The fit is unweighted: under ignorable selection, y given x is the same in the citizen
sample as in the population, so an outcome model fitted there carries over to the
reference survey (Kim, Park, Chen & Wu 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citizendata.errors import BadInput, Where
from citizendata.integrate.nonprob._design import SAMPLE_A

__all__ = ["Outcome", "fit_outcome"]


@dataclass
class Outcome:
    """A fitted outcome model: coefficients, the link's derivative and the bread of its sandwich."""

    beta: np.ndarray
    binary: bool
    bread: np.ndarray  # (sum_A mdot x x')^-1

    def predict(self, x: np.ndarray) -> np.ndarray:
        eta = x @ self.beta
        return np.exp(-np.logaddexp(0.0, -eta)) if self.binary else eta

    def slope(self, x: np.ndarray) -> np.ndarray:
        """d m / d eta at each row (1 for the linear model)."""
        if not self.binary:
            return np.ones(len(x))
        m = self.predict(x)
        return m * (1 - m)


def fit_outcome(x: np.ndarray, y: np.ndarray, binary: bool, names: list[str] | None = None) -> Outcome:
    """Least squares, or logistic regression by Newton's method; a coded error on separation."""
    if np.linalg.matrix_rank(x.T @ x, hermitian=True) < x.shape[1]:
        raise BadInput("nonprob.invalid", "the outcome model's covariates are collinear in the "
                       f"citizen sample ({', '.join(names or [])})", where=Where(file=SAMPLE_A),
                       fix="Drop a covariate another one determines, or merge categories that "
                           "the citizen sample does not distinguish.")
    if not binary:
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        return Outcome(beta, False, np.linalg.inv(x.T @ x))
    beta = np.zeros(x.shape[1])
    p0 = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    beta[0] = np.log(p0 / (1 - p0))
    for _ in range(100):
        eta = x @ beta
        m = np.exp(-np.logaddexp(0.0, -eta))
        w = m * (1 - m)
        try:
            step = np.linalg.solve((x * w[:, None]).T @ x, (y - m) @ x)
        except np.linalg.LinAlgError:
            # the fitted probabilities reached 0 or 1 in some pattern: separation
            _separated(x, y, names)
            raise
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10 * (1 + np.max(np.abs(beta))):
            break
    if np.max(np.abs(beta)) > 25 or not np.all(np.isfinite(beta)):
        _separated(x, y, names)
    m = np.exp(-np.logaddexp(0.0, -(x @ beta)))
    return Outcome(beta, True, np.linalg.inv((x * (m * (1 - m))[:, None]).T @ x))


def _separated(x: np.ndarray, y: np.ndarray, names: list[str] | None) -> None:
    names = names or [f"x{j}" for j in range(x.shape[1])]
    pure = [names[j] for j in range(1, x.shape[1]) if np.isin(x[:, j], (0.0, 1.0)).all()
            and (x[:, j] == 1).any() and np.ptp(y[x[:, j] == 1]) == 0]
    detail = f": every unit with {', '.join(pure)} has the same outcome" if pure else ""
    raise BadInput("nonprob.invalid", f"the logistic outcome model does not converge "
                   f"(separation in the citizen sample{detail})", where=Where(file=SAMPLE_A),
                   fix="Merge those categories with a neighbouring one, or leave the covariate "
                       "out of the outcome model.")
