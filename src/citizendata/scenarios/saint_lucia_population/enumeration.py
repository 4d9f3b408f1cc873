"""The community enumeration of a sample of settlements, and the census records there.

A sample of areas (``SAMPLE``: informal and formal settlements, drawn at random within
each type) is enumerated by community mappers: they list each dwelling they find
(all of them: they live there), place it by GPS, and list the members of each
household that is at home and agrees.
The enumeration finds households independently of the census (so the dual-system
estimate is unbiased here; in real life, people the census misses are often harder
for anyone to find: correlation bias, which makes the estimate a lower bound).
The census's person records of the same areas (names, sex, age, household) are what
the enumeration is matched to; both carry some spelling and age noise. One dwelling's
GPS has latitude and longitude swapped (``PLANTED``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import shapely

from citizendata.scenarios._kit import fieldwork_times, seeded_uuids
from citizendata.scenarios.saint_lucia_population.form import FORM_VERSION

__all__ = ["CAPTURE", "PLANTED", "SAMPLE", "build_submissions", "census_records", "draw_sample",
           "enumerate_areas"]

SAMPLE = {"informal": 20, "formal": 20}  # areas enumerated, by settlement type
# mappers who live there walk every structure: the listing of dwellings is complete (as
# the bottom-up model's ground count needs); households are missed when nobody is at
# home after three visits or when they refuse (the enumeration's capture, for the DSE)
LISTED = {"formal": 1.0, "informal": 1.0}
CONSENT = {"yes": 0.93, "no": 0.03, "absent": 0.04}
CAPTURE: dict[str, object] = {"listed": LISTED, "consent": CONSENT}
PLANTED = {"gps_swapped": "one dwelling's gps has latitude and longitude swapped (a point "
                          "in the sea, far from the area it names)"}
SLU_TIME = timezone(timedelta(hours=-4))  # Atlantic Standard Time, no daylight saving
FIELDWORK_START = datetime(2026, 3, 2, 8, 0, tzinfo=SLU_TIME)


def draw_sample(rng: np.random.Generator, areas: pd.DataFrame) -> np.ndarray:
    """Positions of the enumerated areas: simple random samples within settlement type."""
    out = []
    for kind, n in SAMPLE.items():
        pool = np.flatnonzero(areas["informal"].to_numpy(bool) == (kind == "informal"))
        out.append(rng.choice(pool, size=min(n, len(pool)), replace=False))
    return np.sort(np.concatenate(out))


def _typo(rng: np.random.Generator, names: np.ndarray, rate: float) -> np.ndarray:
    """Drop or double one letter of a share of the names."""
    out = names.copy()
    for i in np.flatnonzero(rng.random(len(names)) < rate).tolist():  # a few hundred names
        s = str(out[i])
        k = int(rng.integers(1, max(2, len(s) - 1)))
        out[i] = s[:k] + s[k + 1:] if rng.random() < 0.5 else s[:k] + s[k] + s[k:]
    return out


def _age_noise(rng: np.random.Generator, age: np.ndarray, rate: float) -> np.ndarray:
    shift = np.where(rng.random(len(age)) < rate, rng.choice([-1, 1], len(age)), 0)
    return np.clip(age + shift, 0, 110)


def census_records(rng: np.random.Generator, persons: pd.DataFrame, sampled: list[str]
                   ) -> pd.DataFrame:
    """The census's person records of the sampled areas: ``census_id``, ``area``,
    ``household``, ``given_name``, ``surname``, ``sex``, ``age`` (personal), and the truth
    column ``_person`` (dropped from what the project receives)."""
    p = persons[persons["census"] & persons["area"].isin(sampled)].reset_index(drop=True)
    hh_code = p.groupby("area")["dwelling"].rank(method="dense").astype(int)
    surname = p["surname"].to_numpy().astype(object)
    # the census writes some compound surnames its own way
    flip = rng.random(len(p)) < 0.5
    surname = np.where(flip & (surname == "Jn Baptiste"), "Jean-Baptiste", surname)
    surname = np.where(flip & (surname == "St. Rose"), "St Rose", surname)
    return pd.DataFrame({
        "census_id": [f"C{i:07d}" for i in range(1, len(p) + 1)],
        "area": p["area"], "household": p["area"] + "-H" + hh_code.map("{:04d}".format),
        "given_name": _typo(rng, p["given_name"].to_numpy().astype(object), 0.02),
        "surname": _typo(rng, surname, 0.02), "sex": p["sex"],
        "age": _age_noise(rng, p["age"].to_numpy(), 0.08), "_person": p["person"]})


def enumerate_areas(rng: np.random.Generator, areas: pd.DataFrame, hh: pd.DataFrame,
                    persons: pd.DataFrame, sampled: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which dwellings the mappers list, with their answers: ``listing`` (one row per
    listed dwelling: dwelling, area, status, consent, size, lon, lat) and ``members``
    (one row per listed person, with the recorded name, sex and age, and ``_person``)."""
    d = hh[hh["area"].isin(sampled)].reset_index(drop=True)
    inf = d["informal"].to_numpy(bool)
    listed = rng.random(len(d)) < np.where(inf, LISTED["informal"], LISTED["formal"])
    d = d[listed].reset_index(drop=True)
    answer = np.array(list(CONSENT), dtype=object)[
        rng.choice(len(CONSENT), size=len(d), p=list(CONSENT.values()))]
    consent = np.where(d["occupied"], answer, "")
    lon, lat = _points_in_areas(rng, areas, d["area"].to_numpy())
    listing = pd.DataFrame({"dwelling": d["dwelling"], "area": d["area"],
                            "status": np.where(d["occupied"], "occupied", "vacant"),
                            "consent": consent, "size": np.where(consent == "yes", d["size"], 0),
                            "lon": lon, "lat": lat})
    keep = listing.loc[listing["consent"] == "yes", "dwelling"]
    m = persons[persons["dwelling"].isin(keep)].reset_index(drop=True)
    members = pd.DataFrame({"dwelling": m["dwelling"], "area": m["area"],
                            "given_name": _typo(rng, m["given_name"].to_numpy().astype(object),
                                                0.02),
                            "surname": m["surname"], "sex": m["sex"],
                            "age": _age_noise(rng, m["age"].to_numpy(), 0.05),
                            "_person": m["person"]})
    return listing, members


