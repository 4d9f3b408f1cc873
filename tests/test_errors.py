"""The error catalogue: stable codes, one class per kind, the docs generated from it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from citizendata import errors

ROOT = Path(__file__).parent.parent


def test_every_code_names_an_existing_error_class() -> None:
    kinds = {c.__name__ for c in [errors.CitizenDataError,
                                  *errors.CitizenDataError.__subclasses__()]}
    assert {spec.kind for spec in errors.CATALOGUE.values()} <= kinds
    assert all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", code) for code in errors.CATALOGUE)


def test_unknown_codes_and_wrong_classes_are_refused() -> None:
    with pytest.raises(ValueError):
        errors.BadInput("no.such_code", "x")
    with pytest.raises(ValueError):
        errors.NotFound("input.invalid", "x")


def test_problems_get_the_catalogue_fix_and_one_json_shape() -> None:
    p = errors.Problem("import.unknown_column", "column C is not a field",
                       where=errors.Where(file="a.csv", row=1, column="C"))
    assert p.fix == errors.CATALOGUE["import.unknown_column"].fix
    body = errors.problems_error([p], file="a.csv").to_dict()["error"]
    assert set(body) >= {"code", "title", "message", "status", "problems", "fix"}
    assert body["problems"][0]["where"] == {"file": "a.csv", "row": 1, "column": "C"}


def test_docs_errors_md_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_error_docs.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == gen.render(), \
        "run scripts/gen_error_docs.py and commit docs/errors.md"
