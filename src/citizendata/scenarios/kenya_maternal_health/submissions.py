"""The survey sample and its submissions, as ODK Collect would send them, bad records included.

Accessible wards are over-represented (field teams reach them more easily) and young
women under-represented, so a naive estimate from the sample over-states skilled birth
attendance: the bias that calibration to the census margins is meant to remove.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios._kit import fieldwork_times, seeded_uuids
from citizendata.scenarios.kenya_maternal_health.form import FORM_VERSION, WG_FIELDS
from citizendata.scenarios.kenya_maternal_health.geography import WARDS
from citizendata.scenarios.kenya_maternal_health.population import WG_DOMAINS

__all__ = ["BAD_RECORD_KINDS", "build_submissions", "draw_sample"]

EAT = timezone(timedelta(hours=3))
FIELDWORK_START = datetime(2026, 2, 2, 8, 0, tzinfo=EAT)
FIELDWORK_DAYS = 40

_AGE_FACTOR = {"15-19": 0.65, "20-24": 0.85}  # other age groups: 1.0

# Each kind appears exactly once in every generated data set (see README.md).
BAD_RECORD_KINDS: dict[str, str] = {
    "age_constraint": "respondent/age is '9', violating the constraint . >= 15 and . <= 49",
    "unknown_choice": "respondent/ethnicity is 'borana', which is not a choice of list 'ethnicity'",
    "births_count_mismatch": "births_count is '2' but the births repeat holds 1 entry",
    "duplicate_submission": "the same interview sent twice: identical answers, a new instance id",
    "text_in_integer": "births/travel_minutes is 'two hours', text in an integer field",
    "gps_outside_kenya": "location/gps has latitude and longitude swapped, a point far outside Kenya",
    "missing_required": "wg/wg_seeing is empty although the woman consented (a required question)",
    "answer_not_relevant": "births/place_other is answered although the birth was not at an "
                           "'other' place (the question was not relevant)",
    "calculate_mismatch": "births/skilled is '1' although no doctor or nurse-midwife attended "
                          "(the form calculates 0)",
    "distance_outlier": "births/distance_km is '280', within the form's 0–300 constraint but far "
                        "beyond other births in the county (robust z-score)",
    "travel_over_limit": "births/travel_minutes is '1300', over the project's plausible limit "
                         "of 720 minutes (a configured hard limit)",
    "probable_duplicate": "the same interview entered again by another volunteer: new instance "
                          "id, other phone and times, age one year more",
}


def draw_sample(rng: np.random.Generator, women: pd.DataFrame, n: int) -> np.ndarray:
    """Row positions of ``n`` sampled women, drawn with unequal probabilities, without replacement.

    Selection depends only on ward (teams reach accessible wards more often) and age
    group (young women are more often away from home): the variables of the census
    margins, so calibrating to the margins can remove the bias up to sampling error.
    """
    ward_factor = {w.name: np.exp(-w.mean_distance_km / 20.0) for w in WARDS}
    size = women["ward"].map(ward_factor).to_numpy(dtype=float)
    size = size * women["age_group"].map(_AGE_FACTOR).fillna(1.0).to_numpy(dtype=float)
    picked = rng.choice(len(women), size=n, replace=False, p=size / size.sum())
    return np.asarray(picked)


def _blank(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Values as strings, with a random share left empty (item skipped)."""
    out = values.astype(str).astype(object)
    out[rng.random(values.size) < share] = ""
    return out


