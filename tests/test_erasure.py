"""Erasure that lasts: after `consent withdraw --erase` no resend stores anything again.

ODK Collect keeps a sent form on the phone and may send it again (auto-send after a
failure, "send again", an edit of the sent form). Every channel is tried here on
SQLite and PostgreSQL, and the database is then searched, table by table, for the
respondent's words.
"""

from __future__ import annotations

import base64
import functools
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from citizendata.forms.xlsform import parse_xlsform
from citizendata.ingest.openrosa import instance_head, instance_xml, parse_instance_xml
from citizendata.ingest.payload import IncomingSubmission
from citizendata.server.app import create_app
from citizendata.store.models import Attachment, Base, Submission, Tombstone
from citizendata.workspace import Client
from conftest import household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
OR = f"/openrosa/{P}/submission"
SECRET = "Wanjiru Kamau"
GPS = "-1.2921 36.8219 1700 4.5"
ELSEWHERE = "0.0917 34.7680 1131 3"
DUPLICATE = "Duplicate accepted: this form was already received, nothing changed."


def answers(name: str = SECRET, age: str = "34", gps: str = GPS) -> dict[str, Any]:
    """A household form's answers with a name, free text and a GPS fix."""
    return {"start": "2026-03-02T09:14:00.000+03:00", "end": "2026-03-02T09:31:00.000+03:00",
            "respondent": name, "age": age, "consent": "yes",
            "location": {"ward": "magadi", "gps": gps}, "n_births": "1",
            "births": [{"place": "home", "attendants": "tba"}]}


def xml_of(owner: Client, iid: str, payload: dict[str, Any], deprecated: str | None = None
           ) -> bytes:
    """The instance XML ODK Collect would send for these answers."""
    return instance_xml(owner.form_schema(P, F),
                        IncomingSubmission(iid, payload, None, "1", deprecated_id=deprecated))


def basic(user: str, password: str) -> dict[str, str]:
    """ODK Collect's Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            "X-OpenRosa-Version": "1.0"}


COLLECT = basic("owner", "owner-password")


@pytest.fixture
def http(owner: Client) -> Iterator[TestClient]:
    """The server over the test's workspace (SQLite or PostgreSQL)."""
    with TestClient(create_app(owner.workspace)) as c:
        yield c


def send(http: TestClient, xml: bytes, photo: bytes | None = None) -> Any:
    """POST a filled form as ODK Collect does: the XML part and its media."""
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    if photo is not None:
        files.append(("1712.jpg", ("1712.jpg", photo, "image/jpeg")))
    return http.post(OR, files=files, headers=COLLECT)


def everything(owner: Client) -> str:
    """Every row of every table, as text (binary columns decoded leniently)."""
    out = []
    with owner.workspace.transaction(write=False) as db:
        for table in Base.metadata.sorted_tables:
            for row in db.execute(select(table)):
                out.append(" ".join(v.decode("utf-8", "replace") if isinstance(v, bytes)
                                    else json.dumps(v, default=str) for v in row))
    return "\n".join(out)


def leaks(owner: Client, *words: str) -> list[str]:
    """The words still found anywhere in the database."""
    dump = everything(owner)
    return [w for w in (SECRET, GPS.split()[0], *words) if w in dump]


def rows(owner: Client, model: Any, *where: Any) -> list[Any]:
    """Rows of a table, read directly."""
    with owner.workspace.transaction(write=False) as db:
        return list(db.scalars(select(model).where(*where)))


def test_collect_resends_after_erasure_store_nothing(owner: Client, http: TestClient) -> None:
    first = xml_of(owner, "uuid:r1", answers(age="12"))
    assert send(http, first, b"\xff\xd8 photo of the house").status_code == 201
    owner.validate(P, F)  # age 12 breaks the form's constraint: a finding names it
    owner.comment(P, F, "uuid:r1", f"{SECRET} asked to be called back")
    owner.edit(P, F, "uuid:r1", {"age": "21"}, reason=f"{SECRET} gave the wrong age")
    owner.withdraw_consent(P, F, "uuid:r1", erase=True)
    assert leaks(owner) == []

    tries = [
        send(http, first, b"\xff\xd8 photo of the house"),                 # the same again
        send(http, first),                                                 # without media
        send(http, xml_of(owner, "uuid:r1", answers(name="Wanjiru K.")),   # changed
             b"\xff\xd8 another photo"),
        send(http, xml_of(owner, "uuid:r1-e1", answers(name="Wanjiru Kamau N."),
                          deprecated="uuid:r1"), b"\xff\xd8 edit"),        # an ODK edit
        send(http, xml_of(owner, "uuid:r1-e2", answers(), deprecated="uuid:r1-e1")),
        # the form changed since: the resend no longer fits it, and is still answered
        send(http, first.replace(b"<consent>", b"<old_question>gone</old_question><consent>")),
    ]
    assert [r.status_code for r in tries] == [202] * 6
    assert all(DUPLICATE in r.text for r in tries)
    assert leaks(owner, "Wanjiru K", "photo", "another photo", "gone") == []
    subs = rows(owner, Submission, Submission.instance_id.like("uuid:r1%"))
    assert [(s.instance_id, s.payload, s.collected_at) for s in subs] == [
        ("uuid:r1", {"meta": {"instanceID": "uuid:r1"}, "erased": True}, None)]
    assert rows(owner, Attachment, Attachment.submission_id == subs[0].id) == []
    stones = {t.instance_id: (t.reason, t.submission_id) for t in rows(owner, Tombstone)}
    assert stones == {i: ("erased", subs[0].id) for i in ("uuid:r1", "uuid:r1-e1", "uuid:r1-e2")}
    refused = [e for e in owner.audit_log(P) if e["action"] == "submission.refused"]
    assert len(refused) == 6 and {e["details"]["channel"] for e in refused} == {"openrosa"}


