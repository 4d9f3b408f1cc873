"""Organisations: only their members start projects for them, and nothing leaks to others."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from citizendata.cli import app as cli_app
from citizendata.errors import BadInput, Conflict, Forbidden, NotFound
from citizendata.projects.spec import ProjectSpec
from citizendata.server.app import create_app
from citizendata.store.models import Organisation, Project, ProjectPartner
from citizendata.workspace import Client, Workspace
from conftest import SPEC

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

# the owner's project is initiated by 'test-cso' with 'test-nso' as partner (conftest.SPEC)
HIDDEN = {**SPEC, "slug": "pride-safety-audit", "name": "Pride safety audit 2026",
          "initiator": {"slug": "rainbow-collective", "name": "Rainbow Collective"},
          "partners": []}


def spec(slug: str, org: str, **more: Any) -> dict[str, Any]:
    """A small spec for project ``slug`` started by organisation ``org``."""
    return {"slug": slug, "name": f"Project {slug}", "engagement": {"collect": {"level": 4}},
            "initiator": {"slug": org, "name": f"Org {org}"}, **more}


@pytest.fixture
def people(ws: Workspace, owner: Client) -> dict[str, Client]:
    """The admin 'owner' runs the hidden project; 'wambui' belongs to 'mathare-youth';
    'kamau' belongs to no organisation."""
    owner.create_project(HIDDEN)
    owner.create_organisation("mathare-youth", "Mathare Youth Group")
    for name in ("wambui", "kamau"):
        owner.create_user(name, f"{name}-password")
    owner.add_organisation_member("mathare-youth", "wambui")
    return {"owner": owner, "wambui": ws.as_user("wambui"), "kamau": ws.as_user("kamau")}


def _refusal(err: NotFound | Conflict, *names: str) -> dict[str, Any]:
    """The error as the API would send it, with the given names blanked out."""
    text = json.dumps(err.to_dict())
    for n in names:
        text = text.replace(n, "NAME")
    return dict(json.loads(text))


def test_members_start_projects_for_their_organisation(people: dict[str, Client],
                                                      ws: Workspace) -> None:
    info = people["wambui"].create_project(spec("mathare-taps", "mathare-youth"))
    assert info.role == "owner"
    with ws.transaction(write=False) as db:
        orgs = {o.slug for o in db.scalars(select(Organisation))}
    assert "mathare-youth" in orgs
    assert [o.slug for o in people["wambui"].organisations()] == ["mathare-youth"]


def test_a_foreign_organisation_looks_like_no_organisation(people: dict[str, Client],
                                                         ws: Workspace) -> None:
    with pytest.raises(NotFound) as taken:
        people["wambui"].create_project(spec("spy", "rainbow-collective"))
    with pytest.raises(NotFound) as absent:
        people["wambui"].create_project(spec("spy", "no-such-collective"))
    assert taken.value.code == "not_found.organisation"
    assert taken.value.where is not None and taken.value.where.field == "initiator.slug"
    assert _refusal(taken.value, "rainbow-collective") == \
        _refusal(absent.value, "no-such-collective")
    with ws.transaction(write=False) as db:
        # nothing was created for the absent one either
        assert db.scalar(select(Organisation.id).where(
            Organisation.slug == "no-such-collective")) is None
    assert not any(p.slug == "spy" for p in people["wambui"].projects())


def test_someone_in_no_organisation_cannot_probe_project_slugs(
        people: dict[str, Client]) -> None:
    # the organisation is checked first: a taken project slug and a free one look the same
    for slug in ("pride-safety-audit", "free-slug"):
        with pytest.raises(NotFound) as e:
            people["kamau"].create_project(spec(slug, "mathare-youth"))
        assert e.value.code == "not_found.organisation"


def test_a_slug_conflict_says_only_that_the_slug_is_taken(people: dict[str, Client]) -> None:
    with pytest.raises(Conflict) as e:
        people["wambui"].create_project(spec("pride-safety-audit", "mathare-youth"))
    body = json.dumps(e.value.to_dict())
    assert e.value.code == "conflict.exists" and e.value.http_status == 409
    assert "pride-safety-audit" in body
    # not its name, its organisation, its members or anything in its spec
    for secret in ("Pride safety audit", "rainbow", "Rainbow", "owner", "Testing"):
        assert secret not in body
    # and the project stays hidden otherwise
    with pytest.raises(NotFound):
        people["wambui"].project("pride-safety-audit")


def test_partners_are_linked_only_by_their_members(people: dict[str, Client],
                                                   ws: Workspace) -> None:
    partners = [{"slug": "rainbow-collective", "name": "Claimed partner"},
                {"slug": "mathare-youth", "name": "Mathare Youth Group", "role": "cso"},
                {"slug": "brand-new-partner", "name": "New"}]
    people["wambui"].create_project(spec("mathare-taps", "mathare-youth", partners=partners))
    with ws.transaction(write=False) as db:
        linked = set(db.scalars(
            select(Organisation.slug)
            .join(ProjectPartner, ProjectPartner.organisation_id == Organisation.id)
            .join(Project, Project.id == ProjectPartner.project_id)
            .where(Project.slug == "mathare-taps")))
        created = db.scalar(select(Organisation.id).where(
            Organisation.slug == "brand-new-partner"))
    # the spec keeps every partner by name; only her own organisation is linked
    assert [p.slug for p in people["wambui"].project("mathare-taps").spec.partners] == \
        ["rainbow-collective", "mathare-youth", "brand-new-partner"]
    assert linked == {"mathare-youth"} and created is None


def test_moving_a_project_to_a_foreign_organisation_is_refused(
        people: dict[str, Client]) -> None:
    wambui = people["wambui"]
    wambui.create_project(spec("mathare-taps", "mathare-youth"))
    moved = ProjectSpec.model_validate(spec("mathare-taps", "rainbow-collective"))
    with pytest.raises(NotFound) as e:
        wambui.update_project(moved)
    assert e.value.code == "not_found.organisation"
    assert wambui.project("mathare-taps").spec.initiator.slug == "mathare-youth"


def test_administrators_and_owners_manage_members(people: dict[str, Client],
                                                  ws: Workspace) -> None:
    owner, wambui, kamau = people["owner"], people["wambui"], people["kamau"]
    # a member who is not an owner may not add others
    with pytest.raises(Forbidden):
        wambui.add_organisation_member("mathare-youth", "kamau")
    owner.add_organisation_member("mathare-youth", "wambui", "owner")
    wambui.add_organisation_member("mathare-youth", "kamau")
    assert kamau.create_project(spec("kamau-project", "mathare-youth")).role == "owner"
    # to a non-member, an organisation they are not in does not exist
    with pytest.raises(NotFound) as hidden:
        kamau.add_organisation_member("rainbow-collective", "kamau")
    with pytest.raises(NotFound) as absent:
        kamau.add_organisation_member("no-such-org", "kamau")
    assert _refusal(hidden.value, "rainbow-collective") == _refusal(absent.value, "no-such-org")
    with pytest.raises(Forbidden):
        kamau.create_organisation("kamau-org", "Kamau's")
    with pytest.raises(Conflict):
        owner.create_organisation("mathare-youth", "Again")
    with pytest.raises(BadInput):
        owner.create_organisation("Bad Slug!", "x")
    with pytest.raises(BadInput):
        owner.add_organisation_member("mathare-youth", "kamau", "chief")


def test_the_api_from_a_non_members_point_of_view(people: dict[str, Client],
                                                  ws: Workspace) -> None:
    h = {"Authorization": f"Bearer {people['wambui'].create_token('t')}"}
    admin = {"Authorization": f"Bearer {people['owner'].create_token('t')}"}
    with TestClient(create_app(ws)) as http:
        taken = http.post("/api/v1/projects", json=spec("x-one", "rainbow-collective"),
                          headers=h)
        absent = http.post("/api/v1/projects", json=spec("x-one", "nobody-knows"), headers=h)
        assert taken.status_code == absent.status_code == 404
        assert taken.text.replace("rainbow-collective", "N") == \
            absent.text.replace("nobody-knows", "N")
        conflict = http.post("/api/v1/projects", json=spec("pride-safety-audit",
                                                           "mathare-youth"), headers=h)
        assert conflict.status_code == 409 and "Rainbow" not in conflict.text
        assert http.get("/api/v1/organisations", headers=h).json() == {"organisations": [
            {"slug": "mathare-youth", "name": "Mathare Youth Group", "kind": "cso",
             "country": None}]}
        assert http.post("/api/v1/organisations", json={"slug": "mine", "name": "Mine"},
                         headers=h).status_code == 403
        made = http.post("/api/v1/organisations", json={"slug": "kibera-women", "name":
                                                        "Kibera Women"}, headers=admin)
        assert made.status_code == 201
        r = http.post("/api/v1/organisations/kibera-women/members",
                      json={"username": "wambui"}, headers=h)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found.organisation"
        r = http.post("/api/v1/organisations/kibera-women/members",
                      json={"username": "wambui"}, headers=admin)
        assert r.json() == {"organisation": "kibera-women", "username": "wambui",
                            "role": "member"}
        assert http.post("/api/v1/projects", json=spec("kibera-water", "kibera-women"),
                         headers=h).status_code == 201


def test_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()

    def cli(*args: str) -> str:
        r = runner.invoke(cli_app, [*args, "-w", str(tmp_path / "ws")],
                          env={"CITIZENDATA_PASSWORD": ""}, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    cli("init", "--admin", "amina", "--password", "amina-password")
    cli("users", "add", "wambui", "--password", "wambui-password")
    assert "created" in cli("orgs", "create", "mathare-youth", "Mathare Youth Group")
    assert "member of mathare-youth" in cli("orgs", "add-member", "mathare-youth", "wambui")
    listed = json.loads(cli("orgs", "list", "--as", "wambui", "--json"))
    assert [o["slug"] for o in listed] == ["mathare-youth"]
