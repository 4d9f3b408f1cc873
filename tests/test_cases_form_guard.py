"""A case form that forgets to mark the victims' names personal is refused on every use."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cases_kit import SURVEY, _choices, cases_spec
from citizendata.errors import BadInput
from citizendata.services.cases import case_instance_id
from citizendata.store.models import Submission
from citizendata.workspace import Workspace
from test_cases import FISCALIA, SLUG
from xlsform_builders import make_xlsform


def _careless_form() -> bytes:
    """The kit's case form with the surnames marked ``personal: no`` (free text is personal
    by default; a form author who copies the record id's row gets this)."""
    survey = [{**row, "personal": "no"} if row["name"] == "victim_surnames" else row
              for row in SURVEY]
    return make_xlsform(survey, _choices(), {"form_id": "cases", "version": "1",
                                             "form_title": "Cases"})


def test_a_case_form_without_personal_names_is_refused(ws: Workspace) -> None:
    me = ws.create_admin("owner", "owner-password")
    me.create_project(cases_spec())
    me.add_form(SLUG, _careless_form(), "cases.xlsx")
    with pytest.raises(BadInput) as err:
        me.import_case_list(SLUG, "fiscalia", FISCALIA.encode(), filename="fiscalia.csv")
    assert err.value.code == "cases.invalid"
    assert err.value.where is not None and err.value.where.field == "victim_surnames"
    assert "'cases'" in err.value.message and "personal: yes" in (err.value.fix or "")
    assert [p.where.field for p in err.value.problems if p.where] == ["victim_surnames"]
    assert ws.run(lambda db: db.scalar(select(func.count(Submission.id))), write=False) == 0
    with pytest.raises(BadInput, match="victim_surnames"):
        me.cases(SLUG)
    # the case page starts from a case's verification: refused before any case is read
    with pytest.raises(BadInput, match="victim_surnames"):
        me.case_verification(SLUG, case_instance_id(SLUG, "fiscalia", "F-001"))
