"""The outsider's attack on published tables, and protection that holds against it.

The outsider (citizendata.privacy.outsider) knows only what the files publish; the
tests here give it hand-made and random tables protected by ``protect_table`` and
check, with the true counts, that no sensitive cell is pinned or narrowed below its
protection interval — and that the attack does find what older releases gave away.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.privacy.outsider import PublishedTable, attack_tables, judge, summary
from citizendata.privacy.tables import protect_table
from citizendata.projects.protection import TableProtectionSpec

# Births in Loita by the mother's age group (the row the reader worked out by hand):
# 102 = 12 + 19 + 25 + 27 + 13 + x + y, the 45-49 group has one birth
LOITA = pd.DataFrame({"age": ["_T", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44",
                              "45-49"],
                      "n": [102, 12, 19, 25, 27, 13, 5, 1]})


def _published(protected: pd.DataFrame, dims: list[str], count: str = "n") -> pd.DataFrame:
    """What the estimates file shows: codes, the count where published, the flags."""
    keep = [*dims, *(c for c in ("value", count, "conf_status", "suppression")
                     if c in protected.columns)]
    out = protected[keep].rename(columns={count: "n"}).copy()
    out["suppression"] = out["suppression"].fillna("")
    return out


def test_flags_and_a_published_loss_pin_the_small_cell() -> None:
    # as release v1 of the demo was published: C apart from D, and info_loss.value = 5
    shown = LOITA.assign(conf_status=["F"] * 6 + ["D", "C"],
                         suppression=[""] * 6 + ["secondary", "threshold"])
    shown.loc[6:, "n"] = np.nan
    table = PublishedTable("sba", shown, ["age"], threshold=5, secondary_total=5.0)
    found = attack_tables([table]).set_index("age")
    assert tuple(found.loc["45-49", ["lo", "hi"]]) == (1.0, 1.0)  # pinned: x_C = 1
    # without the loss, the flags alone still say x_D ≥ 5, so x_C ≤ 1 ≤ x_C
    table.secondary_total = None
    found = attack_tables([table]).set_index("age")
    assert tuple(found.loc["45-49", ["lo", "hi"]]) == (1.0, 1.0)


def test_the_same_row_protected_today_keeps_its_interval() -> None:
    out = protect_table(LOITA, ["age"], TableProtectionSpec(threshold=5))
    shown = _published(out.table, ["age"])
    assert set(shown["conf_status"]) == {"F", "C"}
    found = attack_tables([PublishedTable("sba", shown, ["age"], threshold=5)])
    judged = judge(found.drop(columns="indicator"), PublishedTable("sba", shown, ["age"]),
                   LOITA, {}, threshold=5, ratio=0.3, minimum=1.0)
    assert summary([judged]) == {"sensitive": 1, "pinned": 0, "narrowed": 0}


def test_numerators_from_a_proportion_are_one_more_table() -> None:
    # who answered yes, by ward and sex: everyone in (r1, F) and (r2, F), nobody with M.
    # The published proportions give every published cell's numerator, so the hidden
    # numerators are pinned (row r1: 3, column M: 0): (r1, F) cannot grow without
    # (r2, F) falling below its 10 yeses. A pattern blind to numerators is broken.
    counts = {("r1", "F"): 3, ("r1", "M"): 10, ("r2", "F"): 10, ("r2", "M"): 3,
              ("r3", "F"): 20, ("r3", "M"): 20}
    yes = {("r1", "F"): 3, ("r1", "M"): 0, ("r2", "F"): 10, ("r2", "M"): 0,
           ("r3", "F"): 8, ("r3", "M"): 0}
    rows = [(w, s_, n, yes[(w, s_)]) for (w, s_), n in counts.items()]
    inner = pd.DataFrame(rows, columns=["ward", "sex", "n", "k"])
    table = pd.concat([inner,
                       inner.groupby("ward", as_index=False)[["n", "k"]].sum().assign(sex="_T"),
                       inner.groupby("sex", as_index=False)[["n", "k"]].sum().assign(ward="_T"),
                       pd.DataFrame({"ward": ["_T"], "sex": ["_T"], "n": [inner["n"].sum()],
                                     "k": [inner["k"].sum()]})], ignore_index=True)
    table["value"] = 100 * table["k"] / table["n"]
    spec = TableProtectionSpec(threshold=4, dominance=None, method="optimal")
    outcomes = {}
    for numerators in ((), ("k",)):
        out = protect_table(table, ["ward", "sex"], spec, numerators=numerators)
        shown = _published(out.table, ["ward", "sex"])
        seen = PublishedTable("p", shown, ["ward", "sex"], threshold=4, scale=100.0)
        found = attack_tables([seen], integer=True)
        judged = judge(found.drop(columns="indicator"), seen, table, {}, threshold=4,
                       ratio=0.3, minimum=1.0)
        outcomes[numerators] = summary([judged])
    assert outcomes[()]["narrowed"] > 0  # blind to numerators: broken
    assert outcomes[("k",)] == {"sensitive": 2, "pinned": 0, "narrowed": 0}


# ------------------------------------------------------------------- random tables


def _cube(rows: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Counts and numerators for every grouping set of ``dims`` (a full cube)."""
    parts = []
    for mask in range(2 ** len(dims)):
        by = [d for i, d in enumerate(dims) if mask >> i & 1]
        g = rows.groupby(by, as_index=False).agg(n=("y", "size"), k=("y", "sum")) if by else \
            pd.DataFrame({"n": [len(rows)], "k": [int(rows["y"].sum())]})
        parts.append(g.assign(**{d: "_T" for d in dims if d not in by}))
    return pd.concat(parts, ignore_index=True)[[*dims, "n", "k"]]


