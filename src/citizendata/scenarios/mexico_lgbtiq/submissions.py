"""The survey sample and its submissions, as ODK Collect would send them.

The network recruits through its own groups, events and social media: a convenience
sample of a hidden population. Here it is drawn from the synthetic population with
unequal, documented probabilities (Mexico City, where the network started, and young
people are reached more easily; Oaxaca, Yucatán and older people less), so the
population truth and what an unweighted estimate converges to differ a little
(``truth["expected_sample"]``). No census margin can correct this for real: there
is no official count of LGBTIQ+ people by municipality, age and identity to
calibrate to.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios._kit import fieldwork_times, seeded_uuids
from citizendata.scenarios.mexico_lgbtiq.form import FORM_VERSION, WG_FIELDS
from citizendata.scenarios.mexico_lgbtiq.geography import STATES
from citizendata.scenarios.mexico_lgbtiq.population import WG_DOMAINS

__all__ = ["NARRATIVES", "build_submissions", "draw_sample", "reach"]

CDMX_TIME = timezone(timedelta(hours=-6))  # Mexico City has kept UTC-6 all year since 2022
FIELDWORK_START = datetime(2026, 3, 2, 10, 0, tzinfo=CDMX_TIME)
FIELDWORK_DAYS = 45

_STATE_REACH = {"09": 1.4, "14": 1.0, "19": 1.0, "21": 1.0, "30": 0.9, "08": 0.9, "20": 0.8,
                "31": 0.8}
_AGE_REACH = {"18-29": 1.15, "30-44": 1.0, "45-59": 0.85, "60+": 0.7}
_SCOPES = np.array(["analysis publication nso_sharing", "analysis publication", "analysis",
                    "analysis nso_sharing"], dtype=object)
_SCOPE_P = np.array([0.55, 0.25, 0.15, 0.05])
# Invented accounts (no names, no places); a real narrative is personal data and never leaves.
NARRATIVES: tuple[str, ...] = (
    "En el trabajo me dijeron que no podía venir vestida así.",
    "Un policía me pidió identificación y se burló de mi nombre.",
    "En la clínica no quisieron llamarme por mi nombre.",
    "Mi familia dejó de invitarme a las reuniones.",
    "Recibí insultos en redes sociales después de publicar una foto con mi pareja.",
    "En la escuela los compañeros me empujaban y nadie hizo nada.",
    "Nos gritaron en la calle por ir de la mano.",
)
_NAMES = np.array(["Alex", "Sam", "Dani", "Valeria", "Luis", "Mar", "Andrea", "Kai", "Itzel",
                   "Jorge", "Fer", "Xóchitl"], dtype=object)


def reach(pop: pd.DataFrame) -> np.ndarray:
    """Relative chance of each person to be recruited (state and age group only)."""
    return (pop["state"].map(_STATE_REACH).to_numpy(dtype=float)
            * pop["age_group"].map(_AGE_REACH).to_numpy(dtype=float))


def draw_sample(rng: np.random.Generator, pop: pd.DataFrame, n: int) -> np.ndarray:
    """Row positions of ``n`` recruited people, unequal probabilities, without replacement."""
    size = reach(pop)
    return np.asarray(rng.choice(len(pop), size=n, replace=False, p=size / size.sum()))


def _with_pns(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Values as strings, a random share answered 'prefer_not_to_say'."""
    out = values.astype(str).astype(object)
    out[rng.random(values.size) < share] = "prefer_not_to_say"
    return out


