"""Read a release as an outsider does: its public files only, every fact they publish.

``attack_release`` takes a release's files (a mapping of name to bytes, fetched over
HTTP or read from disk) and, for every indicator, sets up the linear programme of what
a reader can derive about each hidden count (docs/methods/suppression.md, "The
attacker"):

* the published counts, and that totals are sums of their parts over the published
  hierarchies (roll-ups such as ward -> county are public geography, passed in);
* every listed cell is non-empty (the cube lists only groups with someone in them);
* what the confidentiality flags tell: where the file tells secondary (D) cells from
  primary (C) ones, a D cell is not sensitive, so its count is at least the published
  threshold, and a C cell of a respondent table that failed the threshold is below it;
* published totals over suppressed cells (a manifest's ``info_loss.value`` is the sum
  of the secondary cells when the file tells them apart);
* rounding: a count rounded to base b is within b − 1 of the truth;
* numerators: where ``value × n / scale`` is a whole number in every published cell
  the indicator is an unweighted proportion, and the numerators are one more additive
  table, each at most its cell's count;
* indicators over the same units: tables whose published counts agree wherever both
  publish a cell are read as one table (tried, and dropped if it admits no solution).

It returns each hidden cell's feasible interval under the linear programme and, if
asked, the integer programme (counts are whole). Nothing here reads the database.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from citizendata.privacy.attack import attack
from citizendata.privacy.knowledge import Infeasible, Knowledge
from citizendata.privacy.structure import TOTAL, TableStructure, merge_rollup
from citizendata.privacy.suppress import protection_levels

__all__ = ["PublishedTable", "attack_release", "attack_tables", "judge", "read_release_tables",
           "rolled_table", "summary"]

_VALUES = ("value", "se", "ci_low", "ci_high", "cv", "n", "flag", "conf_status", "suppression")
_HIDDEN = ("C", "D", "S", "O")  # confidential, secondary, suppressed, missing (SDMX)


@dataclass
class PublishedTable:
    """One indicator's published table, as a reader sees it."""

    indicator: str
    table: pd.DataFrame  # dims as codes, then the published columns
    dims: list[str]
    threshold: int | None = None
    rounding_base: int | None = None
    respondent_count: bool = False  # the count is of respondents (not of units such as births)
    scale: float | None = None
    secondary_total: float | None = None  # a published sum of the secondary cells' counts
    members: list[str] = field(default_factory=list)  # indicators merged into this table

    @property
    def hidden(self) -> np.ndarray:
        status = self.table.get("conf_status")
        if status is None:
            return self.table["n"].isna().to_numpy()
        return status.astype(str).isin(_HIDDEN).to_numpy() | self.table["n"].isna().to_numpy()


def read_release_tables(files: Mapping[str, bytes]) -> list[PublishedTable]:
    """Every indicator's estimates table and the protection facts its manifest publishes."""
    manifest = json.loads(files["manifest.json"])
    indicators = manifest.get("release", {}).get("indicators", {})
    out = []
    for ind, meta in sorted(indicators.items()):
        name = f"{ind}/estimates.csv"
        if name not in files:
            continue
        df = pd.read_csv(io.BytesIO(files[name]), dtype=str, keep_default_na=False)
        dims = [c for c in df.columns if c not in _VALUES]
        for c in ("value", "n"):
            if c in df.columns:
                df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="coerce")
        prot = meta.get("protection") or {}
        rules = prot.get("rules") or {}
        rounding = prot.get("rounding") or {}
        loss = prot.get("info_loss") or {}
        out.append(PublishedTable(
            indicator=ind, table=df, dims=dims, threshold=rules.get("threshold"),
            rounding_base=rounding.get("base") if isinstance(rounding, dict) else None,
            respondent_count=prot.get("count") == "n_psu",
            scale=_scale(meta), secondary_total=loss.get("value"), members=[ind]))
    return out


