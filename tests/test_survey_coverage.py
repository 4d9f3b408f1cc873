"""Coverage of 95% t intervals under a stratified cluster design, from a known population.

A finite population of 20 strata with 10-20 clusters (PSUs) each; every sample takes 2-4
PSUs per stratum without replacement (fpc declared) and all their units. For each of
2,000 samples the estimates and their linearised variances are computed at once: the PSU
totals of the influence values of every sample are the columns of one matrix handed to
``psu_totals_variance`` (diag), the same function ``survey_estimate`` uses; the raked
estimate is raked on the table of margin cells. The first samples are checked against
``survey_estimate`` itself, so the fast path is the public engine. The coverage table is
printed and recorded in docs/methods/variance.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as t_dist

from citizendata.survey import psu_totals_variance, survey_estimate

SEED, REPS, H = 20261207, 2000, 20


def population() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    M_h = rng.integers(10, 21, H)  # PSUs in each stratum's population
    n_h = rng.integers(2, 5, H)  # PSUs sampled in each stratum
    stratum = np.repeat(np.arange(H), M_h)
    M = len(stratum)
    size = rng.integers(15, 41, M)  # units per PSU
    psu = np.repeat(np.arange(M), size)
    N = len(psu)
    a = rng.integers(0, 3, N)  # age group (margin 1)
    b = rng.integers(0, 2, N)  # sex (margin 2)
    effect = rng.normal(0, 8, M)[psu] + 3.0 * stratum[psu] / H
    y = 50 + effect + 6.0 * a + 4.0 * b + rng.normal(0, 10, N)
    z = (rng.random(N) < 1 / (1 + np.exp(-(-0.9 + 0.05 * effect + 0.4 * b)))).astype(float)
    # two small domains of about 25 sampled units: one spread over every PSU, one living in
    # a third of the PSUs only (few PSUs carry its variance)
    dom = (rng.random(N) < 0.016).astype(float)
    rare = rng.random(M) < 1 / 3
    clustered = (rare[psu] & (rng.random(N) < 0.05)).astype(float)
    # a continuous auxiliary with a known population total (GREG), correlated with y
    x = 10 + 0.5 * (y - 50) + rng.normal(0, 4, N)
    return {"M_h": M_h, "n_h": n_h, "stratum": stratum, "psu": psu, "a": a, "b": b, "y": y,
            "z": z, "dom": dom, "clu": clustered, "x": x}


def aggregates(P: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per PSU and margin cell (a x b): counts and sums (M, 6)."""
    M = len(P["stratum"])
    cell = P["a"] * 2 + P["b"]
    idx = P["psu"] * 6 + cell

    def agg(v: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=v, minlength=M * 6).reshape(M, 6)

    one = np.ones_like(P["y"])
    return {"N": agg(one), "Y": agg(P["y"]), "Z": agg(P["z"]), "DN": agg(P["dom"]),
            "DY": agg(P["dom"] * P["y"]), "DZ": agg(P["dom"] * P["z"]), "CN": agg(P["clu"]),
            "CY": agg(P["clu"] * P["y"]), "CZ": agg(P["clu"] * P["z"]), "X": agg(P["x"]),
            "XX": agg(P["x"] ** 2), "XY": agg(P["x"] * P["y"])}


def samples(P: dict[str, np.ndarray], reps: int) -> np.ndarray:
    """(reps, m) sampled PSUs: n_h of M_h in each stratum, without replacement."""
    rng = np.random.default_rng(SEED + 1)
    keys = rng.random((reps, len(P["stratum"]))) + P["stratum"]
    order = np.argsort(keys, axis=1)
    starts = np.r_[0, np.cumsum(P["M_h"])[:-1]]
    pos = np.concatenate([s + np.arange(n) for s, n in zip(starts, P["n_h"], strict=True)])
    return order[:, pos]


