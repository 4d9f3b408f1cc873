"""Form rules and per-submission checks: form-time errors, each check kind, compiled vs reference."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.forms import parse_xlsform
from citizendata.forms.schema import Field, FormSchema
from citizendata.validate.checks import (
    FINDING_COLUMNS,
    _findings,
    _numeric_fields,
    check_table,
    reference_findings,
)
from citizendata.validate.expr import choice_labels
from citizendata.validate.expr.compile import with_numbers
from citizendata.validate.extract import connect, raw_tables
from citizendata.validate.rules import KINDS, RuleSet, form_rules
from xlsform_builders import make_xlsform

TODAY = date(2026, 3, 15)
SETTINGS = {"form_id": "f", "version": "1"}
YN = [{"list_name": "yn", "name": "yes", "label": "Yes"},
      {"list_name": "yn", "name": "no", "label": "No"}]
CON = connect()  # one private DuckDB for the whole module

Finding = tuple[int, str | None, str]


def form(survey: Sequence[Mapping[str, Any]], choices: Sequence[Mapping[str, Any]] | None = None
         ) -> bytes:
    """A small XLSForm workbook with form id 'f'."""
    return make_xlsform(survey, choices or YN, SETTINGS)


def refused(survey: Sequence[Mapping[str, Any]],
            choices: Sequence[Mapping[str, Any]] | None = None) -> BadInput:
    """The error parse_xlsform raises for a form (the test fails if none is raised)."""
    with pytest.raises(BadInput) as exc:
        parse_xlsform(form(survey, choices), "f.xlsx")
    return exc.value


def batch(payloads: Mapping[int, Mapping[str, Any]]) -> pa.Table:
    """Submissions as the store hands them to validation: ids, metadata and JSON payloads."""
    ids = list(payloads)
    return pa.table({
        "_id": pa.array(ids, pa.int64()),
        "_instance_id": [f"uuid:{i}" for i in ids],
        "_form_version": ["1"] * len(ids),
        "_review_status": ["received"] * len(ids),
        "payload": [json.dumps(payloads[i]) for i in ids],
    })


def run_checks(schema: FormSchema, rules: RuleSet, payloads: Mapping[int, Mapping[str, Any]]
               ) -> dict[str | None, tuple[list[dict[str, Any]], list[Finding]]]:
    """Per table: the compiled findings (as dicts) and the reference findings."""
    labels = choice_labels(schema)
    tables = raw_tables(CON, batch(payloads), schema, rules.columns)
    out = {}
    for level, table in tables.items():
        level_rules = list(rules.for_table(level))
        compiled = CON.to_pyarrow(check_table(table, level_rules, today=TODAY, labels=labels))
        assert tuple(compiled.column_names) == FINDING_COLUMNS
        rows = CON.to_pyarrow(table).to_pylist()
        reference = reference_findings(rows, level_rules, today=TODAY, labels=labels)
        out[level] = (compiled.to_pylist(), reference)
    return out


def keys(findings: list[dict[str, Any]]) -> list[Finding]:
    """(id, item, rule) of compiled findings, sorted (a multiset: duplicates are kept)."""
    return sorted(((f["_id"], f["_item"], f["rule"]) for f in findings), key=repr)


# -- 1. faulty expressions are refused when the form is added ------------------------------


def test_constraint_syntax_error_names_row_field_and_position() -> None:
    """A constraint that ends too early is expr.syntax at its survey row and character."""
    err = refused([{"type": "integer", "name": "age", "label": "Age"},
                   {"type": "integer", "name": "births", "label": "Births",
                    "constraint": ". >= 0 and"}])
    assert err.code == "expr.syntax"
    assert [p.code for p in err.problems] == ["expr.syntax"]
    where = err.problems[0].where
    assert where is not None
    assert (where.file, where.sheet, where.row, where.field, where.position) == \
        ("f.xlsx", "survey", 3, "births", 10)


def test_unknown_name_in_relevance_is_refused_by_pyxform_with_its_row() -> None:
    """pyxform refuses an unknown ${name} first: form.invalid at the relevance's row."""
    err = refused([{"type": "integer", "name": "age", "label": "Age"},
                   {"type": "text", "name": "school", "label": "School",
                    "relevant": "${agee} < 18"}])
    assert err.code == "form.invalid"
    assert "agee" in err.message
    assert err.where is not None
    assert (err.where.sheet, err.where.row, err.where.column) == ("survey", 3, "relevant")


