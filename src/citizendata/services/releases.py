"""Releases and the community sign-off gate: draft → awaiting sign-off → published, or withdrawn.

A release is immutable once built: its files and manifest never change. Publication
needs the approval of every designated community representative, and of the NSO
when the project intends to integrate its data into official statistics; a consent
withdrawn after the build blocks it. Every step is in the audit log.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Conflict, Forbidden, NotFound, Where
from citizendata.projects.spec import IntegrationIntent
from citizendata.services.access import audit, project_for, project_spec
from citizendata.store.models import (
    AuditEvent,
    ConsentWithdrawal,
    Project,
    Release,
    ReleaseSignoff,
    utcnow,
)

__all__ = ["latest_withdrawal", "locate", "next_version", "public_file", "public_release",
           "publish", "published", "record_release", "release_folder", "releases", "sign",
           "stored_path", "withdraw"]


def release_folder(slug: str, version: int) -> str:
    """Where a release's bundle is kept, relative to the workspace folder."""
    return str(PurePosixPath("releases", slug, f"v{version}"))


def locate(workspace: Path, stored: str, name: str | None = None) -> Path | None:
    """The file ``name`` (or the folder) of a release whose stored path is ``stored``.

    A relative path is read against the workspace folder, so a moved or copied workspace
    still finds its releases; an absolute one (written before migration 0009) is used as
    it is. None when ``name`` would leave the release's folder.
    """
    folder = Path(stored) if Path(stored).is_absolute() else workspace / stored
    folder = folder.resolve()
    if name is None:
        return folder
    path = (folder / name).resolve()
    return path if path.is_relative_to(folder) else None



def latest_withdrawal(db: Session, actor: Actor | None, slug: str) -> int:
    """The id of the project's newest consent withdrawal (0 if none)."""
    project, _ = project_for(db, actor, slug, Action.RELEASE_MANAGE)
    return int(db.scalar(select(func.max(ConsentWithdrawal.id))
                         .where(ConsentWithdrawal.project_id == project.id)) or 0)


def next_version(db: Session, actor: Actor | None, slug: str) -> int:
    """The version number the next release gets."""
    project, _ = project_for(db, actor, slug, Action.RELEASE_MANAGE)
    return int(db.scalar(select(func.max(Release.version))
                         .where(Release.project_id == project.id)) or 0) + 1


def record_release(db: Session, actor: Actor | None, slug: str, *, version: int, as_of: date,
                   path: str, manifest: dict[str, Any], withdrawals_seen: int) -> dict[str, Any]:
    """Keep a built release as a draft awaiting sign-off."""
    project, _ = project_for(db, actor, slug, Action.RELEASE_MANAGE)
    assert actor is not None
    row = Release(project_id=project.id, version=version, status="awaiting_signoff",
                  as_of=as_of, built_by=actor.username, path=path, manifest=manifest,
                  withdrawals_seen=withdrawals_seen)
    db.add(row)
    db.flush()
    audit(db, actor, "release.build", "release", f"v{version}", project_id=project.id,
          details={"files": {k: v["sha256"] for k, v in manifest.get("files", {}).items()}})
    return _info(db, row)


def _info(db: Session, r: Release) -> dict[str, Any]:
    signoffs = db.scalars(select(ReleaseSignoff).where(ReleaseSignoff.release_id == r.id)
                          .order_by(ReleaseSignoff.id))
    return {"version": r.version, "status": r.status, "as_of": r.as_of.isoformat(),
            "built_by": r.built_by, "built_at": r.built_at.isoformat(),
            "published_at": r.published_at.isoformat() if r.published_at else None,
            "withdrawn_at": r.withdrawn_at.isoformat() if r.withdrawn_at else None,
            "signoffs": [{"by": s.by, "capacity": s.capacity, "decision": s.decision,
                          "note": s.note, "at": s.at.isoformat()} for s in signoffs],
            "files": sorted(r.manifest.get("files", {}))}