def _timestamps(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """ODK-style start and end times during the fieldwork period, East Africa Time."""
    return fieldwork_times(rng, n, start=FIELDWORK_START, days=FIELDWORK_DAYS, hours=9,
                           minutes=(12, 36))


def _observed(rng: np.random.Generator, s: pd.DataFrame) -> dict[str, np.ndarray]:
    """The answers as recorded: item non-response, don't know / refused, rounding."""
    n = len(s)
    obs: dict[str, np.ndarray] = {
        "consent": np.where(rng.random(n) < 0.03, "no", "yes").astype(object),
        "age": _blank(rng, s["age"].to_numpy(), 0.01),
        "sex": _blank(rng, s["sex_self_identified"].to_numpy(), 0.005),
        "ethnicity": _blank(rng, s["ethnicity"].to_numpy(), 0.005),
    }
    refuse_all = rng.random(n) < 0.004
    for d, name in zip(WG_DOMAINS, WG_FIELDS, strict=True):
        v = s[f"wg_{d}"].to_numpy().astype(str).astype(object)
        u = rng.random(n)
        v[u < 0.012] = "7"
        v[(u >= 0.012) & (u < 0.02)] = "9"
        v[refuse_all] = "9"
        obs[name] = v
    gps = np.array([f"{a:.6f} {b:.6f} {c:.1f} {d:.1f}" for a, b, c, d in zip(
        s["lat"].to_numpy(), s["lon"].to_numpy(), s["altitude"].to_numpy(),
        s["gps_accuracy"].to_numpy(), strict=True)], dtype=object)
    gps[rng.random(n) < 0.03] = ""
    obs["gps"] = gps
    # People round travel times to five minutes: heaping, as in real surveys.
    minutes = (np.round(s["travel_minutes"].to_numpy() / 5.0) * 5).astype(int)
    obs["travel_minutes"] = _blank(rng, np.maximum(minutes, 5), 0.05)
    obs["distance_km"] = _blank(rng, s["distance_km"].to_numpy(), 0.07)
    return obs


def _devices(rng: np.random.Generator) -> dict[str, list[str]]:
    """Two enumerator phones per ward, with ODK-style device ids."""
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    return {w.name: ["collect:" + "".join(rng.choice(alphabet, 16)) for _ in range(2)] for w in WARDS}


def _births_payload(b: dict[str, list[Any]], lo: int, hi: int, minutes: str,
                    km: str) -> list[dict[str, str]]:
    """The births repeat of one woman: rows ``lo:hi`` of the births columns."""
    out = []
    for k in range(lo, hi):
        place = b["place"][k]
        entry = {"place": place}
        if place == "other":
            entry["place_other"] = "at the cattle camp"
        entry.update({"attendants": b["attendants"][k], "skilled": "1" if b["skilled"][k] else "0",
                      "travel_minutes": minutes, "distance_km": km, "child_sex": b["child_sex"][k]})
        out.append(entry)
    return out


def _payload(i: int, s: dict[str, list[Any]], obs: dict[str, np.ndarray],
             births: list[dict[str, str]], start: str, end: str, device: str,
             iid: str) -> dict[str, Any]:
    """One instance as nested groups with string leaves; non-relevant groups are left out."""
    data: dict[str, Any] = {"start": start, "end": end, "deviceid": device, "consent": obs["consent"][i]}
    ward = ""
    if obs["consent"][i] == "yes":
        ward = s["ward"][i]
        data["location"] = {"county": s["county"][i], "ward": ward,
                            "group_ranch": s["group_ranch"][i], "gps": obs["gps"][i]}
        data["respondent"] = {k: obs[k][i] for k in ("age", "sex", "ethnicity")}
        data["wg"] = {k: obs[k][i] for k in WG_FIELDS}
        data["births_count"] = str(s["births_count"][i])
        if births:
            data["births"] = births
    data["meta"] = {"instanceID": iid, "instanceName": f"{ward}-{start}"}
    return data


def _pick(rng: np.random.Generator, ok: np.ndarray, taken: set[int]) -> int:
    """A random eligible row not used by another bad record."""
    for i in rng.permutation(np.flatnonzero(ok)).tolist():
        if i not in taken:
            taken.add(i)
            return int(i)
    raise ValueError("the sample is too small to plant every bad record")


def _plant_bad(rng: np.random.Generator, subs: list[dict[str, Any]], s: pd.DataFrame,
               obs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Corrupt a few submissions in place, one per kind; return the documented list."""
    yes = obs["consent"] == "yes"
    has_birth = yes & (s["births_count"].to_numpy() >= 1)
    taken: set[int] = set()
    births_ok = has_birth & np.array([
        bool(sub["data"].get("births")) and sub["data"]["births"][0]["skilled"] == "0"
        and sub["data"]["births"][0]["place"] != "other" for sub in subs])
    ages = np.array([int(a) if a else 0 for a in obs["age"]])
    picks = {
        "age_constraint": _pick(rng, yes & (obs["age"] != ""), taken),
        "unknown_choice": _pick(rng, yes, taken),
        "births_count_mismatch": _pick(rng, yes & (s["births_count"].to_numpy() == 1), taken),
        "text_in_integer": _pick(rng, has_birth & (obs["travel_minutes"] != ""), taken),
        "gps_outside_kenya": _pick(rng, yes & (obs["gps"] != ""), taken),
        "duplicate_submission": _pick(rng, has_birth, taken),
        "missing_required": _pick(rng, yes, taken),
        "answer_not_relevant": _pick(rng, births_ok, taken),
        "calculate_mismatch": _pick(rng, births_ok, taken),
        "distance_outlier": _pick(rng, births_ok & (obs["distance_km"] != ""), taken),
        "travel_over_limit": _pick(rng, births_ok & (obs["travel_minutes"] != ""), taken),
        "probable_duplicate": _pick(rng, has_birth & (ages >= 15) & (ages <= 48)
                                    & (obs["gps"] != ""), taken),
    }
    d = {k: subs[i]["data"] for k, i in picks.items()}
    d["age_constraint"]["respondent"]["age"] = "9"
    d["unknown_choice"]["respondent"]["ethnicity"] = "borana"
    d["births_count_mismatch"]["births_count"] = "2"
    d["text_in_integer"]["births"][0]["travel_minutes"] = "two hours"
    lat, lon, alt, acc = d["gps_outside_kenya"]["location"]["gps"].split(" ")
    d["gps_outside_kenya"]["location"]["gps"] = f"{lon} {lat} {alt} {acc}"
    d["missing_required"]["wg"]["wg_seeing"] = ""
    d["answer_not_relevant"]["births"][0]["place_other"] = "at my sister's house"
    d["calculate_mismatch"]["births"][0]["skilled"] = "1"
    d["distance_outlier"]["births"][0]["distance_km"] = "280"
    d["travel_over_limit"]["births"][0]["travel_minutes"] = "1300"
    original = subs[picks["duplicate_submission"]]
    dup = copy.deepcopy(original)
    dup["instance_id"] = "uuid:" + seeded_uuids(rng, 1)[0]
    dup["data"]["meta"]["instanceID"] = dup["instance_id"]
    subs.append(dup)
    again = copy.deepcopy(subs[picks["probable_duplicate"]])
    again["instance_id"] = "uuid:" + seeded_uuids(rng, 1)[0]
    data = again["data"]
    data["meta"]["instanceID"] = again["instance_id"]
    data["respondent"]["age"] = str(int(data["respondent"]["age"]) + 1)
    data["deviceid"] = "collect:" + seeded_uuids(rng, 1)[0].replace("-", "")[:16]
    data["start"], data["end"] = (t.replace("T0", "T1") for t in (data["start"], data["end"]))
    data["meta"]["instanceName"] = data["meta"]["instanceName"].replace("T0", "T1")
    subs.append(again)
    planted = {**{k: subs[i]["instance_id"] for k, i in picks.items()},
               "duplicate_submission": dup["instance_id"],
               "probable_duplicate": again["instance_id"]}
    bad = []
    for kind, desc in BAD_RECORD_KINDS.items():
        iid = planted[kind]
        if kind == "duplicate_submission":
            desc = f"{desc} (a copy of {original['instance_id']})"
        if kind == "probable_duplicate":
            desc = f"{desc} (of {subs[picks[kind]]['instance_id']})"
        bad.append({"instance_id": iid, "kind": kind, "description": desc})
    return bad


def build_submissions(rng: np.random.Generator, women: pd.DataFrame, births: pd.DataFrame,
                      rows: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Submissions for the sampled rows plus one duplicate, sorted by start time.

    Returns the submissions, the documented bad records and the instance id of each sampled row.
    """
    s = women.iloc[rows].reset_index(drop=True)
    n = len(s)
    obs = _observed(rng, s)
    starts, ends = _timestamps(rng, n)
    iids = ["uuid:" + u for u in seeded_uuids(rng, n)]
    devices = _devices(rng)
    which = rng.integers(0, 2, n)
    offsets = np.concatenate([[0], np.cumsum(women["births_count"].to_numpy())]).tolist()
    # Plain lists: indexing pandas objects row by row would dominate the run time.
    cols = {c: s[c].astype(object).tolist() for c in ("county", "ward", "group_ranch")}
    cols["births_count"] = s["births_count"].astype(int).tolist()
    bcols = {c: births[c].astype(object).tolist() for c in ("place", "attendants", "skilled", "child_sex")}
    rows_l = np.asarray(rows).tolist()
    which_l = which.tolist()
    subs: list[dict[str, Any]] = []
    for i in range(n):
        row = rows_l[i]
        payload_births = _births_payload(bcols, offsets[row], offsets[row + 1],
                                         obs["travel_minutes"][i], obs["distance_km"][i])
        device = devices[cols["ward"][i]][which_l[i]]
        data = _payload(i, cols, obs, payload_births, starts[i], ends[i], device, iids[i])
        subs.append({"instance_id": iids[i], "collected_at": ends[i], "form_version": FORM_VERSION,
                     "data": data})
    bad = _plant_bad(rng, subs, s, obs)
    order = sorted(range(len(subs)), key=lambda k: subs[k]["data"]["start"])
    return [subs[k] for k in order], bad, iids
