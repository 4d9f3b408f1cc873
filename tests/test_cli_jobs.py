"""`citizendata jobs`: list, show, cancel, and a worker that runs what is waiting."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from citizendata.cli import app
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form

runner = CliRunner()
P = "test-project"


def cli(ws: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-w", str(ws)])
    return result.exit_code, result.output


def test_the_jobs_commands(tmp_path: Path) -> None:
    ws = Workspace(file_settings(tmp_path))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.submit(P, "household", {"meta": {"instanceID": "uuid:a"}, "consent": "yes"})
    first = owner.submit_job(P, "validate", {"form_id": "household"})
    second = owner.submit_job(P, "validate", {"form_id": "household"})
    ws.close()
    root = tmp_path / "ws"
    code, out = cli(root, "jobs", "list", P, "--json")
    assert code == 0, out
    assert [(j["id"], j["state"]) for j in json.loads(out)] == [(second.id, "queued"),
                                                                 (first.id, "queued")]
    code, out = cli(root, "jobs", "cancel", str(second.id))
    assert code == 0 and f"Job {second.id} cancelled." in out
    code, out = cli(root, "jobs", "work", "--once")
    assert code == 0 and "1 job(s) run." in out, out
    code, out = cli(root, "jobs", "show", str(first.id))
    assert code == 0 and "done" in out and "'submissions': 1" in out, out
    code, out = cli(root, "jobs", "list", "--state", "cancelled")
    assert code == 0 and "validate" in out and "cancelled" in out
    code, out = cli(root, "jobs", "cancel", str(first.id))
    assert code == 2 and "job.not_cancellable" in out
    code, out = cli(root, "jobs", "show", "999")
    assert code == 2 and "not_found.job" in out
