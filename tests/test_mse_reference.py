"""MSE estimators against published numbers and against SparseMSE / Rcapture themselves.

tests/data/mse/reference_r.json is written by scripts/r_reference/mse.R, which runs
SparseMSE 2.0.1's and Rcapture's own R code (sourced from their CRAN sources) and R's glm
on the data sets they ship (tests/data/mse/*.csv, see README.md there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.mse import Histories, estimate_mse, fit_loglinear, read_histories

DATA = Path(__file__).parent / "data" / "mse"
REF = json.loads((DATA / "reference_r.json").read_text(encoding="utf-8"))
SPARSE = ["UKdat", "UKdat_5", "NewOrl", "NewOrl_5", "Western", "Ned", "Ned_5"]


def _terms(value: Any) -> list[str]:
    # R's JSON writer unboxes a single term into a string
    return [value] if isinstance(value, str) else list(value)


def _h(name: str) -> Histories:
    return read_histories(DATA / f"{name}.csv")


def test_the_uk_2013_table_gives_the_home_office_estimate_of_10000_to_13000() -> None:
    # Silverman (2014), Home Office "Modern slavery: an application of multiple systems
    # estimation": 2,744 potential victims known in 2013 (NCA strategic assessment), total
    # 10,000 to 13,000 by the stepwise method on five lists (PF and NCA merged), as
    # restated in Silverman (2020, JRSS A 183, abstract).  SparseMSE's UKdat_5 is that table.
    h = _h("UKdat_5")
    assert h.n_observed == 2744
    r = estimate_mse(h, selection="stepwise", report=1)
    lo, hi = r.selected["ci_wald_log"]
    assert round(lo, -3) == 10000 and round(hi, -3) == 13000
    plo, phi = r.selected["ci"]
    assert round(plo, -3) == 10000 and round(phi, -3) == 13000
    assert round(r.estimate) == 11313  # SparseMSE's estimatepopulation.0, printed to units


@pytest.mark.parametrize("name", SPARSE)
def test_stepwise_selects_sparsemse_s_model_and_estimate(name: str) -> None:
    ref = REF["stepwise"][name]
    r = estimate_mse(_h(name), selection="stepwise", report=1)
    assert sorted(r.selected["terms"]) == sorted(_terms(ref["terms"]))
    assert r.selected["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    # glm stops at a relative deviance change of 1e-8 and takes var(b0) from its last
    # weights; on the sparse 8-list table that moves the bounds in the 5th digit
    assert r.selected["ci_wald_log"] == pytest.approx(ref["ci_wald_log"], rel=1e-4)
    assert r.selected["aic"] == pytest.approx(ref["aic"], rel=1e-7)
    assert r.selected["deviance"] == pytest.approx(ref["deviance"], rel=1e-6, abs=1e-6)
    assert r.selected["df"] == ref["df"]


@pytest.mark.parametrize("name", SPARSE)
def test_fixed_models_match_r_glm_and_sparsemse(name: str) -> None:
    h = _h(name)
    for ref in REF["fixed"][name]:
        fit = fit_loglinear(h, _terms(ref["terms"]))
        assert fit.estimate == pytest.approx(ref["estimate"], rel=1e-6)
        assert np.log(fit.unobserved) == pytest.approx(ref["intercept"], abs=1e-6)
        assert fit.aic == pytest.approx(ref["aic"], rel=1e-7)
        assert fit.deviance == pytest.approx(ref["deviance"], rel=1e-6, abs=1e-6)
        assert fit.df == ref["df"]
        assert fit.ci_wald == pytest.approx(ref["ci_wald_log"], rel=1e-4)
        assert sorted(f"{a}:{b}" for a, b in fit.empty_overlaps) == sorted(
            _terms(ref["empty_overlaps"] or []))


def test_artificial_table_existence_and_identifiability_as_checkident() -> None:
    # Chan, Silverman & Vincent (2021), Table 2 / SparseMSE's Artificial_3: AB in the model
    # -> no MLE (ierr 1); all three pairs -> not identifiable (ierr 2); others fine.
    frame = np.loadtxt(DATA / "Artificial_3.csv", delimiter=",", skiprows=1, dtype=int)
    h = Histories(["A", "B", "C"], frame[:, :3], frame[:, 3])
    for case in REF["checkident"]["Artificial_3"]:
        terms = _terms(case["terms"])
        if case["ierr"] == 0:
            assert fit_loglinear(h, terms).admissible
        else:
            with pytest.raises(BadInput) as info:
                fit_loglinear(h, terms)
            assert info.value.code == "mse.no_estimate"
            assert ("does not exist" if case["ierr"] == 1 else "not identifiable") in str(info.value)
            flagged = fit_loglinear(h, terms, on_no_estimate="flag")
            assert not flagged.admissible and np.isnan(flagged.estimate)


@pytest.mark.parametrize("name", ["Western", "NewOrl_5", "UKdat_5"])
def test_every_model_of_a_five_list_table_has_an_estimate_as_checkallmodels_says(name: str) -> None:
    assert REF["checkident"][name] == []  # checkallmodels: the extended MLE exists for all
    r = estimate_mse(_h(name), selection="bic", report=1)
    assert r.n_models == 1024 and r.no_estimate == []


@pytest.mark.parametrize("name", ["rcapture_HIV", "rcapture_lesbian"])
def test_all_two_way_models_match_rcapture_closedpms(name: str) -> None:
    h = _h(name)
    ref = {tuple(sorted(_terms(m["terms"]))): m for m in REF["allmodels"][name]}
    r = estimate_mse(h, selection="bic", report=64)
    assert r.n_models == 64 == len(ref)
    ours = {tuple(sorted(m["terms"])): m for m in r.models}
    assert set(ours) == set(ref)
    for key, m in ref.items():
        o = ours[key]
        assert o["estimate"] == pytest.approx(m["estimate"], rel=1e-6)
        assert o["se"] == pytest.approx(m["stderr"], rel=1e-4)  # glm's last-weights var(b0)
        assert o["deviance"] == pytest.approx(m["deviance"], rel=1e-6, abs=1e-6)
        assert o["df"] == m["df"]
        assert o["aic"] == pytest.approx(m["aic"], rel=1e-7)
        assert o["bic"] == pytest.approx(m["bic"], rel=1e-7)
    best = min(REF["allmodels"][name], key=lambda m: m["bic"])
    assert sorted(r.selected["terms"]) == sorted(_terms(best["terms"]))


def test_six_list_best_models_match_rcapture() -> None:
    h = _h("rcapture_duck")
    refs = REF["allmodels"]["rcapture_duck"][:25]
    r = estimate_mse(h, selection="bic", models=[_terms(m["terms"]) for m in refs], report=25)
    ours = {tuple(sorted(m["terms"])): m for m in r.models}
    for m in refs:
        o = ours[tuple(sorted(_terms(m["terms"])))]
        assert o["estimate"] == pytest.approx(m["estimate"], rel=1e-6)
        assert o["bic"] == pytest.approx(m["bic"], rel=1e-7)
    assert sorted(r.selected["terms"]) == sorted(_terms(refs[0]["terms"]))


@pytest.mark.parametrize("name", ["rcapture_HIV", "rcapture_lesbian", "rcapture_duck",
                                  "UKdat_5", "Western"])
def test_profile_intervals_match_rcapture_closedpci(name: str) -> None:
    h = _h(name)
    for ref in REF["profile"][name]:
        fit = fit_loglinear(h, _terms(ref["terms"]))
        # Rcapture's uniroot tolerance is 1e-4 and it prints one decimal
        assert fit.ci[0] == pytest.approx(ref["lower"], abs=0.01)
        assert fit.ci[1] == pytest.approx(ref["upper"], abs=0.01)