def test_unknown_name_in_relevance_is_expr_unknown_field_in_form_rules() -> None:
    """form_rules on a schema not read by pyxform reports expr.unknown_field with the row."""
    schema = FormSchema(form_id="f", version="1", title="F", root="f", fields=(
        Field(name="age", path="age", type="integer", row=2),
        Field(name="school", path="school", type="text", relevant="${agee} < 18", row=3),
    ))
    with pytest.raises(BadInput) as exc:
        form_rules(schema, filename="f.xlsx")
    assert exc.value.code == "expr.unknown_field"
    (problem,) = exc.value.problems
    assert problem.where is not None
    assert (problem.where.file, problem.where.row, problem.where.field, problem.where.position) \
        == ("f.xlsx", 3, "school", 0)


def test_circular_calculations_are_refused_naming_both() -> None:
    """Two calculations that depend on each other are expr.circular, naming both fields."""
    err = refused([{"type": "integer", "name": "n", "label": "N"},
                   {"type": "calculate", "name": "a", "calculation": "${b} + ${n}"},
                   {"type": "calculate", "name": "b", "calculation": "${a} * 2"}])
    assert err.code == "expr.circular"
    (problem,) = err.problems
    assert "${a}" in problem.message and "${b}" in problem.message
    assert "${n}" not in problem.message
    assert problem.where is not None
    assert (problem.where.row, problem.where.field) == (3, "a")


def test_constraint_referring_into_a_sibling_repeat_is_skipped_with_a_warning() -> None:
    """ODK reads ${child_age} from another repeat as all its items: valid, not re-checked here."""
    parsed = parse_xlsform(form([
        {"type": "begin_repeat", "name": "children", "label": "Child"},
        {"type": "integer", "name": "child_age", "label": "Age"},
        {"type": "end_repeat"},
        {"type": "begin_repeat", "name": "adults", "label": "Adult"},
        {"type": "integer", "name": "adult_age", "label": "Age",
         "constraint": ". > ${child_age}"},
        {"type": "end_repeat"}]), "f.xlsx")
    (warning,) = [w for w in parsed.warnings if "child_age" in w]
    assert "'adults/adult_age' (row 6)" in warning and "'children'" in warning
    assert "constraint:adults/adult_age" not in {r.id for r in form_rules(parsed.schema).rules}


def test_a_nested_repeat_may_refer_to_its_enclosing_repeat() -> None:
    """The enclosing repeat's fields are in scope: no expr.other_repeat."""
    parsed = parse_xlsform(form([
        {"type": "begin_repeat", "name": "hh", "label": "Household"},
        {"type": "integer", "name": "size", "label": "Size"},
        {"type": "begin_repeat", "name": "member", "label": "Member", "repeat_count": "${size}"},
        {"type": "integer", "name": "rank", "label": "Rank", "constraint": ". <= ${size}"},
        {"type": "end_repeat"},
        {"type": "end_repeat"}]), "f.xlsx")
    assert {r.id for r in form_rules(parsed.schema).rules} >= \
        {"constraint:hh/member/rank", "repeat_count:hh/member"}


def test_several_faulty_expressions_are_reported_together() -> None:
    """A syntax error, wrong arguments and a bad regex come back in one error, each with its row."""
    err = refused([{"type": "integer", "name": "age", "label": "Age", "constraint": ". >"},
                   {"type": "select_one yn", "name": "ok", "label": "OK"},
                   {"type": "text", "name": "note_text", "label": "Note",
                    "relevant": "selected(${ok})"},
                   {"type": "text", "name": "phone", "label": "Phone",
                    "constraint": "regex(., '[0-9')"}])
    assert err.code == "expr.syntax"
    assert "3 expression problem(s)" in err.message
    got = [(p.code, p.where.row if p.where else None, p.where.field if p.where else None)
           for p in err.problems]
    assert got == [("expr.syntax", 2, "age"), ("expr.wrong_arguments", 4, "note_text"),
                   ("expr.invalid_regex", 5, "phone")]
    assert all(p.where is not None and p.where.file == "f.xlsx" for p in err.problems)


