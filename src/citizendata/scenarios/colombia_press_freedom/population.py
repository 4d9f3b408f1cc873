"""The true events: violations of SDG 16.10.1 against journalists, media workers, trade
unionists and human-rights defenders in Colombia, 2016–2024 (synthetic).

The yearly means are this scenario's own, shaped after published orders of magnitude:
some 100–200 human-rights defenders killed a year (UN OHCHR Colombia, Somos Defensores),
tens of trade unionists (Escuela Nacional Sindical) and a handful of journalists (FLIP).
Each event is one victim of one violation; the generator draws Poisson counts per
year, role and violation, then a department (by weight), a municipality in it, a date,
the victim's sex, age and name, the perpetrator, and a latent ``visibility`` (how
public the case became) that drives every list's chance of recording it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from citizendata.scenarios.colombia_press_freedom.geography import DEPARTMENTS, MUNICIPALITIES
from citizendata.scenarios.colombia_press_freedom.names import draw_names

__all__ = ["PERPETRATORS", "ROLES", "VIOLATIONS", "YEARS", "make_events"]

YEARS: tuple[int, ...] = tuple(range(2016, 2025))
ROLES: tuple[str, ...] = ("journalist", "media_worker", "trade_unionist", "hr_defender")
VIOLATIONS: tuple[str, ...] = ("killing", "kidnapping", "enforced_disappearance",
                               "arbitrary_detention", "torture")
PERPETRATORS: tuple[str, ...] = ("state_agent", "armed_group", "criminal_group", "private",
                                 "unknown")

# Mean victims a year by role (rows) and violation (columns, VIOLATIONS order).
_MEANS: dict[str, tuple[float, ...]] = {
    "hr_defender": (165.0, 22.0, 16.0, 45.0, 9.0),
    "trade_unionist": (16.0, 4.0, 2.0, 12.0, 2.0),
    "journalist": (2.5, 4.0, 0.6, 8.0, 1.0),
    "media_worker": (1.2, 2.0, 0.4, 4.0, 0.5),
}
# Year multipliers: few killings in 2016, the rise after the 2016 peace agreement,
# the peaks of 2020 and 2022.
_YEAR_FACTOR: dict[int, float] = {2016: 0.6, 2017: 0.85, 2018: 1.1, 2019: 0.95, 2020: 1.2,
                                  2021: 1.0, 2022: 1.25, 2023: 1.15, 2024: 1.05}
# Share of women among victims, by role.
_FEMALE: dict[str, float] = {"hr_defender": 0.22, "trade_unionist": 0.2, "journalist": 0.3,
                             "media_worker": 0.25}
_AGE: dict[str, tuple[float, float]] = {"hr_defender": (46.0, 13.0), "trade_unionist": (44.0, 10.0),
                                        "journalist": (38.0, 11.0), "media_worker": (33.0, 9.0)}
# Perpetrator distribution by violation (PERPETRATORS order).
_PERP: dict[str, tuple[float, ...]] = {
    "killing": (0.04, 0.42, 0.16, 0.05, 0.33),
    "kidnapping": (0.01, 0.70, 0.17, 0.02, 0.10),
    "enforced_disappearance": (0.35, 0.40, 0.10, 0.0, 0.15),
    "arbitrary_detention": (0.90, 0.05, 0.0, 0.0, 0.05),
    "torture": (0.45, 0.35, 0.10, 0.02, 0.08),
}


def _places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Department, municipality and region codes for ``n`` events."""
    w = np.array([d.weight for d in DEPARTMENTS])
    dep_idx = rng.choice(len(DEPARTMENTS), size=n, p=w / w.sum())
    dept = np.array([d.code for d in DEPARTMENTS], dtype=object)[dep_idx]
    region = np.array([d.region for d in DEPARTMENTS], dtype=object)[dep_idx]
    muni = np.empty(n, dtype=object)
    for d in DEPARTMENTS:
        idx = np.flatnonzero(dept == d.code)
        ms = [m for m in MUNICIPALITIES if m.department == d.code]
        mw = np.array([m.weight for m in ms])
        pick = rng.choice(len(ms), size=len(idx), p=mw / mw.sum())
        muni[idx] = np.array([m.code for m in ms], dtype=object)[pick]
    return dept, muni, region


