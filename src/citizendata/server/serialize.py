"""JSON-ready views of library objects, shared by the API and the HTML pages."""

from __future__ import annotations

from typing import Any

from citizendata.auth import Actor
from citizendata.services.forms import FormInfo, FormVersionInfo
from citizendata.services.projects import MemberInfo, ProjectInfo
from citizendata.workspace import Client

__all__ = ["form_dict", "member_dict", "project_dict", "user_dict", "version_dict", "xform"]


def user_dict(actor: Actor) -> dict[str, Any]:
    """The logged-in user."""
    return {"id": actor.user_id, "username": actor.username, "is_admin": actor.is_admin}


def project_dict(p: ProjectInfo) -> dict[str, Any]:
    """A project with the caller's role and the citizen-data threshold verdict."""
    return {"slug": p.slug, "name": p.name, "role": p.role,
            "meets_citizen_data_threshold": p.meets_citizen_data_threshold,
            "created_at": p.created_at.isoformat(), "spec": p.spec.model_dump(mode="json")}


def member_dict(m: MemberInfo) -> dict[str, Any]:
    """A member and their role."""
    return {"username": m.username, "display_name": m.display_name, "role": m.role}


def form_dict(f: FormInfo) -> dict[str, Any]:
    """A form, its versions and how many submissions it has."""
    return {"form_id": f.form_id, "title": f.title, "versions": list(f.versions),
            "latest_version": f.latest_version if f.versions else None,
            "submissions": f.submissions}


def version_dict(v: FormVersionInfo, *, with_schema: bool = False) -> dict[str, Any]:
    """One form version (its schema when asked)."""
    out: dict[str, Any] = {"form_id": v.form_id, "version": v.version, "sha256": v.sha256,
                           "filename": v.filename, "created_at": v.created_at.isoformat(),
                           "warnings": list(v.warnings), "attachments": list(v.attachments)}
    if with_schema:
        out["schema"] = v.schema.to_dict()
    return out


def xform(client: Client, slug: str, form_id: str, version: str | None = None
          ) -> tuple[FormVersionInfo, str]:
    """A version's XForm XML (newest when version is None), permission-checked by the library."""
    return client.xform(slug, form_id, version)
