"""Spanish names for linkage: normal form, surnames and particles, nicknames, phonetic key."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.integrate.linkage.names import (
    NICKNAMES,
    canonical_given,
    fonetica,
    normalise,
    split_surnames,
)

_LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúüñÁÉÍÓÚÑ '-.,ABCDEZ0123"
names = st.text(alphabet=_LETTERS, max_size=30)


def _n(*values: str | None) -> list[object]:
    return normalise(pd.Series(list(values), dtype=object)).tolist()


def test_normal_form() -> None:
    assert _n("José Ñúñez", "  MARÍA de los Ángeles ", "D'Alessandro-Pérez", "", None,
              "Güiza, J.") == ["jose nunez", "maria de los angeles", "dalessandro perez",
                               pd.NA, pd.NA, "guiza j"]


@given(st.lists(names, min_size=1, max_size=12))
@settings(max_examples=25, deadline=None)
def test_normal_form_is_plain_idempotent_and_blind_to_accents(values: list[str]) -> None:
    s = pd.Series(values, dtype=object)
    once = normalise(s)
    assert once.dropna().str.fullmatch(r"[a-z]+( [a-z]+)*").all()
    pd.testing.assert_series_equal(normalise(once), once)
    stripped = s.map(lambda v: "".join(c for c in unicodedata.normalize("NFKD", v)
                                       if not unicodedata.combining(c)))
    pd.testing.assert_series_equal(normalise(stripped), once)


def test_surnames_with_particles_and_separators() -> None:
    s = split_surnames(normalise(pd.Series(
        ["De la Cruz Gómez", "Ortega y Gasset", "Pérez-Gómez", "Gómez", None,
         "del Valle de los Ríos", "San Martín López"])))
    assert s["s1"].tolist()[:4] == ["de la cruz", "ortega", "perez", "gomez"]
    assert s["s1_key"].tolist() == ["cruz", "ortega", "perez", "gomez", pd.NA, "valle",
                                    "sanmartin"]
    assert s["s2_key"].tolist() == ["gomez", "gasset", "gomez", pd.NA, pd.NA, "rios", "lopez"]


@given(st.lists(names, min_size=1, max_size=12))
@settings(max_examples=25, deadline=None)
def test_surname_keys_have_no_particles_or_spaces(values: list[str]) -> None:
    s = split_surnames(normalise(pd.Series(values, dtype=object)))
    for col in ("s1_key", "s2_key"):
        keys = s[col].dropna()
        assert keys.str.fullmatch(r"[a-z]+").all()
    # a surname present means a first surname present
    assert not (s["s1"].isna() & s["s2"].notna()).any()


def test_nicknames_map_to_canonical_names() -> None:
    c = canonical_given(normalise(pd.Series(["Pacho", "Francisco Javier", "Beto", "Toño",
                                             "María de los Ángeles", None])))
    assert c["g1_canon"].tolist() == [["francisco"], ["francisco"],
                                      ["alberto", "humberto", "roberto"], ["antonio"],
                                      ["maria"], []]
    assert c["canon"].iloc[3] == ["antonio"]
    assert c["canon"].iloc[4] == ["angeles", "maria"]  # particles are not names
    for nick, full in [("pepe", "jose"), ("memo", "guillermo"), ("chucho", "jesus"),
                       ("lucho", "luis"), ("nacho", "ignacio"), ("quique", "enrique"),
                       ("lola", "dolores"), ("concha", "concepcion"), ("charo", "rosario"),
                       ("manolo", "manuel"), ("rafa", "rafael"), ("juancho", "juan")]:
        assert full in NICKNAMES[nick]


@pytest.mark.parametrize("a,b", [("González", "Gonzales"), ("Vargas", "Bargas"),
                                 ("Jiménez", "Giménez"), ("Yépez", "Llépez"),
                                 ("Hernández", "Ernandes"), ("Quintero", "Kintero"),
                                 ("Cárdenas", "Cardenaz"), ("Echeverri", "Echeverry")])
def test_phonetic_key_hears_spanish_spellings_alike(a: str, b: str) -> None:
    keys = fonetica(normalise(pd.Series([a, b])))
    assert keys.iloc[0] == keys.iloc[1]


def test_phonetic_key_tells_different_names_apart() -> None:
    keys = fonetica(normalise(pd.Series(["García", "Gómez", "Guerrero", "Castro", "Ortiz",
                                         "Rojas", "Ramírez", "Rodríguez", None])))
    assert keys.iloc[:8].nunique() == 8 and pd.isna(keys.iloc[8])


_CELL = st.one_of(st.just(""), st.text(alphabet="0123456789-/. aé", max_size=12),
                  st.integers(-5, 150).map(str), st.dates().map(lambda d: d.isoformat()))


@given(age=_CELL, date=_CELL, muni=_CELL)
@settings(max_examples=40, deadline=None)
def test_prepare_reads_a_cell_or_names_its_row_and_column(age: str, date: str, muni: str
                                                          ) -> None:
    from citizendata.errors import BadInput
    from citizendata.integrate.linkage.prepare import prepare

    recs = pd.DataFrame({
        "source": ["flip", "fiscalia"], "record_id": ["1", "1"],
        "victim_given_names": ["Zoilo", "Zoilo"], "victim_surnames": ["Quiñónez", "Quinonez"],
        "victim_sex": ["male", "male"], "victim_age": ["40", age],
        "victim_role": ["journalist", ""], "violation": ["killing", "killing"],
        "event_date": ["2020-01-02", date], "department": ["27", "27"],
        "municipality": ["27001", muni]})
    try:
        clean = prepare(recs)
    except BadInput as e:
        assert e.code == "linkage.invalid" and e.problems
        for p in e.problems:
            assert p.where is not None and p.where.row == 2
            assert p.where.column in {"victim_age", "event_date", "municipality"}
        assert "Zoilo" not in str(e) and "Quin" not in str(e)
        return
    assert clean["unique_id"].tolist() == ["flip:1", "fiscalia:1"]
    assert clean["surn"].tolist() == ["quinonez", "quinonez"]
    assert pd.isna(clean["age"].iloc[1]) or 0 <= clean["age"].iloc[1] <= 120
    assert clean["department"].tolist() == ["27", "27"]


def test_prepare_reads_typed_columns() -> None:
    from citizendata.integrate.linkage.prepare import prepare

    recs = pd.DataFrame({
        "source": ["flip", "medios"], "record_id": [7, 7],
        "victim_given_names": ["Ana", None], "victim_surnames": ["Ríos", "Ríos"],
        "victim_sex": ["female", None], "victim_age": [44.0, None],
        "victim_role": ["journalist", None], "violation": ["killing", "killing"],
        "event_date": pd.to_datetime(["2020-01-02 10:30", None]),
        "department": [5, None], "municipality": [5001, 5001]})
    clean = prepare(recs)
    assert clean["unique_id"].tolist() == ["flip:7", "medios:7"]
    assert [str(d) for d in clean["event_date"]] == ["2020-01-02", "NaT"]
    assert clean["age"].tolist()[0] == 44 and pd.isna(clean["age"].iloc[1])
    # the department comes from the municipality's DIVIPOLA code when missing
    assert clean["department"].tolist() == ["05", "05"]
    assert clean["municipality"].tolist() == ["05001", "05001"]


def test_every_scenario_nickname_maps_to_its_name_in_linkage_and_pprl() -> None:
    # one table of name rules (integrate/_names_es.py) serves both methods; the Colombia
    # scenario writes these nicknames, so each must lead back to its given name in both
    from citizendata.integrate.pprl.normalise import normalise_name
    from citizendata.scenarios.colombia_press_freedom.names import NICKNAMES as WRITTEN

    given = pd.Series(list(WRITTEN), dtype="string")
    nicks = pd.Series(list(WRITTEN.values()), dtype="string")
    formal = normalise(given)
    canon = canonical_given(normalise(nicks))["g1_canon"]
    for name, nick, full, mapped in zip(WRITTEN, WRITTEN.values(), formal, canon,
                                        strict=True):
        assert full in mapped, (nick, name)
        assert normalise_name(nick) == normalise_name(name), (nick, name)
    assert len(WRITTEN) == 22