def test_erasure_covers_the_whole_edit_chain(owner: Client, http: TestClient) -> None:
    assert send(http, xml_of(owner, "uuid:c1", answers())).status_code == 201
    assert send(http, xml_of(owner, "uuid:c2", answers(age="35"), deprecated="uuid:c1"),
                ).status_code == 201
    # the respondent's receipt names the edit; the original holds her answers too
    owner.withdraw_consent(P, F, "uuid:c2", erase=True)
    assert leaks(owner) == []
    assert send(http, xml_of(owner, "uuid:c1", answers())).status_code == 202
    assert send(http, xml_of(owner, "uuid:c3", answers(), deprecated="uuid:c1")
                ).status_code == 202
    assert leaks(owner) == []
    assert sorted(t.instance_id for t in rows(owner, Tombstone)) == ["uuid:c1", "uuid:c2",
                                                                     "uuid:c3"]


def test_json_and_csv_resends_after_erasure_store_nothing(owner: Client) -> None:
    owner.submit(P, F, [{"instance_id": "uuid:j1", "data": answers()},
                        {"instance_id": "uuid:j2", "data": answers(name="Someone Else", gps=ELSEWHERE)}])
    owner.withdraw_consent(P, F, "uuid:j1", erase=True)

    same = owner.submit(P, F, {"instance_id": "uuid:j1", "data": answers()})
    changed = owner.submit(P, F, {"instance_id": "uuid:j1", "data": answers(age="40")})
    assert (same.created, same.duplicates) == (changed.created, changed.duplicates) == (0, 1)
    assert same.ids == changed.ids
    batch = owner.submit(P, F, [
        {"instance_id": "uuid:j3", "data": answers(name="New Person", gps=ELSEWHERE)},
        {"instance_id": "uuid:j1", "data": answers(name="Wanjiru again")},
        {"instance_id": "uuid:j1-e", "deprecated_id": "uuid:j1", "data": answers()},
        {"instance_id": "uuid:j1-ee", "deprecated_id": "uuid:j1-e", "data": answers()}])
    assert (batch.created, batch.duplicates) == (1, 3)
    assert batch.ids[1] == batch.ids[2] == batch.ids[3] == same.ids[0]

    header = "instanceID,respondent,age,consent,location/ward,location/gps,n_births,meta/deprecatedID"
    csv = "\n".join([header,
                     f"uuid:j1,{SECRET} (csv),41,yes,magadi,{GPS},0,",
                     f"uuid:j1-csv,{SECRET} (csv edit),41,yes,magadi,{GPS},0,uuid:j1",
                     "uuid:j4,Third Person,29,yes,ewuaso,,0,"]).encode()
    result = owner.import_file(P, F, csv, "export.csv")
    assert (result.created, result.duplicates) == (1, 2)
    assert leaks(owner, "Wanjiru again", "(csv") == []
    stored = {s.instance_id for s in rows(owner, Submission)}
    assert stored == {"uuid:j1", "uuid:j2", "uuid:j3", "uuid:j4"}
    assert "uuid:j1-csv" in {t.instance_id for t in rows(owner, Tombstone)}
    batches = [e["details"] for e in owner.audit_log(P) if e["action"] == "intake.batch"]
    assert batches[0]["refused"] == 2 and batches[1]["refused"] == 3


