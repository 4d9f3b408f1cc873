"""Spanish names and other identifiers written the same way at every list holder.

Every holder must normalise identically before encoding (a difference here is a
difference in the Bloom filter), so this normaliser is small and its tables are
versioned with the package: they are the linkage's (integrate/_names_es.py), and a change
to them means every holder re-encodes its list.
"""

from __future__ import annotations

import re
import unicodedata

from citizendata.integrate._names_es import CONJUNCTIONS
from citizendata.integrate._names_es import NICKNAMES as _NICKNAMES
from citizendata.integrate._names_es import PARTICLES as _PARTICLES

__all__ = ["NICKNAMES", "PARTICLES", "normalise_name", "normalise_text"]

# particles of compound surnames and the conjunction of "Ortega y Gasset": dropped, so
# "De la Hoz" and "Hoz" encode alike (lists write them inconsistently); the tables are
# the linkage's (integrate/_names_es.py), so both methods normalise names alike
PARTICLES = frozenset(_PARTICLES + CONJUNCTIONS)

# a nickname -> its most common given name; a nickname on one list and the formal name
# on another would otherwise share almost no bigrams
NICKNAMES: dict[str, str] = {nick: names[0] for nick, names in _NICKNAMES.items()}

_NON_LETTER = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case without accents (ñ -> n: lists drop the tilde as often as accents)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise_text(value: object) -> str:
    """Case, accents and punctuation folded; words separated by one space; '' if missing."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return " ".join(_NON_LETTER.sub(" ", _fold(str(value))).split())


def normalise_name(value: object, *, nicknames: bool = True) -> str:
    """A person's name: `normalise_text`, particles dropped, nicknames made formal.

    >>> normalise_name("María  de la Peña-Núñez")
    'maria pena nunez'
    >>> normalise_name("Pacho")
    'francisco'
    """
    words = [w for w in normalise_text(value).split() if w not in PARTICLES]
    if nicknames:
        words = [NICKNAMES.get(w, w) for w in words]
    return " ".join(words)