def _points_in_areas(rng: np.random.Generator, areas: pd.DataFrame, codes: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A uniform point inside its area's polygon for each code (rejection, per area)."""
    lon = np.empty(len(codes))
    lat = np.empty(len(codes))
    geo = dict(zip(areas["area"], areas["geometry"], strict=True))
    for code in pd.unique(codes):  # the sampled areas: tens
        idx = np.flatnonzero(codes == code)
        shape = geo[code]
        x0, y0, x1, y1 = shape.bounds
        got = np.empty((0, 2))
        while len(got) < len(idx):
            cand = rng.uniform((x0, y0), (x1, y1), size=(3 * len(idx) + 10, 2))
            got = np.vstack([got, cand[shapely.contains_xy(shape, cand[:, 0], cand[:, 1])]])
        lon[idx], lat[idx] = got[:len(idx), 0], got[:len(idx), 1]
    return lon.round(6), lat.round(6)


def build_submissions(rng: np.random.Generator, listing: pd.DataFrame, members: pd.DataFrame,
                      areas: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One submission per listed dwelling, as ODK Collect sends them, in listing order,
    and the instance id of each planted error (``PLANTED``)."""
    n = len(listing)
    starts, ends = fieldwork_times(rng, n, start=FIELDWORK_START, days=30, hours=9,
                                   minutes=(3, 25))
    iids = ["uuid:" + u for u in seeded_uuids(rng, n)]
    district = dict(zip(areas["area"], areas["district"], strict=True))
    phones: dict[str, str] = {}  # one phone per area's mapping team
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    for a in pd.unique(listing["area"]):
        phones[a] = "collect:" + "".join(rng.choice(alphabet, 16))
    alt = rng.uniform(2, 300, n).round(1)
    acc = rng.uniform(3, 12, n).round(1)
    # members are contiguous by dwelling (persons are drawn dwelling by dwelling)
    dw = members["dwelling"].to_numpy()
    first = np.flatnonzero(np.r_[True, dw[1:] != dw[:-1]])
    span = dict(zip(dw[first].tolist(), zip(first.tolist(), [*first[1:].tolist(), len(dw)],
                                            strict=True), strict=True))
    cols = [members[c].astype(str).tolist() for c in ("given_name", "surname", "sex", "age")]
    swapped = int(rng.integers(0, n))
    subs = []
    for i, r in enumerate(listing.itertuples(index=False)):  # a few thousand dwellings
        lat, lon = (r.lon, r.lat) if i == swapped else (r.lat, r.lon)
        data: dict[str, Any] = {
            "start": starts[i], "end": ends[i], "deviceid": phones[r.area],
            "district": district[r.area], "area": r.area,
            "gps": f"{lat:.6f} {lon:.6f} {alt[i]} {acc[i]}", "dwelling_status": r.status}
        if r.status == "occupied":
            data["consent"] = r.consent
        if r.consent == "yes":
            lo, hi = span[r.dwelling]
            data["household_size"] = str(hi - lo)
            data["members"] = [{"given_name": cols[0][k], "surname": cols[1][k],
                                "sex": cols[2][k], "age": cols[3][k]} for k in range(lo, hi)]
        data["meta"] = {"instanceID": iids[i], "instanceName": f"{r.area}-{r.status}"}
        subs.append({"instance_id": iids[i], "collected_at": ends[i],
                     "form_version": FORM_VERSION, "data": data})
    return subs, {"gps_swapped": iids[swapped]}
