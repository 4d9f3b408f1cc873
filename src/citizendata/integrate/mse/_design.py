"""Design matrices, batched Poisson IRLS and the existence check for log-linear MSE models.

Cells are the 2^k - 1 observable capture patterns, cell ``c`` (0-based) being pattern
``c + 1`` with bit j set when list j saw the victim.  Columns are the intercept, the k
main effects and the k(k-1)/2 two-list interactions in the order (0,1), (0,2), ...,
(1,2), ... (SparseMSE's order).  A model is a set of interactions, held as a bit mask
over the pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import numpy as np

__all__ = ["Design", "full_rank", "gram", "irls_batch", "mle_exists"]

_OUTER: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # cells' outer products per design
_ETA_MAX = 50.0  # exp(50) ~ 5e21: far beyond any count, keeps diverging fits finite


@dataclass(frozen=True)
class Design:
    """The full design of k lists: every observable cell, every main effect and pair."""

    k: int

    @cached_property
    def patterns(self) -> np.ndarray:
        """Cells x k matrix of 0/1."""
        return ((np.arange(1, 2 ** self.k)[:, None] >> np.arange(self.k)) & 1).astype(np.float64)

    @cached_property
    def pairs(self) -> list[tuple[int, int]]:
        """The two-list interactions, in SparseMSE's order."""
        return list(combinations(range(self.k), 2))

    @cached_property
    def matrix(self) -> np.ndarray:
        """Cells x (1 + k + pairs): intercept, main effects, pair products."""
        z = self.patterns
        inter = np.column_stack([z[:, i] * z[:, j] for i, j in self.pairs]) if self.pairs else \
            np.zeros((len(z), 0))
        return np.column_stack([np.ones(len(z)), z, inter])

    @property
    def n_cells(self) -> int:
        """2^k - 1."""
        return 2 ** self.k - 1

    @property
    def n_params(self) -> int:
        """1 + k + k(k-1)/2."""
        return 1 + self.k + len(self.pairs)

    @cached_property
    def pair_cells(self) -> np.ndarray:
        """Pairs x cells: True where the cell's pattern contains both lists of the pair."""
        return self.matrix[:, 1 + self.k:].T.astype(bool)

    def masks(self, models: np.ndarray, overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column mask, cell mask and number of empty-overlap terms for each model.

        A model's interaction between two lists that share no victim has estimate minus
        infinity: its cells (those containing both lists) are left out of the fit and the
        term is not a column (Chan, Silverman & Vincent 2021, as SparseMSE's buildmodel).
        ``models`` is an integer bit mask per model; ``overlap`` the observed count of each
        pair's overlap.
        """
        bits = ((np.asarray(models, dtype=np.int64)[:, None] >> np.arange(len(self.pairs))) & 1).astype(bool)
        empty = bits & (np.asarray(overlap) == 0)[None, :]
        cols = np.ones((len(bits), self.n_params), dtype=bool)
        cols[:, 1 + self.k:] = bits & ~empty
        cells = ~(empty.astype(np.float64) @ self.pair_cells.astype(np.float64)).astype(bool)
        return cols, cells, empty.sum(axis=1)


def _outer(x: np.ndarray) -> np.ndarray:
    p = x.shape[1]
    cached = _OUTER.get(id(x))
    if cached is None or cached[0] is not x:
        cached = (x, (x[:, :, None] * x[:, None, :]).reshape(len(x), p * p))
        _OUTER[id(x)] = cached
    return cached[1]


def _col_masks(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    colf = cols.astype(np.float64)
    return colf[:, :, None] * colf[:, None, :], 1.0 - colf


def gram(x: np.ndarray, w: np.ndarray, cols: np.ndarray,
         masks: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """X' diag(w_b) X for each row b of w, columns out of the model zeroed and given 1 on
    the diagonal (so one batched solve serves models of every size): one matrix product
    with the cells' outer products, not a loop over models."""
    p = x.shape[1]
    both, off = masks if masks is not None else _col_masks(cols)
    g = (w @ _outer(x)).reshape(len(w), p, p)
    g *= both
    g[:, np.arange(p), np.arange(p)] += off
    return g


def irls_batch(x: np.ndarray, y: np.ndarray, cols: np.ndarray, cells: np.ndarray, *,
               beta: np.ndarray | None = None, max_iter: int = 100,
               tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson log-linear fits of many (table, model) pairs at once by IRLS.

    ``x`` is cells x p (shared), ``y`` B x cells, ``cols`` B x p (columns in each model),
    ``cells`` B x cells (cells in each fit).  Returns the coefficients (B x p, 0 for
    absent columns), the fitted means (B x cells, 0 for absent cells) and whether each
    fit converged (change of the deviance < tol relative to it).  Converged fits leave
    the batch, so the work shrinks as they finish.
    """
    y = np.asarray(y, dtype=np.float64)
    b, p = cols.shape
    colf = cols.astype(np.float64)
    cellf = cells.astype(np.float64)
    if beta is None:
        eta = np.log(y + 0.5)  # the usual start: the data themselves, nudged off zero
    else:
        eta = np.clip((np.asarray(beta, dtype=np.float64) * colf) @ x.T, -_ETA_MAX, _ETA_MAX)
    coef_out = np.zeros((b, p))
    eta_out = eta.copy()
    converged = np.zeros(b, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - y
    both, off = _col_masks(cols)
    act = np.arange(b)
    mu = np.exp(eta)
    dev_old = np.full(b, np.inf)
    diag = np.arange(p)
    outer = _outer(x)
    for _ in range(max_iter):
        w = mu * cellf
        z = eta + (y - mu) / np.maximum(mu, 1e-300)
        rhs = ((w * z) @ x) * colf
        g = (w @ outer).reshape(len(w), p, p) * both
        g[:, diag, diag] += off
        try:
            new = np.linalg.solve(g, rhs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            new = np.einsum("bpq,bq->bp", np.linalg.pinv(g), rhs)
        eta = np.clip(new @ x.T, -_ETA_MAX, _ETA_MAX)
        mu = np.exp(eta)
        # deviance = 2 sum(y log y - y - y eta + mu) over the fit's cells
        dev = 2.0 * ((ylogy - y * eta + mu) * cellf).sum(axis=1)
        done = np.abs(dev - dev_old) <= tol * (np.abs(dev) + 0.1)
        coef_out[act] = new
        eta_out[act] = eta
        dev_old = dev
        if done.any():
            converged[act[done]] = True
            keep = ~done
            act, y, ylogy, colf, cellf = act[keep], y[keep], ylogy[keep], colf[keep], cellf[keep]
            both, off, eta, mu, dev_old = both[keep], off[keep], eta[keep], mu[keep], dev_old[keep]
        if not len(act):
            break
    return coef_out, np.exp(eta_out) * cells, converged


def full_rank(x: np.ndarray, w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each model's columns have full rank on the cells with weight 1 (w is 0/1).

    The masked Gram matrix of a 0/1 design on 0/1 weights is an integer matrix, so it is
    singular exactly when its determinant is 0 and otherwise |det| >= 1: the LU
    determinant separates the two cases with room to spare.
    """
    sign, logdet = np.linalg.slogdet(gram(x, w, cols))
    return (sign != 0) & (logdet > np.log(0.5))


def _deviance(y: np.ndarray, mu: np.ndarray, cellf: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / np.maximum(mu, 1e-300)), 0.0)
    return 2.0 * ((term - (y - mu)) * cellf).sum(axis=-1)


def deviance(y: np.ndarray, mu: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Poisson deviance over the cells in each fit."""
    return _deviance(np.asarray(y, dtype=np.float64), mu, cells.astype(np.float64))


def mle_exists(x: np.ndarray, y: np.ndarray) -> tuple[bool, bool]:
    """Whether the MLE exists (finite) and is identifiable, for design x (cells x p) and counts y.

    The linear program of Fienberg & Rinaldo (2012), as SparseMSE's ``checkident``: maximise
    s subject to X'v = X'y and v_c >= s for every cell; the MLE exists if and only if the
    optimum is positive (the sufficient statistics are in the relative interior of the
    marginal cone).  Identifiable when X has full column rank.
    """
    from scipy.optimize import linprog

    identifiable = bool(np.linalg.matrix_rank(x) == x.shape[1])
    if (y > 0).all():
        return True, identifiable
    n = max(float(y.sum()), 1.0)
    t = x.T @ (y / n)  # scaled so that the tolerance on s is relative
    m, p = x.shape
    a_eq = np.hstack([x.T, np.zeros((p, 1))])
    a_ub = np.hstack([-np.eye(m), np.ones((m, 1))])  # s - v_c <= 0
    cost = np.zeros(m + 1)
    cost[-1] = -1.0
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(m), A_eq=a_eq, b_eq=t,
                  bounds=[(None, None)] * m + [(None, 1.0)], method="highs")
    exists = bool(res.status == 0 and -res.fun > 1e-9)
    return exists, identifiable
