"""A small case form and project for the cases tests (the Colombia scenario builds the big one)."""

from __future__ import annotations

from typing import Any

from xlsform_builders import make_xlsform

LISTS = ["flip", "fiscalia", "defensoria", "medios"]

SURVEY: list[dict[str, Any]] = [
    {"type": "select_one lists", "name": "source", "label": "Source"},
    {"type": "text", "name": "record_id", "label": "Record id", "personal": "no"},
    {"type": "text", "name": "victim_given_names", "label": "Given names", "personal": "yes"},
    {"type": "text", "name": "victim_surnames", "label": "Surnames", "personal": "yes"},
    {"type": "select_one sex", "name": "victim_sex", "label": "Sex"},
    {"type": "integer", "name": "victim_age", "label": "Age"},
    {"type": "select_one role", "name": "victim_role", "label": "Role"},
    {"type": "select_one violation", "name": "violation", "label": "Violation"},
    {"type": "date", "name": "event_date", "label": "Date"},
    {"type": "select_one department", "name": "department", "label": "Department"},
    {"type": "text", "name": "municipality", "label": "Municipality", "personal": "no"},
    {"type": "select_one perpetrator", "name": "perpetrator", "label": "Perpetrator"},
    {"type": "text", "name": "description", "label": "Description", "personal": "yes"},
]


def _choices() -> list[dict[str, Any]]:
    lists = {
        "lists": LISTS,
        "sex": ["female", "male", "unknown"],
        "role": ["journalist", "media_worker", "trade_unionist", "hr_defender"],
        "violation": ["killing", "kidnapping", "enforced_disappearance", "arbitrary_detention",
                      "torture"],
        "department": ["05", "11", "76", "19", "52"],
        "perpetrator": ["state_agent", "armed_group", "criminal_group", "private", "unknown"],
    }
    return [{"list_name": k, "name": v, "label": v} for k, vs in lists.items() for v in vs]


def case_form() -> bytes:
    """The case form as an .xlsx (form id 'cases')."""
    return make_xlsform(SURVEY, _choices(), {"form_id": "cases", "version": "1",
                                             "form_title": "Cases"})


FISCALIA_COLUMNS = {
    "radicado": "record_id", "nombres": "victim_given_names", "apellidos": "victim_surnames",
    "sexo": "victim_sex", "edad": "victim_age", "rol": "victim_role",
    "delito": "violation", "fecha_hechos": "event_date", "cod_depto": "department",
    "cod_mpio": "municipality", "autor": "perpetrator",
}


def cases_section(**extra: Any) -> dict[str, Any]:
    """The spec's cases: section for the small form."""
    same = {v: v for v in FISCALIA_COLUMNS.values()}
    out: dict[str, Any] = {
        "form": "cases",
        "lists": [
            {"name": "flip", "organisation": "FLIP", "columns": same},
            {"name": "fiscalia", "organisation": "Fiscalía", "columns": FISCALIA_COLUMNS,
             "date_format": "%d/%m/%Y"},
            {"name": "defensoria", "organisation": "Defensoría", "columns": same},
            {"name": "medios", "organisation": "Monitor de medios", "columns": same},
        ],
        "verification": {
            "list": "flip",
            "criteria": [
                {"code": "identity", "text": "The victim's identity is established."},
                {"code": "role", "text": "The victim worked as a journalist or defender."},
                {"code": "link", "text": "The attack is linked to the victim's work."},
            ],
            "required": ["identity", "role"],
        },
        "linkage": {"threshold": 0.9, "review_band": [0.3, 0.95],
                    "sensitivity": [0.5, 0.9, 0.99]},
        "estimates": {
            "killings": {"series": "VC_VAW_MTUHRA", "violations": ["killing"]},
        },
    }
    out.update(extra)
    return out


def cases_spec(**extra: Any) -> dict[str, Any]:
    """A whole project spec with the cases section (analysis takes all but rejected)."""
    from conftest import SPEC

    return {**SPEC, "slug": "casos", "name": "Casos",
            "validation": {"analytics": "all_but_rejected"}, "cases": cases_section(**extra)}
