"""Agreement between validators: Cohen's kappa for two, Fleiss' kappa for several.

Used by the quality scorecard: when several validators decide on the same
submissions, their agreement beyond chance says how repeatable the review is.

Cohen (1960), two raters, categories j:
    p_o = Σ_j n_jj / n,   p_e = Σ_j (n_j· / n)(n_·j / n),   κ = (p_o − p_e) / (1 − p_e)
with the large-sample standard error of Fleiss, Cohen and Everitt (1969) for κ ≠ 0.

Fleiss (1971), N subjects each rated by the same number m of raters into k categories,
n_ij raters putting subject i in category j:
    P_i = (Σ_j n_ij² − m) / (m(m − 1)),   P̄ = mean P_i,   p_j = Σ_i n_ij / (N m)
    P̄_e = Σ_j p_j²,   κ = (P̄ − P̄_e) / (1 − P̄_e)
with the standard error under κ = 0 given by Fleiss, Nee and Landis (1979).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from citizendata.errors import BadInput

__all__ = ["Kappa", "cohen_kappa", "fleiss_counts", "fleiss_kappa"]

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Kappa:
    """A kappa with its standard error, 95% interval and the counts behind it."""

    kappa: float
    se: float
    ci_low: float
    ci_high: float
    observed: float  # observed agreement
    expected: float  # agreement expected by chance
    n_subjects: int
    n_raters: int


def _interval(kappa: float, se: float) -> tuple[float, float]:
    return kappa - _Z95 * se, kappa + _Z95 * se


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> Kappa:
    """Cohen's kappa of two validators' decisions on the same submissions."""
    if len(first) != len(second):
        raise BadInput("input.invalid", "The two validators must rate the same submissions "
                       f"({len(first)} and {len(second)} decisions given).")
    n = len(first)
    if n == 0:
        raise BadInput("input.invalid", "No decisions to compare.")
    cats = sorted(set(first) | set(second), key=repr)
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    np.add.at(table, ([index[a] for a in first], [index[b] for b in second]), 1)
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    po, pe = float(np.trace(p)), float(rows @ cols)
    if pe >= 1.0:
        # both validators used one and the same category throughout: agreement is perfect
        # but chance explains all of it, so kappa is undefined
        raise BadInput("input.invalid", "Kappa is undefined: both validators gave every "
                       "submission the same single decision.")
    kappa = (po - pe) / (1 - pe)
    # Fleiss, Cohen & Everitt (1969), eq. 13
    diag = sum(p[i, i] * ((1 - pe) - (rows[i] + cols[i]) * (1 - po)) ** 2
               for i in range(len(cats)))
    off = (1 - po) ** 2 * sum(p[i, j] * (cols[i] + rows[j]) ** 2
                              for i in range(len(cats)) for j in range(len(cats)) if i != j)
    last = (po * pe - 2 * pe + po) ** 2
    var = max(diag + off - last, 0.0) / (n * (1 - pe) ** 4)
    se = math.sqrt(var)
    lo, hi = _interval(kappa, se)
    return Kappa(kappa, se, lo, hi, po, pe, n, 2)


def fleiss_counts(decisions: Sequence[tuple[Hashable, Hashable]]) -> np.ndarray:
    """The subjects × categories count matrix from (subject, category) pairs, one per rating."""
    subjects = sorted({s for s, _ in decisions}, key=repr)
    cats = sorted({c for _, c in decisions}, key=repr)
    si = {s: i for i, s in enumerate(subjects)}
    ci = {c: i for i, c in enumerate(cats)}
    counts = np.zeros((len(subjects), len(cats)))
    np.add.at(counts, ([si[s] for s, _ in decisions], [ci[c] for _, c in decisions]), 1)
    return counts


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[float]]) -> Kappa:
    """Fleiss' kappa from a subjects × categories matrix of rating counts."""
    n_ij = np.asarray(counts, dtype=float)
    if n_ij.ndim != 2 or n_ij.shape[0] == 0:
        raise BadInput("input.invalid", "Give one row of category counts per submission.")
    m_per = n_ij.sum(axis=1)
    m = float(m_per[0])
    if m < 2 or not np.all(m_per == m):
        raise BadInput("input.invalid", "Fleiss' kappa needs the same number (at least 2) of "
                       "validators for every submission; "
                       f"found {sorted(set(m_per.astype(int).tolist()))}.")
    n_subj = n_ij.shape[0]
    p_j = n_ij.sum(axis=0) / (n_subj * m)
    p_i = ((n_ij ** 2).sum(axis=1) - m) / (m * (m - 1))
    p_bar, pe = float(p_i.mean()), float((p_j ** 2).sum())
    if pe >= 1.0:
        raise BadInput("input.invalid", "Kappa is undefined: every rating is the same decision.")
    kappa = (p_bar - pe) / (1 - pe)
    q_j = 1 - p_j
    s = float((p_j * q_j).sum())
    # Fleiss, Nee & Landis (1979): standard error under the hypothesis kappa = 0
    var = 2 / (n_subj * m * (m - 1)) * (s ** 2 - float((p_j * q_j * (q_j - p_j)).sum())) / s ** 2
    se = math.sqrt(max(var, 0.0))
    lo, hi = _interval(kappa, se)
    return Kappa(kappa, se, lo, hi, p_bar, pe, n_subj, int(m))