def _scale(meta: Mapping[str, object]) -> float | None:
    unit = str(meta.get("unit") or "").upper()
    return 100.0 if unit in ("PT", "PERCENT", "%") else 1.0


def _numerators(t: PublishedTable) -> np.ndarray | None:
    """Published numerators when value × n / scale is whole in every published cell."""
    df = t.table
    if "value" not in df.columns or t.scale is None or t.rounding_base:
        return None
    v, n = df["value"].to_numpy(float), df["n"].to_numpy(float)
    shown = np.isfinite(v) & np.isfinite(n)
    if shown.sum() < 2:
        return None
    k = v * n / t.scale
    # values are published to 10 significant digits
    if not np.all(np.abs(k[shown] - np.rint(k[shown])) <= 1e-6 * np.maximum(1.0, k[shown])):
        return None
    if (v[shown] > t.scale * (1 + 1e-9)).any():
        return None  # not a proportion
    return np.where(shown, np.rint(k), np.nan)


def rolled_table(t: PublishedTable, rollups: Mapping[str, tuple[str, Mapping[str, str]]]
            ) -> tuple[pd.DataFrame, list[str], dict[str, dict[str, str]]]:
    """The table with each roll-up column merged into the column it rolls up."""
    work, dims, hier = t.table.copy(), list(t.dims), {}
    for up, (low, parent_of) in rollups.items():
        if up not in dims:
            continue
        if low not in dims:  # counties alone: the same codes as under a ward table
            work[low] = TOTAL
            dims.append(low)
        work, hier[low] = merge_rollup(work, low, up, parent_of)
        dims.remove(up)
    return work, sorted(dims), hier


def attack_tables(tables: Sequence[PublishedTable],
                  rollups: Mapping[str, tuple[str, Mapping[str, str]]] | None = None, *,
                  integer: bool = False) -> pd.DataFrame:
    """Every hidden cell's feasible interval: indicator, the dims' codes, lo, hi."""
    rollups = rollups or {}
    parts = []
    for group in _same_units(tables, rollups):
        try:
            parts.append(_attack_group(group, rollups, integer))
        except Infeasible:
            # the tables were not counts of the same units after all: read them alone
            for t in group:
                parts.append(_attack_group([t], rollups, integer))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def attack_release(files: Mapping[str, bytes],
                   rollups: Mapping[str, tuple[str, Mapping[str, str]]] | None = None, *,
                   integer: bool = False) -> pd.DataFrame:
    """Read a release's files and bound every hidden count (see the module's docstring)."""
    return attack_tables(read_release_tables(files), rollups, integer=integer)


def _same_units(tables: Sequence[PublishedTable],
                rollups: Mapping[str, tuple[str, Mapping[str, str]]]
                ) -> list[list[PublishedTable]]:
    """Tables whose published counts agree on every cell both publish (and share one)."""
    groups: list[tuple[dict[str, float], list[PublishedTable]]] = []
    for t in tables:
        work, dims, _ = rolled_table(t, rollups)
        shown = ~t.hidden
        counts = dict(zip(_keys(work.loc[shown], dims), work.loc[shown, "n"], strict=True))
        for seen, members in groups:
            common = counts.keys() & seen.keys()
            if common and all(counts[c] == seen[c] for c in common):
                members.append(t)
                seen.update(counts)
                break
        else:
            groups.append((counts, [t]))
    return [members for _, members in groups]


def _keys(df: pd.DataFrame, dims: Sequence[str]) -> list[str]:
    """A cell's codes as one key, ``dim=code`` pairs of its non-total dimensions."""
    if df.empty:
        return []
    parts = [np.where(df[d].astype(str) == TOTAL, "", d + "=" + df[d].astype(str)) for d in dims]
    if not parts:
        return ["_all"] * len(df)
    return ["|".join(p for p in row if p) for row in zip(*parts, strict=True)]