def test_withdrawal_without_erasure_keeps_duplicates_and_stops_new_content(owner: Client
                                                                          ) -> None:
    owner.submit(P, F, [{"instance_id": "uuid:w1", "data": answers()},
                        {"instance_id": "uuid:w2", "data": answers(name="Amina", gps=ELSEWHERE)}])
    owner.withdraw_consent(P, F, "uuid:w1")
    assert owner.submit(P, F, {"instance_id": "uuid:w1", "data": answers()}).duplicates == 1
    # changed content, or an edit, does not bring the respondent back
    assert owner.submit(P, F, {"instance_id": "uuid:w1", "data": answers(age="50")}
                        ).duplicates == 1
    edit = owner.submit(P, F, {"instance_id": "uuid:w1-e", "deprecated_id": "uuid:w1",
                               "data": answers(age="50")})
    assert (edit.created, edit.duplicates) == (0, 1)
    assert "uuid:w1-e" not in {s.instance_id for s in rows(owner, Submission)}
    assert rows(owner, Submission, Submission.instance_id == "uuid:w1")[0].payload[
        "age"] == "34"
    assert {t.instance_id: t.reason for t in rows(owner, Tombstone)} == {
        "uuid:w1": "withdrawn", "uuid:w1-e": "withdrawn"}
    # erasing later turns every tombstone of the chain into an erasure
    owner.withdraw_consent(P, F, "uuid:w1", erase=True)
    assert {t.reason for t in rows(owner, Tombstone)} == {"erased"}
    assert leaks(owner) == [] and "Amina" in everything(owner)


def test_partial_withdrawal_follows_an_edit(owner: Client) -> None:
    owner.submit(P, F, {"instance_id": "uuid:p1", "data": answers()})
    owner.withdraw_consent(P, F, "uuid:p1", scopes=["publication"])
    edit = owner.submit(P, F, {"instance_id": "uuid:p1-e", "deprecated_id": "uuid:p1",
                               "data": answers(age="35")})
    assert edit.created == 1
    mine = [w for w in owner.consent_withdrawals(P) if w["instance_id"] == "uuid:p1-e"]
    assert [w["scope"] for w in mine] == ["publication"]
    assert rows(owner, Tombstone) == []


def test_migration_buries_what_was_erased_before_and_removes_what_came_back(
        owner: Client, http: TestClient) -> None:
    from alembic import command
    from sqlalchemy import text

    from citizendata.store.migrate import alembic_config

    assert send(http, xml_of(owner, "uuid:old", answers(age="12")), b"photo").status_code == 201
    owner.submit(P, F, {"instance_id": "uuid:kept", "data": answers(name="Amina",
                                                                      gps=ELSEWHERE)})
    owner.validate(P, F)
    with owner.workspace.transaction() as db:
        command.downgrade(alembic_config(db.connection()), "0007")
        # an erasure as release 0007 recorded it, and a resend that brought the XML,
        # the photo and a finding back
        sid = db.execute(text("SELECT id FROM submissions WHERE instance_id = 'uuid:old'")
                         ).scalar_one()
        db.execute(text("UPDATE submissions SET payload = :p WHERE id = :s"),
                   {"p": json.dumps({"meta": {"instanceID": "uuid:old"}, "erased": True}),
                    "s": sid})
        db.execute(text(
            "INSERT INTO consent_withdrawals (project_id, form_id, submission_id, instance_id, "
            "scope, basis, erased, recorded_by, at) SELECT project_id, form_id, id, "
            "instance_id, 'all', 'respondent_request', :t, 'owner', received_at "
            "FROM submissions WHERE id = :s"), {"s": sid, "t": True})
        command.upgrade(alembic_config(db.connection()), "head")
    assert leaks(owner) == [] and "Amina" in everything(owner)
    stones = rows(owner, Tombstone)
    assert [(t.instance_id, t.reason, t.submission_id) for t in stones] == [
        ("uuid:old", "erased", sid)]
    assert rows(owner, Submission, Submission.id == sid)[0].collected_at is None
    assert send(http, xml_of(owner, "uuid:old", answers()), b"photo").status_code == 202
    assert rows(owner, Attachment, Attachment.submission_id == sid) == []


SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@functools.cache
def household_schema() -> Any:
    """The household form's schema, parsed once."""
    return parse_xlsform(household_form(), "household.xlsx").schema


@settings(max_examples=150, deadline=None)
@given(iid=SAFE_TEXT.filter(str.strip), deprecated=st.none() | SAFE_TEXT.filter(str.strip),
       name=SAFE_TEXT)
def test_instance_head_reads_the_ids_the_full_parse_reads(iid: str, deprecated: str | None,
                                                           name: str) -> None:
    form = household_schema()
    xml = instance_xml(form, IncomingSubmission(iid, {"respondent": name}, None, "1",
                                                deprecated_id=deprecated))
    _, parsed = parse_instance_xml(xml, lambda _f, _v: form)
    assert instance_head(xml) == ("household", parsed.instance_id, parsed.deprecated_id)
    # broken XML is left to the full parse, which says what is wrong
    assert instance_head(xml[:-3]) is None
