"""Storage and domain tests, run on SQLite and on PostgreSQL (each in a rolled-back transaction)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from citizendata.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from citizendata.store.migrate import head_revision
from citizendata.store.models import AuditEvent, Submission, User
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form


def sub(iid: str, age: str = "30", ward: str = "magadi", births: list[dict] | None = None
        ) -> dict:
    """One JSON submission as a client would send it."""
    return {"instance_id": iid, "data": {
        "respondent": "Naserian", "age": age, "consent": "yes",
        "location": {"ward": ward, "gps": "-1.9 36.3 1200 5"},
        "n_births": str(len(births or [])), "births": births or []}}


def test_migrations_at_head(ws: Workspace) -> None:
    with ws.transaction() as db:
        rev = MigrationContext.configure(db.connection()).get_current_revision()
    assert rev == head_revision()


def test_audit_log_is_append_only(ws: Workspace, owner: Client) -> None:
    with pytest.raises((IntegrityError, DBAPIError)), ws.transaction() as db:
        db.execute(text("UPDATE audit_log SET action = 'tampered'"))
    with pytest.raises((IntegrityError, DBAPIError)), ws.transaction() as db:
        db.execute(text("DELETE FROM audit_log"))
    actions = [e["action"] for e in owner.audit_log("test-project")]
    assert "project.create" in actions and "form.version_add" in actions


def test_passwords_are_argon2_and_login_checks_them(ws: Workspace, owner: Client) -> None:
    owner.create_user("amina", "correct horse battery")
    with ws.transaction() as db:
        h = db.scalar(select(User.password_hash).where(User.username == "amina"))
    assert h is not None and h.startswith("$argon2id$") and "correct" not in h
    assert ws.login("amina", "correct horse battery").actor.username == "amina"
    with pytest.raises(Unauthenticated) as e:
        ws.login("amina", "wrong password")
    assert e.value.code == "auth.invalid_credentials"
    with pytest.raises(Unauthenticated):
        ws.login("nobody", "whatever123")


def test_project_threshold_and_engagement(owner: Client) -> None:
    p = owner.project("test-project")
    assert p.role == "owner" and p.meets_citizen_data_threshold
    rec = owner.engagement("test-project")
    assert rec["stages"]["design"]["level"] == 5 and rec["initiator"] == "Test CSO"


def test_project_spec_errors_are_collected(owner: Client) -> None:
    bad = dict(SPEC, slug="Bad Slug!", engagement={"colect": {"level": 7}})
    with pytest.raises(BadInput) as e:
        owner.create_project(bad)
    assert len(e.value.problems) >= 2
    fields = {p.where.field for p in e.value.problems if p.where and p.where.field}
    assert "slug" in fields and any(f.startswith("engagement.colect") for f in fields)


def test_non_members_get_404_and_weak_roles_get_403(ws: Workspace, owner: Client) -> None:
    owner.create_user("outsider", "outsider-password")
    owner.create_user("collector", "collector-password")
    owner.add_member("test-project", "collector", "collector")
    outsider = ws.login("outsider", "outsider-password")
    for call in (lambda: outsider.project("test-project"),
                 lambda: outsider.forms("test-project"),
                 lambda: outsider.submit("test-project", "household", sub("uuid:x"))):
        with pytest.raises(NotFound) as e:
            call()
        assert e.value.code == "not_found.project"
    # the same answer for a project that does not exist at all: nothing leaks
    with pytest.raises(NotFound):
        outsider.project("no-such-project")
    collector = ws.login("collector", "collector-password")
    collector.submit("test-project", "household", sub("uuid:c1"))
    with pytest.raises(Forbidden):
        collector.submissions("test-project", "household")
    with pytest.raises(Forbidden):
        collector.add_member("test-project", "outsider", "viewer")
    assert outsider.projects() == []


def test_only_owner_makes_owners(ws: Workspace, owner: Client) -> None:
    owner.create_user("mgr", "manager-password")
    owner.create_user("xavier", "x-password-1")
    owner.add_member("test-project", "mgr", "manager")
    mgr = ws.login("mgr", "manager-password")
    with pytest.raises(Forbidden):
        mgr.add_member("test-project", "xavier", "owner")
    with pytest.raises(BadInput):
        mgr.add_member("test-project", "xavier", "superuser")


def test_form_versions_are_kept_and_submissions_keep_theirs(owner: Client) -> None:
    owner.submit("test-project", "household", sub("uuid:v1"))
    extra = [{"type": "text", "name": "notes", "label": "Notes"}]
    v2 = owner.add_form("test-project", household_form("2", extra), "household.xlsx")
    assert v2.version == "2"
    owner.submit("test-project", "household", sub("uuid:v2"))
    assert owner.form("test-project", "household").versions == ("1", "2")
    _, rows = owner.submissions("test-project", "household")
    by_id = {r["instance_id"]: r["form_version"] for r in rows}
    assert by_id == {"uuid:v1": "1", "uuid:v2": "2"}
    # the same version with other content is refused; the same file again is accepted
    with pytest.raises(Conflict) as e:
        owner.add_form("test-project", household_form("2"), "household.xlsx")
    assert e.value.code == "conflict.form_version"
    assert owner.add_form("test-project", household_form("2", extra), "h.xlsx").version == "2"


def test_resend_is_idempotent_and_conflict_overwrites_nothing(ws: Workspace, owner: Client) -> None:
    first = owner.submit("test-project", "household", sub("uuid:a", age="31"))
    again = owner.submit("test-project", "household", sub("uuid:a", age="31"))
    assert first.created == 1 and again.created == 0 and again.duplicates == 1
    assert again.ids == first.ids
    with pytest.raises(Conflict) as e:
        owner.submit("test-project", "household", sub("uuid:a", age="32"))
    assert e.value.code == "conflict.submission" and e.value.http_status == 409
    stored = owner.submission("test-project", "household", "uuid:a")
    assert stored["data"]["age"] == "31"


def test_batch_is_all_or_nothing(ws: Workspace, owner: Client) -> None:
    owner.submit("test-project", "household", sub("uuid:keep", age="40"))
    batch = [sub("uuid:b1"), sub("uuid:b2"), sub("uuid:keep", age="41")]
    with pytest.raises(Conflict):
        owner.submit("test-project", "household", batch)
    total, _ = owner.submissions("test-project", "household")
    assert total == 1
    result = owner.submit("test-project", "household", [*batch[:2], sub("uuid:keep", age="40")])
    assert (result.created, result.duplicates) == (2, 1)


def test_wrong_content_is_stored_exactly_as_received(owner: Client) -> None:
    owner.submit("test-project", "household",
                 sub("uuid:odd", age="forty", ward="atlantis") | {"collected_at": None})
    got = owner.submission("test-project", "household", "uuid:odd")
    assert got["data"]["age"] == "forty" and got["data"]["location"]["ward"] == "atlantis"


def test_every_submission_is_audited(ws: Workspace, owner: Client) -> None:
    owner.submit("test-project", "household", sub("uuid:one"))
    owner.submit("test-project", "household", [sub("uuid:two"), sub("uuid:three")])
    with ws.transaction() as db:
        actions = list(db.scalars(select(AuditEvent.action)))
        n = db.scalar(select(Submission.id).where(Submission.instance_id == "uuid:two"))
    assert "submission.create" in actions and "intake.batch" in actions and n


def test_personal_fields_are_withheld_from_analysts(ws: Workspace, owner: Client) -> None:
    owner.submit("test-project", "household", sub("uuid:p"))
    owner.create_user("ana", "analyst-password")
    owner.add_member("test-project", "ana", "analyst")
    ana = ws.login("ana", "analyst-password")
    seen = ana.submission("test-project", "household", "uuid:p")["data"]
    assert seen["respondent"].startswith("[withheld") and seen["age"] == "30"
    assert seen["location"]["gps"].startswith("[withheld")
    assert owner.submission("test-project", "household", "uuid:p")["data"]["respondent"] == \
        "Naserian"


CSV = (
    "instance_id,respondent,age,consent,location/ward,n_births\n"
    "uuid:r1,Amina,25,yes,magadi,0\n"
    "uuid:r2,Sela,35,yes,ewuaso,0\n"
)


def test_bulk_import_then_resend_then_conflict(ws: Workspace, owner: Client) -> None:
    r = owner.import_file("test-project", "household", CSV.encode(), "export.csv")
    assert (r.created, r.duplicates) == (2, 0)
    again = owner.import_file("test-project", "household", CSV.encode(), "export.csv")
    assert (again.created, again.duplicates) == (0, 2)
    changed = CSV.replace("uuid:r2,Sela,35", "uuid:r2,Sela,36") + "uuid:r3,Zawadi,22,yes,magadi,0\n"
    with pytest.raises(Conflict) as e:
        owner.import_file("test-project", "household", changed.encode(), "export.csv")
    assert e.value.where is not None and e.value.where.row == 3
    total, _ = owner.submissions("test-project", "household")
    assert total == 2  # nothing from the refused file was written


def test_bulk_import_refuses_structural_problems_whole(owner: Client) -> None:
    bad = ("instance_id,respondent,colour\n"
           "uuid:x1,A,red\n"
           "uuid:x1,B,blue\n"
           ",C,green\n")
    with pytest.raises(BadInput) as e:
        owner.import_file("test-project", "household", bad.encode(), "bad.csv")
    codes = {p.code for p in e.value.problems}
    assert {"import.unknown_column", "import.duplicate_instance_id",
            "import.missing_instance_id"} <= codes
    assert owner.form("test-project", "household").submissions == 0


def test_snapshot_from_storage_is_typed(ws: Workspace, owner: Client) -> None:
    births = [{"place": "facility", "attendants": "doctor nurse"}, {"place": "home",
                                                                     "attendants": "tba"}]
    owner.submit("test-project", "household", [sub("uuid:s1", births=births),
                                               sub("uuid:s2", age="abc")])
    snap = owner.open_snapshot("test-project", "household")
    main = snap.to_pandas()
    assert list(main["_instance_id"]) == ["uuid:s1", "uuid:s2"]
    assert main["age"].tolist()[0] == 30 and main["age"].isna().tolist()[1]
    assert "respondent" not in main.columns  # personal: left out by default
    child = snap.table("births").to_pandas()
    assert len(child) == 2 and child["attendants__doctor"].tolist() == [True, False]
    assert set(child["_submission_id"]) == {int(main["_id"].iloc[0])}


def test_invalid_json_names_line_and_column(owner: Client) -> None:
    with pytest.raises(BadInput) as e:
        owner.submit("test-project", "household", b'{"instance_id": "uuid:j",\n "data": {]}')
    assert e.value.code == "intake.invalid_json"
    assert e.value.where is not None and e.value.where.row == 2


def test_unknown_form_and_version(owner: Client) -> None:
    with pytest.raises(NotFound) as e:
        owner.submit("test-project", "nope", sub("uuid:n"))
    assert e.value.code == "not_found.form"
    with pytest.raises(BadInput):
        owner.submit("test-project", "household", sub("uuid:n") | {"form_version": "99"})


def test_json_batch_limit(ws: Workspace, owner: Client) -> None:
    from citizendata.errors import PayloadTooLarge

    ws.settings.max_batch = 3
    with pytest.raises(PayloadTooLarge):
        owner.submit("test-project", "household", [sub(f"uuid:{i}") for i in range(4)])
    assert json.loads(json.dumps(SPEC))["slug"] == "test-project"


def test_migrations_match_the_models(ws: Workspace) -> None:
    from alembic.autogenerate import compare_metadata

    from citizendata.store.models import Base

    with ws.transaction() as db:
        diff = compare_metadata(MigrationContext.configure(db.connection()), Base.metadata)
    assert diff == []


def test_bulk_import_keeps_timestamps_and_versions(ws: Workspace, owner: Client) -> None:
    csv = ("instance_id,respondent,age,end\n"
           "uuid:t1,A,20,2026-03-01T10:15:00.000+03:00\n"
           "uuid:t2,B,21,\n")
    owner.import_file("test-project", "household", csv.encode(), "t.csv")
    got = owner.submission("test-project", "household", "uuid:t1")
    assert got["collected_at"] == "2026-03-01T07:15:00+00:00" and got["form_version"] == "1"
    assert owner.submission("test-project", "household", "uuid:t2")["collected_at"] is None


def test_personal_snapshot_needs_the_right_role(ws: Workspace, owner: Client) -> None:
    owner.submit("test-project", "household", sub("uuid:ps"))
    owner.create_user("ana", "analyst-password")
    owner.add_member("test-project", "ana", "analyst")
    ana = ws.login("ana", "analyst-password")
    with pytest.raises(Forbidden):
        ana.snapshot("test-project", "household", include_personal=True)
    full = owner.open_snapshot("test-project", "household")
    assert "respondent" not in full.to_pandas().columns  # default: personal left out
    info = owner.snapshot("test-project", "household", include_personal=True)
    cols = info.tables[info.main].columns
    assert "respondent" in cols and "instanceID" not in cols


def test_revoked_tokens_stop_working(ws: Workspace, owner: Client) -> None:
    token = owner.create_token("phone")
    assert ws.with_token(token).project("test-project").slug == "test-project"
    assert owner.revoke_tokens("phone") == 1
    with pytest.raises(Unauthenticated) as e:
        ws.with_token(token).project("test-project")
    assert e.value.code == "auth.invalid_token"


def test_try_submit_does_not_wait_for_a_busy_writer(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    me = ws.create_admin("owner", "owner-password")
    me.create_project(SPEC)
    me.add_form("test-project", household_form(), "household.xlsx")
    assert ws.single_writer
    body = json.dumps(sub("uuid:busy")).encode()
    with ws.transaction():  # another writer holds the database
        assert me.try_submit("test-project", "household", body) is None
    assert me.form("test-project", "household").submissions == 0
    result = me.try_submit("test-project", "household", body)
    assert result is not None and result.created == 1
    # another process writing: SQLite's own lock, not ours
    other = Workspace.open(tmp_path / "ws")
    with other.transaction() as db:
        db.execute(text("UPDATE users SET display_name = 'x'"))
        assert me.try_submit("test-project", "household",
                             json.dumps(sub("uuid:busy2")).encode()) is None
    assert me.try_submit("test-project", "household",
                         json.dumps(sub("uuid:busy2")).encode()) is not None
    other.close()
    ws.close()


def test_a_resaved_workbook_is_the_same_version(owner: Client) -> None:
    import time

    first = household_form("1")
    time.sleep(1.1)  # openpyxl stamps the save time into the file
    again = household_form("1")
    assert first != again
    assert owner.add_form("test-project", again, "household.xlsx").version == "1"
    assert owner.form("test-project", "household").versions == ("1",)


def test_password_guessing_is_throttled(ws: Workspace, owner: Client) -> None:
    from citizendata.errors import TooManyRequests

    owner.create_user("amina", "correct horse battery")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            ws.login("amina", "guess-guess")
    with pytest.raises(TooManyRequests) as e:
        ws.login("amina", "correct horse battery")  # even the right password, for a while
    assert e.value.code == "auth.too_many_attempts" and e.value.http_status == 429
    assert ws.login("owner", "owner-password").actor.username == "owner"  # others unaffected


def test_database_errors_do_not_carry_answers(ws: Workspace, owner: Client) -> None:
    # error messages end up in logs; the values bound into a statement must not be in them
    with pytest.raises((IntegrityError, DBAPIError)) as e, ws.transaction() as db:
        db.execute(text("INSERT INTO users (username, password_hash, is_admin, is_active, "
                        "created_at) VALUES (:u, 'x', false, true, CURRENT_TIMESTAMP)"),
                   {"u": "owner"})
    assert "owner" not in str(e.value).split("[SQL:")[-1].replace("username", "")


def test_groups_and_repeats_must_have_their_shape(owner: Client) -> None:
    for data in ({"location": "Magadi, next to Naserian's house"},
                 {"births": "two, one at home"},
                 {"births": [{"place": "home"}, "Naserian's sister"]},
                 {"age": {"years": "30"}},
                 {"meta": {"phone": "0712 345678"}}):
        with pytest.raises(BadInput) as e:
            owner.submit("test-project", "household", {"instance_id": "uuid:shape",
                                                      "data": data})
        assert e.value.code in {"intake.invalid_submission", "intake.unknown_field"}
    assert owner.form("test-project", "household").submissions == 0


def test_redaction_shows_only_known_non_personal_fields(owner: Client) -> None:
    from citizendata.services.submissions import WITHHELD, redact

    schema = owner.form_schema("test-project", "household")
    stored = {"respondent": "Naserian", "age": "30", "odd": "Naserian's phone",
              "location": {"ward": "magadi", "gps": "-1.9 36.3 0 0", "extra": "x"},
              "births": [{"place": "home"}, "Naserian's sister"],
              "meta": {"instanceName": "Naserian-30"}}
    seen = redact(stored, schema)
    assert seen["age"] == "30" and seen["location"]["ward"] == "magadi"
    assert seen["births"][0] == {"place": "home"}
    withheld = [seen["respondent"], seen["odd"], seen["location"]["gps"],
                seen["location"]["extra"], seen["births"][1], seen["meta"]["instanceName"]]
    assert withheld == [WITHHELD] * 6


def test_reusing_a_snapshot_still_checks_who_asks(ws: Workspace, owner: Client) -> None:
    owner.submit("test-project", "household", sub("uuid:snap"))
    owner.snapshot("test-project", "household", include_personal=True)
    owner.create_user("outsider", "outsider-password")
    owner.create_user("ana", "analyst-password")
    owner.add_member("test-project", "ana", "analyst")
    outsider = ws.login("outsider", "outsider-password")
    with pytest.raises(NotFound):
        outsider.open_snapshot("test-project", "household", refresh=False)
    ana = ws.login("ana", "analyst-password")
    with pytest.raises(Forbidden):
        ana.open_snapshot("test-project", "household", refresh=False, include_personal=True)
    # the analyst's own snapshot is a different folder, without personal fields
    seen = ana.open_snapshot("test-project", "household", refresh=False).to_pandas()
    assert "respondent" not in seen.columns


def test_a_resend_by_another_channel_is_recognised(owner: Client) -> None:
    owner.submit("test-project", "household", {"instance_id": "uuid:x1", "data": {
        "respondent": "Amina", "age": 25, "consent": "yes", "location": {"ward": "magadi"},
        "n_births": 0}})
    csv = ("instance_id,respondent,age,consent,location/ward,location/gps,n_births\n"
           "uuid:x1,Amina,25,yes,magadi,,0\n")
    result = owner.import_file("test-project", "household", csv.encode(), "again.csv")
    assert (result.created, result.duplicates) == (0, 1)
    stored = owner.submission("test-project", "household", "uuid:x1")["data"]
    assert stored["age"] == 25  # kept exactly as first received
    with pytest.raises(Conflict):
        owner.import_file("test-project", "household", csv.replace(",25,", ",26,").encode(),
                          "changed.csv")


def test_exact_duplicates_under_new_instance_ids(ws: Workspace, owner: Client) -> None:
    owner.submit("test-project", "household", [sub("uuid:d1", age="33"), sub("uuid:d2"),
                                               sub("uuid:d3", age="33"), sub("uuid:d4")])
    found = owner.exact_duplicates("test-project", "household")
    assert [d.instance_ids for d in found] == [("uuid:d1", "uuid:d3"), ("uuid:d2", "uuid:d4")]
    owner.create_user("collector", "collector-password")
    owner.add_member("test-project", "collector", "collector")
    with pytest.raises(Forbidden):
        ws.login("collector", "collector-password").exact_duplicates("test-project",
                                                                     "household")
