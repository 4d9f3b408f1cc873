"""What each kind of job runs, which permission it needs and the parameters it takes.

Every kind is a library call that is safe to run again after a crash: an import is
idempotent by instance id (and all or nothing), a validation run replaces the form's
findings, an estimate is a new run, and a release build keeps the version it builds in
the job's checkpoint, so a build interrupted after its release was recorded is not
built a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citizendata.auth import Action
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    from citizendata.workspace import Client

__all__ = ["KINDS", "JobContext", "JobKind", "clean_params", "public_params", "uploads_dir"]


class JobContext:
    """What a running job's code may use: its checkpoint and a progress callback."""

    def __init__(self, checkpoint: dict[str, Any],
                 save: Callable[[dict[str, Any]], None],
                 report: Callable[[int, int | None, str], None]) -> None:
        self.checkpoint = dict(checkpoint)
        self._save = save
        self._report = report

    def save_checkpoint(self, data: dict[str, Any]) -> None:
        """Keep ``data`` with the job, for a later attempt after a crash."""
        self.checkpoint = dict(data)
        self._save(self.checkpoint)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Say how far the job is; raises if the job was cancelled meanwhile."""
        self._report(done, total, message)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BuildParams(_Params):
    """A release build: the date it is as of (default: the day it runs)."""

    as_of: date | None = None


class ValidateParams(_Params):
    """A validation run of one form."""

    form_id: str = Field(min_length=1, max_length=100)


class ImportParams(_Params):
    """An import of a file staged in the workspace's uploads folder."""

    form_id: str = Field(min_length=1, max_length=100)
    path: str = Field(min_length=1, max_length=1000)
    filename: str | None = Field(default=None, max_length=300)
    encoding: str | None = Field(default=None, max_length=40)
    # KoboToolbox __version__ id → form version
    version_map: dict[str, str] | None = None


class EstimateParams(_Params):
    """An estimate of one declared indicator."""

    indicator: str = Field(min_length=1, max_length=100)


