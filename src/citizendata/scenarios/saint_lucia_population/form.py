"""The community enumeration form: one submission per dwelling, as an XLSForm.

Community mappers walk every structure of a settlement: they place it (GPS), say
whether it is an occupied dwelling, a vacant one or not a dwelling, and, where the
household agrees, list its members (name, sex, age) in a repeat. District and area
are select_one questions (the area filtered by district); area codes are those of
the census table and the boundaries. Names and the dwelling's GPS point carry
``personal: yes``; ``deviceid`` is personal by citizendata's defaults. English only.
"""

from __future__ import annotations

from collections.abc import Sequence

from citizendata.scenarios._kit import xlsform_bytes
from citizendata.scenarios.saint_lucia_population.geography import DISTRICTS

__all__ = ["FORM_ID", "FORM_TITLE", "FORM_VERSION", "PERSONAL_FIELDS", "STATUSES", "build_form",
           "form_bytes"]

FORM_ID = "saint_lucia_enumeration"
FORM_VERSION = "2026.1"
FORM_TITLE = "Community enumeration of settlements (Saint Lucia, illustrative)"

SURVEY_HEADER = ("type", "name", "label", "hint", "required", "relevant", "constraint",
                 "constraint_message", "choice_filter", "repeat_count", "personal")
CHOICES_HEADER = ("list_name", "name", "label", "district")
PERSONAL_FIELDS = ("gps", "given_name", "surname")
STATUSES: dict[str, str] = {"occupied": "Occupied dwelling", "vacant": "Vacant dwelling",
                            "not_dwelling": "Not a dwelling (shop, church, store, ruin)"}
_OCCUPIED = "${dwelling_status} = 'occupied'"
_CONSENTED = f"{_OCCUPIED} and ${{consent}} = 'yes'"


def _q(type_: str, name: str, label: str = "", **kw: str) -> dict[str, str]:
    return {"type": type_, "name": name, "label": label, **kw}


def _survey() -> list[dict[str, str]]:
    return [
        _q("start", "start"), _q("end", "end"), _q("deviceid", "deviceid"),
        _q("select_one district", "district", "District", required="yes"),
        _q("select_one area", "area", "Settlement (enumeration district)", required="yes",
           choice_filter="district = ${district}"),
        _q("geopoint", "gps", "Record the location of the structure", required="yes",
           personal="yes"),
        _q("select_one dwelling_status", "dwelling_status", "What is this structure?",
           required="yes"),
        _q("select_one consent", "consent",
           "We are counting everyone who lives in this settlement so that it is counted "
           "fairly. Taking part is voluntary. May we list the people who live here?",
           hint="Choose 'Nobody at home' only after the third visit.",
           required="yes", relevant=_OCCUPIED),
        _q("integer", "household_size", "How many people usually live in this dwelling?",
           hint="Count everyone who usually sleeps here, including babies and people away for "
           "less than six months.", required="yes", relevant=_CONSENTED,
           constraint=". >= 1 and . <= 30", constraint_message="Enter a number from 1 to 30."),
        _q("begin_repeat", "members", "Person", relevant=_CONSENTED,
           repeat_count="${household_size}"),
        _q("text", "given_name", "Given name", required="yes", personal="yes"),
        _q("text", "surname", "Surname", required="yes", personal="yes"),
        _q("select_one sex", "sex", "Sex", required="yes"),
        _q("integer", "age", "Age in completed years", required="yes",
           constraint=". >= 0 and . <= 110", constraint_message="Enter an age from 0 to 110."),
        _q("end_repeat", "members"),
    ]


def _choices(area_codes: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    rows = [{"list_name": "consent", "name": "yes", "label": "Yes"},
            {"list_name": "consent", "name": "no", "label": "No (refused)"},
            {"list_name": "consent", "name": "absent",
             "label": "Nobody at home after three visits"},
            {"list_name": "sex", "name": "female", "label": "Female"},
            {"list_name": "sex", "name": "male", "label": "Male"}]
    rows += [{"list_name": "dwelling_status", "name": k, "label": v} for k, v in STATUSES.items()]
    rows += [{"list_name": "district", "name": d.code, "label": d.name} for d in DISTRICTS]
    rows += [{"list_name": "area", "name": code, "label": code, "district": district}
             for code, district in area_codes]
    return rows


def build_form(area_codes: Sequence[tuple[str, str]]) -> bytes:
    """The XLSForm for the given (area, district) codes."""
    return xlsform_bytes(SURVEY_HEADER, _survey(), CHOICES_HEADER, _choices(area_codes),
                         {"form_id": FORM_ID, "version": FORM_VERSION, "form_title": FORM_TITLE,
                          "default_language": "English (en)",
                          "instance_name": "concat(${area}, '-', ${dwelling_status})"})


def form_bytes() -> bytes:
    """The form for the scenario's areas (the geography is fixed: any seed, any scale)."""
    from citizendata.scenarios.saint_lucia_population.geography import fixed_areas

    areas = fixed_areas()
    return build_form(list(zip(areas["area"], areas["district"], strict=True)))