def _counts(rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """One row per (year, role, violation) with its Poisson number of victims."""
    rows = [(y, r, v, _MEANS[r][k] * _YEAR_FACTOR[y] * scale)
            for y in YEARS for r in ROLES for k, v in enumerate(VIOLATIONS)]
    cells = pd.DataFrame(rows, columns=["year", "victim_role", "violation", "mean"])
    cells["n"] = rng.poisson(cells["mean"].to_numpy())
    return cells


# Some victims suffer two acts (two victim-events of one person): tortured while
# arbitrarily detained (same day, same place), or kidnapped and later killed.
TORTURED_IN_DETENTION = 0.3  # share of torture events whose victim was also detained
KILLED_AFTER_KIDNAPPING = 0.12  # share of kidnapping events whose victim was later killed
_PERSON = ["victim_role", "department", "municipality", "region", "victim_sex", "victim_age",
           "given_names", "surname1", "surname2"]


def _repeat_victims(rng: np.random.Generator, ev: pd.DataFrame) -> None:
    """Give some events the victim of another event (in place); ``person`` names the victim."""
    ev["person"] = np.arange(len(ev))
    cols = [*_PERSON, "person"]
    viol = ev["violation"].to_numpy()
    # (first act, second act, share, of which act's events, days between them at most)
    for first, second, share, of, days in (
            ("arbitrary_detention", "torture", TORTURED_IN_DETENTION, "torture", 0),
            ("kidnapping", "killing", KILLED_AFTER_KIDNAPPING, "kidnapping", 60)):
        firsts, seconds = np.flatnonzero(viol == first), np.flatnonzero(viol == second)
        k = min(round(share * int((viol == of).sum())), len(firsts), len(seconds))
        src = ev.index[rng.choice(firsts, size=k, replace=False)]
        dst = ev.index[rng.choice(seconds, size=k, replace=False)]
        ev.loc[dst, cols] = ev.loc[src, cols].to_numpy()
        gap = rng.integers(1, days + 1, k) if days else np.zeros(k, dtype=int)
        later = ev.loc[src, "event_date"].to_numpy() + pd.to_timedelta(gap, unit="D").to_numpy()
        ev.loc[dst, "event_date"] = np.minimum(later, np.datetime64("2024-12-31"))
    ev["year"] = ev["event_date"].dt.year


def make_events(rng: np.random.Generator, scale: float = 1.0) -> pd.DataFrame:
    """The true victim-events, one row each, with a stable ``event_id``."""
    cells = _counts(rng, scale)
    ev = cells.loc[cells.index.repeat(cells["n"]), ["year", "victim_role", "violation"]]
    ev = ev.reset_index(drop=True)
    n = len(ev)
    start = np.array([date(int(y), 1, 1).toordinal() for y in ev["year"]])
    length = np.where(ev["year"].to_numpy() % 4 == 0, 366, 365)
    ordinal = start + (rng.random(n) * length).astype(int)
    ev["event_date"] = pd.to_datetime([date.fromordinal(int(o)) for o in ordinal])
    ev["department"], ev["municipality"], ev["region"] = _places(rng, n)
    role = ev["victim_role"].to_numpy()
    female = rng.random(n) < np.array([_FEMALE[r] for r in role])
    ev["victim_sex"] = np.where(female, "female", "male")
    mu = np.array([_AGE[r][0] for r in role])
    sd = np.array([_AGE[r][1] for r in role])
    ev["victim_age"] = np.clip(np.rint(rng.normal(mu, sd)), 18, 85).astype(int)
    given, s1, s2 = draw_names(rng, ev["victim_sex"].to_numpy(), ev["region"].to_numpy())
    ev["given_names"], ev["surname1"], ev["surname2"] = given, s1, s2
    perp = np.empty(n, dtype=object)
    for v, p in _PERP.items():
        idx = np.flatnonzero(ev["violation"].to_numpy() == v)
        perp[idx] = np.asarray(PERPETRATORS, dtype=object)[
            rng.choice(len(PERPETRATORS), size=len(idx), p=np.asarray(p) / sum(p))]
    ev["perpetrator"] = perp
    _repeat_victims(rng, ev)
    # how public the case became (press, community, family): the source of heterogeneity
    ev["visibility"] = rng.normal(0.0, 1.0, n)
    # the order of events is by date; ids are stable for a seed
    ev = ev.sort_values(["event_date", "department", "surname1"], kind="stable").reset_index(drop=True)
    ev.insert(0, "event_id", [f"E{i:05d}" for i in range(1, n + 1)])
    # a victim's id: the first of the victim's events
    ev["person_id"] = ev.groupby("person")["event_id"].transform("first")
    return ev.drop(columns="person")
