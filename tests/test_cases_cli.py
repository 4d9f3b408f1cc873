"""citizendata cases …, as a person types it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cases_kit import case_form, cases_spec
from citizendata.cli import app

runner = CliRunner()

FLIP = (
    "record_id,victim_given_names,victim_surnames,victim_sex,victim_age,victim_role,violation,"
    "event_date,department,municipality,perpetrator\n"
    "R1,Maria Jose,Gomez,female,34,journalist,killing,2019-02-04,05,05001,armed_group\n"
    "R2,Ana,Ruiz Salas,female,29,journalist,arbitrary_detention,2022-05-09,19,19001,state_agent\n"
)


def cli(ws: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-w", str(ws)], env={"CITIZENDATA_PASSWORD": ""},
                           catch_exceptions=False)
    return result.exit_code, result.output


def test_import_list_verify_and_decide_from_the_command_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli(ws, "init", "--admin", "ana", "--password", "ana-password-long")[0] == 0
    (tmp_path / "spec.yaml").write_text(json.dumps(cases_spec()))
    assert cli(ws, "projects", "create", str(tmp_path / "spec.yaml"))[0] == 0
    (tmp_path / "cases.xlsx").write_bytes(case_form())
    assert cli(ws, "forms", "add", "casos", str(tmp_path / "cases.xlsx"))[0] == 0
    (tmp_path / "flip.csv").write_text(FLIP, encoding="utf-8")
    code, out = cli(ws, "cases", "import", "casos", "flip", str(tmp_path / "flip.csv"))
    assert code == 0 and "flip: 2 imported, 0 unchanged" in out
    code, out = cli(ws, "cases", "import", "casos", "flip", str(tmp_path / "flip.csv"), "--json")
    assert code == 0 and json.loads(out)["unchanged"] == 2
    (tmp_path / "bad.csv").write_text(FLIP.replace("2019-02-04", "04/02/2019"))
    code, out = cli(ws, "cases", "import", "casos", "flip", str(tmp_path / "bad.csv"))
    assert code == 2 and "cases.invalid" in out and "event_date" in out
    code, out = cli(ws, "cases", "list", "casos", "--json")
    rows = json.loads(out)["rows"]
    assert code == 0 and [r["key"] for r in rows] == ["flip:R1", "flip:R2"]
    iid = rows[0]["instance_id"]
    code, out = cli(ws, "cases", "verify", "casos", iid, "verified", "--criteria",
                    "identity,role", "--evidence", "acta 7")
    assert code == 0 and "verified" in out
    code, out = cli(ws, "cases", "verify", "casos", iid, "verified", "--criteria", "identity")
    assert code == 2 and "verification.invalid" in out
    code, out = cli(ws, "cases", "history", "casos", iid, "--json")
    assert code == 0 and json.loads(out)["status"] == "verified"
    code, out = cli(ws, "cases", "decide", "casos", "flip:R2", "flip:R1", "non_match")
    assert code == 0 and "flip:R1 / flip:R2: non_match" in out
    code, out = cli(ws, "cases", "list", "casos", "--status", "verified")
    assert code == 0 and "Gomez" in out and "1 case(s)" in out
