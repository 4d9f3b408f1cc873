"""Public links in the library, on SQLite and PostgreSQL: a revocable token that lets anyone
submit one form anonymously, with an expiry, a cap that concurrent submitters never
exceed, a rate limit per address, and every submission marked as coming from its link."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from citizendata.config import Settings
from citizendata.errors import BadInput, Conflict, Forbidden, Gone, NotFound, TooManyRequests
from citizendata.projects.spec import ProjectSpec
from citizendata.services import public_links as links_svc
from citizendata.store.models import AuditEvent, PublicLink, Submission
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form

P, F = "test-project", "household"


def instance(iid: str, *, consent: str = "yes", respondent: str = "Nashipai",
             form: str = F, attendants: str = "doctor") -> bytes:
    """A filled household form as the web form sends it (OpenRosa instance XML)."""
    return (f"<?xml version='1.0'?><data id=\"{form}\" version=\"1\" "
            f"xmlns:orx=\"http://openrosa.org/xforms\"><respondent>{respondent}</respondent>"
            f"<age>30</age><consent>{consent}</consent><location><ward>magadi</ward><gps/>"
            f"</location><n_births>1</n_births><births><place>facility</place>"
            f"<attendants>{attendants}</attendants></births>"
            f"<meta><orx:instanceID>{iid}</orx:instanceID></meta></data>").encode()


def stored(ws: Workspace) -> list[Submission]:
    with ws.transaction(write=False) as db:
        return list(db.scalars(select(Submission).order_by(Submission.id)))


def test_a_link_is_made_listed_and_revoked_and_its_token_is_never_stored(
        ws: Workspace, owner: Client) -> None:
    info, token = owner.create_public_link(P, F, "Radio Magadi", max_submissions=50)
    assert info.state() == "active" and info.submissions == 0 and info.created_by == "owner"
    assert len(token) >= 40
    with ws.transaction(write=False) as db:
        row = db.scalar(select(PublicLink))
        assert row is not None and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        # nowhere in the database: not in the link's row, not in the audit log
        for table in ("public_links", "audit_log"):
            dump = json.dumps([list(r) for r in db.execute(text(f"SELECT * FROM {table}"))],
                              default=str)
            assert token not in dump
        assert db.scalar(select(AuditEvent.action).where(
            AuditEvent.action == "public_link.create")) is not None
    target = ws.resolve_public_link(token)
    assert (target.slug, target.form_id, target.title, target.name) == (
        P, F, "Household", "Radio Magadi")
    _target, version, xml = ws.public_form_xml(token)
    assert version == "1" and 'id="household"' in xml

    assert [link.name for link in owner.public_links(P, F)] == ["Radio Magadi"]
    gone = owner.revoke_public_link(P, info.id)
    assert gone.state() == "revoked" and gone.revoked_by == "owner"
    assert owner.revoke_public_link(P, info.id).revoked_at == gone.revoked_at  # idempotent
    for call in (lambda: ws.resolve_public_link(token), lambda: ws.public_form_xml(token),
                 lambda: ws.submit_public(token, instance("uuid:late"))):
        with pytest.raises(Gone) as e:
            call()
        assert e.value.code == "weblink.revoked" and e.value.http_status == 410
    assert stored(ws) == []


def test_unknown_and_malformed_tokens_are_the_same_404(ws: Workspace, owner: Client) -> None:
    owner.create_public_link(P, F, "Radio")
    for token in ("x", "A" * 43, "../../etc/passwd", "", "é" * 43):
        with pytest.raises(NotFound) as e:
            ws.submit_public(token, instance("uuid:a"))
        assert e.value.code == "weblink.unknown"
        with pytest.raises(NotFound):
            ws.public_form_xml(token)
    with pytest.raises(NotFound) as e:
        owner.revoke_public_link(P, 999)
    assert e.value.code == "weblink.unknown"


def test_a_public_submission_is_marked_with_its_link_and_a_resend_is_a_duplicate(
        ws: Workspace, owner: Client) -> None:
    info, token = owner.create_public_link(P, F, "Clinic poster", max_submissions=3)
    first = ws.submit_public(token, instance("uuid:pub-1"), address="203.0.113.7")
    assert (first.created, first.duplicates) == (1, 0)
    again = ws.submit_public(token, instance("uuid:pub-1"), address="203.0.113.7")
    assert (again.created, again.duplicates) == (0, 1) and again.ids == first.ids
    (sub,) = stored(ws)
    assert sub.channel == "weblink" and sub.source_meta == {"public_link": info.id}
    assert sub.submitter_id is None and sub.payload["respondent"] == "Nashipai"
    # the duplicate did not count towards the cap
    assert owner.public_links(P, F)[0].submissions == 1
    # the same id with other answers is a conflict, as on every channel
    with pytest.raises(Conflict) as e:
        ws.submit_public(token, instance("uuid:pub-1", respondent="Someone else"))
    assert e.value.code == "conflict.submission"
    assert owner.public_links(P, F)[0].submissions == 1
    # the owner reads it like any submission, with its attachment (the XML)
    assert owner.submission(P, F, "uuid:pub-1")["instance_id"] == "uuid:pub-1"
    with ws.transaction(write=False) as db:
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "submission.create"))
        assert audit is not None and audit.actor == "system"
        assert audit.details["channel"] == "weblink"
        assert "203.0.113.7" not in json.dumps(audit.details)
        # the address is kept only as a keyed hash
        keys = [r[0] for r in db.execute(text("SELECT key FROM public_link_throttle"))]
        assert keys and all("203.0.113" not in k for k in keys)


def test_the_cap_refuses_new_submissions_but_still_answers_resends(
        ws: Workspace, owner: Client) -> None:
    _info, token = owner.create_public_link(P, F, "Two only", max_submissions=2)
    ws.submit_public(token, instance("uuid:c1"))
    ws.submit_public(token, instance("uuid:c2"))
    with pytest.raises(Conflict) as e:
        ws.submit_public(token, instance("uuid:c3"))
    assert e.value.code == "weblink.full" and e.value.http_status == 409
    # a phone that resends what it already sent is told it arrived
    assert ws.submit_public(token, instance("uuid:c2")).duplicates == 1
    assert [s.instance_id for s in stored(ws)] == ["uuid:c1", "uuid:c2"]
    link = owner.public_links(P, F)[0]
    assert link.submissions == 2 and link.state() == "full"
    with pytest.raises(Conflict):
        ws.resolve_public_link(token)


def test_an_expired_link_is_gone(ws: Workspace, owner: Client) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    _info, token = owner.create_public_link(P, F, "One hour", expires_at=soon)
    assert ws.submit_public(token, instance("uuid:e1")).created == 1
    later = soon + timedelta(seconds=1)
    with pytest.raises(Gone) as e:
        ws.run(links_svc.resolve, token, now=later)
    assert e.value.code == "weblink.expired"
    with pytest.raises(Gone):
        ws.run(links_svc.submit, token, instance("uuid:e2"), now=later)
    assert owner.public_links(P, F)[0].state(later) == "expired"
    with pytest.raises(BadInput) as past:
        owner.create_public_link(P, F, "Yesterday",
                                 expires_at=datetime.now(UTC) - timedelta(days=1))
    assert past.value.where is not None and past.value.where.field == "expires_at"
    bad: list[tuple[str, int | None]] = [(" ", None), ("ok", 0)]
    for name, cap in bad:
        with pytest.raises(BadInput):
            owner.create_public_link(P, F, name, max_submissions=cap)


def test_a_link_takes_only_its_own_form(ws: Workspace, owner: Client) -> None:
    from xlsform_builders import make_xlsform

    owner.add_form(P, make_xlsform([{"type": "text", "name": "note", "label": "Note"}], [],
                                   {"form_id": "other", "version": "1"}), "other.xlsx")
    _info, token = owner.create_public_link(P, F, "Household only")
    other = (b"<?xml version='1.0'?><data id=\"other\" version=\"1\" "
             b"xmlns:orx=\"http://openrosa.org/xforms\"><note>hi</note>"
             b"<meta><orx:instanceID>uuid:o1</orx:instanceID></meta></data>")
    with pytest.raises(BadInput) as e:
        ws.submit_public(token, other)
    assert e.value.code == "weblink.wrong_form"
    assert stored(ws) == [] and owner.public_links(P, F)[0].submissions == 0


@pytest.mark.parametrize("role", ["collector", "validator", "analyst", "viewer"])
def test_only_owners_and_managers_handle_links(ws: Workspace, owner: Client, role: str) -> None:
    info, _token = owner.create_public_link(P, F, "Radio")
    owner.create_user("someone", "someone-password")
    owner.add_member(P, "someone", role)
    them = ws.as_user("someone")
    for call in (lambda: them.create_public_link(P, F, "Mine"),
                 lambda: them.public_links(P, F),
                 lambda: them.revoke_public_link(P, info.id)):
        with pytest.raises(Forbidden):
            call()
    owner.create_user("boss", "boss-password")
    owner.add_member(P, "boss", "manager")
    boss = ws.as_user("boss")
    made, _ = boss.create_public_link(P, F, "Manager's")
    assert boss.revoke_public_link(P, info.id).revoked_by == "boss"
    assert made.created_by == "boss"
    owner.create_user("outsider", "outsider-password")
    with pytest.raises(NotFound):
        ws.as_user("outsider").public_links(P)


def test_submissions_are_rate_limited_per_address(ws: Workspace, owner: Client) -> None:
    ws.settings.weblink_rate_per_minute = 2
    _info, token = owner.create_public_link(P, F, "Radio")
    ws.submit_public(token, instance("uuid:r1"), address="198.51.100.1")
    # a refused attempt counts too (an unknown token here)
    with pytest.raises(NotFound):
        ws.submit_public("A" * 43, instance("uuid:r2"), address="198.51.100.1")
    with pytest.raises(TooManyRequests) as e:
        ws.submit_public(token, instance("uuid:r3"), address="198.51.100.1")
    assert e.value.code == "weblink.rate_limited" and 1 <= e.value.details["retry_after_s"] <= 60
    # another address is counted on its own
    assert ws.submit_public(token, instance("uuid:r4"), address="198.51.100.2").created == 1
    # the next minute the address may send again
    key = links_svc.address_key(ws.settings.session_secret().encode(), "198.51.100.1")
    ws.run(links_svc.count_attempt, key, 2, now=datetime.now(UTC) + timedelta(seconds=61))
    assert [s.instance_id for s in stored(ws)] == ["uuid:r1", "uuid:r4"]


ESTIMATION: dict[str, Any] = {"indicators": [
    {"id": "skilled", "form": F, "unit": "births", "kind": "proportion",
     "numerator": "selected(${attendants}, 'doctor') or selected(${attendants}, 'nurse')"}]}


def test_a_refused_consent_through_a_link_is_kept_out_of_analysis(
        ws: Workspace, owner: Client) -> None:
    """The project's consent rule applies to public submissions as to every channel: a
    respondent who says no is stored as received (the form's relevance leaves the rest
    empty) and is in no analysis that needs consent."""
    owner.update_project(ProjectSpec.model_validate({
        **SPEC, "estimation": ESTIMATION,
        "protection": {"tables": {"threshold": 1, "dominance": None},
                       "consent": {"field": "consent", "mapping": {"yes": "analysis publication"},
                                   "default": []}}}))
    _info, token = owner.create_public_link(P, F, "Community survey")
    for i in range(3):
        ws.submit_public(token, instance(f"uuid:y{i}", attendants="doctor" if i else "tba"))
    ws.submit_public(token, instance("uuid:no", consent="no", attendants="doctor"))
    owner.decide(P, F, ["uuid:y0", "uuid:y1", "uuid:y2", "uuid:no"], "approved")
    result = owner.estimate(P, "skilled", store=False)
    assert result.total()["n"] == 3 and result.total()["value"] == pytest.approx(2 / 3)
    assert result.provenance["consent"]["field"] == "consent"


def test_a_withdrawn_submission_sent_again_through_the_link_is_not_stored(
        ws: Workspace, owner: Client) -> None:
    _info, token = owner.create_public_link(P, F, "Radio", max_submissions=5)
    ws.submit_public(token, instance("uuid:gone"))
    owner.withdraw_consent(P, F, "uuid:gone", erase=True)
    again = ws.submit_public(token, instance("uuid:gone"))
    assert (again.created, again.duplicates) == (0, 1)
    assert owner.public_links(P, F)[0].submissions == 1
    (sub,) = stored(ws)
    assert "respondent" not in (sub.payload or {})


def _concurrent(ws_list: list[Workspace], token: str, n: int) -> tuple[int, list[str]]:
    created, refused, lock = [0], [], threading.Lock()
    barrier = threading.Barrier(n)

    def one(i: int) -> None:
        ws = ws_list[i % len(ws_list)]
        barrier.wait()
        try:
            result = ws.submit_public(token, instance(f"uuid:t{i}"), address=f"10.0.0.{i}")
        except Conflict as exc:
            with lock:
                refused.append(exc.code)
        else:
            with lock:
                created[0] += result.created
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return created[0], refused


def test_concurrent_submitters_never_exceed_the_cap(database_url: str | None, tmp_path: Path
                                                   ) -> None:
    """Twelve people submit at the same moment through two server processes' worth of
    connections; the link takes five."""
    settings = Settings(workspace=tmp_path / "ws", database_url=database_url, mode="test")
    first = Workspace(settings)
    second = Workspace(settings)
    try:
        me = first.create_admin("owner", "owner-password")
        me.create_project(SPEC)
        me.add_form(P, household_form(), "household.xlsx")
        _info, token = me.create_public_link(P, F, "Five only", max_submissions=5)
        created, refused = _concurrent([first, second], token, 12)
        assert created == 5 and refused == ["weblink.full"] * 7
        assert me.public_links(P, F)[0].submissions == 5
        subs = stored(first)
        assert len(subs) == 5 and {s.channel for s in subs} == {"weblink"}
    finally:
        first.close()
        second.close()


def test_the_links_commands(tmp_path: Path) -> None:
    """`citizendata links create|list|revoke`: the URL printed once, then only names."""
    from typer.testing import CliRunner

    from citizendata.cli import app
    from conftest import file_settings

    ws = Workspace(file_settings(tmp_path))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    ws.close()
    root = str(tmp_path / "ws")
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "-w", root])
        return result.exit_code, result.output
    code, out = cli("links", "create", P, F, "--name", "Radio Magadi", "--max", "100",
                    "--expires", "2099-12-31", "--base-url", "https://data.example.org",
                    "--json")
    assert code == 0, out
    made = json.loads(out)
    assert made["url"] == f"https://data.example.org/f/{made['token']}"
    assert made["expires_at"].startswith("2100-01-01T00:00:00")
    code, out = cli("links", "list", P)
    assert code == 0 and "Radio" in out and made["token"] not in out
    code, out = cli("links", "revoke", P, str(made["id"]))
    assert code == 0 and "switched off" in out
    code, out = cli("links", "list", P, F, "--json")
    assert json.loads(out)[0]["state"] == "revoked"
    code, out = cli("links", "create", P, F, "--name", "x", "--expires", "soon")
    assert code == 2 and "input.invalid" in out
    code, out = cli("links", "revoke", P, "999")
    assert code == 2 and "weblink.unknown" in out