def test_unsupported_function_is_a_warning_naming_the_field() -> None:
    """now() in a calculation does not stop the form; the warning names the field."""
    parsed = parse_xlsform(form([
        {"type": "date", "name": "dob", "label": "Date of birth"},
        {"type": "calculate", "name": "stamp", "calculation": "concat(${dob}, now())"},
    ]), "f.xlsx")
    (warning,) = [w for w in parsed.warnings if "now()" in w]
    assert "'stamp'" in warning and "row 3" in warning
    assert warning in parsed.schema.warnings
    rules = form_rules(parsed.schema)
    assert not [r for r in rules.rules if r.field == "stamp"]
    assert rules.skipped == (warning,)


def test_row_by_row_function_is_checked_and_named_in_the_warnings() -> None:
    """format-date() has no SQL translation: its rule runs row by row, and the form says so."""
    parsed = parse_xlsform(form([
        {"type": "date", "name": "dob", "label": "Date of birth"},
        {"type": "calculate", "name": "birth_year", "calculation": "format-date(${dob}, '%Y')"},
    ]), "f.xlsx")
    (warning,) = [w for w in parsed.warnings if "format-date" in w]
    assert "'birth_year' (row 3)" in warning and "row by row" in warning
    rules = form_rules(parsed.schema)
    assert "calculate:birth_year" in {r.id for r in rules.rules}
    assert rules.skipped == () and rules.row_by_row == (warning,)


@pytest.mark.parametrize("column", ["repeat_count", "relevant"])
def test_repeat_count_naming_a_field_inside_its_own_repeat_is_skipped(column: str) -> None:
    """The count of a repeat is read in its parent, where the repeat's own fields are all its
    items: the rule is skipped with a warning naming the row."""
    survey = [{"type": "integer", "name": "n", "label": "N"},
              {"type": "begin_repeat", "name": "r", "label": "R", "repeat_count": "${n}"},
              {"type": "integer", "name": "x", "label": "X"},
              {"type": "end_repeat"}]
    survey[1] = {**survey[1], column: "${x}" if column == "repeat_count" else "${x} > 0"}
    parsed = parse_xlsform(form(survey), "f.xlsx")
    (warning,) = [w for w in parsed.warnings if "${x}" in w]
    assert f"{column} of 'r' (row 3)" in warning


def test_choice_name_of_a_field_without_choices_is_refused_when_added() -> None:
    """jr:choice-name(x, '${t}') with t a text question is a faulty expression of the form."""
    err = refused([{"type": "select_one yn", "name": "a", "label": "A"},
                   {"type": "text", "name": "t", "label": "T"},
                   {"type": "calculate", "name": "c",
                    "calculation": "jr:choice-name(${a}, '${t}')"}])
    assert err.code in ("expr.unknown_field", "expr.wrong_arguments")
    assert err.where is not None and err.where.row == 4


# -- 2. each check kind on hand-written payloads -------------------------------------------

