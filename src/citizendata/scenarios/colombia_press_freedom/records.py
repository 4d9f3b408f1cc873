"""Source records: each list's view of the events it captured, with that list's noise.

A record carries the case form's fields. The names are rewritten as the list would
(``NOISE`` rates: accents dropped, second surname missing, given names and surnames
in each other's boxes, a nickname for the given name, a one-letter typo), the age may
be off by one, the date off by a few days (a few by about a month), the municipality
or the sex left blank, and kidnappings and enforced disappearances are sometimes
classified the other way. ``_noise`` records which rewrites were applied, ``_event_id``
the true event and ``_person_id`` the true victim (truth, for tests: a victim of two
acts has two events, which linkage must keep apart). The media monitor has within-list duplicates (the same event in two notes).
FLIP's own reports include reports that are not 16.10.1 cases (a threat, a victim
whose work was not journalism, an event without enough evidence), and a
verification backlog: verified, not verified, pending.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from citizendata.scenarios.colombia_press_freedom.capture import LISTS
from citizendata.scenarios.colombia_press_freedom.names import (
    NICKNAMES,
    draw_names,
    strip_accents,
    typo,
)

__all__ = ["FIELDS", "NOISE", "NOISE_KINDS", "build_records", "flip_backlog"]

# the case form's fields every record carries, in this order
FIELDS: tuple[str, ...] = ("source", "record_id", "victim_given_names", "victim_surnames",
                           "victim_sex", "victim_age", "victim_role", "violation", "event_date",
                           "department", "municipality", "perpetrator")
NOISE_KINDS: tuple[str, ...] = ("accents", "second_surname", "swap", "nickname", "typo", "age",
                                "date_days", "date_month", "municipality", "sex", "violation")
# list -> rate of each rewrite (NOISE_KINDS order); a nickname applies only where one
# exists, a reclassification only to kidnappings and enforced disappearances
NOISE: dict[str, tuple[float, ...]] = {
    "flip":       (0.05, 0.10, 0.01, 0.03, 0.02, 0.10, 0.05, 0.01, 0.03, 0.01, 0.05),
    "fiscalia":   (0.90, 0.05, 0.02, 0.00, 0.05, 0.10, 0.10, 0.01, 0.02, 0.01, 0.20),
    "defensoria": (0.30, 0.15, 0.03, 0.02, 0.04, 0.15, 0.20, 0.02, 0.10, 0.03, 0.08),
    "sindical":   (0.20, 0.10, 0.02, 0.05, 0.03, 0.10, 0.10, 0.01, 0.05, 0.02, 0.10),
    "medios":     (0.50, 0.40, 0.05, 0.12, 0.06, 0.25, 0.30, 0.03, 0.25, 0.10, 0.30),
    "somos":      (0.10, 0.20, 0.02, 0.08, 0.03, 0.15, 0.15, 0.02, 0.05, 0.02, 0.10),
}
# the acts lists classify differently ("violation" noise): a disappearance recorded as a
# kidnapping (no state involvement established yet, or the press's word) and back
RECLASSIFIED: dict[str, str] = {"enforced_disappearance": "kidnapping",
                                "kidnapping": "enforced_disappearance"}
# lists whose systems write names in capitals
UPPER: frozenset[str] = frozenset({"fiscalia"})
MEDIOS_DUPLICATES = 0.06  # share of the media monitor's records noted twice
FLIP_NON_CASES = 0.35  # FLIP reports that are not 16.10.1 cases, per true case it reports
WINDOW = (pd.Timestamp("2016-01-01"), pd.Timestamp("2024-12-31"))
# the perpetrator a list cannot attribute is "unknown"
UNATTRIBUTED = 0.1


def _nickname(given: str) -> str | None:
    first, _, rest = given.partition(" ")
    nick = NICKNAMES.get(first)
    return None if nick is None else (f"{nick} {rest}".strip())


def _noisy(rng: np.random.Generator, src: pd.DataFrame, name: str) -> pd.DataFrame:
    """The list's records of the events in ``src`` (one row per event), noise applied."""
    n = len(src)
    flags = rng.random((n, len(NOISE_KINDS))) < np.asarray(NOISE[name])
    f = dict(zip(NOISE_KINDS, flags.T, strict=True))
    given = src["given_names"].to_numpy(dtype=object).copy()
    nick = np.array([_nickname(g) for g in given], dtype=object)
    f["nickname"] &= nick != None  # noqa: E711 (elementwise)
    given[f["nickname"]] = nick[f["nickname"]]
    s1 = src["surname1"].to_numpy(dtype=object)
    s2 = src["surname2"].to_numpy(dtype=object)
    surnames = np.where(f["second_surname"], s1, s1 + " " + s2)
    typo_in_given = rng.random(n) < 0.4
    for i in np.flatnonzero(f["typo"]):
        if typo_in_given[i]:
            given[i] = typo(rng, given[i])
        else:
            surnames[i] = typo(rng, surnames[i])
    if name in UPPER:
        given = np.array([g.upper() for g in given], dtype=object)
        surnames = np.array([s.upper() for s in surnames], dtype=object)
    for i in np.flatnonzero(f["accents"]):
        given[i], surnames[i] = strip_accents(given[i]), strip_accents(surnames[i])
    # dtype=bool: a list with no duplicate at small scales gives an empty (float) array
    f["accents"] &= np.array([g != a or s != b for g, s, a, b in zip(
        given, surnames, src["given_names"], s1 + " " + s2, strict=True)], dtype=bool)
    given, surnames = np.where(f["swap"], surnames, given), np.where(f["swap"], given, surnames)
    age = src["victim_age"].to_numpy() + np.where(f["age"], rng.choice([-1, 1], n), 0)
    shift = np.where(f["date_days"], rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5], n), 0)
    shift = shift + np.where(f["date_month"], rng.choice([-31, -30, 30, 31], n), 0)
    dates = src["event_date"] + pd.to_timedelta(shift, unit="D")
    # the lists' exports cover events dated 2016-2024: a shift out of the window goes the
    # other way, so every captured event stays in its list's file
    out_of_window = (dates < WINDOW[0]) | (dates > WINDOW[1])
    dates = dates.where(~out_of_window, src["event_date"] - pd.to_timedelta(shift, unit="D"))
    perp = np.where(rng.random(n) < UNATTRIBUTED, "unknown", src["perpetrator"].to_numpy())
    violation = src["violation"].to_numpy(dtype=object)
    other = pd.Series(violation).map(RECLASSIFIED).to_numpy(dtype=object)
    f["violation"] &= pd.notna(other)
    violation = np.where(f["violation"], other, violation)
    out = pd.DataFrame({
        "source": name, "record_id": "", "victim_given_names": given, "victim_surnames": surnames,
        "victim_sex": np.where(f["sex"], "", src["victim_sex"].to_numpy()),
        "victim_age": age, "victim_role": src["victim_role"].to_numpy(),
        "violation": violation, "event_date": dates.dt.strftime("%Y-%m-%d"),
        "department": src["department"].to_numpy(),
        "municipality": np.where(f["municipality"], "", src["municipality"].to_numpy()),
        "perpetrator": perp,
    })
    out["_event_id"] = src["event_id"].to_numpy()
    out["_person_id"] = src["person_id"].to_numpy()
    out["_noise"] = [",".join(k for k in NOISE_KINDS if f[k][i]) for i in range(n)]
    return out


