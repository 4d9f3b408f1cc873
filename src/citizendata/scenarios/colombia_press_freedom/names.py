"""Spanish names as Colombian registers write them, and the ways lists get them wrong.

A person has one or two given names and two surnames (father's, then mother's);
some surnames are compound or carry particles ("de la Hoz", "Ruiz de Castilla").
The pools are common names listed from common to rare (drawn with Zipf-like
frequencies, so namesakes occur as they do in real registers), with Afro-Colombian surnames more frequent on the
Pacific coast, Nasa and Wayuu surnames in Cauca and La Guajira, and Caribbean
surnames on the coast. The noise functions rewrite one record's name, age or date
the way a clerk, a journalist or a volunteer does.
"""

from __future__ import annotations

import unicodedata

import numpy as np

__all__ = ["GIVEN_FEMALE", "GIVEN_MALE", "NICKNAMES", "SURNAMES", "draw_names", "strip_accents",
           "typo"]

GIVEN_MALE: tuple[str, ...] = (
    "José", "Luis", "Carlos", "Juan", "Jorge", "Francisco", "Jesús", "Antonio", "Guillermo",
    "Ignacio", "Alberto", "Andrés", "Diego", "Fernando", "Héctor", "Hernán", "Jaime", "Javier",
    "Óscar", "Pedro", "Rafael", "Ricardo", "Rodrigo", "Álvaro", "Edwin", "Wilson", "Jhon",
    "Yeison", "Éider", "Libardo", "Arley", "Fabián", "Gustavo", "Manuel", "Miguel", "Nelson",
    "Orlando", "Rubén", "Sebastián", "Víctor", "William", "Alejandro", "Camilo", "Daniel",
    "David", "Eduardo", "Enrique", "Germán", "Gonzalo", "Hugo", "Ramiro", "Efraín",
)
GIVEN_FEMALE: tuple[str, ...] = (
    "María", "Ana", "Luz", "Martha", "Gloria", "Sandra", "Claudia", "Diana", "Carolina",
    "Paola", "Ángela", "Beatriz", "Carmen", "Cecilia", "Dora", "Esperanza", "Gladys",
    "Liliana", "Lucía", "Marcela", "Mónica", "Nidia", "Olga", "Patricia", "Rosa", "Sofía",
    "Yolanda", "Yaneth", "Leidy", "Yuli", "Adriana", "Alejandra", "Andrea", "Catalina",
    "Daniela", "Elena", "Fanny", "Isabel", "Juliana", "Natalia", "Teresa", "Valentina",
    "Inés", "Josefa", "Mercedes", "Dolores", "Consuelo", "Graciela", "Soledad",
)
# given name -> the nickname people (and the press) use
NICKNAMES: dict[str, str] = {
    "Francisco": "Pacho", "José": "Pepe", "Guillermo": "Memo", "Jesús": "Chucho",
    "Luis": "Lucho", "Antonio": "Toño", "Ignacio": "Nacho", "Alberto": "Beto",
    "Alejandro": "Alejo", "Fernando": "Nando", "Eduardo": "Lalo", "Rafael": "Rafa",
    "Enrique": "Quique", "Manuel": "Manolo", "Josefa": "Pepa", "Mercedes": "Meche",
    "Dolores": "Lola", "Consuelo": "Chelo", "Graciela": "Chela", "Soledad": "Chole",
    "Rosa": "Rosita", "Gonzalo": "Chalo",
}
_GENERAL = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez", "Ramírez",
    "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Castro",
    "Gutiérrez", "Álvarez", "Ruiz", "Suárez", "Romero", "Torres", "Ortiz", "Valencia",
    "Quintero", "Ospina", "Restrepo", "Zapata", "Cardona", "Giraldo", "Londoño", "Arango",
    "Henao", "Osorio", "Salazar", "Castaño", "Mejía", "Cárdenas", "Ríos", "Medina", "Herrera",
    "Peña", "Reyes", "Cruz", "Acosta", "Mendoza", "Rincón", "Parra", "Guerrero", "Bermúdez",
    "Barrera", "Beltrán", "Carvajal", "Chaparro", "Duarte", "Escobar", "Fajardo", "Galvis",
    "Jaramillo", "Lozano", "Montoya", "Navarro", "Niño", "Ochoa", "Pineda", "Quiroga",
    "Rivera", "Sierra", "Tovar", "Uribe", "Vélez", "Villamizar", "Zuluaga",
)
_COMPOUND = ("de la Hoz", "Ruiz de Castilla", "de los Ríos", "del Castillo", "Ponce de León",
             "de la Cruz", "de Ávila", "Díaz-Granados", "de la Torre", "del Valle")