HH_SURVEY = [
    {"type": "integer", "name": "age", "label": "Age",
     "constraint": ". >= 15 and . <= 49", "constraint_message": "Age must be 15 to 49"},  # 2
    {"type": "select_one yn", "name": "consent", "label": "Consent", "required": "yes"},  # 3
    {"type": "text", "name": "resp", "label": "Name", "required": "${consent} = 'yes'",
     "constraint": "string-length(.) > 2", "personal": "yes"},                             # 4
    {"type": "begin_group", "name": "hh", "label": "Household",
     "relevant": "${consent} = 'yes'"},                                                   # 5
    {"type": "integer", "name": "members", "label": "Members", "personal": "no"},          # 6
    {"type": "date", "name": "visit", "label": "Visit", "constraint": ". <= today()"},     # 7
    {"type": "end_group"},                                                                # 8
    {"type": "select_multiple assets", "name": "assets", "label": "Assets",
     "constraint": "count-selected(.) <= 2"},                                              # 9
    {"type": "calculate", "name": "n_assets", "calculation": "count-selected(${assets})"},  # 10
    {"type": "integer", "name": "births_count", "label": "Births"},                       # 11
    {"type": "begin_repeat", "name": "births", "label": "Birth",
     "repeat_count": "${births_count}"},                                                  # 12
    {"type": "date", "name": "born", "label": "Born"},                                    # 13
    {"type": "select_one yn", "name": "alive", "label": "Alive"},                         # 14
    {"type": "integer", "name": "months", "label": "Months", "relevant": "${alive} = 'yes'",
     "constraint": ". < 60", "constraint_message": "Under 60 months"},                    # 15
    {"type": "end_repeat"},                                                               # 16
]
HH_CHOICES = [*YN,
              {"list_name": "assets", "name": "radio", "label": "Radio"},
              {"list_name": "assets", "name": "tv", "label": "TV"},
              {"list_name": "assets", "name": "bike", "label": "Bike"}]
HH_PAYLOADS: dict[int, dict[str, Any]] = {
    1: {"age": "30", "consent": "yes", "resp": "Wanjiku",
        "hh": {"members": "4", "visit": "2026-03-01"}, "assets": "radio tv", "n_assets": "2",
        "births_count": "2",
        "births": [{"born": "2025-01-01", "alive": "yes", "months": "14"},
                   {"born": "2024-06-01", "alive": "no"}]},
    2: {"age": "12", "consent": "", "resp": "", "hh": {"members": "3"},
        "assets": "radio car", "n_assets": "2", "births_count": "1", "births": []},
    3: {"age": "abc", "consent": "yes", "hh": {"visit": "2026-04-01"},
        "assets": "radio tv bike", "n_assets": "2", "births_count": "1",
        "births": [{"born": "2023-02-30", "alive": "yes", "months": "75"}]},
    4: {"consent": "yes", "resp": "Al", "n_assets": "0",
        "births": [{"alive": "maybe", "months": "5"}]},
}


@pytest.fixture(scope="module")
def household() -> tuple[FormSchema, RuleSet]:
    """The household form and its rules."""
    parsed = parse_xlsform(make_xlsform(HH_SURVEY, HH_CHOICES, {"form_id": "hh", "version": "1"}),
                           "hh.xlsx")
    assert parsed.warnings == ()
    return parsed.schema, form_rules(parsed.schema)


def test_household_rules_cover_every_kind(household: tuple[FormSchema, RuleSet]) -> None:
    """The form's rules, by id, with their tables."""
    _, rules = household
    assert {(r.id, r.repeat) for r in rules.rules} == {
        ("type:age", None), ("constraint:age", None), ("required:consent", None),
        ("choice:consent", None), ("required:resp", None), ("constraint:resp", None),
        ("not_relevant:hh/members", None), ("type:hh/members", None),
        ("not_relevant:hh/visit", None), ("type:hh/visit", None),
        ("constraint:hh/visit", None), ("choice:assets", None), ("constraint:assets", None),
        ("calculate:n_assets", None), ("type:births_count", None),
        ("repeat_count:births", None), ("type:births/born", "births"),
        ("choice:births/alive", "births"), ("not_relevant:births/months", "births"),
        ("type:births/months", "births"), ("constraint:births/months", "births")}
    assert {r.kind for r in rules.rules} == set(KINDS)


