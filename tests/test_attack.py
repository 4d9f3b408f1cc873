"""The attacker of a suppressed table: feasible intervals by linear programming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.privacy.attack import attack, check_protection, protected_ok
from citizendata.privacy.structure import TableStructure
from citizendata.privacy.suppress import protection_levels, threshold_rule

# Households by village (rows) and water source (columns), with margins.
#            pipe  well  river | total
#   kibwezi    20     3     15 |    38
#   makindu    12    18     25 |    55
#   mtito      30    22     11 |    63
#   total      62    43     51 |   156
WATER = pd.DataFrame(
    [("kibwezi", "pipe", 20), ("kibwezi", "well", 3), ("kibwezi", "river", 15),
     ("kibwezi", "_T", 38),
     ("makindu", "pipe", 12), ("makindu", "well", 18), ("makindu", "river", 25),
     ("makindu", "_T", 55),
     ("mtito", "pipe", 30), ("mtito", "well", 22), ("mtito", "river", 11), ("mtito", "_T", 63),
     ("_T", "pipe", 62), ("_T", "well", 43), ("_T", "river", 51), ("_T", "_T", 156)],
    columns=["village", "source", "n"])


def _setup() -> tuple[TableStructure, np.ndarray]:
    st = TableStructure.from_table(WATER, ["village", "source"])
    a = np.zeros(st.n_cells)
    a[st.positions(WATER)] = WATER["n"].to_numpy(float)
    return st, a


def _mask(st: TableStructure, *cells: tuple[str, str]) -> np.ndarray:
    want = pd.DataFrame(cells, columns=["village", "source"])
    m = np.zeros(st.n_cells, dtype=bool)
    m[st.positions(want)] = True
    return m


def test_primary_only_suppression_is_recovered_exactly() -> None:
    st, a = _setup()
    primary = threshold_rule(a, 5)  # only kibwezi × well (3)
    assert primary.sum() == 1
    res = attack(st, a, primary)
    # the row total minus the published cells gives it away: 38 − 20 − 15 = 3
    assert res[["lo", "hi"]].to_numpy().tolist() == [[3.0, 3.0]]
    lower, upper = protection_levels(a, 0.3, 1.0)
    bad = check_protection(res, np.where(primary, lower, 0), np.where(primary, upper, 0),
                           cells=primary)
    assert len(bad) == 1  # the naive pattern FAILS the attacker test
    assert not protected_ok(res, np.where(primary, lower, 0), np.where(primary, upper, 0))


def test_four_cell_rectangle_gives_hand_computed_intervals() -> None:
    st, a = _setup()
    sup = _mask(st, ("kibwezi", "well"), ("kibwezi", "river"), ("mtito", "well"),
                ("mtito", "river"))
    res = attack(st, a, sup).set_index("position")
    # with x = kibwezi×well: kibwezi×river = 18 − x, mtito×well = 25 − x, mtito×river = 8 + x,
    # all non-negative for 0 ≤ x ≤ 18
    got = {tuple(st.cells.iloc[p]): (r.lo, r.hi) for p, r in res.iterrows()}
    assert got[("kibwezi", "well")] == pytest.approx((0, 18))
    assert got[("kibwezi", "river")] == pytest.approx((0, 18))
    assert got[("mtito", "well")] == pytest.approx((7, 25))
    assert got[("mtito", "river")] == pytest.approx((8, 26))


def test_unbounded_upper_end_and_external_bounds() -> None:
    st, a = _setup()
    # hiding a whole column and its total leaves the cells free to grow together
    sup = _mask(st, ("kibwezi", "well"), ("makindu", "well"), ("mtito", "well"), ("_T", "well"),
                ("kibwezi", "_T"), ("makindu", "_T"), ("mtito", "_T"), ("_T", "_T"))
    res = attack(st, a, sup)
    assert np.isinf(res["hi"]).all()
    lo = dict(zip(res["position"], res["lo"], strict=True))
    assert lo[int(np.flatnonzero(_mask(st, ("kibwezi", "well")))[0])] == pytest.approx(0)
    # the row total is at least its published cells: 20 + 15
    assert lo[int(np.flatnonzero(_mask(st, ("kibwezi", "_T")))[0])] == pytest.approx(35)
    capped = attack(st, a, sup, bounds=np.full(st.n_cells, 200.0))
    assert np.isfinite(capped["hi"]).all()
    assert (capped["hi"] <= 200.0 + 1e-9).all()


def test_only_the_asked_cells_are_attacked() -> None:
    st, a = _setup()
    sup = _mask(st, ("kibwezi", "well"), ("kibwezi", "river"), ("mtito", "well"),
                ("mtito", "river"))
    res = attack(st, a, sup, cells=_mask(st, ("mtito", "river")))
    assert len(res) == 1
    assert (res.loc[0, "lo"], res.loc[0, "hi"]) == pytest.approx((8, 26))


def test_published_sensitive_cell_is_refused_by_the_check() -> None:
    st, a = _setup()
    primary = threshold_rule(a, 5)
    res = attack(st, a, np.zeros(st.n_cells, dtype=bool))
    with pytest.raises(BadInput) as err:
        check_protection(res, np.ones(st.n_cells), np.ones(st.n_cells), cells=primary)
    assert err.value.code == "privacy.invalid_table"
