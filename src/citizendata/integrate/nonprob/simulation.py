"""Monte Carlo check of the estimators from a known population: bias, RMSE and interval coverage.

Each replicate draws a citizen (non-probability) sample and a reference probability
sample from one fixed finite population, estimates with every method and compares
with the population's true mean. Two populations:

* ``synthetic``: ``N = 20,000`` units with ``x1, x2 ~ N(0, 1)``, a category ``g``
  (a/b/c, shares .5/.3/.2) and ``y = 1 + x1 + x2 + 0.5[g=b] - 0.5[g=c] + e``,
  ``e ~ N(0, 1)``; the reference survey is stratified by ``g`` (200 units per stratum,
  unequal weights); the citizen sample is Poisson with logistic propensity
  ``a + 0.5 x1 + 0.5 x2 + 0.3[g=b]`` (about 1,000 units). The scenarios:

  - ``a``: both models right (all three covariates in each);
  - ``b``: the outcome model leaves out ``x2`` (wrong), the propensity model is right;
  - ``c``: the propensity model leaves out ``x2`` (wrong), the outcome model is right;
  - ``d``: selection depends on ``y`` itself (logit ``a + 0.6 y``): not ignorable.

* ``kenya``: the scenario's population, its citizen sample (selection on ward and age
  group, :func:`submissions.draw_sample`) and the DHS-like survey (:mod:`dhs`), births
  as units; both models on ward, age group (35-49 merged) and disability status;
  ``kenya_ward`` the same, estimated in each ward (domains).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from citizendata.integrate.nonprob._design import Prepared
from citizendata.integrate.nonprob.estimate import METHODS, estimate_domains, estimate_prepared

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SCENARIOS", "citizen_selection_size", "draw_citizen", "run", "summarise"]

SCENARIOS: dict[str, str] = {
    "a": "selection on x, both models right",
    "b": "outcome model wrong (omits x2), propensity right",
    "c": "propensity model wrong (omits x2), outcome right",
    "d": "selection on y (not ignorable)",
    "kenya": "Kenya: citizen sample (ward, age) + DHS-like survey",
    "kenya_ward": "Kenya, in each of the nine wards (domains, pooled)",
}
_Z = 1.959963984540054
_N = 20_000
_PER_STRATUM = 200
_N_A = 1_000


def _dummies(codes: np.ndarray, k: int) -> np.ndarray:
    """Indicator columns of codes 1..k-1 (code 0 is the reference category)."""
    return (codes[:, None] == np.arange(1, k)[None, :]).astype(float)


def _alpha(lin: np.ndarray, n: int) -> float:
    """Intercept giving ``n`` expected units under logistic Poisson sampling (bisection)."""
    lo, hi = -30.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if np.sum(1 / (1 + np.exp(-(mid + lin)))) > n:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def _synthetic(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(_N), rng.standard_normal(_N)
    g = rng.choice(3, size=_N, p=[0.5, 0.3, 0.2])
    gd = _dummies(g, 3)
    y = 1 + x1 + x2 + 0.5 * gd[:, 0] - 0.5 * gd[:, 1] + rng.standard_normal(_N)
    one = np.ones(_N)
    full = np.column_stack([one, x1, x2, gd])
    short = np.column_stack([one, x1, gd])
    lin_x = 0.5 * x1 + 0.5 * x2 + 0.3 * gd[:, 0]
    lin_y = 0.6 * y
    pi_x = 1 / (1 + np.exp(-(_alpha(lin_x, _N_A) + lin_x)))
    pi_y = 1 / (1 + np.exp(-(_alpha(lin_y, _N_A) + lin_y)))
    return {"y": y, "g": g, "full": full, "short": short, "pi_x": pi_x, "pi_y": pi_y,
            "truth": float(y.mean()), "members": [np.flatnonzero(g == h) for h in range(3)]}


def _stratified(rng: np.random.Generator, g: np.ndarray, members: list[np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Stratified SRS of ``_PER_STRATUM`` per stratum of ``g``: positions and weights."""
    pos = np.concatenate([m[rng.choice(m.size, _PER_STRATUM, replace=False)] for m in members])
    return pos, np.bincount(g)[g[pos]] / _PER_STRATUM


def _synthetic_rep(pop: dict[str, Any], scenario: str, rng: np.random.Generator) -> Prepared:
    pi = pop["pi_y"] if scenario == "d" else pop["pi_x"]
    a = np.flatnonzero(rng.random(pi.size) < pi)
    b, d = _stratified(rng, pop["g"], pop["members"])
    xp = pop["short"] if scenario == "c" else pop["full"]
    xo = pop["short"] if scenario == "b" else pop["full"]
    return Prepared(xa_p=xp[a], xb_p=xp[b], xa_o=xo[a], xb_o=xo[b], names_p=[], names_o=[],
                    y=pop["y"][a], d=d, strata=pop["g"][b], psu=np.arange(b.size), binary=False)


