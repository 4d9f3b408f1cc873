"""Privacy-preserving record linkage: Bloom-filter encodings (CLKs) linked by Dice.

Each list holder encodes its identifiers locally (`encode_clks`, with a secret the
holders share and citizendata never sees); citizendata links the encodings
(`link_encodings`) into pairs and clusters keyed ``"list:record_id"``, as the plain
linkage does. Schnell, Bachteler & Reiher (2009); Schnell, Bachteler & Reiher (2011).
"""

from __future__ import annotations

from citizendata.integrate.pprl.encode import decode_clks, derive_key, encode_clks
from citizendata.integrate.pprl.link import PPRLResult, dice, greedy_one_to_one, link_encodings
from citizendata.integrate.pprl.normalise import normalise_name, normalise_text
from citizendata.integrate.pprl.quality import pairwise_quality
from citizendata.integrate.pprl.schema import ClkSchema, FieldSpec, colombia_schema, read_schema

__all__ = [
    "ClkSchema",
    "FieldSpec",
    "PPRLResult",
    "colombia_schema",
    "decode_clks",
    "derive_key",
    "dice",
    "encode_clks",
    "greedy_one_to_one",
    "link_encodings",
    "normalise_name",
    "normalise_text",
    "pairwise_quality",
    "read_schema",
]
