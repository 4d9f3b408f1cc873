"""Every output says which variance assumption it used: one description, as data and words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.i18n import use_locale
from citizendata.publish.client import methods_text
from citizendata.stats.sampling import NONE_DECLARED_ASSUMPTION
from citizendata.survey.assumption import (
    CODES,
    VarianceAssumption,
    assumption_from_provenance,
)
from citizendata.survey.design import SurveyDesign
from citizendata.survey.estimate import survey_estimate


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame({"stratum": np.repeat(["a", "b"], 30),
                         "psu": np.repeat(np.arange(12), 5),
                         "ssu": np.tile(np.arange(5), 12),
                         "fpc": np.repeat([40.0, 50.0], 30),
                         "w": rng.uniform(1, 3, n), "y": rng.normal(10, 2, n)})


@pytest.mark.parametrize(("kwargs", "code"), [
    ({}, "srs"),
    ({"weights": "w"}, "srs"),
    ({"fpc": 100.0}, "srs"),
    ({"strata": "stratum"}, "stratified"),
    ({"psu": "psu"}, "cluster"),
    ({"strata": "stratum", "psu": "psu", "fpc": "fpc"}, "stratified_cluster"),
    ({"psu": "psu", "ssu": "ssu", "nest": True}, "two_stage"),
    ({"strata": "stratum", "psu": "psu", "non_probability": True}, "non_probability"),
])
def test_each_design_has_its_code_and_the_sentence_comes_from_it(kwargs: dict, code: str
                                                                 ) -> None:
    d = SurveyDesign.from_frame(_frame(), **kwargs)
    a = d.variance_assumption()
    assert a.code == code and a.code in CODES
    assert d.assumption == a.text() == VarianceAssumption(**a.to_dict()).text()
    if code not in ("srs",) or kwargs.get("fpc"):
        assert f"{d.df} degrees of freedom" in d.assumption and a.params["df"] == d.df


def test_a_non_probability_sample_with_psus_does_not_call_its_units_independent() -> None:
    d = SurveyDesign.from_frame(_frame(), strata="stratum", psu="psu", non_probability=True)
    said = d.assumption
    assert "its 12 first-stage units (PSUs) as independent draws" in said
    assert "60 units as independent" not in said and "2 strata" in said
    flat = SurveyDesign.from_frame(_frame(), non_probability=True)
    assert "the 60 units as independent draws with replacement" in flat.assumption


def test_none_declared_is_the_constant_and_translates() -> None:
    a = VarianceAssumption("none_declared", {"calibrated": False})
    assert a.text() == NONE_DECLARED_ASSUMPTION
    sw, es, fr = (a.text(lang) for lang in ("sw", "es", "fr"))
    assert "hakuna mpango wa sampuli uliotangazwa" in sw
    assert "no se declaró ningún diseño muestral" in es
    assert "aucun plan de sondage déclaré" in fr
    assert len({a.text(), sw, es, fr}) == 4


def test_counts_and_plurals_follow_the_language() -> None:
    a = VarianceAssumption("stratified_cluster", {"n": 5000, "n_strata": 1, "n_psu": 1200,
                                                  "df": 1, "fpc": False})
    en = a.text()
    assert "1 stratum, 1,200 first-stage units (PSUs)" in en and "1 degree of freedom" in en
    assert "(tabaka 1, makundi 1,200 ya hatua ya kwanza (PSU))" in a.text("sw")
    assert "1 degré de liberté" in a.text("fr")


def test_survey_estimate_gives_the_code_and_params() -> None:
    res = survey_estimate(_frame(), strata="stratum", psu="psu", fpc="fpc", means=["y"],
                          variance="jkn")
    out = res.to_dict()
    assert out["assumption_code"] == "stratified_cluster"
    assert out["assumption_params"]["replicates"] == "jkn"
    assert out["assumption_params"]["n_replicates"] == 12
    assert "variance from 12 jkn replicate weights" in res.assumption
    assert "Taylor" not in res.assumption  # replicates, not linearisation
    assert VarianceAssumption(out["assumption_code"], out["assumption_params"]).text() \
        == res.assumption


def test_jk1_refuses_an_fpc_that_varies_across_strata_as_r_does() -> None:
    with pytest.raises(BadInput) as e:
        survey_estimate(_frame(), strata="stratum", psu="psu", fpc="fpc", means=["y"],
                        variance="jk1")
    assert e.value.code == "design.fpc_invalid" and "one stratum" in e.value.message
    assert e.value.fix is not None and "jkn" in e.value.fix


def test_the_report_methods_say_it_in_the_reports_language() -> None:
    a = VarianceAssumption("cluster", {"n": 100, "n_psu": 10, "df": 9, "fpc": False})
    prov = {"variance_assumption": a.text(), "variance_assumption_code": a.code,
            "variance_assumption_params": dict(a.params)}
    assert assumption_from_provenance(prov) == a
    with use_locale("sw"):
        text = methods_text({"Uzazi": prov, "Old": {"variance_assumption": "as it was"}})
    assert ("Uzazi — jinsi ukingo wa makosa ulivyokokotolewa: sampuli ya makundi (makundi 10 "
            "ya hatua ya kwanza (PSU)): mbinu ya Taylor (linearisation)") in text
    assert "Old — jinsi ukingo wa makosa ulivyokokotolewa: as it was." in text
    assert "Uzazi — how the margin of error was computed: cluster sample" in methods_text(
        {"Uzazi": prov})


def test_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError):
        VarianceAssumption("guess")
    assert assumption_from_provenance({"variance_assumption": "old run"}) is None
