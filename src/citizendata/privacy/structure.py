"""The additive structure of a tidy table: its cells, hierarchies and the totals that bind them.

A release's linked tables come as one concatenated frame with ``_T`` in the dimensions a
table does not have; identical coordinates are one cell. Each dimension has a hierarchy
(child code -> parent code, top codes under ``_T``; flat by default). For every dimension
d, every parent code P with children present and every combination of the other
dimensions' codes for which cell (P, others) exists there is one constraint
``cell(P, others) − Σ_c cell(c, others) = 0`` over the children c present. Absent
children are structural zeros. A cell whose parent cell is absent counts towards its
nearest present ancestor instead (wards add up to the total of a table without county
rows). Suppression, the attacker and controlled rounding all
work on ``A @ x == 0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from citizendata.errors import BadInput, Where

__all__ = ["TOTAL", "UNKNOWN", "TableStructure", "check_additive", "describe_cell",
           "merge_rollup"]

TOTAL = "_T"
UNKNOWN = "_U"
_LEVEL = "{}:{}"  # a roll-up code inside the merged dimension (distinct from the lowest codes)


def _codes_frame(table: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """The dimension columns as plain string codes; missing columns or codes are refused."""
    missing = [d for d in dims if d not in table.columns]
    if missing:
        raise BadInput("privacy.invalid_table", f"the table has no column {missing[0]!r}",
                       where=Where(column=missing[0]),
                       fix=f"Give every cell a code in each dimension {list(dims)}.")
    if len(set(dims)) != len(dims) or not dims:
        raise BadInput("privacy.invalid_table", "give one or more distinct dimensions",
                       fix="Name each dimension once.")
    out = pd.DataFrame(index=range(len(table)))
    for d in dims:
        col = table[d].reset_index(drop=True)
        if col.isna().any():
            row = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise BadInput("privacy.invalid_table", f"a cell has no code in dimension {d!r}",
                           where=Where(row=row, column=d),
                           fix="Use '_T' for a total and '_U' for an unknown value.")
        out[d] = col.astype(str).to_numpy(dtype=object)
    return out


def _full_hierarchy(dim: str, codes: np.ndarray, given: Mapping[str, str] | None) -> dict[str, str]:
    """Every code's parent: the given mapping, top codes (and codes it omits) under _T."""
    parent = {str(k): str(v) for k, v in (given or {}).items()}
    if TOTAL in parent:
        raise BadInput("privacy.invalid_table", f"the total '_T' of {dim!r} cannot have a parent",
                       where=Where(field=dim), fix="Leave '_T' out of the hierarchy's children.")
    for c in codes:
        if c != TOTAL and c not in parent:
            parent[c] = TOTAL
    for v in list(parent.values()):
        if v != TOTAL and v not in parent:
            parent[v] = TOTAL
    # a cycle would make a cell its own ancestor; walking up len(parent) steps must reach _T
    for start in parent:
        c, steps = start, 0
        while c != TOTAL:
            c, steps = parent[c], steps + 1
            if steps > len(parent):
                raise BadInput("privacy.invalid_table", f"the hierarchy of {dim!r} has a cycle "
                               f"through {start!r}", where=Where(field=dim),
                               fix="Map each code to one parent, ending at '_T'.")
    return parent


def _nearest_totals(ints: pd.DataFrame, dims: tuple[str, ...], d: str,
                    parent: np.ndarray) -> pd.DataFrame:
    """Each cell (``_cell``) with the cell of its nearest present ancestor in d (``_parent``).

    A cell whose parent cell is absent (a county level no table publishes) belongs to
    the grandparent's total, and so on up to ``_T``: the wards of the only county add
    up to the total even when the county row is missing.
    """
    totals = ints.rename(columns={"_cell": "_parent"})
    found = []
    key = ints.copy()
    key[d] = parent[key[d].to_numpy()]
    key = key[key[d] >= 0]  # cells coded _T in d are nobody's child in d
    while not key.empty:
        hit = key.merge(totals, on=list(dims), how="left")
        ok = hit["_parent"].notna().to_numpy()
        found.append(hit.loc[ok, ["_cell", "_parent"]])
        key = hit.loc[~ok, [*dims, "_cell"]].copy()
        key[d] = parent[key[d].to_numpy()]
        key = key[key[d] >= 0]
    if not found:
        return pd.DataFrame({"_cell": [], "_parent": []}, dtype=np.int64)
    return pd.concat(found, ignore_index=True).astype(np.int64)


