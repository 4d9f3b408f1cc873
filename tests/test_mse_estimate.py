"""estimate_mse beyond one model: averaging, bootstrap, strata, Chapman, refusals, coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from citizendata.cli import app
from citizendata.errors import BadInput
from citizendata.integrate.mse import (
    Histories,
    estimate_mse,
    estimate_stratified,
    fit_loglinear,
    read_histories,
)

DATA = Path(__file__).parent / "data" / "mse"
REF = json.loads((DATA / "reference_r.json").read_text(encoding="utf-8"))
runner = CliRunner()


def _h(name: str) -> Histories:
    return read_histories(DATA / f"{name}.csv")


def _simulate(rng: np.random.Generator, n: int, p: list[float]) -> Histories:
    """Independent lists: each of n victims seen by list j with probability p[j]."""
    seen = rng.random((n, len(p))) < np.array(p)
    seen = seen[seen.any(axis=1)]
    idx, counts = np.unique((seen.astype(np.int64) << np.arange(len(p))).sum(axis=1),
                            return_counts=True)
    patterns = (idx[:, None] >> np.arange(len(p))) & 1
    return Histories([f"L{j}" for j in range(len(p))], patterns, counts)


def test_model_average_is_the_bic_weighted_mean_of_rcapture_s_estimates() -> None:
    ref = REF["allmodels"]["rcapture_HIV"]
    bic = np.array([m["bic"] for m in ref])
    w = np.exp(-(bic - bic.min()) / 2)
    want = float((w * [m["estimate"] for m in ref]).sum() / w.sum())
    r = estimate_mse(_h("rcapture_HIV"), selection="average", report=3)
    assert r.selected["estimate"] == pytest.approx(want, rel=1e-6)
    assert sum(x["weight"] for x in r.to_dict()["weights"]) <= 1 + 1e-12
    lo, hi = r.selected["ci"]
    assert lo < r.selected["estimate"] < hi


def test_aic_selection_picks_the_smallest_rcapture_aic() -> None:
    ref = min(REF["allmodels"]["rcapture_lesbian"], key=lambda m: m["aic"])
    r = estimate_mse(_h("rcapture_lesbian"), selection="aic", report=1)
    assert r.selected["aic"] == pytest.approx(ref["aic"], rel=1e-8)


def test_bootstraps_are_reproducible_and_bracket_the_estimate() -> None:
    h = _h("Western")
    a = estimate_mse(h, bootstrap=150, bootstrap_kind="nonparametric", seed=7, report=1)
    b = estimate_mse(h, bootstrap=150, bootstrap_kind="nonparametric", seed=7, report=1)
    assert a.selected["ci_bootstrap"] == b.selected["ci_bootstrap"]
    assert a.bootstrap is not None and a.bootstrap.method == "bca"
    lo, hi = a.selected["ci_bootstrap"]
    assert h.n_observed < lo < a.estimate < hi
    p = estimate_mse(_h("rcapture_HIV"), method="independence", bootstrap=300, seed=3)
    assert p.bootstrap is not None and p.bootstrap.method == "percentile"
    # independence model, large counts: the parametric bootstrap agrees with the profile
    plo, phi = p.selected["ci"]
    blo, bhi = p.selected["ci_bootstrap"]
    assert blo == pytest.approx(plo, rel=0.05) and bhi == pytest.approx(phi, rel=0.05)


def test_stepwise_bootstrap_reselects_in_each_replicate() -> None:
    r = estimate_mse(_h("NewOrl_5"), selection="stepwise", bootstrap=40, seed=1, report=1)
    assert r.bootstrap is not None and len(r.bootstrap.replicates) + r.bootstrap.failed == 40
    lo, hi = r.selected["ci_bootstrap"]
    assert lo < r.estimate < hi


def test_strata_are_estimated_apart_and_summed() -> None:
    rng = np.random.default_rng(11)
    parts = []
    for region, n in (("Caribe", 900), ("Andina", 1500)):
        f = _simulate(rng, n, [0.3, 0.25, 0.35]).to_frame()
        f.insert(3, "region", region)
        parts.append(f)
    frame = pd.concat(parts, ignore_index=True)
    s = estimate_stratified(frame, strata=["region"], method="independence")
    each = {k[0]: r.estimate for k, r in s.results.items()}
    assert s.total == pytest.approx(sum(each.values()))
    assert s.interval == "sum of variances" and s.ci[0] < s.total < s.ci[1]
    assert abs(s.total - 2400) < 3 * (s.ci[1] - s.ci[0]) / 3.92
    b = estimate_stratified(frame, strata=["region"], method="independence", bootstrap=100, seed=2)
    assert b.interval == "bootstrap" and b.ci[0] < b.total < b.ci[1]
    out = s.to_dict()
    assert [row["region"] for row in out["by_stratum"]] == ["Andina", "Caribe"]


@pytest.mark.parametrize("pair", [0, 1, 2])
def test_chapman_matches_care1_on_the_taiwan_hepatitis_a_lists(pair: int) -> None:
    # Chao et al. (2001): the 1995 hepatitis A outbreak, lists P (135), Q (122), E (126),
    # 271 cases in all (CARE1's HAV data); CARE1's estN.pair for each pair of lists
    ref = json.loads((DATA / "reference_chapman.json").read_text(encoding="utf-8"))["pairs"][pair]
    full = read_histories(DATA / "care1_HAV.csv")
    assert full.n_observed == 271 and full.list_totals() == {"P": 135, "Q": 122, "E": 126}
    two = full.to_frame()[[*ref["lists"], "count"]]
    two = two[two[ref["lists"]].sum(axis=1) > 0].groupby(ref["lists"], as_index=False)["count"].sum()
    r = estimate_mse(two, method="chapman")
    assert r.estimate == pytest.approx(ref["chapman"], rel=1e-12)
    assert r.selected["se"] == pytest.approx(ref["se"], rel=1e-12)
    assert r.selected["ci"] == pytest.approx([ref["lower"], ref["upper"]], rel=1e-10)


def test_chapman_two_lists() -> None:
    # Chapman (1951): (n1+1)(n2+1)/(m+1) - 1; Seber (1970)'s variance; n1=120, n2=90, m=30
    h = read_histories(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [90, 60, 30]}))
    r = estimate_mse(h, method="chapman")
    assert r.estimate == pytest.approx(121 * 91 / 31 - 1)
    var = 121 * 91 * 90 * 60 / (31 ** 2 * 32)
    assert r.selected["se"] == pytest.approx(var ** 0.5)
    with pytest.raises(BadInput) as info:
        estimate_mse(_h("Western"), method="chapman")
    assert info.value.code == "mse.invalid_model"


def test_bad_models_and_methods_are_refused_with_codes() -> None:
    h = _h("Western")
    for terms in (["A:Z"], ["A:A"], ["A-B"]):
        with pytest.raises(BadInput) as info:
            fit_loglinear(h, terms)
        assert info.value.code == "mse.invalid_model"
    for kw in ({"method": "magic"}, {"selection": "best"}, {"bootstrap_kind": "wild"}):
        with pytest.raises(BadInput) as info:
            estimate_mse(h, **kw)  # type: ignore[arg-type]
        assert info.value.code == "mse.invalid_model"
    eight = estimate_mse(_h("NewOrl"), selection="bic", report=1)  # 8 lists: 2^28 models
    assert eight.selection == "stepwise" and "stepwise" in eight.to_dict()["note"]
    assert eight.selected["terms"] == ["D:E"]


def test_a_model_set_without_any_finite_estimate_is_refused() -> None:
    frame = np.loadtxt(DATA / "Artificial_3.csv", delimiter=",", skiprows=1, dtype=int)
    h = Histories(["A", "B", "C"], frame[:, :3], frame[:, 3])
    r = estimate_mse(h, models=[["A:B"], ["A:C"], ["A:B", "B:C"]], report=5)
    assert [m["terms"] for m in r.models] == [["A:C"]]
    assert sorted(tuple(x["terms"]) for x in r.no_estimate) == [("A:B",), ("A:B", "B:C")]
    with pytest.raises(BadInput) as info:
        estimate_mse(h, models=[["A:B"], ["A:B", "A:C"]])
    assert info.value.code == "mse.no_estimate"


def test_profile_intervals_cover_about_95_percent_with_independent_lists() -> None:
    # known truth: N = 1,500 victims, three independent lists; 120 replicates, so the
    # coverage of a 95% interval lies in [0.89, 1] with probability ~0.997
    rng = np.random.default_rng(20261207)
    hits = 0
    reps = 120
    for _ in range(reps):
        fit = fit_loglinear(_simulate(rng, 1500, [0.15, 0.2, 0.25]), [])
        hi = fit.ci[1]
        hits += fit.ci[0] <= 1500 <= (np.inf if hi is None else hi)
    assert 0.89 <= hits / reps <= 1.0


def test_cli_json_has_the_issue_s_shape(tmp_path: Path) -> None:
    res = runner.invoke(app, ["mse", str(DATA / "Western.csv"), "--json", "--models", "3"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_observed"] == 345
    assert len(out["models"]) == 3
    for m in out["models"]:
        assert {"terms", "estimate", "ci", "aic", "bic", "deviance", "df"} <= set(m)
    assert out["selected"]["terms"] == ["A:E"]
    assert out["selected"]["estimate"] == pytest.approx(REF["stepwise"]["Western"]["estimate"])
    # interaction names follow the CSV's column order, whatever order they come in
    shuffled = pd.read_csv(DATA / "Western.csv")[["E", "D", "C", "B", "A", "n"]]
    path = tmp_path / "w.csv"
    shuffled.to_csv(path, index=False)
    res = runner.invoke(app, ["mse", str(path), "--json", "--models", "1"])
    assert json.loads(res.stdout)["selected"]["terms"] == ["E:A"]
    text = runner.invoke(app, ["mse", str(DATA / "Western.csv"), "--selection", "stepwise"])
    assert text.exit_code == 0 and "2,483.4" in text.stdout


def test_cli_refuses_a_bad_file_naming_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("A,B,C,n\n1,0,0,4\n0,1,0,3\n1,1,0,-1\n0,1,1,2\n", encoding="utf-8")
    res = runner.invoke(app, ["mse", str(path), "--json"])
    assert res.exit_code != 0
    err = json.loads(res.stderr)["error"]
    assert err["code"] == "mse.invalid_histories"
    assert err["where"]["row"] == 3 and err["where"]["column"] == "n"
    two = tmp_path / "two.csv"
    two.write_text("A,B,n\n1,0,90\n0,1,60\n1,1,30\n", encoding="utf-8")
    assert runner.invoke(app, ["mse", str(two), "--json"]).exit_code != 0
    ok = runner.invoke(app, ["mse", str(two), "--json", "--method", "chapman"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["selected"]["estimate"] == pytest.approx(121 * 91 / 31 - 1)


def test_cli_lcmcr_runs_the_latent_class_model_on_kosovo() -> None:
    # Kosovo 1999 (Ball et al. 2002): four lists, as the LCMCR package ships them
    from citizendata.integrate.mse.lcmcr import fit_lcmcr

    kosovo = Path(__file__).parent / "data" / "lcmcr" / "kosovo.csv"
    args = ["--chains", "2", "--samples", "150", "--burnin", "150", "--thin", "2"]
    res = runner.invoke(app, ["mse", str(kosovo), "--method", "lcmcr", "--seed", "5", "--json",
                              *args])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    lib = fit_lcmcr(read_histories(kosovo), seed=5, chains=2, samples=150, burnin=150, thin=2)
    assert out["n_observed"] == lib.n_observed == 4400
    assert out["selected"]["estimate"] == lib.estimate
    assert out["selected"]["ci"] == [lib.ci[0], lib.ci[1]]
    assert out["selected"]["diagnostics"]["chains"] == 2
    text = runner.invoke(app, ["mse", str(kosovo), "--method", "lcmcr", "--seed", "5", *args])
    assert text.exit_code == 0 and "R-hat" in text.stdout


def test_model_average_interval_is_skewed_and_stays_above_the_observed_count() -> None:
    # review MEDIUM-8: a symmetric Wald interval clipped at n had its lower bound at n = 31
    h = read_histories(pd.DataFrame({"A": [1, 0, 1, 0, 1, 0, 1], "B": [0, 1, 1, 0, 0, 1, 1],
                                     "C": [0, 0, 0, 1, 1, 1, 1], "count": [10, 8, 1, 9, 1, 1, 1]}))
    r = estimate_mse(h, selection="average")
    lo, hi = r.selected["ci"]
    mean, se, n = r.selected["estimate"], r.selected["se"], 31
    assert lo > n + 5
    assert hi - mean > mean - lo  # right-skewed, as N̂ is
    # the back-transformed Wald interval on log(N - n) (delta method)
    c = np.exp(1.959963984540054 * se / (mean - n))
    assert (lo, hi) == pytest.approx((n + (mean - n) / c, n + (mean - n) * c), rel=1e-12)


def test_a_bootstrap_whose_every_replicate_fails_gives_no_interval(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # review item: np.quantile on no replicate raised IndexError out of estimate_mse
    from citizendata.integrate.mse import estimate as est_module

    def no_fit(design: object, tables: np.ndarray, masks: object, crit: str) -> np.ndarray:
        return np.full(len(tables), np.nan)  # every resampled table refused, as degenerate

    monkeypatch.setattr(est_module, "refit_tables", no_fit)
    r = estimate_mse(_h("rcapture_HIV"), bootstrap=20, seed=3, report=1)
    assert r.selected["ci_bootstrap"] == [None, None]
    assert r.selected["bootstrap_note"] == "all 20 bootstrap replicates failed to fit"
    assert r.to_dict()["bootstrap"]["failed"] == 20
    assert r.selected["ci"][0] is not None  # the profile interval is still there