def _flip_non_cases(rng: np.random.Generator, events: pd.DataFrame, n: int) -> pd.DataFrame:
    """Reports FLIP receives that are not 16.10.1 cases, with the reason they are not."""
    reason = rng.choice(["not_16_10_1", "not_journalism", "insufficient_evidence"], n,
                        p=[0.55, 0.25, 0.20])
    base = events.iloc[rng.integers(0, len(events), n)].reset_index(drop=True).copy()
    sex = np.where(rng.random(n) < 0.3, "female", "male")
    base["given_names"], base["surname1"], base["surname2"] = draw_names(
        rng, sex, base["region"].to_numpy())
    base["victim_sex"] = sex
    base["victim_role"] = np.where(reason == "not_journalism", "other",
                                   rng.choice(["journalist", "media_worker"], n, p=[0.75, 0.25]))
    base["violation"] = np.where(reason == "not_16_10_1",
                                 rng.choice(["threat", "other_attack"], n, p=[0.8, 0.2]),
                                 rng.choice(["killing", "kidnapping", "arbitrary_detention"], n,
                                            p=[0.3, 0.3, 0.4]))
    base["event_date"] = base["event_date"] + pd.to_timedelta(rng.integers(-60, 60, n), unit="D")
    base["event_date"] = base["event_date"].clip(*WINDOW)
    base["event_id"] = None
    base["person_id"] = None
    out = _noisy(rng, base, "flip")
    out["_event_id"] = None
    out["_person_id"] = None
    out["_reason"] = reason
    return out