@st.composite
def _tables(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str], dict[str, str],
                                       TableProtectionSpec, bool]:
    n = draw(st.integers(20, 160))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    wards = [f"w{i}" for i in range(draw(st.integers(2, 5)))]
    county_of = {w: f"c{i % 2}" for i, w in enumerate(wards)}
    ages = [f"a{i}" for i in range(draw(st.integers(2, 4)))]
    rows = pd.DataFrame({"ward": rng.choice(wards, n, p=rng.dirichlet(np.ones(len(wards)))),
                         "age": rng.choice(ages, n, p=rng.dirichlet(np.ones(len(ages)))),
                         "y": rng.random(n) < draw(st.floats(0.05, 0.95))})
    rows["county"] = rows["ward"].map(county_of)
    dims = ["ward", "age"]
    table = _cube(rows, dims)
    counties = rows.groupby("county", as_index=False).agg(n=("y", "size"), k=("y", "sum"))
    table["county"] = "_T"
    table = pd.concat([table, counties.assign(ward="_T", age="_T")], ignore_index=True)
    table["value"] = 100 * table["k"] / table["n"]
    spec = TableProtectionSpec(
        threshold=draw(st.integers(3, 10)), dominance=None,
        protection_ratio=draw(st.sampled_from([0.1, 0.3, 0.5])),
        protection_minimum=draw(st.sampled_from([1.0, 2.0])),
        method=draw(st.sampled_from(["auto", "fast", "optimal"])),
        distinguish_secondary=draw(st.booleans()))
    return table, dims, county_of, spec, draw(st.booleans())


@pytest.mark.slow
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_random_hierarchical_tables_hold_against_the_outsider(
        case: tuple[pd.DataFrame, list[str], dict[str, str], TableProtectionSpec, bool]) -> None:
    table, dims, county_of, spec, with_proportion = case
    from citizendata.privacy.structure import merge_rollup

    work, hier = merge_rollup(table, "ward", "county", county_of)
    out = protect_table(work, dims, spec, hierarchies={"ward": hier},
                        numerators=["k"] if with_proportion else ())
    # back to the published layout: the county rows in their own column
    pub = out.table.copy()
    at_county = pub["ward"].str.startswith("county:")
    pub["county"] = np.where(at_county, pub["ward"].str.removeprefix("county:"), "_T")
    pub.loc[at_county, "ward"] = "_T"
    shown = _published(pub if with_proportion else pub.drop(columns="value"),
                       ["ward", "age", "county"])
    rollups = {"county": ("ward", county_of)}
    outsider = PublishedTable("t", shown, ["ward", "age", "county"], threshold=spec.threshold,
                              respondent_count=True, scale=100.0)
    for integer in (False, True):
        found = attack_tables([outsider], rollups, integer=integer)
        judged = judge(found.drop(columns="indicator"), outsider, table, rollups,
                       threshold=spec.threshold, ratio=spec.protection_ratio,
                       minimum=spec.protection_minimum,
                       distinguish=spec.distinguish_secondary)
        counts = summary([judged])
        assert counts["pinned"] == 0 and counts["narrowed"] == 0, judged[~judged["ok"]]