def test_each_check_kind_on_hand_written_payloads(household: tuple[FormSchema, RuleSet]) -> None:
    """Exactly the broken rules are found, per submission and repeat item."""
    schema, rules = household
    result = run_checks(schema, rules, HH_PAYLOADS)
    main, main_ref = result[None]
    assert set(keys(main)) == {
        (2, None, "constraint:age"),            # 12 is under 15
        (2, None, "required:consent"),          # empty answer
        (2, None, "not_relevant:hh/members"),   # group hh does not apply without consent
        (2, None, "choice:assets"),             # 'car' is not a choice
        (2, None, "repeat_count:births"),       # 1 wanted, 0 given
        (3, None, "type:age"),                  # 'abc': one finding, no constraint finding
        (3, None, "required:resp"),             # required because consent = 'yes'
        (3, None, "constraint:hh/visit"),       # after today
        (3, None, "constraint:assets"),         # three assets
        (3, None, "calculate:n_assets"),        # stored 2, calculated 3
        (4, None, "constraint:resp"),           # 'Al' is too short
        (4, None, "repeat_count:births"),       # no count given, one item
    }
    births, births_ref = result["births"]
    assert set(keys(births)) == {
        (3, "births[1]", "type:births/born"),          # 2023-02-30 does not exist
        (3, "births[1]", "constraint:births/months"),  # 75 months
        (4, "births[1]", "choice:births/alive"),       # 'maybe'
        (4, "births[1]", "not_relevant:births/months"),  # answered though not alive = yes
    }
    assert keys(main) == sorted(main_ref, key=repr)
    assert keys(births) == sorted(births_ref, key=repr)


def test_findings_carry_message_severity_and_value(household: tuple[FormSchema, RuleSet]) -> None:
    """A constraint finding has the form's constraint_message; personal values are not carried."""
    schema, rules = household
    result = run_checks(schema, rules, HH_PAYLOADS)
    found = {(f["_id"], f["_item"], f["rule"]): f for level in result.values() for f in level[0]}
    age = found[(2, None, "constraint:age")]
    assert (age["kind"], age["field"], age["severity"], age["message"], age["value"]) == \
        ("constraint", "age", "error", "Age must be 15 to 49", "12")
    months = found[(3, "births[1]", "constraint:births/months")]
    assert (months["message"], months["value"]) == ("Under 60 months", "75")
    resp = found[(4, None, "constraint:resp")]
    assert resp["value"] is None  # 'Al' is personal
    assert resp["message"] == "resp: the answer breaks the rule string-length(.) > 2"
    assert found[(3, None, "required:resp")]["value"] is None
    members = found[(2, None, "not_relevant:hh/members")]
    assert (members["severity"], members["value"]) == ("warning", "3")
    assert found[(2, None, "choice:assets")]["value"] == "radio car"
    assert found[(2, None, "repeat_count:births")]["value"] == "0"
    assert found[(3, None, "calculate:n_assets")]["severity"] == "warning"


def test_no_findings_for_a_clean_submission(household: tuple[FormSchema, RuleSet]) -> None:
    """A submission that keeps every rule has no findings in any table."""
    schema, rules = household
    result = run_checks(schema, rules, {1: HH_PAYLOADS[1]})
    assert {level: found for level, (found, _) in result.items()} == {None: [], "births": []}


# -- 3. and 4. compiled checks agree with the reference interpreter -------------------------

