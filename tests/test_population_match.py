"""Census and enumeration persons matched: fixed-weight similarity (fast) and splink."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.population import match_records

GIVEN = ["Marie", "Jean", "Kerry", "Shanice", "Andre", "Joseph", "Lisa", "Kevin", "Anthony",
         "Nadia", "Peter", "Ruth", "Samuel", "Grace", "Dwayne", "Kimberly", "Jason", "Alicia",
         "Marcus", "Tanya", "Ivan", "Beverly", "Curtis", "Denise", "Elvis"]
SURNAMES = ["Joseph", "Charles", "Edward", "Francis", "Alexander", "Felix", "Emmanuel",
            "Louis", "Jn Baptiste", "Augustin", "Pierre", "Henry", "Mathurin", "Isidore",
            "Lubin", "Auguste", "Theophilus", "Leon", "Descartes", "Cadette"]


def test_linkage_matches_within_areas_one_to_one() -> None:
    rng = np.random.default_rng(7)
    n = 160
    pairs = rng.choice(len(GIVEN) * len(SURNAMES), n, replace=False)  # distinct names
    people = pd.DataFrame({"area": rng.choice(["A1", "A2"], n),
                           "given": np.array(GIVEN)[pairs % len(GIVEN)],
                           "surname": np.array(SURNAMES)[pairs // len(GIVEN)],
                           "sex": rng.choice(["F", "M"], n), "age": rng.integers(0, 90, n)})
    in_c, in_e = rng.random(n) < 0.8, rng.random(n) < 0.85
    census = people[in_c].assign(person_id=[f"c{i}" for i in np.flatnonzero(in_c)])
    enum = people[in_e].assign(person_id=[f"e{i}" for i in np.flatnonzero(in_e)])
    older = rng.random(len(enum)) < 0.1  # the enumeration a birthday later
    enum.loc[older, "age"] = enum.loc[older, "age"] + 1
    fields = {"given_names": "given", "surnames": "surname", "sex": "sex", "age": "age"}
    m = match_records(census, enum, method="linkage", fields=fields)
    true = int((in_c & in_e).sum())
    right = (m["census_id"].str[1:] == m["enum_id"].str[1:]).sum()
    assert right / len(m) >= 0.97  # precision
    assert right / true >= 0.9  # recall
    assert not m["census_id"].duplicated().any() and not m["enum_id"].duplicated().any()
    assert (m["match_probability"] >= 0.9).all()
    with pytest.raises(BadInput) as e:
        match_records(census, enum, method="linkage", fields={"name": "given"})
    assert "name is not one" in str(e.value)


FIELDS = {"given_names": "given_name", "surnames": "surname", "sex": "sex", "age": "age"}


def test_similarity_finds_the_scenario_s_true_matches() -> None:
    from citizendata.scenarios import saint_lucia_population as sl

    d = sl.generate(scale=0.1)
    recs = d.census_records
    mem = d.members.reset_index(drop=True)
    mem = mem.assign(enum_id=[f"E{i}" for i in range(len(mem))])
    m = match_records(recs, mem.drop(columns="_person"), census_id="census_id",
                      enum_id="enum_id", method="similarity", fields=FIELDS)
    pc = d.census_truth.set_index("census_id")["person"]
    pe = mem.set_index("enum_id")["_person"]
    right = int((pc.reindex(m["census_id"]).to_numpy()
                 == pe.reindex(m["enum_id"]).to_numpy()).sum())
    truth = recs.assign(person=pc.reindex(recs["census_id"]).to_numpy())
    true = len(truth[["person", "area"]].merge(
        mem[["_person", "area"]].rename(columns={"_person": "person"}), on=["person", "area"]))
    assert right / len(m) >= 0.99 and right / true >= 0.99  # precision, recall
    assert not m["census_id"].duplicated().any() and not m["enum_id"].duplicated().any()
    assert (m["area"] == recs.set_index("census_id")["area"].reindex(m["census_id"])
            .to_numpy()).all()


def test_similarity_matches_one_typo_names_and_keeps_namesakes_apart() -> None:
    census = pd.DataFrame({
        "person_id": ["c1", "c2", "c3", "c4", "c5"], "area": ["A", "A", "A", "A", "B"],
        "given_name": ["Natasha", "Joseph", "Joseph", "Marie", "Kerry"],
        "surname": ["Monrose", "Charles", "Charles", "Jean-Baptiste", "Felix"],
        "sex": ["F", "M", "M", "F", "M"], "age": [73, 40, 12, 30, 50]})
    enum = pd.DataFrame({
        "person_id": ["e1", "e2", "e3", "e4", "e5"], "area": ["A", "A", "A", "A", "A"],
        "given_name": ["Naatasha", "Joseph", "Joseph", "Marie", "Kerry"],
        "surname": ["Monrose", "Charles", "Charles", "Jn Baptiste", "Felix"],
        "sex": ["female", "male", "male", "female", "male"], "age": [74, 13, 41, 30, 50]})
    m = match_records(census, enum, method="similarity", fields=FIELDS)
    got = dict(zip(m["census_id"], m["enum_id"], strict=True))
    # the typo (and a birthday), the namesakes by age, the abbreviation; c5 is elsewhere
    assert got == {"c1": "e1", "c2": "e3", "c3": "e2", "c4": "e4"}
    assert m["match_probability"].between(0.9, 1).all()
    # one census namesake, two enumerated ones: one link only
    m1 = match_records(census[census["person_id"] == "c2"], enum, method="similarity",
                       fields=FIELDS)
    assert list(m1["enum_id"]) == ["e3"]
    with pytest.raises(BadInput) as e:
        match_records(census, enum, method="fuzzy", fields=FIELDS)
    assert "'similarity'" in str(e.value)
