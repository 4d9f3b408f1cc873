"""Spanish personal names prepared for comparison: normal form, surnames, nicknames, phonetics.

Every function takes and returns a pandas Series (one value per record) and works with
pandas' vectorised string methods and dictionary look-ups on exploded tokens: no Python
loop over records.

Decisions (docs/methods/linkage.md explains them):

* **Normal form**: lower case; accents and the diaeresis dropped (á→a, ü→u); **ñ becomes
  n**, because lists kept on systems without the tilde write "Munoz" for "Muñoz" and the
  two must agree exactly; apostrophes dropped (D'Alessandro → dalessandro); any other
  character that is not a letter (hyphen, dot, comma, digit) becomes a space; runs of
  spaces collapse.
* **Surnames**: particles (de, del, de la, de las, de los, la, las, los, da, di, van, von)
  stay with the word they introduce ("de la cruz" is one surname); "y" between two
  surnames only separates them (Ortega y Gasset); a hyphen separates (Pérez-Gómez). The
  first two surnames found are the first (paternal) and second (maternal) surname; a
  surname's **key** drops its particles, so "De la Cruz" and "Cruz" agree.
* **Nicknames** (hipocorísticos): each given-name token maps to its canonical names
  (``NICKNAMES``; "beto" → alberto and roberto); a name maps to itself.
* **Phonetic key** (``fonetica``): a consonant skeleton for blocking after the spelling
  rules of Spanish, where b/v, c/s/z, c/k/q, g/j before e/i, ll/y and a silent h sound
  alike.
"""

from __future__ import annotations

import unicodedata

import pandas as pd

from citizendata.integrate._names_es import NICKNAMES, PARTICLES

__all__ = [
    "NICKNAMES",
    "PARTICLES",
    "canonical_given",
    "fonetica",
    "normalise",
    "split_surnames",
]

_PARTICLE = "|".join(PARTICLES)
_GLUE = rf"\b((?:(?:{_PARTICLE}|san|santa) )+)(?=\w)"
_STRIP = rf"^(?:(?:{_PARTICLE})_)+"


def _fold(text: str) -> str:
    # ñ must become n before accents are stripped by NFKD (which would do the same),
    # spelt out here so the decision is visible
    text = text.replace("ñ", "n").replace("Ñ", "N")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(ch))


def normalise(values: pd.Series) -> pd.Series:
    """Names in normal form (see the module docstring); missing and blank become <NA>."""
    s = values.astype("string")
    # folding is per distinct value, which repeats a lot in name columns
    distinct = pd.Series(s.dropna().unique())
    folded = dict(zip(distinct, distinct.map(_fold), strict=True))
    s = s.map(folded, na_action="ignore").astype("string").str.lower()
    s = s.str.replace(r"['’`´]", "", regex=True)
    s = s.str.replace(r"[^a-z]+", " ", regex=True).str.strip()
    return s.mask(s == "")


def split_surnames(surnames: pd.Series) -> pd.DataFrame:
    """First and second surname (normal form, particles kept) and their particle-free keys.

    ``surnames`` must be in normal form. Columns ``s1``, ``s2``, ``s1_key``, ``s2_key``;
    a third surname and beyond is kept with the second.
    """
    s = surnames.astype("string")
    # "y" between surnames only separates them
    s = s.str.replace(r"(?<=\w) y (?=\w)", " ", regex=True)
    glued = s.str.replace(_GLUE, lambda m: m.group(1).replace(" ", "_"), regex=True)
    parts = glued.str.split(" ", n=1, expand=True)
    if parts.shape[1] < 2:
        parts[1] = pd.NA
    s1 = parts[0].astype("string").str.replace("_", " ")
    s2 = parts[1].astype("string").str.replace("_", " ")
    out = pd.DataFrame({"s1": s1, "s2": s2}, index=surnames.index)
    for col in ("s1", "s2"):
        key = parts[0 if col == "s1" else 1].astype("string").str.replace(_STRIP, "", regex=True)
        key = key.str.replace("_", "").str.replace(" ", "")
        out[f"{col}_key"] = key.mask(key == "")
    return out


def canonical_given(given: pd.Series) -> pd.DataFrame:
    """Canonical forms of given names: ``g1`` (first name), ``g1_canon`` and ``canon``.

    ``g1_canon`` is the sorted list of canonical names of the first given name (a
    nickname may stand for several); ``canon`` the same for every given-name token
    (particles and "maria"/"jose" as a second element kept as they are). ``given`` is in
    normal form; missing names give <NA> / empty lists.
    """
    s = given.astype("string")
    tokens = s.str.split(" ").explode()
    tokens = tokens[~tokens.isin(PARTICLES) & tokens.notna()]
    position = tokens.groupby(level=0).cumcount()
    frame = pd.DataFrame({"token": tokens.astype(str), "position": position.to_numpy()},
                         index=tokens.index)
    table = pd.Series(NICKNAMES, dtype=object).explode()
    mapped = frame.join(table.rename("canon"), on="token")
    mapped["canon"] = mapped["canon"].fillna(mapped["token"])
    mapped.index.name = "_row"
    mapped = mapped.reset_index().drop_duplicates(["_row", "canon"])
    mapped = mapped.sort_values(["_row", "canon"], kind="stable")
    every = mapped.groupby("_row")["canon"].agg(list)
    first = mapped[mapped["position"] == 0].groupby("_row")["canon"].agg(list)
    g1 = frame[frame["position"] == 0]["token"]
    empty: list[str] = []
    return pd.DataFrame({
        "g1": g1.reindex(given.index).astype("string"),
        "g1_canon": first.reindex(given.index).map(
            lambda v: v if isinstance(v, list) else empty),
        "canon": every.reindex(given.index).map(lambda v: v if isinstance(v, list) else empty),
    }, index=given.index)


# applied in order to a name in normal form: spelling to sound, then the skeleton
_PHONETIC_RULES: tuple[tuple[str, str], ...] = (
    (r"ch", "X"),          # ch is one sound; kept apart from c and from the silent h
    (r"ll", "y"),          # yeísmo: ll and y sound alike
    (r"h", ""),            # h is silent
    (r"qu(?=[ei])", "k"),
    (r"g(?=[ei])", "j"),   # ge, gi sound as je, ji
    (r"gu(?=[ei])", "g"),  # gue, gui: the u only hardens the g
    (r"c(?=[ei])", "s"),
    (r"[cqk]", "k"),
    (r"z", "s"),
    (r"x", "ks"),
    (r"v", "b"),
    (r"w", "b"),
    (r"y$", "i"),          # a final y is a vowel (Uribe y, Díaz y)
    (r"(.)\1+", r"\1"),    # double letters (rr, ss, nn) sound as one
)


def fonetica(names: pd.Series, length: int = 6) -> pd.Series:
    """A Spanish phonetic key: the first sound, then consonant sounds, at most ``length``.

    ``names`` in normal form (a single word, or the spaces are removed). Vowels after the
    first letter are dropped, so a typo in a vowel and the confusions above (Gonzales /
    González, Bargas / Vargas, Jiménez / Giménez, Yépez / Llépez) give one key.
    """
    s = names.astype("string").str.replace(" ", "", regex=False)
    for pattern, repl in _PHONETIC_RULES:
        s = s.str.replace(pattern, repl, regex=True)
    s = s.str.lower()
    first = s.str[:1].str.replace(r"[aeiou]", "a", regex=True)  # a leading vowel is a vowel
    rest = s.str[1:].str.replace(r"[aeiou]", "", regex=True)
    key = (first + rest).str.replace(r"(.)\1+", r"\1", regex=True).str[:length]
    return key.mask(key == "")
