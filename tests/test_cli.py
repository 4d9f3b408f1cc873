"""The command line, as a person types it: init, projects, forms, import, export, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from citizendata.cli import app
from conftest import CHOICES, SURVEY
from xlsform_builders import make_xlsform

runner = CliRunner()

SPEC = """
slug: cli-project
name: CLI project
initiator: {slug: cli-cso, name: CLI CSO}
engagement: {design: {level: 5}}
"""
CSV = ("instance_id,respondent,age,consent,location/ward,n_births\n"
       "uuid:c1,Amina,25,yes,magadi,0\n"
       "uuid:c2,Sela,35,yes,ewuaso,0\n")


def cli(ws: Path, *args: str) -> tuple[int, str]:
    """Run one command against a workspace; exit code and all output."""
    result = runner.invoke(app, [*args, "-w", str(ws)], env={"CITIZENDATA_PASSWORD": ""},
                           catch_exceptions=False)
    return result.exit_code, result.output


def test_a_whole_session(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code, out = cli(ws, "init", "--admin", "amina", "--password", "amina-password")
    assert code == 0 and "ready" in out
    (tmp_path / "spec.yaml").write_text(SPEC)
    code, out = cli(ws, "projects", "create", str(tmp_path / "spec.yaml"))
    assert code == 0 and "meets" in out
    form = tmp_path / "household.xlsx"
    form.write_bytes(make_xlsform(SURVEY, CHOICES, {"form_id": "household", "version": "1"}))
    code, out = cli(ws, "forms", "add", "cli-project", str(form))
    assert code == 0 and "household" in out
    (tmp_path / "export.csv").write_text(CSV)
    code, out = cli(ws, "import", "cli-project", "household", str(tmp_path / "export.csv"))
    assert code == 0 and "2" in out
    code, out = cli(ws, "import", "cli-project", "household", str(tmp_path / "export.csv"),
                    "--json")
    assert code == 0 and json.loads(out)["duplicates"] == 2
    code, out = cli(ws, "export", "cli-project", "household", "--out", str(tmp_path / "snap"))
    assert code == 0
    table = pq.read_table(tmp_path / "snap" / "household.parquet")
    assert table.num_rows == 2 and table.column("age").to_pylist() == [25, 35]
    # into the workspace: the second export of the same data hands out the same snapshot
    code, out = cli(ws, "export", "cli-project", "household")
    folder = Path(out.rsplit("in ", 1)[1].strip())
    assert code == 0 and folder.parent == ws.resolve() / "snapshots/cli-project/household/plain"
    assert cli(ws, "export", "cli-project", "household") == (0, out)
    assert pq.read_table(folder / "household.parquet").num_rows == 2
    code, out = cli(ws, "projects", "list")
    assert code == 0 and "cli-project" in out
    code, out = cli(ws, "db", "current")
    from citizendata.store.migrate import head_revision

    assert code == 0 and f"current: {head_revision()}" in out


def test_bad_input_is_a_coded_error_with_exit_code_2(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cli(ws, "init", "--admin", "amina", "--password", "amina-password")
    (tmp_path / "spec.yaml").write_text(SPEC)
    cli(ws, "projects", "create", str(tmp_path / "spec.yaml"))
    (tmp_path / "not-a-form.xlsx").write_bytes(b"this is not a workbook")
    code, out = cli(ws, "forms", "add", "cli-project", str(tmp_path / "not-a-form.xlsx"))
    assert code == 2 and "form.not_xlsform" in out and "fix:" in out
    code, out = cli(ws, "forms", "list", "no-such-project")
    assert code == 2 and "not_found.project" in out


def test_commands_need_an_initialised_workspace(tmp_path: Path) -> None:
    code, out = cli(tmp_path / "empty", "projects", "list")
    assert code == 2 and "workspace.missing" in out and "citizendata init" in out


def test_approve_clean_lets_the_clean_submissions_into_analysis(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cli(ws, "init", "--admin", "amina", "--password", "amina-password")
    (tmp_path / "spec.yaml").write_text(SPEC)
    cli(ws, "projects", "create", str(tmp_path / "spec.yaml"))
    form = tmp_path / "household.xlsx"
    form.write_bytes(make_xlsform(SURVEY, CHOICES, {"form_id": "household", "version": "1"}))
    cli(ws, "forms", "add", "cli-project", str(form))
    # the third breaks the form's constraint (15 or older): it stays for a reviewer
    (tmp_path / "export.csv").write_text(CSV + "uuid:c3,Neema,12,yes,magadi,0\n")
    cli(ws, "import", "cli-project", "household", str(tmp_path / "export.csv"))
    code, out = cli(ws, "approve-clean", "cli-project", "household")
    assert code == 2 and "review.not_validated" in out
    assert cli(ws, "validate", "cli-project", "household")[0] == 0
    code, out = cli(ws, "approve-clean", "cli-project", "household", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["approved"] == 2 and json.loads(out)["dry_run"]
    code, out = cli(ws, "approve-clean", "cli-project", "household")
    assert code == 0 and "approved 2 submission(s)" in out and "1 with errors" in " ".join(out.split())
    code, out = cli(ws, "approve-clean", "cli-project", "household", "--json")
    assert code == 0 and json.loads(out)["approved"] == 0
