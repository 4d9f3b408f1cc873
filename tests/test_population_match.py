"""Census and enumeration persons matched by the Fellegi–Sunter linkage (splink)."""

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
