"""Replicate weights for declared survey designs: JK1, JKn, BRR, Fay's BRR, Rao–Wu bootstrap.

Each builder returns a :class:`Replicates`: the ``n x R`` matrix of replicate weights (full
weights, already times the design weights) with what the variance formula needs, as R's
``svrepdesign`` keeps it: ``v = scale * sum_r rscales[r] * (theta_r - centre)**2``. The
matrices are built from PSU x replicate factors by fancy indexing, in R's column order
(``survey:::jk1weights``, ``jknweights``, ``brrweights`` with R's Hadamard matrices), so
they equal ``weights(as.svrepdesign(...), "analysis")``. Replicates can be re-calibrated one
by one (:func:`recalibrate`) or, for categorical margins, all at once on the small table of
margin-category combinations (:func:`recalibrate_margins`). Formulas and references:
``docs/methods/replicates.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.projects.design import ReplicateWeightsSpec
    from citizendata.stats.calibrate import Margin

__all__ = [
    "TYPES",
    "Replicates",
    "bootstrap",
    "brr",
    "calibrate_table",
    "from_columns",
    "hadamard",
    "jk1",
    "jkn",
    "recalibrate",
    "recalibrate_margins",
    "replicate_design",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TYPES = ("jk1", "jkn", "brr", "fay", "bootstrap", "other")
# R's svrepdesign(type=) for each of ours; the bootstrap is R's "subbootstrap" when R builds it,
# but svrepdesign reads any bootstrap's weights as type="bootstrap"
_R_TYPE = {"jk1": "JK1", "jkn": "JKn", "brr": "BRR", "fay": "Fay", "bootstrap": "bootstrap",
           "other": "other"}


def _invalid(message: str, fix: str | None = None, *, code: str = "design.replicates_invalid",
             field_name: str | None = None, **details: Any) -> BadInput:
    return BadInput(code, message, fix=fix, where=Where(field=field_name) if field_name else None,
                    details=details or None)


# -- the replicates ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # arrays: compare the weights explicitly, not with ==
class Replicates:
    """Replicate weights (n x R, full weights) and the constants of their variance formula."""

    weights: FloatArray
    type: str
    scale: float
    rscales: FloatArray
    mse: bool
    fay_rho: float = 0.0
    # why the replicates are as they are (builder, seed, re-calibration): kept with an export
    notes: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=float)
        rs = np.asarray(self.rscales, dtype=float).ravel()
        if w.ndim != 2:
            raise _invalid(f"replicate weights must be a matrix (units x replicates), got "
                           f"{w.ndim} dimension(s)")
        if self.type not in TYPES:
            raise _invalid(f"replicate type {self.type!r} is not one of {', '.join(TYPES)}")
        if rs.shape != (w.shape[1],):
            raise _invalid(f"{rs.size} rscales for {w.shape[1]} replicates; give one per "
                           "replicate")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise _invalid(f"scale {self.scale!r} must be a positive number")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "rscales", rs)

    @property
    def n_replicates(self) -> int:
        """R, the number of replicates."""
        return int(self.weights.shape[1])

    def variance(self, theta_r: npt.ArrayLike, theta: npt.ArrayLike) -> FloatArray | float:
        """``scale * sum_r rscales[r] (theta_r - centre)^2`` over the last axis (R's svrVar).

        The centre is ``theta`` (the full-sample estimate) when ``mse``, else the mean of the
        replicates with a positive rscale. A replicate whose estimate is NaN (an empty domain
        in that replicate) is left out of that estimate's variance, as R's ``na.omit`` does.
        """
        th = np.asarray(theta_r, dtype=float)
        if th.shape[-1:] != (self.n_replicates,):
            raise _invalid(f"replicate estimates have shape {th.shape}; the last axis must be "
                           f"the {self.n_replicates} replicates")
        ok = np.isfinite(th)
        rs = np.broadcast_to(self.rscales, th.shape)
        if self.mse:
            centre = np.asarray(theta, dtype=float)[..., None]
        else:
            use = ok & (rs > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                centre = (np.where(use, th, 0.0).sum(axis=-1, keepdims=True)
                          / use.sum(axis=-1, keepdims=True))
        dev2 = np.where(ok, (th - centre) ** 2, 0.0)
        v = self.scale * (dev2 * rs).sum(axis=-1)
        v = np.where(ok.any(axis=-1), v, np.nan)
        return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)

    def to_frame(self, prefix: str = "repw") -> pd.DataFrame:
        """The replicate weights as columns ``{prefix}1`` … ``{prefix}R`` (for an export)."""
        import pandas as pd

        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", prefix):
            raise _invalid(f"prefix {prefix!r} must be a letter then letters, digits or _")
        cols = [f"{prefix}{r + 1}" for r in range(self.n_replicates)]
        return pd.DataFrame(self.weights, columns=cols)

    def metadata(self, prefix: str = "repw", weight: str = "weight") -> dict[str, Any]:
        """What R's ``svrepdesign`` and Stata's ``svyset`` need to read an export of these weights.

        ``weight`` names the full-sample weight column and ``prefix`` the replicate columns of
        the exported file; the ``r`` and ``stata`` entries are commands that read it.
        """
        R = self.n_replicates
        rtype = _R_TYPE[self.type]
        rscales = [float(x) for x in self.rscales]
        meta: dict[str, Any] = {
            "type": self.type, "r_type": rtype, "replicates": R, "scale": float(self.scale),
            "rscales": rscales, "mse": bool(self.mse), "fay_rho": float(self.fay_rho),
            "combined_weights": True, "weight_column": weight,
            "replicate_columns": [f"{prefix}{r + 1}" for r in range(R)], **self.notes,
        }
        # R: scale and rscales given explicitly so no type-specific guess applies; BRR and Fay
        # take no scale (R derives 1/R and 1/(R (1-rho)^2), which is what ours is)
        if self.type in ("brr", "fay"):
            extra = f", rho = {self.fay_rho!r}" if self.type == "fay" else ""
            args = f'type = "{rtype}"{extra}'
        else:
            same = bool(np.all(self.rscales == self.rscales[0]))
            rs = (f"rep({rscales[0]!r}, {R})" if same
                  else "c(" + ", ".join(repr(x) for x in rscales) + ")")
            args = f'type = "{rtype}", scale = {float(self.scale)!r}, rscales = {rs}'
        meta["r"] = (f'des <- svrepdesign(data = d, weights = ~{weight}, '
                     f'repweights = "^{prefix}[0-9]+$", {args}, combined.weights = TRUE, '
                     f'mse = {"TRUE" if self.mse else "FALSE"})')
        # Stata: the jackknife form with one multiplier per replicate, scale * rscales[r], gives
        # R's variance for every type (all replicates in one stratum: the centre is their mean,
        # or the full-sample estimate with mse); untested here, as Stata is not at hand
        mult = " ".join(f"jkrweight({prefix}{r + 1}, multiplier({self.scale * rs:.17g}))"
                        for r, rs in enumerate(rscales))
        meta["stata"] = (f"svyset [pweight={weight}], {mult} "
                         f"vce(jackknife){' mse' if self.mse else ''}")
        return meta


# -- input checks --------------------------------------------------------------------


def _first_codes(x: npt.ArrayLike) -> tuple[IntArray, int]:
    """Codes 0..k-1 in order of first appearance (R's ``match(x, unique(x))``)."""
    a = np.asarray(x).ravel()
    _, first, inv = np.unique(a, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv.ravel()], int(first.size)


@dataclass(frozen=True)
class _Design:
    """Weights, and the PSUs in R's first-appearance order with their strata."""

    w: FloatArray
    psu: IntArray  # (n,) PSU index, first-appearance order
    m: int
    stratum_of_psu: IntArray  # (m,) stratum index (first-appearance order of strata)
    strata_labels: np.ndarray  # (H,) the given stratum codes, same order
    n_h: IntArray  # (H,) PSUs per stratum


def _design(design_weights: npt.ArrayLike, strata: npt.ArrayLike | None,
            psu: npt.ArrayLike | None) -> _Design:
    w = np.asarray(design_weights, dtype=float).ravel()
    n = w.size
    if n == 0:
        raise _invalid("the sample has no units")
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        raise _invalid(f"{int(bad.sum())} unit(s) have a design weight that is empty, not finite "
                       "or not positive", "design weights must be > 0")
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata).ravel()
    p = np.arange(n) if psu is None else np.asarray(psu).ravel()
    for name, a in (("strata", s), ("psu", p)):
        if a.shape != (n,):
            raise _invalid(f"{name} has {a.size} values for {n} units")
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise _invalid(f"{int(np.isnan(a).sum())} unit(s) have no {name} value",
                           "give every unit its stratum and PSU", code="design.missing_value")
    pcode, m = _first_codes(p)
    scode, _ = _first_codes(s)
    s_of_p = np.full(m, -1, dtype=np.int64)
    s_of_p[pcode] = scode
    clash = s_of_p[pcode] != scode
    if clash.any():
        bad_psu = np.unique(p[clash])[:5].tolist()
        raise _invalid(f"PSU(s) {bad_psu} appear in more than one stratum",
                       "PSU codes must be unique across the design (number them within strata "
                       "and declare nest: true)", code="design.not_nested")
    labels = s[np.unique(scode, return_index=True)[1]]
    return _Design(w, pcode, m, s_of_p, labels, np.bincount(s_of_p).astype(np.int64))


def _expand(d: _Design, factors: FloatArray) -> FloatArray:
    """n x R replicate weights from PSU x R factors (fancy indexing, no loop)."""
    out = np.asarray(factors[d.psu], dtype=float)
    out *= d.w[:, None]  # in place: one n x R matrix, not two
    return out


# -- jackknives ----------------------------------------------------------------------


def jk1(design_weights: npt.ArrayLike, psu: npt.ArrayLike | None,
        fpc: npt.ArrayLike | None = None, *, mse: bool = False) -> Replicates:
    """Delete-one-PSU jackknife ignoring strata: R = m replicates, scale (1-f)(m-1)/m (R's JK1).

    ``fpc`` (optional, one value for every unit) is the population number of PSUs (> 1) or
    the sampling fraction (<= 1), as R's ``jk1weights``.
    """
    d = _design(design_weights, None, psu)
    m = d.m
    if m < 2:
        raise _invalid("the jackknife needs at least two PSUs; this design has one")
    if fpc is not None and np.unique(np.asarray(fpc, dtype=float)).size > 1:
        # as R's jk1weights ("More than one fpc value given"): JK1 treats the design as one stratum
        raise _invalid("JK1 treats the whole design as one stratum, so it takes one fpc for "
                       "every PSU, but the fpc has several values",
                       "use the stratified jackknife (jkn) for a stratified design with an fpc "
                       "per stratum", code="design.fpc_invalid")
    corr = float(_fpc_correction(d, fpc)[0])
    if corr == 0.0:
        raise _invalid("every PSU was sampled (fpc): there is no sampling variance",
                       code="design.fpc_invalid")
    factors = np.full((m, m), m / (m - 1.0))
    np.fill_diagonal(factors, 0.0)
    return Replicates(_expand(d, factors), "jk1", corr * (m - 1.0) / m, np.ones(m), mse,
                      notes={"psus": m})


def _fpc_correction(d: _Design, fpc: npt.ArrayLike | None) -> FloatArray:
    """1 - f_h per stratum from an (n,) fpc: a value <= 1 a sampling fraction, > 1 a size."""
    if fpc is None:
        return np.ones(d.n_h.size)
    f = np.asarray(fpc, dtype=float).ravel()
    if f.shape != d.w.shape or not np.isfinite(f).all() or (f <= 0).any():
        raise _invalid("the fpc must be a positive number for every unit",
                       "give the population size (> 1) or sampling fraction (<= 1) of each "
                       "unit's stratum", code="design.fpc_invalid")
    s_unit = d.stratum_of_psu[d.psu]
    lo = np.full(d.n_h.size, np.inf)
    hi = np.full(d.n_h.size, -np.inf)
    np.minimum.at(lo, s_unit, f)
    np.maximum.at(hi, s_unit, f)
    varies = np.flatnonzero(lo != hi)
    if varies.size:
        raise _invalid(f"the fpc varies within stratum(s) {d.strata_labels[varies][:5].tolist()}",
                       "give one population size or sampling fraction per stratum",
                       code="design.fpc_invalid")
    frac = np.where(lo <= 1.0, lo, d.n_h / lo)
    small = np.flatnonzero(frac > 1.0 + 1e-12)
    if small.size:
        raise _invalid(f"stratum(s) {d.strata_labels[small][:5].tolist()} have a population "
                       "smaller than the number of sampled PSUs",
                       "check the fpc: it is the number of PSUs in the stratum's population",
                       code="design.fpc_invalid")
    return np.asarray(np.clip(1.0 - frac, 0.0, 1.0), dtype=float)


def jkn(design_weights: npt.ArrayLike, strata: npt.ArrayLike | None, psu: npt.ArrayLike | None,
        fpc: npt.ArrayLike | None = None, *, mse: bool = False) -> Replicates:
    """Delete-one-PSU jackknife within strata: rscales (n_h-1)/n_h x (1-f_h) (R's JKn).

    Replicates are in R's order (strata, then PSUs, by first appearance); strata sampled
    completely (f_h = 1) give no replicates, as with R's ``survey.drop.replicates``.
    """
    d = _design(design_weights, strata, psu)
    corr = _fpc_correction(d, fpc)
    lonely = np.flatnonzero((d.n_h < 2) & (corr > 0))
    if lonely.size:
        raise _invalid(f"stratum(s) {d.strata_labels[lonely][:10].tolist()} have one PSU: the "
                       "jackknife cannot delete it", "collapse each with a similar stratum, or "
                       "use the linearised variance with a lonely-PSU option",
                       code="design.lonely_psu", strata=d.strata_labels[lonely].tolist())
    # columns: PSUs sorted by (stratum, first appearance), keeping strata with 1 - f_h > 0
    order = np.lexsort((np.arange(d.m), d.stratum_of_psu))
    order = order[corr[d.stratum_of_psu[order]] > 0]
    if order.size == 0:
        raise _invalid("every stratum was sampled completely: there is no sampling variance")
    sh = d.stratum_of_psu  # (m,)
    nh = d.n_h.astype(float)
    col_stratum = sh[order]
    same = sh[:, None] == col_stratum[None, :]
    factors = np.where(same, (nh / np.maximum(nh - 1.0, 1.0))[sh][:, None], 1.0)
    factors[order, np.arange(order.size)] = 0.0
    rscales = (nh - 1.0) / nh * corr
    return Replicates(_expand(d, factors), "jkn", 1.0, rscales[col_stratum], mse,
                      notes={"psus": d.m, "strata": int(d.n_h.size)})


# -- balanced repeated replication ---------------------------------------------------

# R's survey:::hadamard.list beyond the Sylvester ones (4, 16): 28 x 28 and 36 x 36, 0/1 rows
_H28 = ("1111111111111111111111111111 1001110001110001110001111000 1000001111001101001101111000 "
        "1000001110110010111001100110 1001101000001111100011010110 1001010100101100010110101110 "
        "1000110011010010001110011110 0101100010101010011111110000 0100010110110101100111010100 "
        "0100011011001011110010101100 0101011000010111011101001010 0100101101100100111010011010 "
        "0101100101011001101100100110 0010110100011110101011101000 0011011001100110101100110100 "
        "0010101100111011010100011100 0011000111010111010010110010 0011001011111000100111001010 "
        "0010110011101101011001000110 1110101001010100010111100100 1111000101100011001011001100 "
        "1111000010011100111000011100 1110010101001010110101010010 1110011000111001001010110010 "
        "1110100010100111100100101010 1101111111111110000000000000 1011111110000001111110000000 "
        "0111111110000000000001111110")
_H36 = (
        "111111111111111111111111111111111111 010111000111110111001000010101100100 101110001111101110010000101011001000 "
        "011100011111011100100001010110010010 111000111110111001000010101100100100 110001111101110010000101011001001010 "
        "100011111011100100001010110010010110 000111110111001000010101100100101110 001111101110010000101011001001011100 "
        "011111011100100001010110010010111000 111110111001000010101100100101110000 111101110010000101011001001011100010 "
        "111011100100001010110010010111000110 110111001000010101100100101110001110 101110010000101011001001011100011110 "
        "011100100001010110010010111000111110 111001000010101100100101110001111100 110010000101011001001011100011111010 "
        "100100001010110010010111000111110110 001000010101100100101110001111101110 010000101011001001011100011111011100 "
        "100001010110010010111000111110111000 000010101100100101110001111101110010 000101011001001011100011111011100100 "
        "001010110010010111000111110111001000 010101100100101110001111101110010000 101011001001011100011111011100100000 "
        "010110010010111000111110111001000010 101100100101110001111101110010000100 011001001011100011111011100100001010 "
        "110010010111000111110111001000010100 100100101110001111101110010000101010 001001011100011111011100100001010110 "
        "010010111000111110111001000010101100 100101110001111101110010000101011000 001011100011111011100100001010110010 ")


def _bits(rows: Sequence[str]) -> npt.NDArray[np.int8]:
    return np.array([[int(c) for c in r] for r in rows], dtype=np.int8)


def _double(h: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """R's hadamard.doubler: [[H, H], [H, 1 - H]]."""
    return np.block([[h, h], [h, 1 - h]]).astype(np.int8)


def _precooked() -> list[npt.NDArray[np.int8]]:
    h4 = _bits(["1111", "1010", "1100", "1001"])
    return [h4, _double(_double(h4)), _bits(_H28.split()), _bits(_H36.split())]


_SIZES = (4, 16, 28, 36)
# R's paley() knows the primes p = 3 (mod 4) up to 7919
_PRIMES = np.array([p for p in range(3, 7920, 4)
                    if all(p % q for q in range(3, int(p ** 0.5) + 1, 2))], dtype=np.int64)


def _paley_prime(p: int) -> npt.NDArray[np.int8]:
    """Paley's construction from a prime p = 3 (mod 4), as R's survey:::paley."""
    i = np.arange(p)
    m = (i[:, None] + i[None, :]) % p
    residues = np.unique(np.r_[0, 1, (np.arange(2, (p - 1) // 2 + 1) ** 2) % p])
    core = np.where(np.isin(m, residues), 0, 1).astype(np.int8)
    out = np.ones((p + 1, p + 1), dtype=np.int8)
    out[1:, 1:] = core
    return out


def _paley(n: int, nmax: int | None = None) -> npt.NDArray[np.int8] | None:
    """R's survey:::paley(n, nmax): a Paley matrix of size >= n + 1, or None."""
    nmax = 2 * n if nmax is None else nmax
    nceil = nn = n + 4 - n % 4
    if n % 4 + 4 == n % 8:
        while nn % 8 == 0:
            nn //= 2
        if nn - 1 in _PRIMES:
            h = _paley_prime(nn - 1)
            while nn < nceil:
                h = _double(h)
                nn *= 2
            return h
    if n > _PRIMES[-1]:
        return None
    p = int(_PRIMES[np.searchsorted(_PRIMES, n)])
    if p + 1 > nceil + 4 and nceil + 4 < nmax:
        return _paley(nceil + 3)
    if p > nmax:
        return None
    return _paley_prime(p)


def hadamard(n: int) -> npt.NDArray[np.int8]:
    """The 0/1 Hadamard matrix R's ``survey:::hadamard(n)`` returns (at least n + 1 rows)."""
    pre = _precooked()
    m = n - n % 4
    fits = [i for i, s in enumerate(_SIZES) if m < s <= m + 4]
    if fits:
        return pre[min(fits)]
    if all(m < s for s in _SIZES):
        return pre[0]
    sizes = [s * 2 ** max(0, math.ceil(math.log2((n + 1) / s))) for s in _SIZES]
    best = int(np.argmin(np.array(sizes) - n))
    h = _paley(n, sizes[best]) if sizes[best] - n > 4 else None
    if h is None:
        h = pre[best]
        for _ in range(math.ceil(math.log2(sizes[best] / _SIZES[best]))):
            h = _double(h)
    return h


def brr(design_weights: npt.ArrayLike, strata: npt.ArrayLike, psu: npt.ArrayLike,
        fay_rho: float = 0.0, *, mse: bool = False) -> Replicates:
    """Balanced repeated replication (Fay's when ``fay_rho > 0``) for exactly 2 PSUs per stratum.

    As R's ``brrweights``: strata in sorted order take rows 2.. of ``hadamard(H)``; in
    replicate r the stratum's first PSU (by appearance) gets factor ``2 - rho`` when the
    entry is 1, else ``rho`` (the second PSU the other); scale 1/R (BRR) or
    1/(R (1 - rho)^2) (Fay).
    """
    if not 0.0 <= fay_rho < 1.0:
        raise _invalid(f"fay_rho {fay_rho!r} must be in [0, 1)", "Fay's rho is usually 0.3 or 0.5")
    if strata is None:
        raise _invalid("BRR needs strata with two PSUs each", "declare the strata (pairs)")
    d = _design(design_weights, strata, psu)
    odd = np.flatnonzero(d.n_h != 2)
    if odd.size:
        if d.n_h.size == 1:
            what = f"the design has one stratum of {int(d.n_h[0]):,} PSUs"
        else:
            listing = ", ".join(f"{lab} ({k} PSUs)" for lab, k in
                                zip(d.strata_labels[odd][:10].tolist(), d.n_h[odd][:10].tolist(),
                                    strict=True))
            what = (f"{odd.size:,} of its {d.n_h.size:,} strata do not: {listing}"
                    + (" …" if odd.size > 10 else ""))
        raise _invalid(f"BRR needs strata of exactly two PSUs; {what}",
                       "pair the PSUs into strata of two (or use jkn or the bootstrap, which "
                       "take any number)", strata=d.strata_labels[odd].tolist())
    nstrata = d.n_h.size
    # R sorts the strata (their labels) and takes each stratum's PSUs in order of appearance
    rank = np.empty(nstrata, dtype=np.int64)
    rank[np.argsort(d.strata_labels, kind="stable")] = np.arange(nstrata)
    h_of_psu = rank[d.stratum_of_psu]
    pos = np.zeros(d.m, dtype=np.int64)
    order = np.lexsort((np.arange(d.m), h_of_psu))
    pos[order[1::2]] = 1
    H = hadamard(nstrata)
    a = pos[:, None] ^ H[1 + h_of_psu, :].astype(np.int64)  # 1: this half-sample is in
    factors = np.where(a == 1, 2.0 - fay_rho, fay_rho)
    R = H.shape[1]
    kind = "fay" if fay_rho > 0 else "brr"
    scale = 1.0 / (R * (1.0 - fay_rho) ** 2)
    return Replicates(_expand(d, factors), kind, scale, np.ones(R), mse, fay_rho,
                      notes={"psus": d.m, "strata": nstrata})


# -- bootstrap -----------------------------------------------------------------------


def bootstrap(design_weights: npt.ArrayLike, strata: npt.ArrayLike | None,
              psu: npt.ArrayLike | None, replicates: int = 200, seed: int = 0, *,
              mse: bool = False) -> Replicates:
    """Rao–Wu (1988) rescaling bootstrap: n_h - 1 PSUs drawn with replacement per stratum.

    A PSU drawn k times gets factor ``k n_h / (n_h - 1)`` (R's ``subbootweights``), so the
    variance of a total is unbiased for the with-replacement variance; scale 1/(R - 1),
    rscales 1, centred at the replicates' mean unless ``mse`` (R's default is not).
    """
    if replicates < 2:
        raise _invalid(f"{replicates} bootstrap replicate(s): need at least 2",
                       "use 200 or more replicates")
    d = _design(design_weights, strata, psu)
    lonely = np.flatnonzero(d.n_h < 2)
    if lonely.size:
        raise _invalid(f"stratum(s) {d.strata_labels[lonely][:10].tolist()} have one PSU: the "
                       "bootstrap cannot resample it", "collapse each with a similar stratum",
                       code="design.lonely_psu", strata=d.strata_labels[lonely].tolist())
    # PSUs grouped by stratum: start of each stratum's block, and every draw's stratum
    order = np.lexsort((np.arange(d.m), d.stratum_of_psu))
    starts = np.r_[0, np.cumsum(d.n_h)[:-1]]
    draws_h = np.repeat(np.arange(d.n_h.size), d.n_h - 1)  # n_h - 1 draws in stratum h
    rng = np.random.default_rng(seed)
    u = rng.random((replicates, draws_h.size))
    picked = order[starts[draws_h] + np.minimum((u * d.n_h[draws_h]).astype(np.int64),
                                                d.n_h[draws_h] - 1)]
    counts = np.bincount((picked + d.m * np.arange(replicates)[:, None]).ravel(),
                         minlength=d.m * replicates).reshape(replicates, d.m).T
    nh = d.n_h[d.stratum_of_psu].astype(float)
    factors = counts * (nh / (nh - 1.0))[:, None]
    return Replicates(_expand(d, factors), "bootstrap", 1.0 / (replicates - 1.0),
                      np.ones(replicates), mse,
                      notes={"psus": d.m, "strata": int(d.n_h.size), "seed": seed,
                             "method": "Rao-Wu rescaling bootstrap (n_h - 1 draws)"})


# -- a survey's own replicate weights -----------------------------------------------


def _replicate_columns(data: pd.DataFrame, columns: list[str] | str) -> list[str]:
    if isinstance(columns, str):
        pat = re.compile(re.escape(columns) + r"(\d+)$")
        found = [(int(mt.group(1)), c) for c in map(str, data.columns)
                 if (mt := pat.match(c))]
        if not found:
            raise _invalid(f"no column is named {columns!r} followed by a number",
                           "give the replicate columns' prefix (repw for repw1, repw2, …) or "
                           "list them", field_name=columns)
        return [c for _, c in sorted(found)]
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise _invalid(f"the data have no replicate weight column(s) {missing[:5]}",
                       field_name=missing[0])
    return list(columns)


def from_columns(data: pd.DataFrame, spec: ReplicateWeightsSpec,
                 design_weights: npt.ArrayLike | None = None) -> Replicates:
    """A survey's own replicate weights, with scale and rscales defaulting as R's svrepdesign."""
    import pandas as pd

    cols = _replicate_columns(data, spec.columns)
    W = data[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(W) | (W < 0)
    if bad.any():
        c = cols[int(np.flatnonzero(bad.any(axis=0))[0])]
        raise _invalid(f"{int(bad.sum())} replicate weight value(s) are empty, not numbers or "
                       f"negative (first in column {c!r})", field_name=c)
    R = W.shape[1]
    if R < 2:
        raise _invalid(f"{R} replicate weight column: need at least 2")
    multipliers = W
    if not spec.combined_weights:
        if design_weights is None:
            raise _invalid("the replicate columns are multipliers (combined_weights: false) "
                           "but no design weights were given", "declare the design weights")
        dw = np.asarray(design_weights, dtype=float).ravel()
        if dw.shape != (W.shape[0],):
            raise _invalid(f"{dw.size} design weights for {W.shape[0]} rows")
        W = W * dw[:, None]
    if spec.type == "fay" and spec.fay_rho <= 0:
        raise _invalid("type fay needs fay_rho > 0", "give the survey's Fay coefficient")
    rscales = (np.ones(R) if spec.rscales is None
               else np.asarray(spec.rscales, dtype=float).ravel())
    if rscales.size == 1:
        rscales = np.full(R, float(rscales[0]))
    if rscales.size != R:
        raise _invalid(f"{rscales.size} rscales for {R} replicate columns")
    if spec.type == "jkn" and spec.rscales is None:
        if spec.combined_weights:
            raise _invalid("JKn replicate weights need their rscales ((n_h - 1)/n_h for the "
                           "stratum each replicate deletes from)", "give rscales, one per column")
        rscales = 1.0 / multipliers.max(axis=0)  # as R: guessed from the multipliers
    scale = _default_scale(spec.type, spec.scale, R, spec.fay_rho, spec.combined_weights,
                           multipliers)
    return Replicates(W, spec.type, scale, rscales, spec.mse,
                      spec.fay_rho if spec.type == "fay" else 0.0,
                      notes={"columns": cols[:3] + (["…"] if R > 3 else [])})


def _default_scale(kind: str, given: float | None, R: int, rho: float, combined: bool,
                   multipliers: FloatArray) -> float:
    """R's svrepdesign defaults: BRR 1/R, Fay 1/(R (1-rho)^2), bootstrap 1/(R-1), JK1 (R-1)/R."""
    if kind == "brr":
        return 1.0 / R
    if kind == "fay":
        return 1.0 / (R * (1.0 - rho) ** 2)
    if given is not None:
        return float(given)
    if kind == "bootstrap":
        return 1.0 / (R - 1.0)
    if kind == "jk1":
        return (R - 1.0) / R if combined else float(1.0 / multipliers[:, 0].max())
    return 1.0


# -- re-calibration ------------------------------------------------------------------


def recalibrate(rep: Replicates, fn: Callable[[FloatArray], npt.ArrayLike]) -> Replicates:
    """Each replicate's weights passed through ``fn`` (a calibration); zero weights stay 0.

    ``fn`` maps one replicate's weight vector (n,) to calibrated weights (n,), e.g.
    ``citizendata.stats.variance.recalibrator(sample, margins)``, which calibrates only the
    units with a positive weight. One call per replicate, never per unit.
    """
    W = rep.weights
    out = np.empty_like(W)
    for r in range(W.shape[1]):
        col = np.asarray(fn(W[:, r]), dtype=float)
        if col.shape != (W.shape[0],):
            raise _invalid(f"re-calibration gave {col.shape} weights for {W.shape[0]} units")
        out[:, r] = np.where(W[:, r] > 0, col, 0.0)
    return Replicates(out, rep.type, rep.scale, rep.rscales, rep.mse, rep.fay_rho,
                      {**rep.notes, "recalibrated": True})


def _combinations(X: FloatArray) -> tuple[IntArray, FloatArray]:
    """Each unit's combination of margin categories (codes) and the K x p distinct rows."""
    p = X.shape[1]
    if p < 63:
        key = (X > 0.5).astype(np.int64) @ (np.int64(1) << np.arange(p, dtype=np.int64))
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        return inv.ravel().astype(np.int64), X[first]
    rows, inv = np.unique(X, axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64), rows


def _solve_table(Xk: FloatArray, D: FloatArray, T: FloatArray, method: str, max_iter: int,
                 tol: float) -> tuple[FloatArray, int, float]:
    """g (K x R) calibrating every column of D (K x R) to T at once: batched damped Newton.

    The dual of the calibration, ``sum_k D_k Phi(x_k' lam) - lam' T``, is minimised for all
    replicates together; a step that does not lower a replicate's dual is halved.
    """
    p = Xk.shape[1]
    R = D.shape[1]
    raking = method == "raking"

    def F(u: FloatArray) -> FloatArray:
        return np.exp(u) if raking else 1.0 + u

    def dF(u: FloatArray) -> FloatArray:
        return np.exp(u) if raking else np.ones_like(u)

    def dual(lam: FloatArray) -> FloatArray:
        u = Xk @ lam  # K x R
        phi = np.exp(u) if raking else u + 0.5 * u * u
        return np.asarray((D * phi).sum(axis=0) - T @ lam, dtype=float)

    lam = np.zeros((p, R))
    scale = np.maximum(np.abs(T), 1e-300)
    err = np.inf
    for it in range(1, max_iter + 1):
        u = Xk @ lam
        resid = T[:, None] - Xk.T @ (D * F(u))  # p x R
        err = float(np.max(np.abs(resid) / scale[:, None]))
        if err <= tol:
            return F(u), it - 1, err
        J = np.einsum("kp,kr,kq->rpq", Xk, D * dF(u), Xk)
        step = np.einsum("rpq,qr->pr", np.linalg.pinv(J, hermitian=True), resid)
        f0 = dual(lam)
        t = np.ones(R)
        for _ in range(40):
            trial = lam + step * t
            worse = dual(trial) > f0 + 1e-12 * np.abs(f0)
            if not worse.any():
                break
            t = np.where(worse, t / 2.0, t)
        lam = lam + step * t
    u = Xk @ lam
    resid = T[:, None] - Xk.T @ (D * F(u))
    return F(u), max_iter, float(np.max(np.abs(resid) / scale[:, None]))


def calibrate_table(counts: npt.ArrayLike, X: npt.ArrayLike, totals: npt.ArrayLike, *,
                    method: str = "raking", max_iter: int = 100, tol: float = 1e-12,
                    margin_rtol: float = 1e-6) -> FloatArray:
    """g (K x R) calibrating each column of ``counts`` (K x R weight sums) to ``totals``.

    ``X`` (K x p) is the 0/1 margin-category indicator of each of the K combinations; a
    combination's calibrated weight sum in replicate r is ``g[k, r] * counts[k, r]``. This is
    the small-table step of :func:`recalibrate_margins`, public for callers that keep their
    replicates factored (PSU x replicate factors and per-cell sums) instead of n x R.
    """
    if method not in ("raking", "linear"):
        raise _invalid(f"the combination fast path takes method raking or linear, not "
                       f"{method!r}", "use recalibrate() with calibrate() for logit or bounds")
    D = np.asarray(counts, dtype=float)
    D = D[:, None] if D.ndim == 1 else D
    Xk = np.asarray(X, dtype=float)
    T = np.asarray(totals, dtype=float).ravel()
    if Xk.shape[0] != D.shape[0] or Xk.shape[1] != T.size:
        raise _invalid(f"counts {D.shape}, X {Xk.shape} and totals {T.shape} do not fit")
    g, iterations, err = _solve_table(Xk, D, T, method, max_iter, tol)
    if not err <= margin_rtol:
        raise BadInput("calibration.not_converged",
                       f"re-calibrating the replicates did not reach the margins in "
                       f"{iterations} iteration(s): the largest relative margin error is "
                       f"{err:.3g}", fix="collapse small categories, or use fewer margins "
                       "(a replicate may have lost every unit of a category)",
                       details={"max_rel_error": err, "iterations": iterations})
    return g


def recalibrate_margins(rep: Replicates, sample: pd.DataFrame, margins: Sequence[Margin], *,
                        method: str = "raking", max_iter: int = 100, tol: float = 1e-12,
                        margin_rtol: float = 1e-6, block: int = 65536,
                        inplace: bool = False) -> Replicates:
    """Every replicate raked (or linearly calibrated) to categorical margins, all at once.

    The calibrated g of a unit depends only on its combination of margin categories, so each
    replicate's weights are summed over the K combinations, the K x R table is calibrated
    for all replicates together and g is expanded back: the same weights as calibrating
    each replicate on its own (:func:`recalibrate` with ``calibrate``), far faster.
    Post-stratification is the case of one margin. ``inplace`` overwrites ``rep.weights``
    instead of allocating a second n x R matrix (which costs more than the arithmetic).
    """
    from scipy import sparse

    from citizendata.stats.calibrate import model_matrix

    W = rep.weights
    n = W.shape[0]
    if len(sample) != n:
        raise _invalid(f"the sample has {len(sample)} units, the replicate weights {n}")
    X, _, T = model_matrix(sample, margins)
    k, Xk = _combinations(np.asarray(X, dtype=float))
    K = Xk.shape[0]
    C = sparse.csr_matrix((np.ones(n), (k, np.arange(n))), shape=(K, n))
    D = np.asarray(C @ W)  # K x R: each replicate's weight in each combination
    g = calibrate_table(D, Xk, T, method=method, max_iter=max_iter, tol=tol,
                        margin_rtol=margin_rtol)
    out = W if inplace else np.empty_like(W)
    for start in range(0, n, block):  # blocks of rows keep the temporary g[k] small
        sl = slice(start, start + block)
        np.multiply(W[sl], g[k[sl]], out=out[sl])
    return Replicates(out, rep.type, rep.scale, rep.rscales, rep.mse, rep.fay_rho,
                      {**rep.notes, "recalibrated": method, "combinations": K})


# -- dispatch ------------------------------------------------------------------------

_Builder = Callable[..., Replicates]
_BUILDERS: dict[str, _Builder] = {
    "jk1": lambda w, s, p, **k: jk1(w, p, k["fpc"], mse=k["mse"]),
    "jkn": lambda w, s, p, **k: jkn(w, s, p, k["fpc"], mse=k["mse"]),
    "brr": lambda w, s, p, **k: brr(w, s, p, 0.0, mse=k["mse"]),
    "fay": lambda w, s, p, **k: brr(w, s, p, k["fay_rho"], mse=k["mse"]),
    "bootstrap": lambda w, s, p, **k: bootstrap(w, s, p, k["replicates"], k["seed"],
                                                mse=k["mse"]),
}


def replicate_design(design_weights: npt.ArrayLike, strata: npt.ArrayLike | None,
                     psu: npt.ArrayLike | None, type: str, *, replicates: int = 200,
                     seed: int = 0, fay_rho: float = 0.5, fpc: npt.ArrayLike | None = None,
                     mse: bool = False) -> Replicates:
    """Replicate weights of the given type (jk1, jkn, brr, fay, bootstrap) for a design."""
    builder = _BUILDERS.get(type)
    if builder is None:
        raise _invalid(f"replicate type {type!r} is not one of {', '.join(_BUILDERS)}",
                       "choose jk1, jkn, brr, fay or bootstrap", field_name="variance")
    if fpc is not None and type not in ("jk1", "jkn"):
        raise _invalid(f"an fpc cannot be used with {type} replicates (R refuses it too)",
                       "use jkn or jk1, or the linearised variance, for a design with an fpc",
                       code="design.fpc_invalid")
    return builder(design_weights, strata, psu, replicates=replicates, seed=seed,
                   fay_rho=fay_rho, fpc=fpc, mse=mse)