def _release(db: Session, project: Project, version: int) -> Release:
    row = db.scalar(select(Release).where(Release.project_id == project.id,
                                          Release.version == version))
    if row is None:
        raise NotFound("release.not_found", f"project {project.slug!r} has no release "
                       f"v{version}", where=Where(field="version"))
    return row


def releases(db: Session, actor: Actor | None, slug: str) -> list[dict[str, Any]]:
    """Every release of the project (members), newest first."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    rows = db.scalars(select(Release).where(Release.project_id == project.id)
                      .order_by(Release.version.desc()))
    return [_info(db, r) for r in rows]


def sign(db: Session, actor: Actor | None, slug: str, version: int, decision: str,
         note: str = "") -> dict[str, Any]:
    """A designated community representative or the NSO approves or refuses a release."""
    project, role = project_for(db, actor, slug, Action.PROJECT_VIEW)
    assert actor is not None
    reps = project_spec(project).release.community_representatives
    if actor.username in reps:
        capacity = "community"
    elif role == "nso":
        capacity = "nso"
    else:
        raise Forbidden("release.not_signatory", f"{actor.username!r} signs no release of "
                        f"{slug!r}", where=Where(field="signoff"))
    if decision not in ("approve", "reject"):
        raise BadInput("input.invalid", f"unknown decision {decision!r}",
                       where=Where(field="decision"), fix="Use approve or reject.")
    row = _release(db, project, version)
    if row.status != "awaiting_signoff":
        raise Conflict("release.invalid_state", f"release v{version} is {row.status}",
                       where=Where(field="version"))
    db.add(ReleaseSignoff(release_id=row.id, by=actor.username, capacity=capacity,
                          decision=decision, note=note))
    db.flush()
    audit(db, actor, "release.sign", "release", f"v{version}", project_id=project.id,
          details={"capacity": capacity, "decision": decision})
    return _info(db, row)


def _missing_signoffs(db: Session, project: Project, row: Release) -> list[str]:
    spec = project_spec(project)
    reps = list(spec.release.community_representatives)
    nso = (spec.release.nso_signoff if spec.release.nso_signoff is not None
           else spec.integration_intent == IntegrationIntent.INTEGRATE)
    latest: dict[tuple[str, str], str] = {}
    for s in db.scalars(select(ReleaseSignoff).where(ReleaseSignoff.release_id == row.id)
                        .order_by(ReleaseSignoff.id)):
        latest[(s.capacity, s.by)] = s.decision
    missing = [f"community representative {r!r}" for r in reps
               if latest.get(("community", r)) != "approve"]
    if not reps:
        missing.append("a designated community representative (release."
                       "community_representatives is empty)")
    if nso and not any(c == "nso" and d == "approve" for (c, _), d in latest.items()):
        missing.append("the NSO (integration is declared)")
    return missing


def publish(db: Session, actor: Actor | None, slug: str, version: int) -> dict[str, Any]:
    """Make a release public, if every sign-off is there and no consent was withdrawn since."""
    project, _ = project_for(db, actor, slug, Action.RELEASE_MANAGE)
    row = _release(db, project, version)
    if row.status != "awaiting_signoff":
        raise Conflict("release.invalid_state", f"release v{version} is {row.status}",
                       where=Where(field="version"))
    missing = _missing_signoffs(db, project, row)
    if missing:
        raise Conflict("release.signoff_missing", f"release v{version} lacks the approval "
                       f"of {'; '.join(missing)}", where=Where(field="signoffs"))
    newest = int(db.scalar(select(func.max(ConsentWithdrawal.id))
                           .where(ConsentWithdrawal.project_id == project.id)) or 0)
    if newest > row.withdrawals_seen:
        raise Conflict("release.consent_withdrawn", f"a respondent withdrew consent after "
                       f"release v{version} was built", where=Where(field="version"))
    row.status, row.published_at = "published", utcnow()
    db.flush()
    audit(db, actor, "release.publish", "release", f"v{version}", project_id=project.id)
    return _info(db, row)


def withdraw(db: Session, actor: Actor | None, slug: str, version: int, reason: str
             ) -> dict[str, Any]:
    """End public access to a release; its record and files are kept."""
    project, _ = project_for(db, actor, slug, Action.RELEASE_MANAGE)
    row = _release(db, project, version)
    if row.status == "withdrawn":
        raise Conflict("release.invalid_state", f"release v{version} is already withdrawn")
    row.status, row.withdrawn_at = "withdrawn", utcnow()
    db.flush()
    audit(db, actor, "release.withdraw", "release", f"v{version}", project_id=project.id,
          details={"reason": reason})
    return _info(db, row)


def published(db: Session) -> list[dict[str, Any]]:
    """Every published release of every project (public: no actor needed)."""
    rows = db.execute(select(Release, Project.slug, Project.name, Project.spec)
                      .join(Project, Project.id == Release.project_id)
                      .where(Release.status == "published")
                      .order_by(Project.slug, Release.version.desc())).all()
    ids = [r.id for r, _, _, _ in rows]
    approvals: dict[int, list[dict[str, str]]] = {i: [] for i in ids}
    if ids:
        # who signed stays with the members; the public sees in what capacity and when
        for s in db.scalars(select(ReleaseSignoff).where(ReleaseSignoff.release_id.in_(ids),
                                                         ReleaseSignoff.decision == "approve")
                            .order_by(ReleaseSignoff.at)):
            approvals[s.release_id].append({"capacity": s.capacity, "decision": s.decision,
                                            "at": s.at.isoformat()})
    return [{"project": slug, "name": name, "version": r.version,
             "initiative": _initiative(spec),
             "published_at": r.published_at.isoformat() if r.published_at else None,
             "signoffs": approvals[r.id],
             "files": sorted(r.manifest.get("files", {}))} for r, slug, name, spec in rows]


def _initiative(spec: dict[str, Any] | None) -> str:
    """The initiating organisation's name from a stored spec (empty if none)."""
    initiator = (spec or {}).get("initiator") or {}
    return str(initiator.get("name") or "") if isinstance(initiator, dict) else ""