BIG_SURVEY = [
    {"type": "integer", "name": "age", "label": "Age", "constraint": ". >= 15 and . <= 99",
     "constraint_message": "15 to 99"},
    {"type": "select_one yn", "name": "consent", "label": "Consent", "required": "yes"},
    {"type": "text", "name": "resp", "label": "Name", "personal": "yes",
     "required": "${consent} = 'yes'", "constraint": "string-length(.) >= 2"},
    {"type": "begin_group", "name": "hh", "label": "Household", "relevant": "${consent} = 'yes'"},
    {"type": "integer", "name": "hh_size", "label": "Size", "constraint": ". > 0 and . <= 30"},
    {"type": "decimal", "name": "income", "label": "Income", "constraint": ". >= 0",
     "relevant": "${hh_size} > 1"},
    {"type": "date", "name": "visit", "label": "Visit",
     "constraint": ". <= today() and . > date('2000-01-01')"},
    {"type": "end_group"},
    {"type": "datetime", "name": "seen", "label": "Seen"},
    {"type": "geopoint", "name": "gps", "label": "Where", "personal": "no"},
    {"type": "select_multiple assets", "name": "assets", "label": "Assets",
     "constraint": "not(selected(., 'none') and count-selected(.) > 1)"},
    {"type": "calculate", "name": "n_assets", "calculation": "count-selected(${assets})"},
    {"type": "calculate", "name": "per_cap", "calculation": "round(${income} div ${hh_size}, 2)"},
    {"type": "calculate", "name": "tag", "calculation": "concat(${consent}, '-', ${age})"},
    {"type": "calculate", "name": "adult", "calculation": "if(${age} >= 18, 'adult', 'minor')"},
    {"type": "calculate", "name": "seen_day", "calculation": "date(${visit})"},
    {"type": "begin_repeat", "name": "members", "label": "Member",
     "repeat_count": "${hh_size}", "relevant": "${consent} = 'yes'"},
    {"type": "integer", "name": "m_age", "label": "Age", "constraint": ". <= ${age} + 80",
     "constraint_message": "Too old for this household"},
    {"type": "select_one sex", "name": "m_sex", "label": "Sex", "required": "yes"},
    {"type": "date", "name": "m_dob", "label": "Born", "constraint": ". <= ${visit}"},
    {"type": "select_one yn", "name": "m_work", "label": "Works", "relevant": "${m_age} >= 15"},
    {"type": "integer", "name": "m_jobs", "label": "Jobs", "relevant": "${m_work} = 'yes'"},
    {"type": "select_multiple tools", "name": "m_tools", "label": "Tools",
     "required": "${m_work} = 'yes'"},
    {"type": "calculate", "name": "m_ratio", "calculation": "${m_age} div ${age}"},
    {"type": "calculate", "name": "m_first", "calculation": "jr:choice-name(${m_sex}, '${m_sex}')"},
    {"type": "begin_repeat", "name": "jobs", "label": "Job", "repeat_count": "${m_jobs}"},
    {"type": "select_one jobkind", "name": "j_kind", "label": "Kind",
     "constraint": ". != 'other' or ${m_age} >= 18"},
    {"type": "decimal", "name": "j_hours", "label": "Hours", "required": "yes",
     "constraint": ". <= 100 and . > 0"},
    {"type": "end_repeat"},
    {"type": "end_repeat"},
]
BIG_CHOICES = [
    *YN,
    *({"list_name": "assets", "name": n, "label": n.title()}
      for n in ("radio", "tv", "bike", "none")),
    {"list_name": "sex", "name": "f", "label": "Female"},
    {"list_name": "sex", "name": "m", "label": "Male"},
    *({"list_name": "tools", "name": n, "label": n} for n in ("hoe", "net", "phone")),
    *({"list_name": "jobkind", "name": n, "label": n} for n in ("farm", "trade", "other")),
]

# raw texts by kind of field, with what phones, CSVs and careless APIs send (None: absent)
INT = ["0", "1", "2", "3", "15", "17", "18", "49", "99", "100", "-3", "2.5", " 7 ", "7\t",
       "abc", "", "1e3", ".5", "2.", "00012", "2024-01-01", None]
DEC = [*INT, "0.333", "-0.5", "1.5e2", "12.", "-.5", "101", "99.99"]
DATE = ["2026-03-15", "2026-03-16", "2024-02-29", "2023-02-29", "2023-02-30", "1999-12-31",
        "2000-01-02", " 2026-01-01", "2026-1-1", "20260101", "", "soon", "2026-03-15T10:00",
        "0999-01-01", None]
DATETIME = ["2026-03-01T10:00", "2026-03-01T10:00:00.5+03:00", "2026-03-01T24:00",
            "2026-02-30T10:00", "2026-03-01", "2026-03-01T10:00Z", "", None]
GEO = ["-1.29 36.82", "-1.29 36.82 1700 5", "91 0", "0 181", "1.5", "abc", "", "1  2",
       " 1 2", None]
TEXT = ["Wanjiku", "A", "Al", "", "  ", "Ünï", None]
YES_NO = ["yes", "no", "maybe", " yes", "YES", "", None]
ASSETS = ["radio", "radio tv", "tv  bike", "none", "none radio", " bike\t", "car", "radio car",
          "", " ", "bike\nradio", None]