def _ids(rng: np.random.Generator, recs: pd.DataFrame, name: str) -> list[str]:
    """Each list's own record ids (unique within the list)."""
    years = recs["event_date"].str[:4].tolist()
    n = len(recs)
    seq = rng.permutation(np.arange(1, n + 1)).tolist()
    if name == "fiscalia":  # SPOA noticia criminal: municipality, 60, unit, year, number
        munis = [m or f"{d}001" for m, d in zip(recs["municipality"], recs["department"], strict=True)]
        units = rng.integers(1, 400, n).tolist()
        return [f"{m}60{u:05d}{y}{s:05d}" for m, u, y, s in zip(munis, units, years, seq, strict=True)]
    prefix = {"flip": "FLIP-{y}-{s:04d}", "defensoria": "DEF-{y}-{s:05d}",
              "sindical": "SINDERH-{s:06d}", "medios": "NOTA-{s:06d}", "somos": "SD{y}{s:04d}"}
    return [prefix[name].format(y=y, s=s) for y, s in zip(years, seq, strict=True)]


def flip_backlog(rng: np.random.Generator, flip: pd.DataFrame) -> pd.DataFrame:
    """FLIP's verification status of each of its reports, with the reason when not verified.

    True cases are verified (pending more often for recent events); reports that are not
    cases are mostly not verified, some still pending (the risk the criteria guard).
    """
    n = len(flip)
    is_case = flip["_event_id"].notna().to_numpy()
    recent = flip["event_date"].str[:4].to_numpy() == "2024"
    u = rng.random(n)
    p_pending = np.where(recent, 0.45, 0.08)
    status = np.where(u < p_pending, "pending", np.where(is_case, "verified", "not_verified"))
    reason = np.where(status == "not_verified", flip.get("_reason", pd.Series("", index=flip.index))
                      .fillna("").to_numpy(), "")
    return pd.DataFrame({"record_id": flip["record_id"].to_numpy(), "status": status,
                         "reason": reason, "is_case": is_case})


def build_records(rng: np.random.Generator, events: pd.DataFrame, on: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every list's records (case-form fields + ``_event_id``, ``_noise``) and FLIP's backlog."""
    parts = []
    backlog = pd.DataFrame()
    for name in LISTS:
        src = events[on[name].to_numpy() == 1]
        recs = _noisy(rng, src, name)
        if name == "medios":
            dup = src[rng.random(len(src)) < MEDIOS_DUPLICATES]
            again = _noisy(rng, dup, name)
            again["_duplicate"] = True
            recs = pd.concat([recs, again], ignore_index=True)
        if name == "flip":
            extra = _flip_non_cases(rng, events, round(FLIP_NON_CASES * len(src)))
            recs = pd.concat([recs, extra], ignore_index=True)
        recs = recs.iloc[rng.permutation(len(recs))].reset_index(drop=True)
        recs["record_id"] = _ids(rng, recs, name)
        if name == "flip":
            backlog = flip_backlog(rng, recs)
        parts.append(recs)
    records = pd.concat(parts, ignore_index=True)
    records["_duplicate"] = records.get("_duplicate", pd.Series(False)).fillna(False).astype(bool)
    records["victim_age"] = records["victim_age"].astype("Int64")
    records = records.drop(columns=["_reason"], errors="ignore")
    return records[[*FIELDS, "_event_id", "_person_id", "_noise", "_duplicate"]], backlog
