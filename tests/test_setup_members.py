"""Members as owners and managers handle them: invite with a one-time password, roles,
removal, password reset (only over people with no access the resetter lacks), token
revocation — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citizendata.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from citizendata.services.members import new_password
from citizendata.store.models import AuditEvent
from citizendata.workspace import Client, Workspace
from conftest import SPEC

SLUG = str(SPEC["slug"])


@pytest.fixture
def team(ws: Workspace, owner: Client) -> dict[str, Client]:
    """owner (admin), a manager, a collector; a second project 'other' owned by 'olga'."""
    owner.create_user("mary", "mary-password")
    owner.add_member(SLUG, "mary", "manager")
    owner.create_user("colin", "colin-password")
    owner.add_member(SLUG, "colin", "collector")
    return {"owner": owner, "mary": ws.as_user("mary"), "colin": ws.as_user("colin")}


def test_a_manager_hands_out_every_role_but_owner(team: dict[str, Client]) -> None:
    assert team["owner"].assignable_roles(SLUG) == [
        "owner", "manager", "collector", "validator", "analyst", "viewer", "nso"]
    assert "owner" not in team["mary"].assignable_roles(SLUG)
    with pytest.raises(Forbidden):
        team["colin"].assignable_roles(SLUG)


def test_an_invited_member_logs_in_with_the_one_time_password(ws: Workspace,
                                                               team: dict[str, Client]) -> None:
    member, password = team["mary"].invite_member(SLUG, "vera", "validator",
                                                  display_name="Vera W.")
    assert (member.username, member.role, member.display_name) == ("vera", "validator",
                                                                   "Vera W.")
    assert len(password) == 19 and password.count("-") == 3
    assert ws.login("vera", password).project(SLUG).role == "validator"
    # the password is in no audit event
    events = ws.run(lambda db: list(db.scalars(select(AuditEvent))), write=False)
    assert all(password not in str(e.details) for e in events)
    assert any(e.action == "member.invite" for e in events)


def test_invitations_are_refused_with_their_field(team: dict[str, Client]) -> None:
    with pytest.raises(Forbidden) as err:
        team["mary"].invite_member(SLUG, "otto", "owner")
    assert err.value.where is not None and err.value.where.field == "role"
    with pytest.raises(Conflict) as conflict:
        team["mary"].invite_member(SLUG, "colin", "viewer")
    assert conflict.value.where is not None and conflict.value.where.field == "username"
    with pytest.raises(BadInput) as bad:
        team["mary"].invite_member(SLUG, "no spaces", "viewer")
    assert bad.value.where is not None and bad.value.where.field == "username"
    with pytest.raises(BadInput):
        team["mary"].invite_member(SLUG, "nina", "chief")
    with pytest.raises(Forbidden):
        team["colin"].invite_member(SLUG, "nina", "viewer")


def test_a_project_keeps_an_owner(team: dict[str, Client]) -> None:
    with pytest.raises(Conflict):
        team["owner"].add_member(SLUG, "owner", "manager")
    with pytest.raises(Conflict):
        team["owner"].remove_member(SLUG, "owner")
    with pytest.raises(Forbidden):
        team["mary"].remove_member(SLUG, "owner")
    team["owner"].add_member(SLUG, "mary", "owner")
    team["owner"].add_member(SLUG, "owner", "manager")  # another owner remains
    assert {m.username: m.role for m in team["mary"].members(SLUG)}["owner"] == "manager"


def test_a_manager_removes_a_member(team: dict[str, Client]) -> None:
    team["mary"].remove_member(SLUG, "colin")
    assert "colin" not in {m.username for m in team["mary"].members(SLUG)}
    with pytest.raises(NotFound):
        team["mary"].remove_member(SLUG, "colin")


def test_a_manager_resets_a_collectors_password(ws: Workspace, team: dict[str, Client]) -> None:
    password = team["mary"].reset_member_password(SLUG, "colin")
    assert ws.login("colin", password).actor.username == "colin"
    with pytest.raises(Unauthenticated):
        ws.login("colin", "colin-password")


def test_no_reset_over_someone_with_more_access(ws: Workspace, team: dict[str, Client]) -> None:
    owner, mary = team["owner"], team["mary"]
    # an owner, a site administrator, oneself: refused to a manager
    with pytest.raises(Forbidden):
        mary.reset_member_password(SLUG, "owner")
    with pytest.raises(Forbidden):
        mary.reset_member_password(SLUG, "mary")
    # colin also collects for a project mary does not manage
    owner.create_project({**SPEC, "slug": "other-project", "name": "Other"})
    owner.add_member("other-project", "colin", "collector")
    with pytest.raises(Forbidden):
        mary.reset_member_password(SLUG, "colin")
    owner.add_member("other-project", "mary", "manager")
    assert mary.reset_member_password(SLUG, "colin")
    # an organisation colin belongs to and mary does not
    owner.create_organisation("colins-cso", "Colin's CSO")
    owner.add_organisation_member("colins-cso", "colin")
    with pytest.raises(Forbidden):
        mary.reset_member_password(SLUG, "colin")
    owner.add_organisation_member("colins-cso", "mary")
    assert mary.reset_member_password(SLUG, "colin")
    # the site administrator resets anyone but themselves
    assert owner.reset_member_password(SLUG, "mary")
    with pytest.raises(Forbidden):
        owner.reset_member_password(SLUG, "owner")


def test_a_manager_revokes_a_members_tokens(ws: Workspace, team: dict[str, Client]) -> None:
    token = team["colin"].create_token("phone")
    assert ws.with_token(token).project(SLUG).role == "collector"
    assert team["mary"].revoke_member_tokens(SLUG, "colin") == 1
    with pytest.raises(Unauthenticated):
        ws.with_token(token).project(SLUG)
    assert team["mary"].revoke_member_tokens(SLUG, "colin") == 0
    with pytest.raises(Forbidden):
        team["mary"].revoke_member_tokens(SLUG, "owner")
    with pytest.raises(Forbidden):
        team["colin"].revoke_member_tokens(SLUG, "colin")


def test_one_time_passwords_differ() -> None:
    assert len({new_password() for _ in range(50)}) == 50


def test_check_import_lists_problems_and_stores_nothing(owner: Client) -> None:
    bad = b"instance_id,respondent,age,colour\nuuid:1,A,20,x\n,B,21,y\n"
    with pytest.raises(BadInput) as err:
        owner.check_import(SLUG, "household", bad, "people.csv")
    assert err.value.code == "import.structure"
    where = {(p.code, p.where.row if p.where else None) for p in err.value.problems}
    assert ("import.missing_instance_id", 3) in where
    assert any(p.code == "import.unknown_column" for p in err.value.problems)
    good = b"instance_id,respondent,age\nuuid:1,A,20\nuuid:2,B,21\n"
    assert owner.check_import(SLUG, "household", good, "people.csv") == 2
    assert owner.form(SLUG, "household").submissions == 0


def test_check_import_needs_a_role_that_imports(ws: Workspace, team: dict[str, Client]) -> None:
    team["owner"].create_user("val", "val-password")
    team["owner"].add_member(SLUG, "val", "validator")
    with pytest.raises(Forbidden):
        ws.as_user("val").check_import(SLUG, "household", b"instance_id\nuuid:1\n", "a.csv")


def test_no_project_takes_the_new_project_pages_address(owner: Client) -> None:
    with pytest.raises(BadInput) as err:
        owner.create_project({**SPEC, "slug": "new"})
    assert err.value.where is not None and err.value.where.field == "slug"