def public_release(db: Session, slug: str, version: int) -> dict[str, Any] | None:
    """What the public may know of a release that was published: its state, and when
    and why it was withdrawn if it was (public: no actor). None for a release that was
    never published (drafts stay with the members) or does not exist."""
    found = db.execute(select(Release, Project)
                       .join(Project, Project.id == Release.project_id)
                       .where(Project.slug == slug, Release.version == version)).first()
    if found is None:
        return None
    row, project = found
    if row.published_at is None or row.status not in ("published", "withdrawn"):
        return None
    reason = None
    if row.status == "withdrawn":
        details = db.scalar(select(AuditEvent.details)
                            .where(AuditEvent.project_id == project.id,
                                   AuditEvent.action == "release.withdraw",
                                   AuditEvent.object_id == f"v{version}")
                            .order_by(AuditEvent.id.desc()).limit(1))
        reason = str((details or {}).get("reason") or "") or None
    return {"project": slug, "name": project.name, "version": row.version,
            "initiative": _initiative(project.spec), "status": row.status,
            "as_of": row.as_of.isoformat(),
            "published_at": row.published_at.isoformat(),
            "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None,
            "reason": reason}


def stored_path(db: Session, actor: Actor | None, slug: str, version: int) -> str:
    """A release's stored folder (relative to the workspace, or absolute if older); members."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    return _release(db, project, version).path


def public_file(db: Session, slug: str, version: int, name: str) -> str | None:
    """The stored folder of a published release holding ``name``, or None (unpublished,
    withdrawn, unknown); read it with :func:`locate`."""
    row = db.scalar(select(Release).join(Project, Project.id == Release.project_id)
                    .where(Project.slug == slug, Release.version == version,
                           Release.status == "published"))
    if row is None or (name not in row.manifest.get("files", {}) and name != "manifest.json"):
        return None
    return row.path