def _timestamps(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """ODK-style start and end times during the fieldwork period, Mexico City time."""
    return fieldwork_times(rng, n, start=FIELDWORK_START, days=FIELDWORK_DAYS, hours=10,
                           minutes=(8, 30))


def _observed(rng: np.random.Generator, s: pd.DataFrame) -> dict[str, np.ndarray]:
    """The answers as recorded: refusals, partial consent, 'prefer not to say', skipped items."""
    n = len(s)
    consent = np.where(rng.random(n) < 0.04, "no", "yes").astype(object)
    age = s["age"].to_numpy().astype(str).astype(object)
    age[rng.random(n) < 0.005] = ""
    obs: dict[str, np.ndarray] = {
        "consent": consent,
        "consent_scope": _SCOPES[rng.choice(len(_SCOPES), size=n, p=_SCOPE_P)],
        "age": age,
        "sex_at_birth": _with_pns(rng, s["sex_at_birth"].to_numpy(), 0.02),
        "gender_identity": _with_pns(rng, s["gender_identity"].to_numpy(), 0.015),
        "sexual_orientation": _with_pns(rng, s["sexual_orientation"].to_numpy(), 0.03),
        "indigenous": s["indigenous"].to_numpy().astype(object),
        "discriminated": _with_pns(rng, np.where(s["discriminated"].to_numpy(), "yes", "no"), 0.02),
        "reported": _with_pns(rng, s["reported"].to_numpy(), 0.05),
    }
    for d, name in zip(WG_DOMAINS, WG_FIELDS, strict=True):
        v = s[f"wg_{d}"].to_numpy().astype(str).astype(object)
        u = rng.random(n)
        v[u < 0.01] = "7"
        v[(u >= 0.01) & (u < 0.02)] = "9"
        obs[name] = v
    gps = np.char.mod("%.6f", s["lat"].to_numpy()).astype(object) + " " + np.char.mod(
        "%.6f", s["lon"].to_numpy()).astype(object) + " " + np.char.mod(
        "%.1f", rng.uniform(1500, 2300, n)).astype(object) + " " + np.char.mod(
        "%.1f", rng.uniform(3, 25, n)).astype(object)
    gps[rng.random(n) < 0.65] = ""  # the meeting place is optional and mostly skipped
    obs["gps"] = gps
    narrative = np.asarray(NARRATIVES, dtype=object)[rng.integers(0, len(NARRATIVES), n)]
    narrative[rng.random(n) < 0.7] = ""
    obs["narrative"] = narrative
    followup = rng.random(n) < 0.15
    obs["followup"] = np.where(followup, "yes", "no").astype(object)
    obs["contact_name"] = _NAMES[rng.integers(0, len(_NAMES), n)]
    # invented ten-digit numbers: a two-digit area code (Mexico City, Guadalajara, Monterrey)
    area = rng.choice(np.array(["55", "33", "81"]), n)
    digits = np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8)
    obs["contact_phone"] = np.char.add(np.char.add("+52 ", area), np.char.add(" ", digits)).astype(object)
    return obs


def _devices(rng: np.random.Generator) -> dict[str, list[str]]:
    """Two volunteers' phones per state, with ODK-style device ids."""
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    return {st: ["collect:" + "".join(rng.choice(alphabet, 16)) for _ in range(2)] for st in STATES}


def _payload(i: int, s: dict[str, list[Any]], obs: dict[str, list[Any]], start: str, end: str,
             device: str, iid: str) -> dict[str, Any]:
    """One instance as nested groups with string leaves; non-relevant questions are left out."""
    data: dict[str, Any] = {"start": start, "end": end, "deviceid": device, "consent": obs["consent"][i]}
    state = ""
    if obs["consent"][i] == "yes":
        state = s["state"][i]
        data["consent_scope"] = obs["consent_scope"][i]
        data["place"] = {"state": state, "municipality": s["municipality"][i], "gps": obs["gps"][i]}
        data["respondent"] = {k: obs[k][i] for k in ("age", "sex_at_birth", "gender_identity",
                                                     "sexual_orientation", "indigenous")}
        data["wg"] = {k: obs[k][i] for k in WG_FIELDS}
        exp = {"discriminated": obs["discriminated"][i]}
        if exp["discriminated"] == "yes":
            exp.update(grounds=s["grounds"][i], contexts=s["contexts"][i],
                       reported=obs["reported"][i], narrative=obs["narrative"][i])
        data["experience"] = exp
        contact = {"followup": obs["followup"][i]}
        if contact["followup"] == "yes":
            contact.update(contact_name=obs["contact_name"][i], contact_phone=obs["contact_phone"][i])
        data["contact"] = contact
    data["meta"] = {"instanceID": iid, "instanceName": f"{state}-{start}"}
    return data


def build_submissions(rng: np.random.Generator, pop: pd.DataFrame, rows: np.ndarray
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """Submissions for the sampled rows, sorted by start time, and each row's instance id."""
    s = pop.iloc[rows].reset_index(drop=True)
    n = len(s)
    obs_arr = _observed(rng, s)
    starts, ends = _timestamps(rng, n)
    iids = ["uuid:" + u for u in seeded_uuids(rng, n)]
    devices = _devices(rng)
    which = rng.integers(0, 2, n).tolist()
    # Plain lists: indexing pandas objects row by row would dominate the run time.
    cols = {c: s[c].astype(object).tolist() for c in ("state", "municipality", "grounds", "contexts")}
    obs = {k: v.tolist() for k, v in obs_arr.items()}
    subs: list[dict[str, Any]] = []
    for i in range(n):
        device = devices[cols["state"][i]][which[i]]
        data = _payload(i, cols, obs, starts[i], ends[i], device, iids[i])
        subs.append({"instance_id": iids[i], "collected_at": ends[i], "form_version": FORM_VERSION,
                     "data": data})
    subs.sort(key=lambda sub: sub["data"]["start"])
    return subs, iids
