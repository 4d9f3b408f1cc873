"""Reading a release as an outsider, and judging the attack against the truth (test helpers).

The outsider sees only the public files (fetched over HTTP); the judge knows the true
counts and asks, for every cell a rule made sensitive, whether the outsider's feasible
interval still reaches the protection interval docs/methods/suppression.md promises:
[a − L, a + U] with L, U = ⌈max(ratio · a, minimum)⌉, narrowed only by what the table's
listing (and any published flags) tells before a single count is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from citizendata.privacy.attack import attack
from citizendata.privacy.outsider import PublishedTable, rolled_table
from citizendata.privacy.structure import TableStructure
from citizendata.privacy.suppress import protection_levels

Rollups = Mapping[str, tuple[str, Mapping[str, str]]]
TOL = 1e-6


def public_files(http: Any, slug: str, version: int) -> dict[str, bytes]:
    """Every file of a published release, as anyone can download it (no login)."""
    listing = http.get("/api/v1/public/releases").json()["releases"]
    rel = next(r for r in listing if r["project"] == slug and r["version"] == version)
    files = {}
    for name in [*rel["files"], "manifest.json"]:
        r = http.get(f"/public/releases/{slug}/{version}/{name}")
        assert r.status_code == 200, (name, r.status_code)
        files[name] = r.content
    return files


def judge(found: pd.DataFrame, published: PublishedTable, truth: pd.DataFrame,
          rollups: Rollups, *, threshold: int, ratio: float, minimum: float,
          respondents: str | None = None, distinguish: bool = False) -> pd.DataFrame:
    """Each sensitive cell with the outsider's interval and the one it must reach.

    ``truth`` is the indicator's unprotected table (dims, ``n``, and ``respondents``
    when a cell is also sensitive for too few respondents). Returns the sensitive
    cells with columns a, lo, hi, need_lo, need_hi and ``ok``.
    """
    pub, dims, hier = rolled_table(published, rollups)
    true_t = PublishedTable(published.indicator, truth.astype({d: str for d in published.dims}),
                            list(published.dims))
    real, _, _ = rolled_table(true_t, rollups)
    if not dims:
        pub, real, dims = pub.assign(_all="_T"), real.assign(_all="_T"), ["_all"]
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
    # what the listing and flags tell before any count is read: the outsider's interval
    # with every count hidden
    floor, ceiling = np.minimum(a, 1.0), np.full(st.n_cells, np.inf)
    if distinguish:
        floor = np.where((status != "C") & (a >= threshold), float(threshold), floor)
        if not respondents:
            ceiling = np.where((status == "C") & (a < threshold), threshold - 1.0, ceiling)
    prior = attack(st, a, np.ones(st.n_cells, dtype=bool), lower=floor, bounds=ceiling)
    prior = prior.set_index("position")
    lower, upper = protection_levels(a, ratio, minimum)
    rows = []
    keys = st.cells.reset_index(drop=True)
    got = found.merge(keys.assign(position=np.arange(st.n_cells)), on=dims, how="left")
    got = got.set_index("position")
    for p in np.flatnonzero(sens):
        lo, hi = (got.loc[p, "lo"], got.loc[p, "hi"]) if p in got.index else (a[p], a[p])
        need_lo = max(a[p] - lower[p], prior.loc[p, "lo"])
        need_hi = min(a[p] + upper[p], prior.loc[p, "hi"])
        rows.append({**{d: keys.loc[p, d] for d in dims}, "a": a[p], "lo": lo, "hi": hi,
                     "need_lo": need_lo, "need_hi": need_hi,
                     "ok": lo <= need_lo + TOL and hi >= need_hi - TOL})
    return pd.DataFrame(rows)


def summary(judged: Sequence[pd.DataFrame]) -> dict[str, int]:
    """Sensitive cells, how many the outsider pins to one value, and how many it narrows."""
    allj = pd.concat(list(judged), ignore_index=True) if judged else pd.DataFrame()
    if allj.empty:
        return {"sensitive": 0, "pinned": 0, "narrowed": 0}
    pinned = (allj["hi"] - allj["lo"]) < TOL
    return {"sensitive": len(allj), "pinned": int(pinned.sum()),
            "narrowed": int((~allj["ok"]).sum())}
