"""Identity and intersectional checks for the scorecard: WG-SS wording, SDG disaggregations.

Pure functions over the form schema, the project's declarations and a protected
estimate table; their results fill ``Evidence.wg_present``, ``wg_unaltered``,
``sdg_disaggregations``, ``group_cells``, ``identity_self_reported`` and
``sex_self_identified``. Rules and sources: docs/methods/quality.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from citizendata.forms.schema import FormSchema
from citizendata.projects.quality import GroupSpec, IdentitySpec

__all__ = [
    "DEFAULT_DISAGGREGATION_NAMES",
    "SDG_DISAGGREGATIONS",
    "WG_SS_ANSWERS",
    "WG_SS_ANSWER_VARIANTS",
    "WG_SS_MISSING_LABELS",
    "WG_SS_QUESTIONS",
    "group_cells",
    "sdg_disaggregations",
    "self_identification",
    "wg_check",
]

# The Washington Group Short Set on Functioning, English wording; a parenthesised part
# is optional (the WG allows it to be dropped where it does not translate). Keys are the
# domain names of the washington_group derived variable (citizendata.stats.derive).
WG_SS_QUESTIONS: dict[str, str] = {
    "seeing": "Do you have difficulty seeing, even if wearing glasses?",
    "hearing": "Do you have difficulty hearing, even if using a hearing aid?",
    "walking": "Do you have difficulty walking or climbing steps?",
    "cognition": "Do you have difficulty remembering or concentrating?",
    "selfcare": "Do you have difficulty (with self-care such as) washing all over or dressing?",
    "communication": "Using your usual (customary) language, do you have difficulty "
                     "communicating, for example understanding or being understood?",
}
WG_SS_ANSWERS: dict[str, str] = {
    "1": "No difficulty",
    "2": "Some difficulty",
    "3": "A lot of difficulty",
    "4": "Cannot do at all",
}
# The WG's own printed questionnaire gives the categories as "No - no difficulty",
# "Yes - some difficulty", "Yes - a lot of difficulty", "Cannot do at all"; both forms
# are the standard, nothing else is.
WG_SS_ANSWER_VARIANTS: dict[str, tuple[str, ...]] = {
    "1": ("No difficulty", "No - no difficulty"),
    "2": ("Some difficulty", "Yes - some difficulty"),
    "3": ("A lot of difficulty", "Yes - a lot of difficulty"),
    "4": ("Cannot do at all",),
}
# codes recorded outside the scale (WG: don't know / refused kept separately)
WG_SS_MISSING_LABELS: dict[str, tuple[str, ...]] = {
    "7": ("Don't know", "Do not know", "Refused"),
    "8": ("Don't know", "Do not know", "Refused"),
    "9": ("Don't know", "Do not know", "Refused"),
}

# UN General Assembly resolution 71/313 (race and ethnicity as one), then the extras
SDG_DISAGGREGATIONS: tuple[str, ...] = (
    "income", "sex", "age", "race_ethnicity", "migratory_status", "disability", "location",
)
DEFAULT_DISAGGREGATION_NAMES: dict[str, frozenset[str]] = {
    "income": frozenset({"income", "income_group", "income_quintile", "wealth",
                         "wealth_quintile", "wealth_index", "poverty", "poverty_status",
                         "quintile"}),
    "sex": frozenset({"sex", "sex_at_birth"}),
    "age": frozenset({"age", "age_group", "age_band", "age_groups"}),
    "race_ethnicity": frozenset({"race", "ethnicity", "ethnic_group", "indigenous",
                                 "indigenous_status", "caste", "tribe"}),
    "migratory_status": frozenset({"migratory_status", "migrant", "migrant_status",
                                   "migration", "nationality", "refugee", "displacement",
                                   "idp"}),
    "disability": frozenset({"disability", "disability_status", "wg_disability"}),
    "location": frozenset({"ward", "county", "sub_county", "subcounty", "state", "district",
                           "region", "municipality", "province", "village", "city", "locality",
                           "parish", "commune", "department", "lga", "zone", "area",
                           "location", "geography", "urban_rural", "urbanisation",
                           "urbanization"}),
    # not in 71/313; "gender" counts here, not as sex, because a self-identified gender
    # is a gender identity (a project whose "gender" column holds sex maps it itself)
    "sexual_orientation": frozenset({"sexual_orientation"}),
    "gender_identity": frozenset({"gender_identity", "gender"}),
}


# -- the Washington Group check ---------------------------------------------------------


def _norm(text: str) -> str:
    """Lower case, punctuation to spaces, runs of white space to one (for comparing wording)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _variants(standard: str) -> set[str]:
    """The normalised standard wording with and without its optional parenthesised parts."""
    with_parts = _norm(standard)
    without = _norm(re.sub(r"\([^)]*\)", " ", standard))
    # each optional part on its own may be kept or dropped
    parts = re.findall(r"\([^)]*\)", standard)
    out = {with_parts, without}
    for p in parts:
        out.add(_norm(standard.replace(p, " ")))
    return out


def _english(language: str | None) -> bool:
    """True for an unnamed language or an English one ("English (en)", "en")."""
    if language is None:
        return True
    return bool(re.search(r"english|^en$|^eng$|\(en\)|^en[-_]", language.strip().lower()))


