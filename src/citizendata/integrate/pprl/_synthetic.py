"""Spanish-named lists of one population with a known truth: tests and the benchmark.

Victims with one or two given names and two surnames (some compound, with particles);
each list catches a victim with its own probability and writes the record with the
errors lists make: accents dropped, second surname missing, a nickname, a one-letter
typo, the date off by days, the municipality missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["spanish_lists"]

GIVEN_F = ["María", "Luz", "Ana", "Claudia", "Sandra", "Diana", "Paola", "Gloria", "Marta",
           "Ángela", "Dolores", "Rosario", "Yolanda", "Lucía", "Natalia", "Carolina", "Sofía",
           "Beatriz", "Consuelo", "Esperanza", "Guadalupe", "Inés", "Mónica", "Patricia"]
GIVEN_M = ["José", "Luis", "Juan", "Carlos", "Jorge", "Francisco", "Jesús", "Antonio",
           "Guillermo", "Ignacio", "Andrés", "Héctor", "Óscar", "Julián", "Fernando",
           "Manuel", "Rafael", "Alberto", "Enrique", "Édgar", "Hernán", "Iván", "Álvaro"]
SURNAMES = ["Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández",
            "Sánchez", "Ramírez", "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez",
            "Vargas", "Castro", "Gutiérrez", "Ortiz", "Ruiz", "Suárez", "Herrera", "Quintero",
            "Peña", "Núñez", "Cárdenas", "Ospina", "Zapata", "Londoño", "Arango", "Valencia",
            "Mosquera", "Palacios", "Córdoba", "Rentería", "Bermúdez", "Montaño", "Caicedo",
            "Acevedo", "Benítez", "Chaparro", "Duarte", "Escobar", "Fajardo", "Galeano",
            "Ibarra", "Jaramillo", "Lozano", "Medina", "Navarro", "Obando", "Pineda",
            "de la Hoz", "del Río", "de la Cruz", "de los Ríos", "Villa de León"]
NICK = {"Francisco": "Pacho", "José": "Pepe", "Guillermo": "Memo", "Jesús": "Chucho",
        "Luis": "Lucho", "Antonio": "Toño", "Ignacio": "Nacho", "Rosario": "Charo",
        "Dolores": "Lola", "Enrique": "Quique", "Alberto": "Beto", "Manuel": "Manolo"}
DEPARTMENTS = ["05", "08", "11", "13", "19", "20", "23", "27", "41", "50", "52", "54",
               "66", "68", "73", "76", "81", "86"]
VIOLATIONS = ["killing", "kidnapping", "enforced_disappearance", "arbitrary_detention",
              "torture"]
_STRIP = str.maketrans("áéíóúÁÉÍÓÚñÑüÜ", "aeiouAEIOUnNuU")


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    how = rng.integers(3)
    if how == 0:
        return word[:i] + word[i + 1:]  # a letter dropped
    if how == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # two swapped
    return word[:i] + "aeiourns"[int(rng.integers(8))] + word[i + 1:]  # one replaced


def _variant(row: dict[str, str], rng: np.random.Generator, error: float) -> dict[str, str]:
    given, surnames = row["victim_given_names"], row["victim_surnames"]
    first = given.split()[0]
    if rng.random() < error and first in NICK:
        given = NICK[first]
    elif rng.random() < error / 2 and " " in given:
        given = first  # second given name left out
    if rng.random() < error:
        surnames = surnames.rsplit(" ", 1)[0] if surnames.count(" ") else surnames
    if rng.random() < error:
        words = surnames.split()
        j = int(rng.integers(len(words)))
        words[j] = _typo(words[j], rng)
        surnames = " ".join(words)
    if rng.random() < 2 * error:
        given, surnames = given.translate(_STRIP), surnames.translate(_STRIP)
    if rng.random() < error:
        given, surnames = given.upper(), surnames.upper()
    out = dict(row, victim_given_names=given, victim_surnames=surnames)
    if rng.random() < 2 * error:
        shift = int(rng.integers(-10, 11))
        out["event_date"] = str((pd.Timestamp(row["event_date"])
                                 + pd.Timedelta(days=shift)).date())
    if rng.random() < error:
        out["municipality"] = ""
    return out


def spanish_lists(n: int = 600, lists: tuple[str, ...] = ("fiscalia", "defensoria", "flip"),
                  capture: tuple[float, ...] = (0.6, 0.5, 0.7), *, error: float = 0.15,
                  seed: int = 2016) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """One data frame per list (case-form columns) and the truth: key -> victim id."""
    rng = np.random.default_rng(seed)
    female = rng.random(n) < 0.4
    rows = []
    for v in range(n):
        names = GIVEN_F if female[v] else GIVEN_M
        k = 1 + int(rng.random() < 0.5)
        given = " ".join(rng.choice(names, size=k, replace=False))
        surnames = " ".join(rng.choice(SURNAMES, size=2, replace=False))
        dep = str(rng.choice(DEPARTMENTS))
        day = pd.Timestamp("2016-01-01") + pd.Timedelta(days=int(rng.integers(0, 3287)))
        rows.append({"victim_given_names": given, "victim_surnames": surnames,
                     "victim_sex": "female" if female[v] else "male",
                     "event_date": str(day.date()), "department": dep,
                     "municipality": f"{dep}{int(rng.integers(1, 40)) * 3 + 1:03d}",
                     "violation": str(rng.choice(VIOLATIONS, p=[0.4, 0.15, 0.1, 0.2, 0.15]))})
    frames, truth = {}, {}
    for name, p in zip(lists, capture, strict=True):
        caught = np.flatnonzero(rng.random(n) < p)
        recs = [dict(_variant(rows[v], rng, error), record_id=f"{name[:3].upper()}-{v:05d}")
                for v in caught]
        ids = rng.permutation(len(recs)) + 1
        for r, i in zip(recs, ids, strict=True):
            truth[f"{name}:{name[:3].upper()}-{i:05d}"] = int(r["record_id"][-5:])
            r["record_id"] = f"{name[:3].upper()}-{i:05d}"
        frames[name] = pd.DataFrame(recs)[["record_id", "victim_given_names",
                                            "victim_surnames", "victim_sex", "event_date",
                                            "department", "municipality", "violation"]]
    return frames, pd.Series(truth, name="victim")
