"""Table structure, primary rules, secondary suppression and protect_table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.privacy.attack import attack, check_protection
from citizendata.privacy.structure import TableStructure, check_additive
from citizendata.privacy.suppress import (
    cost_vector,
    dominance_rule,
    nk_rule,
    p_percent_protection,
    protection_levels,
    secondary_suppression,
    threshold_rule,
)
from citizendata.privacy.tables import protect_table
from citizendata.projects.protection import RoundingSpec, TableProtectionSpec

# Respondents by ward (rows) and sex (columns), with margins.
#            F    M  | _T
#   magadi   20   3  | 23
#   ewuaso   12  18  | 30
#   suswa    30  22  | 52
#   _T       62  43  | 105
WARDS = pd.DataFrame(
    [("magadi", "F", 20), ("magadi", "M", 3), ("magadi", "_T", 23),
     ("ewuaso", "F", 12), ("ewuaso", "M", 18), ("ewuaso", "_T", 30),
     ("suswa", "F", 30), ("suswa", "M", 22), ("suswa", "_T", 52),
     ("_T", "F", 62), ("_T", "M", 43), ("_T", "_T", 105)],
    columns=["ward", "sex", "n"])

# The same wards rolled up to counties: magadi and ewuaso are in Kajiado, suswa in Narok.
COUNTY_OF = {"magadi": "kajiado", "ewuaso": "kajiado", "suswa": "narok",
             "kajiado": "_T", "narok": "_T"}
PLACES = pd.DataFrame(
    [("magadi", "F", 20), ("magadi", "M", 3), ("magadi", "_T", 23),
     ("ewuaso", "F", 12), ("ewuaso", "M", 18), ("ewuaso", "_T", 30),
     ("kajiado", "F", 32), ("kajiado", "M", 21), ("kajiado", "_T", 53),
     ("suswa", "F", 30), ("suswa", "M", 22), ("suswa", "_T", 52),
     ("narok", "F", 30), ("narok", "M", 22), ("narok", "_T", 52),
     ("_T", "F", 62), ("_T", "M", 43), ("_T", "_T", 105)],
    columns=["place", "sex", "n"])

# Two linked tables of one release: sex × county and sex × age group (age and county are
# "_T" where a table does not have them); they share the sex margin.
LINKED = pd.DataFrame(
    [("F", "kajiado", "_T", 30), ("M", "kajiado", "_T", 4), ("_T", "kajiado", "_T", 34),
     ("F", "narok", "_T", 25), ("M", "narok", "_T", 28), ("_T", "narok", "_T", 53),
     ("F", "_T", "_T", 55), ("M", "_T", "_T", 32), ("_T", "_T", "_T", 87),
     ("F", "_T", "0-17", 21), ("M", "_T", "0-17", 14), ("_T", "_T", "0-17", 35),
     ("F", "_T", "18+", 34), ("M", "_T", "18+", 18), ("_T", "_T", "18+", 52),
     ("F", "_T", "_T", 55), ("M", "_T", "_T", 32), ("_T", "_T", "_T", 87)],
    columns=["sex", "county", "age", "n"])


def _values(structure: TableStructure, table: pd.DataFrame) -> np.ndarray:
    a = np.zeros(structure.n_cells)
    a[structure.positions(table)] = table["n"].to_numpy(float)
    return a


def _cube(inner: np.ndarray, names: list[str]) -> pd.DataFrame:
    """A table with every margin from its innermost cells (codes like a0, b1, ...)."""
    rows = []
    for idx in itertools.product(*[range(k + 1) for k in inner.shape]):
        part = tuple(slice(None) if i == k else i for i, k in zip(idx, inner.shape, strict=True))
        codes = tuple("_T" if i == k else f"{nm[0]}{i}"
                      for i, k, nm in zip(idx, inner.shape, names, strict=True))
        rows.append((*codes, int(inner[part].sum())))
    return pd.DataFrame(rows, columns=[*names, "n"])


def _protect_and_attack(table: pd.DataFrame, dims: list[str], method: str,
                        hierarchies: dict[str, dict[str, str]] | None = None) -> float:
    """Suppress with ``method``, assert naive fails and the pattern passes; return the cost."""
    s = TableStructure.from_table(table, dims, hierarchies)
    a = _values(s, table)
    primary = threshold_rule(a, 5)
    assert primary.any()
    lower, upper = protection_levels(a, 0.3, 1.0)
    L, U = np.where(primary, lower, 0), np.where(primary, upper, 0)
    assert not check_protection(attack(s, a, primary), L, U, cells=primary).empty
    res = secondary_suppression(s, a, primary, lower=lower, upper=upper, method=method)  # type: ignore[arg-type]
    assert res.method == method
    assert (res.suppressed == (res.primary | res.secondary)).all()
    assert not (res.primary & res.secondary).any()
    out = attack(s, a, res.suppressed)
    assert check_protection(out, L, U, cells=primary).empty
    for p in np.flatnonzero(primary):
        r = out.set_index("position").loc[p]
        assert r.lo <= a[p] - L[p] + 1e-6 and r.hi >= a[p] + U[p] - 1e-6
    return res.info_loss["cost"]


# ------------------------------------------------------------------------- structure


def test_two_way_table_has_one_constraint_per_total() -> None:
    s = TableStructure.from_table(WARDS, ["ward", "sex"])
    assert s.n_cells == 12
    assert s.A.shape == (3 + 4, 12)  # a sex total per ward and _T, a ward total per sex and _T
    dense = s.A.toarray()
    row = pd.DataFrame([("magadi", "_T"), ("magadi", "F"), ("magadi", "M")],
                       columns=["ward", "sex"])
    t, f, m = s.positions(row)
    match = [r for r in dense if r[t] == 1 and r[f] == -1 and r[m] == -1]
    assert len(match) == 1 and np.abs(match[0]).sum() == 3
    check_additive(s, _values(s, WARDS))


def test_hierarchy_ward_county_total() -> None:
    s = TableStructure.from_table(PLACES, ["place", "sex"], {"place": COUNTY_OF})
    a = _values(s, PLACES)
    check_additive(s, a)
    dense = s.A.toarray()
    cell = dict(zip(map(tuple, s.cells.to_numpy()), range(s.n_cells), strict=True))
    # kajiado × F = magadi × F + ewuaso × F, and _T × F = kajiado × F + narok × F
    want = np.zeros(s.n_cells)
    want[[cell["kajiado", "F"], cell["magadi", "F"], cell["ewuaso", "F"]]] = [1, -1, -1]
    assert any(np.array_equal(r, want) for r in dense)
    want = np.zeros(s.n_cells)
    want[[cell["_T", "F"], cell["kajiado", "F"], cell["narok", "F"]]] = [1, -1, -1]
    assert any(np.array_equal(r, want) for r in dense)
    # wards are not children of _T directly
    assert not any(r[cell["_T", "F"]] == 1 and r[cell["magadi", "F"]] == -1 for r in dense)
    assert s.hierarchies["place"]["magadi"] == "kajiado"
    assert s.hierarchies["sex"]["F"] == "_T"


def test_wards_add_up_to_the_total_when_county_rows_are_missing() -> None:
    # ward × age, plus the county only in its age total: Kajiado is the only county, so
    # the age totals are still the sums over the wards and ewuaso × 15-24 = 18 − 14 = 4
    table = pd.DataFrame(
        [("_T", "_T", 53), ("_T", "15-24", 18), ("_T", "35+", 35), ("kajiado", "_T", 53),
         ("magadi", "_T", 40), ("ewuaso", "_T", 13), ("magadi", "15-24", 14),
         ("magadi", "35+", 26), ("ewuaso", "15-24", 4), ("ewuaso", "35+", 9)],
        columns=["place", "age", "n"])
    hier = {"place": {"magadi": "kajiado", "ewuaso": "kajiado", "kajiado": "_T"}}
    s = TableStructure.from_table(table, ["place", "age"], hier)
    a = _values(s, table)
    check_additive(s, a)
    primary = threshold_rule(a, 5)
    leak = attack(s, a, primary)
    assert leak[["lo", "hi"]].to_numpy().tolist() == [[4.0, 4.0]]
    out = protect_table(table, ["place", "age"], TableProtectionSpec(), hierarchies=hier)
    assert out.result.secondary.sum() >= 1


def test_linked_tables_share_their_sex_margin() -> None:
    s = TableStructure.from_table(LINKED, ["sex", "county", "age"])
    assert s.n_cells == 15  # 18 rows, the three sex margin cells listed twice
    a = _values(s, LINKED)
    check_additive(s, a)
    margin = pd.DataFrame([("F", "_T", "_T")], columns=["sex", "county", "age"])
    f = s.positions(margin)[0]
    dims_of_rows_with_f_total = {s.dims[d] for d, t in zip(s.constraint_dim,
                                                            s.constraint_total, strict=True)
                                 if t == f}
    assert dims_of_rows_with_f_total == {"county", "age"}


def test_non_additive_table_names_the_broken_total() -> None:
    bad = WARDS.copy()
    bad.loc[(bad.ward == "magadi") & (bad.sex == "_T"), "n"] = 24
    s = TableStructure.from_table(bad, ["ward", "sex"])
    with pytest.raises(BadInput) as err:
        check_additive(s, _values(s, bad))
    assert err.value.code == "privacy.invalid_table"
    assert "ward=magadi, sex=_T is 24" in str(err.value)


def test_missing_dimension_column_is_refused() -> None:
    with pytest.raises(BadInput) as err:
        TableStructure.from_table(WARDS, ["ward", "age"])
    assert err.value.code == "privacy.invalid_table"


# ------------------------------------------------------------------------- primary rules


def test_threshold_rule() -> None:
    n = np.array([0, 1, 4, 5, 12])
    assert threshold_rule(n, 5).tolist() == [False, True, True, False, False]
    assert threshold_rule(n, 5, zero_unsafe=True).tolist() == [True, True, True, False, False]


def test_p_percent_and_nk_rules_by_hand() -> None:
    # cell A: contributions 100, 40, 5, 3 → T = 148; the runner-up learns the leader to
    # within T − x1 − x2 = 8 < 10 % of 100 = 10: sensitive, needing 10 − 8 = 2 more cover.
    # cell B: 100, 40, 20 → T = 160; remainder 20 ≥ 10: safe.
    total, top1, top2 = np.array([148, 160]), np.array([100, 100]), np.array([40, 40])
    assert dominance_rule(total, top1, top2, p=10).tolist() == [True, False]
    assert p_percent_protection(total, top1, top2, p=10).tolist() == [2.0, 0.0]
    # (2, 85) rule: the two largest hold 140/148 = 94.6 % and 140/160 = 87.5 % → both
    assert nk_rule(total, top1 + top2, k=85).tolist() == [True, True]
    assert nk_rule(total, top1 + top2, k=90).tolist() == [True, False]
    assert not dominance_rule(np.array([0]), np.array([0]), np.array([0]), p=10)[0]


def test_protection_levels_and_costs() -> None:
    lower, upper = protection_levels(np.array([0.0, 2.0, 10.0]), ratio=0.3, minimum=1.0)
    assert lower.tolist() == [0.0, 1.0, 3.0]  # a count cannot drop below zero
    assert upper.tolist() == [1.0, 1.0, 3.0]
    a = np.array([0.0, 9.0])
    assert cost_vector(a, "value").tolist() == [1.0, 10.0]
    assert cost_vector(a, "count").tolist() == [1.0, 1.0]
    assert cost_vector(a, "log") == pytest.approx([1.0, 1 + np.log(10)])


# ------------------------------------------------------------------------- suppression


@pytest.mark.parametrize("method", ["optimal", "fast"])
def test_two_way_table(method: str) -> None:
    assert _protect_and_attack(WARDS, ["ward", "sex"], method) > 0


@pytest.mark.parametrize("method", ["optimal", "fast"])
def test_three_way_table(method: str) -> None:
    inner = np.array([[[9, 2], [14, 8], [6, 11]],
                      [[7, 12], [10, 3], [15, 9]],
                      [[11, 6], [8, 13], [12, 10]]])
    _protect_and_attack(_cube(inner, ["age", "wealth", "sex"]), ["age", "wealth", "sex"],
                        method)


@pytest.mark.parametrize("method", ["optimal", "fast"])
def test_hierarchical_table(method: str) -> None:
    _protect_and_attack(PLACES, ["place", "sex"], method, {"place": COUNTY_OF})


@pytest.mark.parametrize("method", ["optimal", "fast"])
def test_linked_tables(method: str) -> None:
    _protect_and_attack(LINKED, ["sex", "county", "age"], method)


def test_zero_unsafe_cell_is_protected_upwards() -> None:
    inner = np.array([[0, 12, 9], [14, 8, 11], [6, 13, 10]])
    t = _cube(inner, ["row", "col"])
    s = TableStructure.from_table(t, ["row", "col"])
    a = _values(s, t)
    primary = threshold_rule(a, 5, zero_unsafe=True)
    lower, upper = protection_levels(a, 0.3, 1.0)
    res = secondary_suppression(s, a, primary, lower=lower, upper=upper, method="fast")
    out = attack(s, a, res.suppressed)
    assert check_protection(out, res.lower, res.upper, cells=primary).empty
    zero = int(np.flatnonzero(primary & (a == 0))[0])
    assert out.set_index("position").loc[zero, "hi"] >= 1.0


def test_auto_picks_optimal_for_small_tables() -> None:
    s = TableStructure.from_table(WARDS, ["ward", "sex"])
    a = _values(s, WARDS)
    lower, upper = protection_levels(a, 0.3, 1.0)
    res = secondary_suppression(s, a, threshold_rule(a, 5), lower=lower, upper=upper)
    assert res.method == "optimal"
    assert res.info_loss["cells"] == res.secondary.sum()


def test_negative_count_is_refused() -> None:
    s = TableStructure.from_table(WARDS, ["ward", "sex"])
    a = _values(s, WARDS)
    a[0] = -1
    with pytest.raises(BadInput) as err:
        secondary_suppression(s, a, a < 5, lower=a, upper=a)
    assert err.value.code == "privacy.invalid_table"


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 4), st.integers(2, 4), st.integers(0, 2**31 - 1))
def test_optimal_never_loses_more_than_fast(rows: int, cols: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    inner = rng.poisson(rng.gamma(1.0, 10.0, (rows, cols)))
    inner.flat[0] = 2  # at least one sensitive cell
    table = _cube(inner, ["row", "col"])
    fast = _protect_and_attack(table, ["row", "col"], "fast")
    optimal = _protect_and_attack(table, ["row", "col"], "optimal")
    assert optimal <= fast + 1e-9


# ------------------------------------------------------------------------- protect_table


def _estimates() -> pd.DataFrame:
    """A tidy estimate table as the estimation engine returns it (rows deliberately shuffled)."""
    t = WARDS.rename(columns={"n": "n"}).copy()
    t["value"] = np.linspace(0.1, 0.9, len(t))
    t["se"] = 0.05
    t["flag"] = "ok"
    return t.iloc[[5, 0, 11, 1, 2, 3, 4, 6, 7, 8, 9, 10]].reset_index(drop=True)


def test_protect_table_keeps_rows_and_blanks_suppressed_cells() -> None:
    table = _estimates()
    out = protect_table(table, ["ward", "sex"], TableProtectionSpec())
    t = out.table
    assert len(t) == len(table)
    assert t[["ward", "sex"]].equals(table[["ward", "sex"]])
    small = (t.ward == "magadi") & (t.sex == "M")
    hidden = t["conf_status"] != "F"
    # one flag: a reader cannot tell the small cell from the ones hiding it
    assert set(t.loc[hidden, "conf_status"]) == {"C"}
    assert set(t.loc[hidden, "suppression"]) == {"confidential"}
    assert hidden[small].all() and hidden.sum() == out.result.suppressed.sum() > 1
    assert t.loc[hidden, ["value", "se"]].isna().all().all()
    assert t.loc[hidden, "n"].isna().all() and t.loc[hidden, "flag"].isna().all()
    assert t.loc[~hidden, "n"].tolist() == table.loc[~hidden, "n"].tolist()
    assert t.loc[~hidden, "suppression"].isna().all()
    rep = out.report()
    assert rep["cells"] == 12 and rep["suppressed"] == hidden.sum()
    assert rep["rules"]["threshold"] == 5
    # nothing published tells primary from secondary cells or sums hidden counts
    assert not {"primary", "secondary", "info_loss"} & set(rep)
    assert out.detail()["primary"] == 1


def test_the_policy_may_publish_primary_and_secondary_apart() -> None:
    table = _estimates()
    out = protect_table(table, ["ward", "sex"], TableProtectionSpec(distinguish_secondary=True))
    t = out.table
    small = (t.ward == "magadi") & (t.sex == "M")
    assert t.loc[small, "conf_status"].item() == "C"
    assert t.loc[small, "suppression"].item() == "threshold"
    hidden = t["conf_status"] != "F"
    assert (t.loc[hidden, "conf_status"] == "D").sum() == out.result.secondary.sum() > 0
    assert out.report()["primary"] == 1


def test_protect_table_with_dominance_contributions() -> None:
    table = _estimates()
    # suswa × F: 30 respondents, but one household holds nearly all the land
    contrib = pd.DataFrame([("suswa", "F", 500.0, 480.0, 10.0)],
                           columns=["ward", "sex", "total", "top1", "top2"])
    out = protect_table(table, ["ward", "sex"], TableProtectionSpec(), contributions=contrib)
    t = out.table
    row = (t.ward == "suswa") & (t.sex == "F")
    assert t.loc[row, "conf_status"].item() == "C"
    assert out.detail()["primary"] == 2
    shown = protect_table(table, ["ward", "sex"], TableProtectionSpec(distinguish_secondary=True),
                          contributions=contrib).table
    assert shown.loc[row, "suppression"].item() == "dominance"


def test_protect_table_rejects_non_additive_counts() -> None:
    table = _estimates()
    table.loc[(table.ward == "_T") & (table.sex == "_T"), "n"] = 106
    with pytest.raises(BadInput) as err:
        protect_table(table, ["ward", "sex"], TableProtectionSpec())
    assert err.value.code == "privacy.invalid_table"


def test_protect_table_rounds_published_counts() -> None:
    spec = TableProtectionSpec(rounding=RoundingSpec(method="random", base=5))
    out = protect_table(_estimates(), ["ward", "sex"], spec)
    shown = out.table.loc[out.table["conf_status"] == "F", "n"].astype(int)
    assert (shown % 5 == 0).all()
    assert out.report()["rounding"]["base"] == 5


def test_protect_table_without_sensitive_cells_changes_nothing() -> None:
    table = pd.DataFrame({"sex": ["F", "M", "_T"], "n": [10, 12, 22], "value": [0.1, 0.2, 0.3]})
    out = protect_table(table, ["sex"], TableProtectionSpec())
    assert out.table["conf_status"].tolist() == ["F", "F", "F"]
    assert out.table["n"].tolist() == [10, 12, 22]
    assert out.table["suppression"].tolist() == [None, None, None]


def test_one_way_table_hides_the_only_sibling() -> None:
    # F = 1 with the total 13 published: hiding F alone gives F = 13 − 12
    table = pd.DataFrame({"sex": ["F", "M", "_T"], "n": [1, 12, 13], "value": [0.1, 0.2, 0.3]})
    out = protect_table(table, ["sex"], TableProtectionSpec(method="fast"))
    assert out.table["conf_status"].tolist() == ["C", "C", "F"]
    assert out.table["suppression"].tolist() == ["confidential", "confidential", None]