def _attack_group(group: Sequence[PublishedTable],
                  rollups: Mapping[str, tuple[str, Mapping[str, str]]],
                  integer: bool) -> pd.DataFrame:
    """One linear programme over the tables of a group (the same units)."""
    frames: list[pd.DataFrame] = []
    names: set[str] = set()
    hier: dict[str, dict[str, str]] = {}
    for t in group:
        work, d, h = rolled_table(t, rollups)
        names.update(d)
        hier.update(h)
        frames.append(work.assign(_hidden=t.hidden, _num=_numerators(t), _ind=t.indicator))
    dims = sorted(names)
    # a dimension a table does not have is its total there
    table = pd.concat(frames, ignore_index=True).fillna({d: TOTAL for d in dims})
    if not dims:
        table = table.assign(_all=TOTAL)
        dims = ["_all"]
    st = TableStructure.from_table(table, dims, hier or None)
    pos = st.positions(table)
    n = st.n_cells
    hidden = np.zeros(n, dtype=bool)
    hidden[pos[table["_hidden"].to_numpy(bool)]] = True
    counts = np.full(n, np.nan)
    shown_rows = ~table["_hidden"].to_numpy(bool)
    counts[pos[shown_rows]] = table.loc[shown_rows, "n"].to_numpy(float)
    first = group[0]
    lo, hi = _count_bounds(first, table, pos, n)
    know = Knowledge()
    slack = float(first.rounding_base - 1) if first.rounding_base else 0.0
    # every cell is an unknown; a published one is pinned to its count (± rounding)
    x = know.unknowns(np.where(hidden, lo, np.maximum(counts - slack, 0.0)),
                      np.where(hidden, hi, counts + slack))
    A = sp.csr_matrix(st.A)
    if A.shape[0]:
        know.equal(A, x, 0.0)
    for ind in table["_ind"].unique():
        rows = (table["_ind"] == ind).to_numpy()
        num = table.loc[rows, "_num"].to_numpy(float)
        if not np.isfinite(num).any():
            continue
        k_known = np.full(n, np.nan)
        k_known[pos[rows]] = num
        known = np.isfinite(k_known)
        k = know.unknowns(np.where(known, k_known, 0.0), np.where(known, k_known, np.inf))
        if A.shape[0]:
            know.equal(A, k, 0.0)
        # a numerator is at most its denominator
        know.at_most(sp.hstack([sp.identity(n), -sp.identity(n)]), np.concatenate([k, x]), 0.0)
    _secondary_sum(first, table, pos, hidden, x, know)
    res = know.intervals(x[hidden], integer=integer)
    out = st.cells.iloc[np.flatnonzero(hidden)].reset_index(drop=True)
    out.insert(0, "indicator", "+".join(t.indicator for t in group))
    out["lo"], out["hi"] = res["lo"].to_numpy(), res["hi"].to_numpy()
    return out


