"""The Spanish name rules shared by the linkage and PPRL: particles and nicknames.

One table for both, so that plain and privacy-preserving linkage normalise names alike
(a comparison of their quality then compares the methods, not two tables). The
nicknames (hipocorísticos) are the common Spanish and Colombian ones (Real Academia
Española, *Diccionario panhispánico de dudas*, "hipocorístico"; Boyd-Bowman 1955, "Cómo
obra la fonética infantil en la formación de los hipocorísticos", NRFH 9), including
every one the Colombia scenario writes. PPRL list holders must all use the same version
of this table (a change changes the Bloom filters: re-encode every list).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CONJUNCTIONS", "NICKNAMES", "PARTICLES"]

# particles that belong to the surname they introduce ("de la Cruz")
PARTICLES: tuple[str, ...] = ("de", "del", "la", "las", "los", "da", "di", "do", "dos",
                              "van", "von")
# the conjunction between two surnames ("Ortega y Gasset"; "e" before an i-sound)
CONJUNCTIONS: tuple[str, ...] = ("y", "e")

# nickname -> the given names it stands for, most common first; a name maps to itself
NICKNAMES: Mapping[str, tuple[str, ...]] = {
    "alejo": ("alejandro",), "alex": ("alejandro", "alexander"), "andres": ("andres",),
    "beto": ("alberto", "roberto", "humberto"), "carlitos": ("carlos",),
    "caro": ("carolina",), "cata": ("catalina",), "chalo": ("gonzalo",),
    "charo": ("rosario",), "chayo": ("rosario",), "chela": ("graciela",),
    "chelo": ("consuelo",), "chema": ("jose",), "chente": ("vicente",), "cheo": ("jose",),
    "chepe": ("jose",), "chole": ("soledad",), "chucho": ("jesus",), "chuy": ("jesus",),
    "concha": ("concepcion",), "conchita": ("concepcion",), "fer": ("fernando",),
    "fito": ("adolfo",), "fran": ("francisco",), "gabo": ("gabriel",),
    "goyo": ("gregorio",), "guille": ("guillermo",), "gustavito": ("gustavo",),
    "javi": ("javier",), "juancho": ("juan",), "juanito": ("juan",), "kike": ("enrique",),
    "lalo": ("eduardo",), "lola": ("dolores",), "lolita": ("dolores",),
    "luchito": ("luis",), "lucho": ("luis",), "lupe": ("guadalupe",), "mafe": ("maria",),
    "manolo": ("manuel",), "manu": ("manuel",), "mari": ("maria",), "maru": ("maria",),
    "maruja": ("maria",), "meche": ("mercedes",), "memo": ("guillermo",),
    "mona": ("ramona",), "moncho": ("ramon",), "nacho": ("ignacio",),
    "nando": ("fernando",), "nena": ("elena",), "nico": ("nicolas",),
    "pacho": ("francisco",), "paco": ("francisco",), "pancho": ("francisco",),
    "pedrito": ("pedro",), "pepa": ("josefa",), "pepe": ("jose",), "pepito": ("jose",),
    "pili": ("pilar",), "pipe": ("felipe",), "quico": ("francisco",),
    "quique": ("enrique",), "rafa": ("rafael",), "rosita": ("rosa",),
    "santi": ("santiago",), "sebas": ("sebastian",), "tito": ("alberto", "roberto"),
    "tomi": ("tomas",), "toni": ("antonio",), "tonio": ("antonio",), "tono": ("antonio",),
    "tony": ("antonio",), "toto": ("antonio",), "vivi": ("viviana",),
}
