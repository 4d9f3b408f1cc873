"""``citizendata.integrate`` names the integration methods' public API, loaded lazily."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import citizendata.integrate as integrate

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize(("name", "module"), [
    ("PPRLResult", "citizendata.integrate.pprl"),
    ("link_encodings", "citizendata.integrate.pprl"),
    ("threshold_sensitivity", "citizendata.integrate.linkage"),
    ("blocking_recall", "citizendata.integrate.linkage"),
    ("LinkageResult", "citizendata.integrate.linkage"),
])
def test_the_package_hands_out_the_sub_packages_objects(name: str, module: str) -> None:
    assert name in integrate.__all__
    assert getattr(integrate, name) is getattr(import_module(module), name)


def test_every_exported_name_resolves_and_nothing_else_does() -> None:
    for name in integrate.__all__:
        assert getattr(integrate, name) is not None, name
    with pytest.raises(AttributeError):
        _ = integrate.no_such_method


def test_importing_the_package_loads_no_numpy_or_pandas() -> None:
    probe = ("import sys, json\nimport citizendata.integrate\n"
             "print(json.dumps(sorted({'numpy', 'pandas', 'splink', 'duckdb'}"
             " & {m.split('.')[0] for m in sys.modules})))")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
