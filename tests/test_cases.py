"""Cases: list import, the case list and verification (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from openpyxl import Workbook

from cases_kit import case_form, cases_spec
from citizendata.auth import Actor
from citizendata.errors import BadInput, Conflict, Forbidden, NotFound
from citizendata.workspace import Client, Workspace

SLUG = "casos"
# the mapping of a file is the same whatever the database: checked once, on SQLite (what
# is stored, and what is refused as a whole, is checked on both)
FILE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])

FISCALIA = (
    "radicado,nombres,apellidos,sexo,edad,rol,delito,fecha_hechos,cod_depto,cod_mpio,autor\n"
    "F-001,María José,Gómez Pérez,female,34,journalist,killing,03/02/2019,05,05001,armed_group\n"
    "F-002,Pedro,Ramírez,male,51,trade_unionist,kidnapping,17/11/2020,11,11001,unknown\n"
    "F-003,Luz Dary,de la Hoz Ortiz,female,,hr_defender,killing,01/07/2021,76,,private\n"
)
FLIP = (
    "record_id,victim_given_names,victim_surnames,victim_sex,victim_age,victim_role,violation,"
    "event_date,department,municipality,perpetrator\n"
    "R1,Maria Jose,Gomez,female,34,journalist,killing,2019-02-04,05,05001,armed_group\n"
    "R2,Ana,Ruiz Salas,female,29,journalist,arbitrary_detention,2022-05-09,19,19001,state_agent\n"
)
NAMES = ["María José", "Maria Jose", "Gómez", "Gomez", "Pedro", "Ramírez", "Luz Dary",
         "de la Hoz", "Ana", "Ruiz Salas"]


@pytest.fixture
def casos(ws: Workspace) -> Client:
    me = ws.create_admin("owner", "owner-password")
    me.create_project(cases_spec())
    me.add_form(SLUG, case_form(), "cases.xlsx")
    return me


def member(ws: Workspace, owner: Client, name: str, role: str | None) -> Client:
    """A user with a role in the project (None: of no project); no log-in, to stay fast."""
    info = owner.create_user(name, f"{name}-password-long")
    if role is not None:
        owner.add_member(SLUG, name, role)
    return Client(ws, Actor(info.id, name))


def test_a_list_is_imported_in_its_own_layout_and_again_changes_nothing(casos: Client) -> None:
    got = casos.import_case_list(SLUG, "fiscalia", FISCALIA.encode(), filename="fiscalia.csv")
    assert (got["imported"], got["unchanged"], got["total"]) == (3, 0, 3)
    again = casos.import_case_list(SLUG, "fiscalia", FISCALIA.encode(), filename="fiscalia.csv")
    assert (again["imported"], again["unchanged"]) == (0, 3)
    rows = casos.cases(SLUG)["rows"]
    assert [r["key"] for r in rows] == ["fiscalia:F-001", "fiscalia:F-002", "fiscalia:F-003"]
    first = rows[0]
    assert first["event_date"] == "2019-02-03" and first["department"] == "05"
    assert first["victim_given_names"] == "María José" and first["status"] == "reported"
    assert first["instance_id"].startswith("uuid:")


def test_a_changed_record_is_a_conflict_and_nothing_is_stored(casos: Client) -> None:
    casos.import_case_list(SLUG, "fiscalia", FISCALIA.encode(), filename="fiscalia.csv")
    changed = FISCALIA.replace("F-002,Pedro", "F-002,Pablo") + (
        "F-004,Juan,Díaz,male,40,journalist,torture,02/02/2022,52,52001,state_agent\n")
    with pytest.raises(Conflict) as err:
        casos.import_case_list(SLUG, "fiscalia", changed.encode(), filename="fiscalia.csv")
    assert err.value.where is not None and err.value.where.row == 3
    assert casos.cases(SLUG)["total"] == 3


@FILE_ONLY
def test_a_bad_row_refuses_the_whole_file_naming_row_and_column(casos: Client) -> None:
    bad = FISCALIA.replace("17/11/2020", "2020-11-17").replace(",51,", ",cincuenta,")
    with pytest.raises(BadInput) as err:
        casos.import_case_list(SLUG, "fiscalia", bad.encode(), filename="fiscalia.csv")
    places = {(p.where.row, p.where.column) for p in err.value.problems if p.where}
    assert (3, "fecha_hechos") in places
    assert all(p.where is None or p.where.file == "fiscalia.csv" for p in err.value.problems)
    assert casos.cases(SLUG)["total"] == 0
    text = json.dumps(err.value.to_dict(), ensure_ascii=False)
    assert "Pedro" not in text and "Ramírez" not in text


@FILE_ONLY
def test_a_value_the_form_refuses_is_told_in_the_file_s_own_column(casos: Client) -> None:
    bad = FISCALIA.replace(",51,", ",cincuenta,").replace("killing,01/07", "homicidio,01/07")
    with pytest.raises(BadInput) as err:
        casos.import_case_list(SLUG, "fiscalia", bad.encode(), filename="fiscalia.csv")
    places = {(p.where.row, p.where.column) for p in err.value.problems if p.where}
    assert {(3, "edad"), (4, "delito")} <= places, places
    assert casos.cases(SLUG)["total"] == 0


@FILE_ONLY
def test_unknown_columns_and_repeated_ids_are_refused(casos: Client) -> None:
    bad = FISCALIA.replace("autor\n", "autor,telefono\n", 1)
    bad = "\n".join(line + ",300" if i else line for i, line in
                    enumerate(bad.strip().split("\n"))) + "\n"
    with pytest.raises(BadInput) as err:
        casos.import_case_list(SLUG, "fiscalia", bad.encode(), filename="f.csv")
    assert [p.where.column for p in err.value.problems if p.where] == ["telefono"]
    twice = FISCALIA + FISCALIA.splitlines()[1] + "\n"
    with pytest.raises(BadInput) as err:
        casos.import_case_list(SLUG, "fiscalia", twice.encode(), filename="f.csv")
    assert [(p.where.row, p.where.column) for p in err.value.problems if p.where] == [
        (5, "radicado")]
    with pytest.raises(BadInput):
        casos.import_case_list(SLUG, "nadie", FLIP.encode(), filename="x.csv")


@FILE_ONLY
def test_an_xlsx_list_imports_like_its_csv(casos: Client) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for i, line in enumerate(FISCALIA.strip().split("\n")):
        cells: list[object] = line.split(",")
        if i == 1:  # a real date cell, as Excel keeps one
            cells[7] = datetime(2019, 2, 3)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    got = casos.import_case_list(SLUG, "fiscalia", buf.getvalue(), filename="fiscalia.xlsx")
    assert got["imported"] == 3
    again = casos.import_case_list(SLUG, "fiscalia", FISCALIA.encode(), filename="fiscalia.csv")
    assert again["unchanged"] == 3


def _flip(casos: Client) -> dict[str, str]:
    casos.import_case_list(SLUG, "flip", FLIP.encode(), filename="flip.csv")
    casos.import_case_list(SLUG, "fiscalia", FISCALIA.encode(), filename="fiscalia.csv")
    return {r["key"]: r["instance_id"] for r in casos.cases(SLUG, limit=50)["rows"]}


def test_verification_is_append_only_and_the_latest_decision_counts(casos: Client) -> None:
    ids = _flip(casos)
    r1 = ids["flip:R1"]
    with pytest.raises(BadInput, match="required criterion"):
        casos.verify_case(SLUG, r1, "verified", criteria=["identity"], evidence="acta")
    with pytest.raises(BadInput, match="evidence"):
        casos.verify_case(SLUG, r1, "verified", criteria=["identity", "role"], evidence=" ")
    with pytest.raises(BadInput, match="Unknown criteria"):
        casos.verify_case(SLUG, r1, "verified", criteria=["identity", "x"], evidence="a")
    with pytest.raises(BadInput, match="only records of 'flip'"):
        casos.verify_case(SLUG, ids["fiscalia:F-001"], "not_verified", criteria=[], evidence="")
    got = casos.verify_case(SLUG, r1, "verified", criteria=["role", "identity"],
                            evidence="Medicina Legal report 2019-0042")
    assert got["status"] == "verified" and got["history"][0]["criteria"] == ["identity", "role"]
    casos.verify_case(SLUG, r1, "not_verified", criteria=["identity"], evidence="",
                      note="the employer denies")
    hist = casos.case_verification(SLUG, r1)
    assert hist["status"] == "not_verified"
    assert [h["decision"] for h in hist["history"]] == ["verified", "not_verified"]
    assert casos.cases(SLUG, status="not_verified")["total"] == 1
    assert casos.cases(SLUG, status="reported", list="flip")["total"] == 1


def test_roles_collector_analyst_and_outsider(ws: Workspace, casos: Client) -> None:
    ids = _flip(casos)
    col = member(ws, casos, "colector", "collector")
    with pytest.raises(Forbidden):
        col.verify_case(SLUG, ids["flip:R1"], "not_verified", criteria=[], evidence="")
    ana = member(ws, casos, "analista", "analyst")
    page = ana.cases(SLUG, limit=50)
    assert page["total"] == 5 and not page["personal"]
    text = json.dumps(page, ensure_ascii=False)
    assert not [n for n in NAMES if n in text]
    with pytest.raises(Forbidden):
        ana.verify_case(SLUG, ids["flip:R1"], "not_verified", criteria=[], evidence="")
    val = member(ws, casos, "validadora", "validator")
    val.verify_case(SLUG, ids["flip:R2"], "not_verified", criteria=["identity"], evidence="")
    assert "Ana" in json.dumps(val.cases(SLUG, list="flip"), ensure_ascii=False)
    nobody = member(ws, casos, "nadie", None)
    with pytest.raises(NotFound):
        nobody.cases(SLUG)
    with pytest.raises(NotFound):
        nobody.verify_case(SLUG, ids["flip:R1"], "not_verified", criteria=[], evidence="")


def test_a_withdrawn_case_cannot_be_verified_and_leaves_the_list(ws: Workspace,
                                                                 casos: Client) -> None:
    ids = _flip(casos)
    casos.withdraw_consent(SLUG, "cases", ids["flip:R2"])
    assert "flip:R2" not in {r["key"] for r in casos.cases(SLUG, limit=50)["rows"]}
    with pytest.raises(Conflict):
        casos.verify_case(SLUG, ids["flip:R2"], "not_verified", criteria=[], evidence="")
    val = member(ws, casos, "validadora", "validator")
    with pytest.raises(NotFound):
        val.verify_case(SLUG, ids["flip:R2"], "not_verified", criteria=[], evidence="")


def test_the_audit_log_holds_decisions_without_names_or_evidence(casos: Client) -> None:
    ids = _flip(casos)
    casos.verify_case(SLUG, ids["flip:R1"], "verified", criteria=["identity", "role"],
                      evidence="Testimonio de María José Gómez")
    text = json.dumps(casos.audit_log(SLUG), default=str, ensure_ascii=False)
    assert "cases.verify" in text and "cases.import" in text
    assert not [n for n in NAMES if n in text]


def test_linkage_reads_only_what_analysis_may_use(casos: Client) -> None:
    from citizendata.auth import Action
    from citizendata.services.linkage import linkage_inputs

    ids = _flip(casos)
    casos.verify_case(SLUG, ids["flip:R1"], "verified", criteria=["identity", "role"],
                      evidence="acta")
    casos.verify_case(SLUG, ids["flip:R2"], "not_verified", criteria=[], evidence="")
    casos.decide(SLUG, "cases", [ids["fiscalia:F-002"]], "rejected", "no es un caso")
    casos.withdraw_consent(SLUG, "cases", ids["fiscalia:F-003"])
    got = casos._read(linkage_inputs, SLUG, Action.SUBMISSION_REVIEW)
    assert sorted(got.records["key"]) == ["fiscalia:F-001", "flip:R1"]
    assert got.excluded == {"review_status": 1, "not_verified": 1, "unknown_list": 0}
