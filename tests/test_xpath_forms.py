"""Real XLSForms with XPath (pyxform's own test forms and one household form): accepted,
their rules checked on submissions, compiled checks equal to the per-row reference.

The forms are in tests/data/xlsforms/xpath/ (see the README there for their sources).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from citizendata.forms import parse_xlsform
from citizendata.forms.xlsform import ParsedForm
from citizendata.validate.checks import check_table, reference_findings
from citizendata.validate.expr import choice_labels
from citizendata.validate.extract import connect, raw_tables
from citizendata.validate.rules import form_rules

FORMS = Path(__file__).parent / "data" / "xlsforms" / "xpath"
TODAY = date(2026, 3, 15)
CON = connect()


def load(name: str) -> ParsedForm:
    """A form of the folder, read as citizendata reads an upload."""
    return parse_xlsform((FORMS / name).read_bytes(), name)


def findings(parsed: ParsedForm, payloads: Mapping[int, Mapping[str, Any]]
             ) -> set[tuple[int, str | None, str]]:
    """(id, item, rule) of every broken rule; the compiled checks must equal the reference."""
    schema = parsed.schema
    rules = form_rules(schema)
    ids = list(payloads)
    subs = pa.table({
        "_id": pa.array(ids, pa.int64()), "_instance_id": [f"uuid:{i}" for i in ids],
        "_form_version": [schema.version] * len(ids),
        "_review_status": ["received"] * len(ids),
        "payload": [json.dumps(payloads[i]) for i in ids]})
    labels = choice_labels(schema)
    out: set[tuple[int, str | None, str]] = set()
    for level, table in raw_tables(CON, subs, schema, rules.columns).items():
        chosen = list(rules.for_table(level))
        compiled = CON.to_pyarrow(check_table(table, chosen, today=TODAY, labels=labels))
        got = {(r["_id"], r["_item"], r["rule"]) for r in compiled.to_pylist()}
        rows = CON.to_pyarrow(table).to_pylist()
        assert got == set(reference_findings(rows, chosen, today=TODAY, labels=labels))
        out |= got
    return out


@pytest.mark.parametrize(("name", "skipped"), [
    ("crops_or_other.xlsx", []),
    ("water_specify_other.md", []),
    ("lookup_labels.md", ["'plot_l'"]),  # a contains() predicate: not a name = value lookup
    ("children_position.md", ["'child/older'"]),  # indexed-repeat(): another item
    ("household_xpath.md", ["'total_age'", "'started'"]),  # sum() over a repeat, once(now())
])
def test_pyxform_forms_with_xpath_are_accepted(name: str, skipped: list[str]) -> None:
    """Each form pyxform converts is accepted; what the server cannot check is named."""
    parsed = load(name)
    rules = form_rules(parsed.schema)
    assert [s.split(" of ")[1].split(" ")[0] for s in rules.skipped] == skipped
    assert all(w in parsed.warnings for w in rules.warnings)


def test_or_other_relevance_is_checked() -> None:
    """pyxform's or_other writes selected(../main_crop, 'other'): an answered _other
    question is not relevant unless 'other' was chosen."""
    parsed = load("crops_or_other.xlsx")
    crop = next(f for f in parsed.schema.fields if f.name == "main_crop")
    other = next(f for f in parsed.schema.fields if f.name == "main_crop_other")
    assert other.relevant == "selected(../main_crop, 'other')"
    choice = next(c.name for c in crop.choices if c.name != "other")
    found = findings(parsed, {
        1: {"main_crop": "other", "main_crop_other": "cassava"},
        2: {"main_crop": choice, "main_crop_other": "cassava"},
        3: {"main_crop": choice}})
    assert found == {(2, None, "not_relevant:main_crop_other")}


def test_position_and_lookup_calculations_are_checked() -> None:
    parsed = load("lookup_labels.md")
    assert findings(parsed, {
        1: {"latrine": "yes", "latrine_l": "Yes", "plot": "large", "plot_l": "Large"},
        2: {"latrine": "no", "latrine_l": "Yes"}}) == {(2, None, "calculate:latrine_l")}
    parsed = load("children_position.md")
    children = [{"number": "1", "first_name": "Akinyi"},
                {"number": "2", "first_name": "Baraka", "older": "x"},
                {"number": "2", "first_name": "Chebet"}]
    assert findings(parsed, {1: {"child": children}}) == \
        {(1, "child[3]", "calculate:child/number")}


CLEAN = {
    "county": "nbi", "size": "2", "assets": "radio bike", "county_label": "Nairobi",
    "county_name": "Nairobi", "first_asset": "radio", "n_members": "2", "total_age": "52",
    "visit": "2026-03-01", "visit_month": "2026-03", "started": "2026-03-01T09:00:00",
    "member": [{"pos": "1", "name": "Wanjiku Otieno", "age": "40", "phone": "0712345678",
                "tag": "nbi-1"},
               {"pos": "2", "name": "Baraka", "age": "12", "tag": "nbi-2"}],
}


def test_household_form_rules_on_submissions() -> None:
    """Paths, position(..), count(), jr:choice-name(), lookups, coalesce(), selected-at(),
    format-date() row by row: a clean submission passes, each mistake is found once."""
    parsed = load("household_xpath.md")
    broken = {**CLEAN, "size": "3", "county_label": "Kisumu", "visit_month": "2026-04",
              "first_asset": "none", "n_members": "5",
              "member": [{**CLEAN["member"][0], "tag": "ksm-1", "name": " x "},  # type: ignore[dict-item]
                         {**CLEAN["member"][1], "phone": "0700000000"}]}  # type: ignore[dict-item]
    assert findings(parsed, {1: CLEAN, 2: broken}) == {
        (2, None, "repeat_count:member"), (2, None, "calculate:county_label"),
        (2, None, "calculate:visit_month"), (2, None, "calculate:first_asset"),
        (2, None, "calculate:n_members"), (2, "member[1]", "calculate:member/tag"),
        (2, "member[1]", "constraint:member/name"),
        (2, "member[2]", "not_relevant:member/phone"),
    }
