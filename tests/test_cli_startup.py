"""The command line starts light: `--help` and the light commands never load the statistics stack.

Checked by what is imported (``sys.modules`` in a fresh interpreter), not by timing, so the
test is as reliable on a busy machine as on an idle one; bench/cli_startup.py has the
times. Also: `citizendata serve` refuses to serve anything but an initialised workspace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citizendata.cli import GROUPS, app
from citizendata.errors import CATALOGUE
from citizendata.workspace import Workspace

# what a light command must not import (SQLAlchemy is allowed: it reads the database)
HEAVY = ("pandas", "numpy", "scipy", "ibis", "duckdb", "pyarrow", "pyxform", "openpyxl",
         "statsmodels", "splink", "opendp", "pysdmx", "fastapi", "starlette", "uvicorn",
         "jinja2", "alembic")
SRC = Path(__file__).resolve().parents[1] / "src"

runner = CliRunner()


def _loaded_after(code: str) -> list[str]:
    """The heavy top-level modules a fresh interpreter holds after running ``code``."""
    probe = (f"import sys\n{code}\n"
             "import json\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env.pop("CITIZENDATA_WORKSPACE", None)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def _run_cli(*args: str) -> str:
    return ("from citizendata.cli import app\n"
            "try:\n"
            f"    app({list(args)!r})\n"
            "except SystemExit as exc:\n"
            "    assert exc.code in (0, None), exc.code\n")


def test_help_loads_no_heavy_module() -> None:
    assert _loaded_after(_run_cli("--help")) == []
    assert _loaded_after(_run_cli("release", "--help")) == []


def test_importing_the_library_loads_no_heavy_module() -> None:
    assert _loaded_after("import citizendata.workspace") == []
    assert _loaded_after("import citizendata\nprint(citizendata.__version__)") == []


def test_projects_list_loads_no_heavy_module(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    ws.create_admin("amina", "amina-password")
    ws.close()
    code = _run_cli("projects", "list", "-w", str(tmp_path / "ws"), "--json")
    assert _loaded_after(code) == []
    assert _loaded_after(_run_cli("users", "token", "amina", "-w", str(tmp_path / "ws"))) == []


def test_the_heavy_stack_still_loads_when_a_command_needs_it() -> None:
    """The lazy names resolve: a method's first call imports its module."""
    code = ("import citizendata.workspace as w\n"
            "assert w.validation.ValidationReport.__name__ == 'ValidationReport'\n")
    loaded = _loaded_after(code)
    assert "ibis" in loaded and "pyarrow" in loaded


def test_every_group_is_registered_once() -> None:
    """Each module in GROUPS adds its commands to the one app; none is listed twice."""
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    groups = [g.name for g in app.registered_groups]
    assert len(names) == len(set(names)) and len(groups) == len(set(groups))
    assert {"init", "import", "estimate", "serve", "demo", "microdata"} <= set(names)
    assert {"db", "users", "projects", "forms", "reference", "encryption", "orgs", "consent",
            "privacy", "quality", "release"} <= set(groups)
    assert GROUPS[0] == "admin"


# -- serve refuses what is not a workspace --------------------------------------------------
def _serve(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["serve", *args], env={"CITIZENDATA_WORKSPACE": None},
                           catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())  # as read, not as wrapped


def test_serve_without_a_workspace_is_refused(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.delenv("CITIZENDATA_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out = _serve()
    assert code == 2 and "workspace.not_initialised" in out and "-w" in out
    assert list(tmp_path.iterdir()) == []  # nothing made on the spot


def test_serve_refuses_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    code, out = _serve("-w", str(tmp_path / "photos"))
    assert code == 2 and "workspace.not_initialised" in out and "citizendata.db" in out
    assert list((tmp_path / "photos").iterdir()) == []
    code, out = _serve("-w", str(tmp_path / "nowhere"))
    assert code == 2 and "workspace.not_initialised" in out
    assert not (tmp_path / "nowhere").exists()


def test_serve_refuses_a_workspace_nobody_can_log_in_to(tmp_path: Path) -> None:
    Workspace.open(tmp_path / "empty").close()
    code, out = _serve("-w", str(tmp_path / "empty"))
    assert code == 2 and "workspace.not_initialised" in out and "no users" in out


def test_the_code_is_in_the_catalogue() -> None:
    spec = CATALOGUE["workspace.not_initialised"]
    assert spec.kind == "BadInput" and "citizendata init" in spec.fix