@dataclass(frozen=True, eq=False)
class TableStructure:
    """The cells of a (set of linked) table(s) and the additivity constraints between them."""

    dims: tuple[str, ...]
    cells: pd.DataFrame
    A: sp.csr_matrix
    hierarchies: dict[str, dict[str, str]]
    # per constraint row: the index (into dims) of its dimension and the cell of its total
    constraint_dim: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    constraint_total: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def from_table(cls, table: pd.DataFrame, dims: Sequence[str],
                   hierarchies: Mapping[str, Mapping[str, str]] | None = None) -> TableStructure:
        """The structure of a tidy table (or concatenated linked tables)."""
        dims = tuple(dims)
        frame = _codes_frame(table, dims)
        cells = frame.drop_duplicates(ignore_index=True)
        hier = {d: _full_hierarchy(d, cells[d].unique(), (hierarchies or {}).get(d))
                for d in dims}
        unknown = set(hierarchies or {}) - set(dims)
        if unknown:
            name = sorted(unknown)[0]
            raise BadInput("privacy.invalid_table", f"a hierarchy is given for {name!r}, "
                           "which is not a dimension", where=Where(field=name),
                           fix=f"Give hierarchies for the dimensions {list(dims)} only.")
        # integer codes per dimension make the parent look-ups plain integer merges
        ints = pd.DataFrame(index=cells.index)
        parents = {}
        for d in dims:
            vocab = pd.Index(sorted(set(hier[d]) | set(hier[d].values()) | {TOTAL}))
            ints[d] = vocab.get_indexer(cells[d].to_numpy())
            up = pd.Series(hier[d]).reindex(vocab).fillna("")
            parents[d] = vocab.get_indexer(up.to_numpy(dtype=object))  # -1 for _T itself
        ints["_cell"] = np.arange(len(cells), dtype=np.int64)
        rows, cols, vals, cdim, ctotal = [], [], [], [], []
        offset = 0
        for j, d in enumerate(dims):
            linked = _nearest_totals(ints, dims, d, parents[d])
            if linked.empty:
                continue
            tot, rid = np.unique(linked["_parent"].to_numpy(), return_inverse=True)
            k = tot.size
            rows += [offset + np.arange(k), offset + rid]
            cols += [tot, linked["_cell"].to_numpy()]
            vals += [np.ones(k), -np.ones(len(linked))]
            cdim.append(np.full(k, j, dtype=np.int64))
            ctotal.append(tot.astype(np.int64))
            offset += k
        n = len(cells)
        if offset:
            A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                      np.concatenate(cols))), shape=(offset, n))
        else:
            A = sp.csr_matrix((0, n))
        return cls(dims, cells, A, hier,
                   np.concatenate(cdim) if cdim else np.zeros(0, dtype=np.int64),
                   np.concatenate(ctotal) if ctotal else np.zeros(0, dtype=np.int64))

    @property
    def n_cells(self) -> int:
        """How many distinct cells the table has."""
        return len(self.cells)

    def positions(self, table: pd.DataFrame) -> np.ndarray:
        """For each row of ``table``, the index of its cell in ``self.cells``."""
        frame = _codes_frame(table, self.dims)
        frame["_row"] = np.arange(len(frame))
        idx = self.cells.assign(_cell=np.arange(self.n_cells))
        m = frame.merge(idx, on=list(self.dims), how="left").sort_values("_row")
        cell = m["_cell"].to_numpy()
        if np.isnan(cell.astype(float)).any():
            row = int(np.flatnonzero(np.isnan(cell.astype(float)))[0])
            raise BadInput("privacy.invalid_table", "a row is not a cell of this structure: "
                           + describe_cell(self, frame.iloc[row]), where=Where(row=row),
                           fix="Build the structure from the same table.")
        return cell.astype(np.int64)

    def cell_label(self, i: int) -> str:
        """A cell's codes, e.g. ``sex=F, county=_T``."""
        return describe_cell(self, self.cells.iloc[int(i)])


def describe_cell(structure: TableStructure, row: pd.Series) -> str:
    """A row's codes in the structure's dimensions, as ``dim=code`` pairs."""
    return ", ".join(f"{d}={row[d]}" for d in structure.dims)


def check_additive(structure: TableStructure, values: np.ndarray, tol: float = 1e-6) -> None:
    """Refuse values whose totals are not the sums of their parts (relative tolerance ``tol``)."""
    x = np.asarray(values, dtype=float)
    if x.shape != (structure.n_cells,):
        raise BadInput("privacy.invalid_table", f"{x.size} values for {structure.n_cells} cells",
                       fix="Give one value per cell of the structure.")
    if not np.isfinite(x).all():
        i = int(np.flatnonzero(~np.isfinite(x))[0])
        raise BadInput("privacy.invalid_table", f"cell {structure.cell_label(i)} has no value",
                       where=Where(position=i), fix="Give every cell a finite count.")
    if structure.A.shape[0] == 0:
        return
    r = structure.A @ x
    tot = x[structure.constraint_total]
    bad = np.flatnonzero(np.abs(r) > tol * np.maximum(1.0, np.abs(tot)))
    if bad.size == 0:
        return
    parts = []
    for k in bad[:3]:
        t = int(structure.constraint_total[k])
        d = structure.dims[int(structure.constraint_dim[k])]
        parts.append(f"total {structure.cell_label(t)} is {tot[k]:g} but its parts over "
                     f"{d!r} sum to {tot[k] - r[k]:g}")
    more = f" (and {bad.size - 3} more)" if bad.size > 3 else ""
    raise BadInput("privacy.invalid_table", "the table is not additive: " + "; ".join(parts)
                   + more, where=Where(position=int(structure.constraint_total[bad[0]])),
                   fix="Give counts whose totals equal the sums of their parts (unweighted "
                       "counts of the same cube are).")


def merge_rollup(table: pd.DataFrame, low: str, up: str, parent_of: Mapping[str, str]
                 ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Merge roll-up column ``up`` (county of ward) into ``low`` (ward) as one hierarchy.

    A row at the roll-up level (``low`` is ``_T``) moves into ``low`` as ``"<up>:<code>"``;
    returns the table without ``up`` and the hierarchy ward -> ``up:county`` -> ``_T``.
    A place the mapping lacks, and the unknown place, roll up to ``"<up>:_U"``.
    """
    work = table.copy()
    lo, hi = work[low].astype(str), work[up].astype(str)
    at_level = (lo == TOTAL) & (hi != TOTAL)
    work[low] = np.where(at_level, up + ":" + hi, lo)
    h = {str(c): _LEVEL.format(up, p) for c, p in parent_of.items()}
    h.update({_LEVEL.format(up, p): TOTAL for p in set(map(str, parent_of.values()))})
    unknown = _LEVEL.format(up, UNKNOWN)
    for code in set(work[low].astype(str)) - set(h) - {TOTAL}:
        if not code.startswith(f"{up}:"):
            h[code] = unknown
    if unknown in set(work[low]) or unknown in h.values():
        h[unknown] = TOTAL
    return work.drop(columns=[up]), h