_AFRO = ("Mosquera", "Palacios", "Cuesta", "Rentería", "Córdoba", "Caicedo", "Angulo", "Hurtado",
         "Ibargüen", "Valoyes", "Murillo", "Asprilla", "Perea", "Lerma", "Riascos", "Cuero",
         "Quiñones", "Obregón", "Mina", "Balanta")
_INDIGENOUS = ("Pito", "Ul", "Yule", "Dagua", "Ipia", "Secue", "Guetio", "Tombé", "Pilcué",
               "Epiayú", "Uriana", "Ipuana", "Pushaina", "Campo")
_CARIBE = ("Meza", "Barrios", "Pacheco", "Polo", "Julio", "Arrieta", "Cassiani", "Mercado",
           "Cantillo", "Padilla", "Charris", "Ortega")
SURNAMES: dict[str, tuple[str, ...]] = {"general": _GENERAL, "compound": _COMPOUND, "afro": _AFRO,
                                        "indigenous": _INDIGENOUS, "caribe": _CARIBE}
# region -> probabilities of the pools general, compound, afro, indigenous, caribe
_POOL_MIX: dict[str, tuple[float, ...]] = {
    "andina": (0.88, 0.06, 0.03, 0.02, 0.01),
    "caribe": (0.50, 0.08, 0.07, 0.05, 0.30),
    "pacifica": (0.37, 0.04, 0.42, 0.15, 0.02),
    "orinoquia": (0.82, 0.06, 0.04, 0.06, 0.02),
    "amazonia": (0.74, 0.05, 0.04, 0.15, 0.02),
}
_POOLS = ("general", "compound", "afro", "indigenous", "caribe")


ZIPF = 0.5  # name frequencies fall with rank as 1 / rank**ZIPF (García far commoner than Tovar)


def _pick(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """``n`` positions in a pool of ``size`` names listed from common to rare."""
    w = 1.0 / np.arange(1, size + 1) ** ZIPF
    return rng.choice(size, size=n, p=w / w.sum())


def _surnames(rng: np.random.Generator, regions: np.ndarray) -> np.ndarray:
    """One surname per person, from the pool mix of the person's region."""
    out = np.empty(len(regions), dtype=object)
    for region, mix in _POOL_MIX.items():
        idx = np.flatnonzero(regions == region)
        pools = rng.choice(len(_POOLS), size=len(idx), p=mix)
        for k, pool in enumerate(_POOLS):
            sel = idx[pools == k]
            names = SURNAMES[pool]
            out[sel] = np.asarray(names, dtype=object)[_pick(rng, len(names), len(sel))]
    return out


def draw_names(rng: np.random.Generator, sex: np.ndarray, regions: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Given names (one or two), first and second surnames for people of ``sex`` in ``regions``."""
    n = len(sex)
    male = np.asarray(GIVEN_MALE, dtype=object)
    female = np.asarray(GIVEN_FEMALE, dtype=object)
    first = np.where(sex == "female", female[_pick(rng, len(female), n)],
                     male[_pick(rng, len(male), n)])
    second = np.where(sex == "female", female[_pick(rng, len(female), n)],
                      male[_pick(rng, len(male), n)])
    two = (rng.random(n) < 0.45) & (second != first)
    given = np.where(two, first + " " + second, first)
    return given, _surnames(rng, regions), _surnames(rng, regions)


def strip_accents(text: str) -> str:
    """The text without diacritics (Ñ becomes N, as many registers type it)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(rng: np.random.Generator, text: str) -> str:
    """One keying error: a letter substituted, dropped, doubled, or two letters swapped."""
    # not a word's initial (clerks get those right), so no word is emptied either
    pos = [i for i in range(1, len(text)) if text[i].isalpha() and text[i - 1].isalpha()]
    if not pos:
        return text
    i = pos[int(rng.integers(0, len(pos)))]
    kind = int(rng.integers(0, 4))
    if kind == 0:
        c = _LETTERS[int(rng.integers(0, 26))]
        c = c.upper() if text[i].isupper() else c
        if c == text[i]:
            c = "x" if text[i] != "x" else "z"
        return text[:i] + c + text[i + 1:]
    if kind == 1:
        return text[:i] + text[i + 1:]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    j = i + 1  # swap with the next letter when there is a different one
    if j >= len(text) or not text[j].isalpha() or text[j] == text[i]:
        return text[:i] + text[i + 1:]
    return text[:i] + text[j] + text[i] + text[j + 1:]