def rake_cells(D: np.ndarray, rows: np.ndarray, cols: np.ndarray, it: int = 200) -> np.ndarray:
    """g (R, 3, 2) raking the weighted cell counts D (R, 3, 2) to margins, all samples at once."""
    g = np.ones_like(D)
    for _ in range(it):
        g *= (rows / (g * D).sum(axis=2))[:, :, None]
        g *= (cols / (g * D).sum(axis=1))[:, None, :]
    return g


def fast(P: dict[str, np.ndarray], A: dict[str, np.ndarray], sel: np.ndarray
         ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Estimates and linearised variances for every sample (columns), vectorised."""
    strat = np.repeat(np.arange(H), P["n_h"])
    d = (P["M_h"] / P["n_h"])[strat]  # design weight of each sampled PSU's units
    fpc = P["M_h"][strat].astype(float)
    g = {k: v[sel] * d[None, :, None] for k, v in A.items()}  # (R, m, 6) weighted
    s = {k: v.sum(axis=2) for k, v in g.items()}  # (R, m) weighted PSU totals

    def var(t: np.ndarray) -> np.ndarray:  # t: (R, m) PSU totals of influence values
        return psu_totals_variance(t.T, strat, fpc=fpc, diag=True)

    out = {}
    tot = s["Y"].sum(1)
    out["total y"] = (tot, var(s["Y"]))
    for name, num, den in (("mean y", "Y", "N"), ("proportion z", "Z", "N"),
                           ("domain mean y", "DY", "DN"), ("domain proportion z", "DZ", "DN"),
                           ("clustered domain mean y", "CY", "CN"),
                           ("clustered domain proportion z", "CZ", "CN")):
        nd = s[den].sum(1)
        est = s[num].sum(1) / nd
        out[name] = (est, var((s[num] - est[:, None] * s[den]) / nd[:, None]))
    # raked to a (3) and b (2): GREG residuals on the cells' dummies with weights d
    Npop = len(P["y"])
    rows = np.bincount(P["a"], minlength=3).astype(float)
    cols = np.bincount(P["b"], minlength=2).astype(float)
    Dc = g["N"].sum(1).reshape(-1, 3, 2)
    gc = rake_cells(Dc, rows, cols).reshape(-1, 6)  # (R, 6)
    x = np.array([[1, a == 1, a == 2, b] for a in range(3) for b in range(2)], float)
    for name, num in (("raked mean y", "Y"), ("raked proportion z", "Z")):
        est = (gc * g[num].sum(1)).sum(1) / Npop
        U = (g[num] - est[:, None, None] * g["N"]) / Npop  # (R, m, 6): d-weighted u by cell
        XtDX = np.einsum("rc,cp,cq->rpq", g["N"].sum(1), x, x)
        XtDu = np.einsum("rc,cp->rp", U.sum(1), x)
        beta = np.linalg.solve(XtDX, XtDu[:, :, None])[:, :, 0]  # (R, p)
        E = U - g["N"] * (x @ beta.T).T[:, None, :]  # residuals summed by PSU and cell
        out[name] = (est, var((gc[:, None, :] * E).sum(2)))
    out["GREG mean y"] = greg(s, len(P["y"]), float(P["x"].sum()), var)
    return out


def greg(s: dict[str, np.ndarray], Npop: int, Tx: float,
         var: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Linear calibration to N and the total of x (GREG), with its residual variance."""
    n1, x1, x2, y1, xy = (s[k].sum(1) for k in ("N", "X", "XX", "Y", "XY"))
    S = np.stack([np.stack([n1, x1], -1), np.stack([x1, x2], -1)], -2)  # (R, 2, 2)
    lam = np.linalg.solve(S, np.stack([Npop - n1, Tx - x1], -1)[:, :, None])[:, :, 0]
    est = (y1 + lam[:, 0] * y1 + lam[:, 1] * xy) / Npop
    # u = (y - est)/N regressed on (1, x) with weights d; residual totals weighted by g
    su = (y1 - est * n1) / Npop
    sxu = (xy - est * x1) / Npop
    beta = np.linalg.solve(S, np.stack([su, sxu], -1)[:, :, None])[:, :, 0]
    u = (s["Y"] - est[:, None] * s["N"]) / Npop  # per PSU, weighted
    xu = (s["XY"] - est[:, None] * s["X"]) / Npop
    b0, b1 = beta[:, :1], beta[:, 1:]
    l0, l1 = lam[:, :1], lam[:, 1:]
    t = ((1 + l0) * (u - b0 * s["N"] - b1 * s["X"])
         + l1 * (xu - b0 * s["X"] - b1 * s["XX"]))
    return est, var(t)


def domain_df(P: dict[str, np.ndarray], A: dict[str, np.ndarray], sel: np.ndarray,
              key: str) -> np.ndarray:
    """A domain's own degrees of freedom in every sample: its PSUs minus its strata."""
    strat = np.repeat(np.arange(H), P["n_h"])
    has = A[key][sel].sum(axis=2) > 0  # (R, m)
    per_stratum = np.zeros((len(sel), H))
    np.add.at(per_stratum.T, strat, has.T)
    return np.maximum(has.sum(axis=1) - (per_stratum > 0).sum(axis=1), 1)


def truth(P: dict[str, np.ndarray]) -> dict[str, float]:
    y, z, dom, clu = P["y"], P["z"], P["dom"] > 0, P["clu"] > 0
    return {"GREG mean y": y.mean(), "total y": y.sum(), "mean y": y.mean(), "proportion z": z.mean(),
            "domain mean y": y[dom].mean(), "domain proportion z": z[dom].mean(),
            "clustered domain mean y": y[clu].mean(),
            "clustered domain proportion z": z[clu].mean(),
            "raked mean y": y.mean(), "raked proportion z": z.mean()}


def sample_frame(P: dict[str, np.ndarray], psus: np.ndarray) -> pd.DataFrame:
    rows = np.flatnonzero(np.isin(P["psu"], psus))
    strat = P["stratum"][P["psu"][rows]]
    return pd.DataFrame({"stratum": strat, "psu": P["psu"][rows],
                         "N": P["M_h"][strat], "a": P["a"][rows], "b": P["b"][rows],
                         "y": P["y"][rows], "z": P["z"][rows], "dom": P["dom"][rows],
                         "clu": P["clu"][rows], "x": P["x"][rows]})


@pytest.fixture(scope="module")
def sim() -> tuple[dict, dict, np.ndarray, dict]:
    P = population()
    sel = samples(P, REPS)
    A = aggregates(P)
    dfs = {"domain": domain_df(P, A, sel, "DN"), "clustered domain": domain_df(P, A, sel, "CN")}
    return P, fast(P, A, sel), sel, dfs


def test_fast_path_is_survey_estimate(sim: tuple[dict, dict, np.ndarray, dict]) -> None:
    P, res, sel, dfs = sim
    margins = [pd.DataFrame({"a": [0, 1, 2], "total": np.bincount(P["a"], minlength=3)}),
               pd.DataFrame({"b": [0, 1], "total": np.bincount(P["b"], minlength=2)})]
    for r in range(3):
        df = sample_frame(P, sel[r])
        design = {"strata": "stratum", "psu": "psu", "fpc": "N"}
        plain = survey_estimate(df, **design, means=["y"], totals=["y"],
                                proportions=[("z", 1)], by=["dom"]).table
        clu = survey_estimate(df, **design, means=["y"], proportions=[("z", 1)],
                              by=["clu"]).table  # the default: domain_df="auto"
        clu = clu[clu.by.map(lambda b: b.get("clu") == "1")].set_index("statistic")
        gr = survey_estimate(df, **design, means=["y"], calibrate_totals={"x": P["x"].sum()},
                             population_size=len(P["y"])).table
        raked = survey_estimate(df, **design, means=["y"], proportions=[("z", 1)],
                                rake=margins).table
        overall = plain[plain.by.map(len) == 0].set_index(["statistic", "variable"])
        domain = plain[plain.by.map(lambda b: b.get("dom") == "1")].set_index("statistic")
        raked_i = raked.set_index("statistic")
        got = {"total y": overall.loc[("total", "y")], "mean y": overall.loc[("mean", "y")],
               "proportion z": overall.loc[("proportion", "z")],
               "domain mean y": domain.loc["mean"],
               "domain proportion z": domain.loc["proportion"],
               "clustered domain mean y": clu.loc["mean"],
               "clustered domain proportion z": clu.loc["proportion"],
               "raked mean y": raked_i.loc["mean"], "raked proportion z": raked_i.loc["proportion"],
               "GREG mean y": gr.iloc[0]}
        for name, row in got.items():
            est, v = res[name]
            assert row["estimate"] == pytest.approx(est[r], rel=1e-9), name
            assert row["se"] == pytest.approx(np.sqrt(v[r]), rel=1e-7), name
        # the default degrees of freedom: a domain's own for its mean, the design's for
        # proportions and overall estimates
        design_df = int(P["n_h"].sum()) - H
        assert int(clu.loc["mean"]["df"]) == dfs["clustered domain"][r]
        assert int(domain.loc["mean"]["df"]) == dfs["domain"][r]
        assert int(clu.loc["proportion"]["df"]) == design_df
        assert int(domain.loc["proportion"]["df"]) == design_df
        assert int(overall.loc[("mean", "y")]["df"]) == design_df
        assert int(domain.loc["mean"]["n"]) < 30  # small domains
        assert int(clu.loc["mean"]["n"]) < 40


def interval(name: str, est: np.ndarray, se: np.ndarray, q: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """The interval survey_estimate gives: t for means and totals, logit for proportions."""
    if "proportion" not in name:
        return est - q * se, est + q * se
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(est / (1 - est))
        half = q * se / (est * (1 - est))
    return 1 / (1 + np.exp(-(eta - half))), 1 / (1 + np.exp(-(eta + half)))


def test_coverage_of_95_percent_t_intervals(sim: tuple[dict, dict, np.ndarray, dict]) -> None:
    P, res, _, dfs = sim
    df = int(P["n_h"].sum()) - H
    true = truth(P)
    lines = [f"seed {SEED}, {REPS} samples, {H} strata, {int(P['n_h'].sum())} PSUs sampled of "
             f"{len(P['stratum'])}, design df {df}",
             "| estimate | coverage %, design df | coverage %, domain df | mean SE / SD |",
             "|---|---|---|---|"]
    failures = []
    for name, (est, v) in res.items():
        se = np.sqrt(v)
        ok = np.isfinite(est) & np.isfinite(se)
        dom = next((dfs[k] for k in ("clustered domain", "domain") if name.startswith(k)), None)
        covers = []
        for d in (np.full(len(est), df), dom):
            if d is None:
                covers.append(None)
                continue
            lo, hi = interval(name, est[ok], se[ok], t_dist.ppf(0.975, d[ok]))
            covers.append(float(np.mean((lo <= true[name]) & (true[name] <= hi))) * 100)
        ratio = float(se[ok].mean() / est[ok].std())
        shown = [f"{c:.1f}" if c is not None else "" for c in covers]
        lines.append(f"| {name} | {shown[0]} | {shown[1]} | {ratio:.3f} |")
        # survey_estimate's default (domain_df="auto", checked above): a small domain's
        # mean with its own degrees of freedom (with the design's its interval is too
        # short); proportions' logit intervals with the design's (with the domain's they
        # are too long)
        cover = covers[1] if covers[1] is not None and "mean" in name else covers[0]
        assert cover is not None
        if not 93.0 <= cover <= 97.0:
            failures.append((name, cover))
    print("\n".join(lines))
    assert not failures, failures