def _build(client: Client, slug: str, p: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from citizendata.services import releases as releases_svc

    version = ctx.checkpoint.get("version")
    if version is not None:
        # an earlier attempt got this far: if it recorded its release, that is the outcome
        for r in client.releases(slug):
            if r["version"] == version and r["built_by"] == client.actor.username \
                    and r["built_at"] >= ctx.checkpoint.get("since", ""):
                return {"version": version, "status": r["status"], "files": len(r["files"]),
                        "resumed": True}
    from datetime import UTC, datetime

    since = datetime.now(UTC).isoformat()
    version = client._read(releases_svc.next_version, slug)
    ctx.save_checkpoint({"version": version, "since": since})
    as_of = date.fromisoformat(p["as_of"]) if p.get("as_of") else None
    built = client.build_release(slug, as_of=as_of,
                                 progress=lambda d, t, m: ctx.progress(d, t, m))
    return {"version": built["version"], "status": built["status"],
            "files": len(built["files"])}


def _validate(client: Client, slug: str, p: dict[str, Any], ctx: JobContext
              ) -> dict[str, Any]:
    seen = 0

    def rows(n: int) -> None:
        nonlocal seen
        seen += n
        ctx.progress(seen, None, "checking submissions")
    report = client.validate(slug, p["form_id"], progress=rows)
    ctx.progress(report.submissions, report.submissions, "findings stored")
    return {"form_id": report.form_id, "run": report.run_id,
            "submissions": report.submissions, "findings": report.findings,
            "errors": report.errors, "warnings": report.warnings,
            "submissions_with_errors": report.submissions_with_errors,
            "moved_to_has_issues": report.moved_to_has_issues}


def _import_step(message: str) -> str:
    """The import's own messages as "step: detail" ("inserting 1,200 rows")."""
    words = message.split()
    if len(words) == 3 and words[0] == "inserting" and words[2] == "rows":
        return f"inserting rows: {words[1]}"
    return message


def _import(client: Client, slug: str, p: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    result = client.import_file(slug, p["form_id"], Path(p["path"]), p.get("filename"),
                                progress=lambda m: ctx.progress(0, None, _import_step(m)),
                                encoding=p.get("encoding"), version_map=p.get("version_map"))
    return {"form_id": result.form_id, "batch": result.batch_id, "created": result.created,
            "duplicates": result.duplicates}


def _estimate(client: Client, slug: str, p: dict[str, Any], ctx: JobContext
              ) -> dict[str, Any]:
    ctx.progress(0, 1, f"estimating: {p['indicator']}")
    r = client.estimate(slug, p["indicator"])
    return {"indicator": p["indicator"], "run": r.provenance.get("run"),
            "cells": len(r.table)}


class QualityParams(_Params):
    """The quality record of a form's data (and an indicator), computed and kept."""

    form_id: str | None = Field(default=None, min_length=1, max_length=100)
    indicator: str | None = Field(default=None, min_length=1, max_length=100)
    # the key of the data the record is asked for (Client.quality_kept): one job per key
    key: str | None = Field(default=None, max_length=200)


def _quality(client: Client, slug: str, p: dict[str, Any], ctx: JobContext
             ) -> dict[str, Any]:
    ctx.progress(0, 1, "quality statement")
    # the record's evidence is kept in the workspace's quality cache: pages read it back
    record = client.quality(slug, p.get("form_id"), p.get("indicator"))
    return {"indicator": p.get("indicator"), "form_id": record.get("dataset")}


@dataclass(frozen=True)
class JobKind:
    """A kind of job: the permission it needs (the underlying call's), its parameters and
    the library call that runs it (returning a JSON summary without personal data)."""

    action: Action
    params: type[_Params]
    run: Callable[[Client, str, dict[str, Any], JobContext], dict[str, Any]]


# kind → what it needs and runs; params are JSON, so the queue can store them
KINDS: dict[str, JobKind] = {
    "release.build": JobKind(Action.RELEASE_MANAGE, BuildParams, _build),
    "validate": JobKind(Action.SUBMISSION_REVIEW, ValidateParams, _validate),
    "import": JobKind(Action.SUBMISSION_CREATE, ImportParams, _import),
    "estimate": JobKind(Action.DATA_EXPORT, EstimateParams, _estimate),
    "quality": JobKind(Action.DATA_EXPORT, QualityParams, _quality),
}


def uploads_dir(workspace: Path) -> Path:
    """Where files waiting for an import job are kept (inside the workspace)."""
    return (workspace / "uploads").resolve()


def kind_of(kind: str) -> JobKind:
    """The kind, or a coded error naming the kinds there are."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise BadInput("input.invalid", f"There is no kind of job {kind!r}.",
                       where=Where(field="kind"),
                       fix="Use one of: " + ", ".join(sorted(KINDS)) + ".") from None


def clean_params(kind: str, params: Any, workspace: Path) -> dict[str, Any]:
    """The job's parameters checked against its kind, as JSON; a staged import file must
    be in the workspace's uploads folder (a job never reads any other file)."""
    spec = kind_of(kind)
    try:
        model = spec.params.model_validate(params if params is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "params"
        raise BadInput("input.invalid", f"{kind} job, parameter {field}: {first['msg']}",
                       where=Where(field=f"params.{field}")) from None
    out = model.model_dump(mode="json", exclude_none=True)
    if "path" in out:
        root = uploads_dir(workspace)
        path = Path(out["path"]).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise BadInput("input.invalid", "An import job reads only a file staged for it "
                           "in the workspace's uploads folder.",
                           where=Where(field="params.path"),
                           fix="Upload the file with the import page or 'citizendata jobs' "
                               "first.")
        out["path"] = str(path)
    return out


def public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as shown to people: never the server's folders."""
    return {k: v for k, v in params.items() if k != "path"}
