"""The existence check over a model space: exact, and with few linear programs."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import citizendata.integrate.mse.select as select
from citizendata.integrate.mse import Histories, read_histories
from citizendata.integrate.mse._design import Design, mle_exists
from citizendata.integrate.mse.loglinear import pair_overlaps

# Enforced disappearances, 2016-2018, in the Colombia scenario (seed 2016): 31 victims on
# six lists, most overlaps empty or single: many of the 32,768 models need the LP.
DISAPPEARED = """flip,fiscalia,defensoria,sindical,medios,somos,count
0,1,0,0,0,0,2
1,1,0,0,0,0,1
0,0,1,0,0,0,5
0,1,1,0,0,0,2
0,0,0,1,0,0,2
0,0,1,1,0,0,1
0,0,0,0,1,0,2
1,0,0,0,1,0,1
0,1,0,0,1,0,1
0,0,1,0,1,0,1
0,1,1,0,1,0,1
1,1,1,0,1,0,1
0,0,0,0,0,1,2
0,1,0,0,0,1,1
0,0,1,0,0,1,2
0,1,1,0,0,1,1
0,0,0,1,0,1,1
0,0,1,1,0,1,3
0,0,0,0,1,1,1
"""


def _table(drop: list[str]) -> pd.DataFrame:
    t = pd.read_csv(io.StringIO(DISAPPEARED)).drop(columns=drop)
    lists = list(t.columns[:-1])
    t = t.groupby(lists, as_index=False)["count"].sum()
    return t[t[lists].sum(axis=1) > 0]


def _sparse(seed: int) -> Histories:
    """Five lists, a few observed patterns with small counts (seeded)."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(np.arange(1, 32), size=rng.integers(6, 14), replace=False)
    counts = rng.integers(1, 6, size=len(cells))
    return Histories([f"L{j}" for j in range(5)], (cells[:, None] >> np.arange(5)) & 1, counts)


@pytest.mark.parametrize(("seed", "n_exist"), [(21, 712), (24, 637)])
def test_every_model_agrees_with_its_own_linear_program(seed: int, n_exist: int) -> None:
    h = _sparse(seed)
    design, y, overlap = Design(h.k), h.full_counts(), pair_overlaps(h)
    masks = np.arange(2 ** len(design.pairs), dtype=np.int64)
    exists, _ = select.admissibility(design, y, masks, overlap)
    cols, cells, _ = design.masks(masks, overlap)
    one_by_one = np.array([mle_exists(design.matrix[c][:, k], y[c])[0]
                           for k, c in zip(cols, cells, strict=True)])
    assert exists.sum() == n_exist  # both kinds are there
    np.testing.assert_array_equal(exists, one_by_one)


def test_six_lists_need_few_linear_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    h = read_histories(_table([]))
    design, y, overlap = Design(h.k), h.full_counts(), pair_overlaps(h)
    calls = []

    def counted(x: np.ndarray, yy: np.ndarray) -> tuple[bool, bool]:
        calls.append(1)
        return mle_exists(x, yy)

    monkeypatch.setattr(select, "mle_exists", counted)
    exists, ident = select.admissibility(design, y, np.arange(2 ** 15, dtype=np.int64), overlap)
    # one model in ~100 solved; the check settles the rest through the lattice
    assert len(calls) < 400
    assert (exists & ident).all()  # empty overlaps are structural zeros: every model fits
