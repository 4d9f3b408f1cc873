"""Realistic Spanish-named case lists for the linkage tests (generated, seeded).

Victim-events (the truth) are drawn first; each of four lists records each event with
its own probability, and writes it its own way: accents dropped, second surname missing,
given names and surnames swapped, a nickname, a one-letter typo, the date a few days
off, the municipality missing, the age a year off. Some victims suffer two events and
some different victims share a name, as in real lists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MALE = ["José", "Juan", "Luis", "Carlos", "Jesús", "Francisco", "Guillermo", "Antonio",
        "Ignacio", "Enrique", "Alberto", "Roberto", "Manuel", "Rafael", "Jorge", "Andrés",
        "Hernán", "Óscar", "Fabián", "Édgar", "Julián", "Sebastián", "Germán", "Álvaro",
        "Gonzalo", "Víctor", "Wílmar", "Jhon", "Yésid", "Nelson"]
FEMALE = ["María", "Ana", "Dolores", "Concepción", "Rosario", "Luz", "Gloria", "Sandra",
          "Claudia", "Martha", "Ángela", "Mónica", "Patricia", "Beatriz", "Yolanda", "Inés",
          "Carolina", "Catalina", "Diana", "Paola"]
SECOND_M = ["", "", "", "Eduardo", "Alberto", "Antonio", "Andrés", "José", "Fernando"]
SECOND_F = ["", "", "", "Elena", "Isabel", "Cristina", "Marcela", "Patricia", "José"]
SURNAMES = ["García", "Rodríguez", "Martínez", "López", "González", "Hernández", "Pérez",
            "Sánchez", "Ramírez", "Torres", "Gómez", "Díaz", "Vargas", "Rojas", "Muñoz",
            "Castro", "Ortiz", "Jiménez", "Moreno", "Gutiérrez", "Peña", "Quintero", "Cárdenas",
            "Ospina", "Zuluaga", "Valencia", "Restrepo", "Mejía", "Londoño", "Cañas",
            "De la Cruz", "Del Valle", "De los Ríos", "San Martín", "Guerrero", "Chávez",
            "Yépez", "Villamizar", "Echeverri", "Bermúdez"]
NICK = {"José": "Pepe", "Francisco": "Pacho", "Guillermo": "Memo", "Jesús": "Chucho",
        "Luis": "Lucho", "Antonio": "Toño", "Ignacio": "Nacho", "Enrique": "Quique",
        "Alberto": "Beto", "Roberto": "Beto", "Dolores": "Lola", "Concepción": "Concha",
        "Rosario": "Charo", "Manuel": "Manolo", "Rafael": "Rafa", "Juan": "Juancho"}
PLACES = [("05", "05001"), ("05", "05088"), ("05", "05360"), ("11", "11001"),
          ("76", "76001"), ("76", "76109"), ("08", "08001"), ("13", "13001"),
          ("68", "68001"), ("68", "68081"), ("54", "54001"), ("19", "19001"),
          ("52", "52001"), ("81", "81001"), ("50", "50001"), ("27", "27001")]
ROLES = ["journalist", "media_worker", "trade_unionist", "hr_defender"]
VIOLATIONS = ["killing", "kidnapping", "enforced_disappearance", "arbitrary_detention",
              "torture"]
ACCENTS = str.maketrans("áéíóúÁÉÍÓÚñÑü", "aeiouAEIOUnNu")
LISTS = {"flip": 0.65, "fiscalia": 0.5, "defensoria": 0.45, "sindical": 0.35}


def _events(rng: np.random.Generator, n: int) -> pd.DataFrame:
    female = rng.random(n) < 0.35
    first = np.where(female, rng.choice(FEMALE, n), rng.choice(MALE, n))
    second = np.where(female, rng.choice(SECOND_F, n), rng.choice(SECOND_M, n))
    s1, s2 = rng.choice(SURNAMES, n), rng.choice(SURNAMES, n)
    place = rng.integers(0, len(PLACES), n)
    ev = pd.DataFrame({
        "_event_id": np.arange(n), "first": first, "second": second, "s1": s1, "s2": s2,
        "victim_sex": np.where(female, "female", "male"),
        "victim_age": rng.integers(19, 70, n),
        "victim_role": rng.choice(ROLES, n, p=[0.4, 0.2, 0.25, 0.15]),
        "violation": rng.choice(VIOLATIONS, n, p=[0.35, 0.15, 0.2, 0.2, 0.1]),
        "event_date": pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 9 * 365, n),
                                                                     unit="D"),
        "department": [PLACES[i][0] for i in place],
        "municipality": [PLACES[i][1] for i in place],
    })
    # one victim in 12 suffers a second event: same person, other date and violation
    # (threatened, detained, kidnapped, then perhaps killed: never killed twice)
    alive = ev[ev["violation"] != "killing"]
    again = alive.sample(frac=1 / 10, random_state=int(rng.integers(1 << 30))).copy()
    again["_event_id"] = np.arange(n, n + len(again))
    gap = rng.integers(60, 900, len(again))
    again["event_date"] = again["event_date"] + pd.to_timedelta(gap, unit="D")
    again["victim_age"] = again["victim_age"] + gap // 365
    again["violation"] = rng.choice(VIOLATIONS, len(again))
    return pd.concat([ev, again], ignore_index=True)


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + "aeioulnrs"[int(rng.integers(0, 9))] + word[i + 1:]


def _write(rng: np.random.Generator, ev: pd.Series, source: str, k: int) -> dict[str, object]:
    first = ev["first"]
    if first in NICK and rng.random() < 0.12:
        first = NICK[first]
    given = f"{first} {ev['second']}".strip() if rng.random() > 0.15 else first
    surn = ev["s1"] if rng.random() < 0.22 else f"{ev['s1']} {ev['s2']}"
    if rng.random() < 0.08:
        surn = _typo(rng, surn)
    if rng.random() < 0.05:
        given = _typo(rng, given)
    if rng.random() < 0.35:
        given, surn = given.translate(ACCENTS), surn.translate(ACCENTS)
    if rng.random() < 0.25:
        given, surn = given.upper(), surn.upper()
    if rng.random() < 0.04:
        given, surn = surn, given
    date = ev["event_date"] + pd.Timedelta(days=int(rng.integers(-6, 7))) \
        if rng.random() < 0.3 else ev["event_date"]
    age = ev["victim_age"] + int(rng.integers(-1, 2)) if rng.random() < 0.2 else ev["victim_age"]
    return {
        "source": source, "record_id": f"{source[:3].upper()}-{k:05d}",
        "victim_given_names": given, "victim_surnames": surn,
        "victim_sex": ev["victim_sex"] if rng.random() > 0.05 else "unknown",
        "victim_age": "" if rng.random() < 0.2 else str(age),
        "victim_role": ev["victim_role"] if rng.random() > 0.1 else "",
        "violation": ev["violation"],
        "event_date": "" if rng.random() < 0.02 else date.strftime("%Y-%m-%d"),
        "department": ev["department"],
        "municipality": "" if rng.random() < 0.15 else ev["municipality"],
        "_event_id": int(ev["_event_id"]),
    }


def make_lists(n_events: int = 240, seed: int = 19) -> pd.DataFrame:
    """Records of four lists in the case form's fields, with the truth in ``_event_id``."""
    rng = np.random.default_rng(seed)
    events = _events(rng, n_events)
    rows = []
    for source, p in LISTS.items():
        seen = events[rng.random(len(events)) < p]
        for k, (_, ev) in enumerate(seen.iterrows()):
            rows.append(_write(rng, ev, source, k))
    out = pd.DataFrame(rows)
    return out.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def truth_of(records: pd.DataFrame) -> pd.Series:
    """key -> true event id."""
    keys = records["source"] + ":" + records["record_id"]
    return pd.Series(records["_event_id"].to_numpy(), index=keys.to_numpy())
