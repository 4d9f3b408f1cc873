"""Projects whose submissions are R's api samples, for the declared-design tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Client
from conftest import SPEC
from xlsform_builders import make_xlsform

__all__ = ["API_COLUMNS", "R_DIR", "api_form", "load_api", "set_estimation"]

R_DIR = Path(__file__).parent / "data" / "r_reference"
# the api samples' columns as form fields: (name, XLSForm type)
# (free text is kept out of snapshots as possibly personal: categories are select_one)
API_COLUMNS = [("snum", "integer"), ("dnum", "integer"), ("cnum", "integer"), ("str", "select_one str"),
               ("stype", "select_one stype"), ("sch_wide", "select_one yn"), ("pw", "decimal"), ("fpc", "decimal"), ("fpc1", "decimal"),
               ("fpc2", "decimal"), ("api00", "integer"), ("enroll", "integer")]


def api_form(form_id: str = "api") -> bytes:
    """An XLSForm with every column of the api samples (a school per submission)."""
    rows = [{"type": t, "name": n, "label": n} for n, t in API_COLUMNS]
    choices = [{"list_name": lst, "name": c, "label": c} for lst, cs in
               (("str", "abc"), ("stype", "EHM"), ("yn", ("Yes", "No"))) for c in cs]
    return make_xlsform(rows, choices, {"form_id": form_id, "version": "1", "form_title": form_id})


def load_api(me: Client, slug: str, data: pd.DataFrame, form_id: str = "api") -> None:
    """A project ``slug`` whose approved submissions are the rows of ``data``."""
    me.create_project({**SPEC, "slug": slug})
    me.add_form(slug, api_form(form_id), f"{form_id}.xlsx")
    subs: list[dict[str, Any]] = []
    for i, row in enumerate(data.to_dict(orient="records")):
        sub: dict[str, Any] = {"meta": {"instanceID": f"uuid:{form_id}-{i}"}}
        for k, v in row.items():
            if pd.notna(v):
                sub[k] = v.item() if hasattr(v, "item") else v
        subs.append(sub)
    me.submit(slug, form_id, json.dumps(subs).encode())
    me.decide(slug, form_id, [s["meta"]["instanceID"] for s in subs], "approved")
    me.add_reference_table(slug, "stype", b"stype,population\nE,4421\nH,755\nM,1018\n",
                           kind="margins")
    # enrolment by school type: its column's sum is the population's total enrolment
    me.add_reference_table(slug, "enrolment", b"stype,population,enroll\nE,4421,1877350\n"
                           b"H,755,1013824\nM,1018,920298\n", kind="margins")
    me.add_reference_table(slug, "sch_wide", b"sch_wide,population\nNo,1072\nYes,5122\n",
                           kind="margins")


def set_estimation(me: Client, slug: str, estimation: dict[str, Any]) -> None:
    """Replace the project's estimation section (every cell published: threshold 1)."""
    spec = ProjectSpec.model_validate({**SPEC, "slug": slug, "estimation": estimation,
                                       "protection": {"tables": {"threshold": 1}}})
    me.update_project(spec)