def _kenya(seed: int) -> dict[str, Any]:
    from citizendata.scenarios.kenya_maternal_health import dhs

    women, births = dhs.population(seed)
    age = births["age_group"].replace({"40-44": "35-49", "45-49": "35-49", "35-39": "35-49"})
    ward_c = np.unique(births["ward"].to_numpy().astype(str), return_inverse=True)[1]
    age_c = np.unique(age.to_numpy().astype(str), return_inverse=True)[1]
    dis = (births["disability_status"] == "disability").to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(births)), _dummies(ward_c, int(ward_c.max()) + 1),
                         _dummies(age_c, int(age_c.max()) + 1), dis])
    y = births["skilled"].to_numpy(dtype=float)
    return {"women": women, "x": x, "y": y, "ward": ward_c,
            "frame": dhs.frame_arrays(seed), "truth": float(births["skilled"].mean()),
            "ward_truth": np.bincount(ward_c, weights=y) / np.bincount(ward_c),
            "size": citizen_selection_size(women)}


def citizen_selection_size(women: pd.DataFrame) -> np.ndarray:
    """The size measure of :func:`submissions.draw_sample` (ward access times age factor).

    Computed once so that replicates need not map 40,000 labels each time; the tests
    check that drawing with it gives the very rows ``draw_sample`` gives.
    """
    from citizendata.scenarios.kenya_maternal_health.geography import WARDS
    from citizendata.scenarios.kenya_maternal_health.submissions import _AGE_FACTOR

    ward_factor = {w.name: np.exp(-w.mean_distance_km / 20.0) for w in WARDS}
    wards, wi = np.unique(women["ward"].to_numpy().astype(str), return_inverse=True)
    ages, ai = np.unique(women["age_group"].to_numpy().astype(str), return_inverse=True)
    by_ward = np.array([ward_factor[w] for w in wards.tolist()])
    by_age = np.array([_AGE_FACTOR.get(a, 1.0) for a in ages.tolist()])
    return np.asarray(by_ward[wi] * by_age[ai])


def draw_citizen(rng: np.random.Generator, size: np.ndarray, n: int) -> np.ndarray:
    """The rows :func:`submissions.draw_sample` draws, from its precomputed size measure."""
    return np.asarray(rng.choice(size.size, size=n, replace=False, p=size / size.sum()))


def _kenya_rep(pop: dict[str, Any], rng: np.random.Generator, n: int) -> Prepared:
    from citizendata.scenarios.kenya_maternal_health import dhs

    women = pop["women"]
    a = dhs.births_of(np.sort(draw_citizen(rng, pop["size"], n)), women)
    s = dhs.draw_dhs_rows(rng, pop["frame"])
    b = dhs.births_of(s["rows"], women)
    nb = women["births_count"].to_numpy()[s["rows"]]
    d = np.repeat(s["weight"], nb)
    ea = np.repeat(s["ea"], nb)
    x = pop["x"]
    wards = [str(k) for k in range(pop["ward_truth"].size)]
    return Prepared(xa_p=x[a], xb_p=x[b], xa_o=x[a], xb_o=x[b], names_p=[], names_o=[],
                    y=pop["y"][a], d=d, strata=pop["frame"].ea_ward[ea],
                    psu=np.unique(ea, return_inverse=True)[1], binary=True, by="ward",
                    domains=wards, dom_a=pop["ward"][a], dom_b=pop["ward"][b])


def run(scenario: str, reps: int, seed: int = 20261207, *, kenya_n: int = 4998) -> pd.DataFrame:
    """Estimates, standard errors and truth of every method in ``reps`` replicates (long table).

    ``kenya_ward`` gives one row per ward too (column ``domain``), each with its own truth.
    """
    import pandas as pd

    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")
    kenya = scenario.startswith("kenya")
    pop = _kenya(20260301) if kenya else _synthetic(seed)
    rng = np.random.default_rng([seed, list(SCENARIOS).index(scenario)])
    rows = []
    for r in range(reps):  # each replicate is vectorised; the loop is over replicates only
        prep = _kenya_rep(pop, rng, kenya_n) if kenya else _synthetic_rep(pop, scenario, rng)
        found, fits = estimate_prepared(prep, METHODS)
        if scenario == "kenya_ward":
            for k, by_method in enumerate(estimate_domains(prep, METHODS, fits).values()):
                rows += [(r, m, k, est, se, pop["ward_truth"][k])
                         for m, (est, se) in by_method.items()]
        else:
            rows += [(r, m, -1, est, se, pop["truth"]) for m, (est, se) in found.items()]
    return pd.DataFrame(rows, columns=["rep", "method", "domain", "estimate", "se", "truth"])


def summarise(long: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, coverage of the 95% interval and mean SE over the empirical SD, per method.

    With several domains, bias, RMSE and coverage pool them and the SE ratio is their mean.
    """
    import pandas as pd

    err = long["estimate"] - long["truth"]
    cover = (err.abs() <= _Z * long["se"]).astype(float)
    t = long.assign(err=err, err2=err ** 2, cover=cover)
    g = t.groupby("method", sort=False)
    per = t.groupby(["method", "domain"], sort=False)
    ratio = (per["se"].mean() / per["estimate"].std(ddof=1)).groupby(level=0, sort=False).mean()
    out = pd.DataFrame({
        "bias": g["err"].mean(),
        "rmse": np.sqrt(g["err2"].mean()),
        "coverage": g["cover"].mean(),
        "se_ratio": ratio,
        "reps": g.size(),
    })
    return out.reindex([m for m in METHODS if m in out.index])
