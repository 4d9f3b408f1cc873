"""Benchmark: how long `citizendata --help` and a light command take to start.

Times, best of N fresh processes each (wall clock, and the CPU time the process used,
which a busy machine inflates less):

- ``citizendata --help``;
- ``citizendata projects list -w WS`` on a workspace with an administrator and a project;
- ``import citizendata.workspace`` (the library as the CLI and the server load it);
- the obvious alternative, what every command paid before issue 16: the library with
  the statistics stack it used to import at start (pandas, NumPy, SciPy, Ibis, DuckDB,
  PyArrow, pyxform, the estimation and validation modules);
- a bare ``python -c pass`` (the interpreter's own start).

Target: --help and projects list under 0.5 s. Writes bench/results/cli_startup.json with
each time and the ratios of --help and projects list to the library-with-the-stack.

    python bench/cli_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results
from rich.console import Console
from rich.table import Table

SRC = Path(__file__).resolve().parents[1] / "src"
STACK = ("import citizendata.workspace, pandas, numpy, scipy.stats, ibis, duckdb, pyarrow, "
         "pyxform, citizendata.stats.indicators, citizendata.services.validation, "
         "citizendata.privacy.estimates, citizendata.publish.bundle")
SPEC = """
slug: bench-cli
name: Start-up benchmark
initiator: {slug: bench-cso, name: Benchmark CSO}
engagement: {design: {level: 5}}
"""


def _time(argv: list[str], repeat: int, env: dict[str, str]) -> dict[str, float]:
    """Best wall and CPU seconds of ``repeat`` fresh processes."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {"wall_s": round(min(walls), 3), "cpu_s": round(min(cpus), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("CITIZENDATA_WORKSPACE", None)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        (Path(tmp) / "spec.yaml").write_text(SPEC)
        subprocess.run([py, "-m", "citizendata.cli", "init", "-w", str(ws), "--admin", "amina",
                        "--password", "amina-password"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([py, "-m", "citizendata.cli", "projects", "create",
                        str(Path(tmp) / "spec.yaml"), "-w", str(ws)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        cases = {
            "python": [py, "-c", "pass"],
            "help": [py, "-m", "citizendata.cli", "--help"],
            "projects_list": [py, "-m", "citizendata.cli", "projects", "list", "-w", str(ws)],
            "import_library": [py, "-c", "import citizendata.workspace"],
            "import_library_with_stack": [py, "-c", STACK],
        }
        times = {name: _time(argv, args.repeat, env) for name, argv in cases.items()}
    stack = times["import_library_with_stack"]
    rows: list[dict[str, Any]] = [
        {"case": name, **t, "target_s": 0.5 if name in ("help", "projects_list") else None,
         "over_stack_wall": round(t["wall_s"] / stack["wall_s"], 3),
         "over_stack_cpu": round(t["cpu_s"] / stack["cpu_s"], 3)}
        for name, t in times.items()]
    table = Table("case", "wall s", "CPU s", "wall / stack", "CPU / stack",
                  title="CLI start-up: best of fresh processes")
    for r in rows:
        table.add_row(r["case"], f"{r['wall_s']:.3f}", f"{r['cpu_s']:.3f}",
                      f"{r['over_stack_wall']:.2f}", f"{r['over_stack_cpu']:.2f}")
    Console().print(table)
    write_results("cli_startup", {
        "results": rows, "repeat": args.repeat,
        "help_over_stack_wall": rows[1]["over_stack_wall"],
        "projects_list_over_stack_wall": rows[2]["over_stack_wall"],
        "help_under_target": times["help"]["wall_s"] < 0.5,
        "projects_list_under_target": times["projects_list"]["wall_s"] < 0.5,
        "load_average": round(os.getloadavg()[0], 2)},
        ["help_over_stack_wall", "projects_list_over_stack_wall", "help_under_target",
         "projects_list_under_target", "load_average"],
        "CLI start-up against the library with the statistics stack")

if __name__ == "__main__":
    main()
