"""The mexico-lgbtiq project set up in a workspace, as its people would do it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citizendata.scenarios.mexico_lgbtiq.project import DEMO_USERS, spec_dict
from citizendata.scenarios.mexico_lgbtiq.references import REFERENCE_TABLES, reference_bytes
from citizendata.workspace import Client, Workspace

__all__ = ["SLUG", "as_role", "setup_workspace"]

SLUG = "mexico-lgbtiq"
ADMIN = {"username": "admin", "password": "admin-pass-2026"}


def as_role(ws: Workspace, role: str) -> Client:
    """The scenario's demo user with that role."""
    return ws.as_user(next(u["username"] for u in DEMO_USERS if u["role"] == role))


def setup_workspace(path: str | Path, *, submissions: list[dict[str, Any]] | None = None,
                    approve: bool = True, release: bool = False) -> Workspace:
    """A workspace with the project, its users, form and reference tables.

    ``submissions`` (from ``generate``) are sent by the collector and, if ``approve``,
    approved; ``release`` also builds v1 and publishes it after the community
    representative's sign-off.
    """
    from citizendata.scenarios.mexico_lgbtiq import FORM_ID, FORM_PATH

    ws = Workspace.open(path)
    admin = ws.create_admin(ADMIN["username"], ADMIN["password"])
    for u in DEMO_USERS:
        admin.create_user(u["username"], u["password"])
    owner = as_role(ws, "owner")
    org = spec_dict()["initiator"]  # only its members start projects for it
    admin.create_organisation(org["slug"], org["name"], kind=org["kind"], country=org["country"])
    admin.add_organisation_member(org["slug"], owner.actor.username, "owner")
    owner.create_project(spec_dict())
    for u in DEMO_USERS:
        if u["role"] != "owner":
            owner.add_member(SLUG, u["username"], u["role"])
    owner.add_form(SLUG, FORM_PATH)
    for name, raw in reference_bytes().items():
        owner.add_reference_table(SLUG, name, raw, kind=REFERENCE_TABLES[name][0])
    if submissions:
        as_role(ws, "collector").submit(SLUG, FORM_ID, json.dumps(submissions).encode())
        if approve:
            owner.decide(SLUG, FORM_ID, [s["instance_id"] for s in submissions], "approved")
    if release:
        owner.build_release(SLUG)
        as_role(ws, "viewer").sign_release(SLUG, 1, "approve")
        owner.publish_release(SLUG, 1)
    return ws