SEX = ["f", "m", "x", "F", "", None]
TOOLS = ["hoe", "hoe net", "phone  net ", "spade", "hoe spade", "", None]
JOBKIND = ["farm", "trade", "other", "none", "", None]
CALC = ["0", "1", "2", "3", "0.5", "0.33", "1.5", "NaN", "", "adult", "minor", "yes-30",
        "no-", "-", "true", "2026-01-01", "Female", " 2 ", None]

MAIN_POOLS = {"age": INT, "consent": YES_NO, "resp": TEXT, "seen": DATETIME, "gps": GEO,
              "assets": ASSETS, "n_assets": CALC, "per_cap": CALC, "tag": CALC,
              "adult": CALC, "seen_day": DATE + CALC}
HH_POOLS = {"hh_size": INT, "income": DEC, "visit": DATE}
MEMBER_POOLS = {"m_age": INT, "m_sex": SEX, "m_dob": DATE, "m_work": YES_NO, "m_jobs": INT,
                "m_tools": TOOLS, "m_ratio": CALC, "m_first": CALC}
JOB_POOLS = {"j_kind": JOBKIND, "j_hours": DEC}


def _obj(values: Mapping[str, str | None]) -> dict[str, Any]:
    """A JSON object of the answers given (absent ones left out)."""
    return {k: v for k, v in values.items() if v is not None}


def _pick(pools: Mapping[str, list[str | None]]) -> Any:
    """A strategy for one object of raw answers drawn from each field's pool."""
    return st.fixed_dictionaries({k: st.sampled_from(v) for k, v in pools.items()}).map(_obj)


JOB = _pick(JOB_POOLS)
MEMBER = st.tuples(_pick(MEMBER_POOLS), st.lists(JOB, max_size=2)).map(
    lambda t: {**t[0], "jobs": t[1]})
SUBMISSION = st.tuples(_pick(MAIN_POOLS), _pick(HH_POOLS), st.lists(MEMBER, max_size=3)).map(
    lambda t: {**t[0], "hh": t[1], "members": t[2]})


def _random_payload(rng: random.Random) -> dict[str, Any]:
    """One submission drawn from the same pools, without Hypothesis."""
    def draw(pools: Mapping[str, list[str | None]]) -> dict[str, Any]:
        return _obj({k: rng.choice(v) for k, v in pools.items()})

    members = [{**draw(MEMBER_POOLS), "jobs": [draw(JOB_POOLS) for _ in range(rng.randint(0, 2))]}
               for _ in range(rng.randint(0, 3))]
    return {**draw(MAIN_POOLS), "hh": draw(HH_POOLS), "members": members}


@pytest.fixture(scope="module")
def big() -> tuple[FormSchema, RuleSet]:
    """The fixed form of the agreement tests and its rules."""
    parsed = parse_xlsform(make_xlsform(BIG_SURVEY, BIG_CHOICES, {"form_id": "big",
                                                                  "version": "1"}), "big.xlsx")
    return parsed.schema, form_rules(parsed.schema)


def test_big_form_has_every_kind_in_the_main_and_repeat_tables(
        big: tuple[FormSchema, RuleSet]) -> None:
    """The fixed form of the agreement tests has many rules of every kind, in several tables."""
    _, rules = big
    main = {r.kind for r in rules.for_table(None)}
    members = {r.kind for r in rules.for_table("members")}
    assert main == set(KINDS)
    assert members == set(KINDS)
    assert {r.kind for r in rules.for_table("members/jobs")} >= {"required", "constraint",
                                                                "choice", "type"}
    assert len(rules.rules) >= 40
    assert rules.skipped == ()


def assert_agree(schema: FormSchema, rules: RuleSet,
                 payloads: Mapping[int, Mapping[str, Any]]) -> int:
    """Compiled and reference findings are the same multiset in every table; their number."""
    total = 0
    for level, (compiled, reference) in run_checks(schema, rules, payloads).items():
        assert keys(compiled) == sorted(reference, key=repr), level
        total += len(reference)
    return total