def _answers(domain: str, field: str, choices: Iterable[Any]) -> list[str]:
    """Differences of one question's answer list from the four standard categories."""
    diffs: list[str] = []
    by_code = {str(c.name): c.label for c in choices}
    where = f"{domain} (field '{field}')"
    for code, variants in WG_SS_ANSWER_VARIANTS.items():
        if code not in by_code:
            diffs.append(f"{where}: answer category {code} '{WG_SS_ANSWERS[code]}' is missing")
            continue
        label = by_code[code] or ""
        if _norm(label) not in {_norm(v) for v in variants}:
            diffs.append(f"{where}: answer {code} is labelled '{label}', not "
                         f"'{WG_SS_ANSWERS[code]}'")
    for code, label in by_code.items():
        if code in WG_SS_ANSWER_VARIANTS:
            continue
        if code not in WG_SS_MISSING_LABELS:
            diffs.append(f"{where}: answer code {code} ('{label}') is not a WG-SS category")
        elif _norm(label or "") not in {_norm(v) for v in WG_SS_MISSING_LABELS[code]}:
            diffs.append(f"{where}: code {code} is labelled '{label}', not don't know or refused")
    return diffs


def wg_check(schema: FormSchema, fields: Mapping[str, str]) -> dict[str, Any]:
    """Are the six WG-SS questions in the form (present) with the standard wording (unaltered)?

    ``fields`` maps each domain (seeing, hearing, walking, cognition, selfcare,
    communication) to a field name or path, as the project's washington_group variable
    does. Returns ``present`` (all six exist and are select_one), ``unaltered`` (True:
    standard wording, order and answer categories; False: any difference; None: nothing
    to compare, or the form's labels are not in English) and ``differences``.
    """
    diffs: list[str] = []
    found: dict[str, Any] = {}
    for domain in WG_SS_QUESTIONS:
        name = fields.get(domain)
        if name is None:
            diffs.append(f"{domain}: no field is mapped to this domain")
            continue
        f = schema.find(name)
        if f is None:
            diffs.append(f"{domain}: field '{name}' is not in the form")
            continue
        if f.type != "select_one":
            diffs.append(f"{domain} (field '{name}'): type is {f.type}, not select_one")
            continue
        found[domain] = f
    unknown = sorted(set(fields) - set(WG_SS_QUESTIONS))
    if unknown:
        diffs.append(f"unknown domains mapped: {', '.join(unknown)}")
    present = len(found) == len(WG_SS_QUESTIONS) and not unknown
    if not found:
        return {"present": False, "unaltered": None, "differences": diffs}
    if not _english(schema.default_language):
        # the schema keeps the default language's labels only
        diffs.append(f"labels are stored in '{schema.default_language}', not English: the "
                     "wording cannot be checked against the standard")
        return {"present": present, "unaltered": None, "differences": diffs}
    for domain, f in found.items():
        label = f.label or ""
        if _norm(label) not in _variants(WG_SS_QUESTIONS[domain]):
            diffs.append(f"{domain} (field '{f.name}'): wording '{label}' differs from the "
                         f"standard '{WG_SS_QUESTIONS[domain]}'")
        diffs.extend(_answers(domain, f.name, f.choices))
    position = {f.path: i for i, f in enumerate(schema.fields)}
    order = [d for d in WG_SS_QUESTIONS if d in found]
    if order != sorted(order, key=lambda d: position[found[d].path]):
        diffs.append("the questions are not in the standard order (seeing, hearing, walking, "
                     "cognition, self-care, communication)")
    return {"present": present, "unaltered": present and not diffs, "differences": diffs}


# -- SDG disaggregations ----------------------------------------------------------------


def sdg_disaggregations(dimensions_available: set[str],
                        mapping: Mapping[str, Iterable[str]] | None = None) -> dict[str, bool]:
    """Which GA 71/313 disaggregations (plus sexual orientation, gender identity) are possible.

    A disaggregation is possible when a dimension the indicators can be disaggregated by
    is one of its names, or has one of its names as a word (``county_of_ward`` is a
    location). ``mapping`` replaces the default names of the keys it gives, and may add
    keys.
    """
    names = {k: frozenset(v) for k, v in DEFAULT_DISAGGREGATION_NAMES.items()}
    for key, given in (mapping or {}).items():
        names[key] = frozenset(str(n).lower() for n in given)
    dims = {d.lower() for d in dimensions_available}
    words = {w for d in dims for w in d.split("_") if w}
    return {key: bool(dims & ns or words & ns) for key, ns in names.items()}


# -- marginalised groups' cells -----------------------------------------------------------


def group_cells(table: pd.DataFrame, groups: Mapping[str, GroupSpec]) -> dict[str, tuple[int, int]]:
    """Per group: (cells published, cells) of a protected table (``conf_status`` F/C/D).

    A group's cells are the rows where its dimension takes one of its values; a
    dimension that is not a column of the table gives (0, 0): the group cannot be
    reported at all.
    """
    if "conf_status" not in table.columns:
        raise ValueError("group_cells needs a protected table with a conf_status column")
    out: dict[str, tuple[int, int]] = {}
    published = table["conf_status"].astype(str) == "F"
    for name, spec in groups.items():
        if spec.dimension not in table.columns:
            out[name] = (0, 0)
            continue
        mine = table[spec.dimension].astype(str).isin([str(v) for v in spec.values])
        out[name] = (int((mine & published).sum()), int(mine.sum()))
    return out


# -- self-identification ------------------------------------------------------------------


def self_identification(identity: Mapping[str, IdentitySpec], schema: FormSchema
                        ) -> tuple[float | None, bool | None]:
    """Share self-reported among the declared identity fields in the form, and whether sex is.

    Declared fields missing from the form are left out (they measure nothing). The
    share is None when none is in the form; ``sex_self_identified`` is None unless an
    identity variable named ``sex`` is declared and in the form.
    """
    present = {k: v for k, v in identity.items() if schema.find(v.field) is not None}
    share = (sum(v.self_reported for v in present.values()) / len(present)) if present else None
    sex = present.get("sex")
    return share, (sex.self_reported if sex is not None else None)