def _count_bounds(t: PublishedTable, table: pd.DataFrame, pos: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """What the flags tell of each hidden count: at least 1, and the threshold's bounds."""
    lo, hi = np.ones(n), np.full(n, np.inf)
    status = table.get("conf_status")
    if status is None or t.threshold is None:
        return lo, hi
    status = status.astype(str).to_numpy()
    reason = table.get("suppression", pd.Series([""] * len(table))).astype(str).to_numpy()
    lo[pos[status == "D"]] = float(t.threshold)
    if t.respondent_count:
        hi[pos[(status == "C") & (reason == "threshold")]] = float(t.threshold - 1)
    return lo, hi


def _secondary_sum(t: PublishedTable, table: pd.DataFrame, pos: np.ndarray, hidden: np.ndarray,
                   x: np.ndarray, know: Knowledge) -> None:
    """A published total of the secondary cells, when the file tells which they are."""
    status = table.get("conf_status")
    if t.secondary_total is None or status is None:
        return
    d = np.zeros(hidden.size, dtype=bool)
    d[pos[(status.astype(str) == "D").to_numpy()]] = True
    if d.any():
        know.equal(np.ones((1, int(d.sum()))), x[d], float(t.secondary_total))


Rollups = Mapping[str, tuple[str, Mapping[str, str]]]
_TOL = 1e-6


def judge(found: pd.DataFrame, published: PublishedTable, truth: pd.DataFrame,
          rollups: Rollups, *, threshold: int, ratio: float, minimum: float,
          respondents: str | None = None, distinguish: bool = False) -> pd.DataFrame:
    """Each sensitive cell with the outsider's interval and the one it must reach.

    For those who know the truth (the project's owners, the tests): ``truth`` is the
    indicator's unprotected table (its dimensions, ``n``, and ``respondents`` when a
    cell is also sensitive for too few respondents). The interval a sensitive cell must
    reach is [a − L, a + U] (``protection_levels``), narrowed only by what the listing
    of the cells (and any published flags) tells before a count is read: the outsider's
    own interval with every count hidden. Returns the sensitive cells with a, lo, hi,
    need_lo, need_hi and ``ok``.
    """
    pub, dims, hier = rolled_table(published, rollups)
    true_t = PublishedTable(published.indicator, truth.astype({d: str for d in published.dims}),
                            list(published.dims))
    real, _, _ = rolled_table(true_t, rollups)
    if not dims:
        pub, real, dims = pub.assign(_all=TOTAL), real.assign(_all=TOTAL), ["_all"]
    st = TableStructure.from_table(pub, dims, hier or None)
    a = np.zeros(st.n_cells)
    a[st.positions(real)] = pd.to_numeric(real["n"]).to_numpy(float)
    sens = (a > 0) & (a < threshold)
    if respondents:
        people = np.zeros(st.n_cells)
        people[st.positions(real)] = pd.to_numeric(real[respondents]).to_numpy(float)
        sens |= (people > 0) & (people < threshold)
    status = np.full(st.n_cells, "F", dtype=object)
    status[st.positions(pub)] = pub["conf_status"].astype(str).to_numpy()
    floor, ceiling = np.minimum(a, 1.0), np.full(st.n_cells, np.inf)
    if distinguish:
        floor = np.where((status != "C") & (a >= threshold), float(threshold), floor)
        if not respondents:
            ceiling = np.where((status == "C") & (a < threshold), threshold - 1.0, ceiling)
    prior = attack(st, a, np.ones(st.n_cells, dtype=bool), lower=floor,
                   bounds=ceiling).set_index("position")
    lower, upper = protection_levels(a, ratio, minimum)
    keys = st.cells.reset_index(drop=True)
    got = found.merge(keys.assign(position=np.arange(st.n_cells)), on=dims, how="left")
    got = got.dropna(subset=["position"]).astype({"position": int}).set_index("position")
    rows = []
    for p in np.flatnonzero(sens):
        lo, hi = (got.loc[p, "lo"], got.loc[p, "hi"]) if p in got.index else (a[p], a[p])
        need_lo = max(a[p] - lower[p], prior.loc[p, "lo"])
        need_hi = min(a[p] + upper[p], prior.loc[p, "hi"])
        rows.append({**{d: keys.loc[p, d] for d in dims}, "a": a[p], "lo": lo, "hi": hi,
                     "need_lo": need_lo, "need_hi": need_hi,
                     "ok": bool(lo <= need_lo + _TOL and hi >= need_hi - _TOL)})
    return pd.DataFrame(rows, columns=[*dims, "a", "lo", "hi", "need_lo", "need_hi", "ok"])


def summary(judged: Sequence[pd.DataFrame]) -> dict[str, int]:
    """Sensitive cells, how many the outsider pins to one value, and how many it narrows."""
    parts = [j for j in judged if not j.empty]
    if not parts:
        return {"sensitive": 0, "pinned": 0, "narrowed": 0}
    allj = pd.concat(parts, ignore_index=True)
    pinned = (allj["hi"] - allj["lo"]) < _TOL
    return {"sensitive": len(allj), "pinned": int(pinned.sum()),
            "narrowed": int((~allj["ok"].astype(bool)).sum())}