@pytest.fixture(scope="module")
def big_sql(big: tuple[FormSchema, RuleSet]) -> dict[str | None, tuple[Any, str, str, list[Any]]]:
    """Per table: check_table's findings query and the rows query, compiled to SQL once."""
    # check_table step by step (each field's number once per row, then every rule's flag in
    # one pass) but without materialising the numbers, so the SQL reads the raw tables by
    # name and is rerun on each example's data: Ibis compiling 45 rules takes most of a second
    schema, rules = big
    tables = raw_tables(CON, batch({1: {}}), schema, rules.columns)
    labels = choice_labels(schema)
    out = {}
    for level, table in tables.items():
        level_rules = list(rules.for_table(level))
        numbers = set().union(*(_numeric_fields(table, r, labels) for r in level_rules))
        expr = _findings(with_numbers(table, numbers) if numbers else table, level_rules, TODAY,
                         labels)
        CON.to_pyarrow(expr)  # registers the query's rule table in the connection
        out[level] = (expr, CON.compile(expr), CON.compile(table), level_rules)
    return out


def fetch(sql: str) -> list[dict[str, Any]]:
    """The rows of a query as dicts."""
    rel = CON.con.sql(sql)
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subs=st.lists(SUBMISSION, min_size=1, max_size=6))
def test_compiled_checks_agree_with_reference(
        big: tuple[FormSchema, RuleSet],
        big_sql: dict[str | None, tuple[Any, str, str, list[Any]]],
        subs: list[dict[str, Any]]) -> None:
    """The compiled checks and reference_findings find the same (id, item, rule) in every table."""
    schema, rules = big
    raw_tables(CON, batch(dict(enumerate(subs, start=1))), schema, rules.columns)
    labels = choice_labels(schema)
    for level, (_, findings_sql, rows_sql, level_rules) in big_sql.items():
        compiled = keys(fetch(findings_sql))
        reference = reference_findings(fetch(rows_sql), level_rules, today=TODAY, labels=labels)
        assert compiled == sorted(reference, key=repr), level


def test_check_table_agrees_with_reference_on_hand_picked_edge_cases(
        big: tuple[FormSchema, RuleSet]) -> None:
    """check_table itself (with its cached numbers) on raw texts at the edges of each rule."""
    schema, rules = big
    payloads = {
        1: {"age": " 18 ", "consent": "yes", "resp": "  ", "seen": "2026-03-01T24:00",
            "gps": "-90 180", "assets": "none\tradio", "n_assets": " 2 ", "per_cap": "1.5",
            "tag": "yes- 18 ", "adult": "adult", "seen_day": "2026-02-28",
            "hh": {"hh_size": "2.", "income": "3", "visit": "2026-02-28"},
            "members": [{"m_age": "98.5", "m_sex": "f", "m_dob": "2026-02-28", "m_work": "yes",
                         "m_jobs": "1", "m_tools": "hoe\n", "m_ratio": "5.472222222",
                         "m_first": "Female",
                         "jobs": [{"j_kind": "other", "j_hours": "1e2"}]},
                        {"m_age": "", "m_sex": "", "m_tools": " "}]},
        2: {"age": "15", "consent": "no", "hh": {"hh_size": "0", "visit": "2023-02-29"},
            "seen_day": "", "members": [{"m_age": "-1", "jobs": [{"j_hours": ""}]}]},
        3: {},
    }
    assert assert_agree(schema, rules, payloads) > 10


def test_five_thousand_generated_submissions_agree_with_reference(
        big: tuple[FormSchema, RuleSet]) -> None:
    """A 5,000-submission table (with repeats) is checked and equals the reference."""
    schema, rules = big
    rng = random.Random(20260315)
    payloads = {i: _random_payload(rng) for i in range(1, 5001)}
    result = run_checks(schema, rules, payloads)
    assert len(CON.to_pyarrow(raw_tables(CON, batch(payloads), schema, rules.columns)[None])) \
        == 5000
    found_kinds = set()
    for level, (compiled, reference) in result.items():
        assert keys(compiled) == sorted(reference, key=repr), level
        found_kinds |= {f["kind"] for f in compiled}
    assert found_kinds == set(KINDS)
    assert all(f["value"] is None for _, (c, _) in result.items() for f in c
               if f["field"] == "resp")
