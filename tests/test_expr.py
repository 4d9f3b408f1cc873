"""The XLSForm expression language: parser, reference interpreter and the Ibis compiler."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.forms.schema import Choice, Field, FormSchema
from citizendata.validate.expr import (
    choice_labels,
    compile_expr,
    compile_truthy,
    evaluate,
    field_refs,
    parse,
    truthy,
)

TODAY = date(2026, 3, 15)
CON = ibis.duckdb.connect()


def run(text: str, rows: list[dict[str, str | None]], *, current: str | None = None,
        labels: dict[str, dict[str, str]] | None = None) -> tuple[list[Any], list[Any]]:
    """The compiled column and the interpreter's values for every row."""
    node = parse(text, field=current)
    frame = pd.DataFrame(rows, dtype=object)
    table = ibis.memtable(frame)
    expr = compile_expr(node, table, current=current, today=TODAY, labels=labels)
    compiled = CON.execute(table.select(out=expr))["out"].tolist()
    reference = [evaluate(node, r, current=current, today=TODAY, labels=labels) for r in rows]
    return compiled, reference


def norm(v: Any) -> Any:
    """A value comparable across pandas/DuckDB and Python: NaN and NaT as None, dates as date."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        return norm(v.item())
    return v


def same(a: Any, b: Any) -> bool:
    """Equal after normalising, floats within a tolerance."""
    a, b = norm(a), norm(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def check(text: str, rows: list[dict[str, str | None]], expected: list[Any], **kw: Any) -> None:
    """Both engines give the expected values."""
    compiled, reference = run(text, rows, **kw)
    assert all(same(r, e) for r, e in zip(reference, expected, strict=True)), (reference, expected)
    assert all(same(c, e) for c, e in zip(compiled, expected, strict=True)), (compiled, expected)


# -- typical constraints and relevance ----------------------------------------------------


def test_age_range_constraint_on_the_current_field() -> None:
    rows = [{"age": v} for v in ("15", "49", "50", "14", "", "abc", " 30 ", "30.5")]
    check(". >= 15 and . <= 49", rows, [True, True, False, False, False, False, True, True],
          current="age")


def test_consent_relevance_and_empty_equals_empty() -> None:
    rows = [{"consent": "yes"}, {"consent": "no"}, {"consent": ""}, {"consent": None}]
    check("${consent} = 'yes'", rows, [True, False, False, False])
    check("${consent} = ''", rows, [False, False, True, True])
    check("${consent} != ''", rows, [True, True, False, False])


def test_selected_and_count_selected() -> None:
    rows = [{"att": "doctor"}, {"att": "nurse midwife"}, {"att": "tba"}, {"att": ""},
            {"att": "  doctor\tnurse "}]
    check("selected(${att}, 'doctor') or selected(${att}, 'nurse')", rows,
          [True, True, False, False, True])
    check("count-selected(.) <= 2", rows, [True, True, True, True, True], current="att")
    check("count-selected(${att})", rows, [1.0, 2.0, 1.0, 0.0, 2.0])


def test_regex_phone_number_and_string_length() -> None:
    rows = [{"phone": "0712345678"}, {"phone": "071234567"}, {"phone": "07123456789"},
            {"phone": ""}]
    check("regex(., '^[0-9]{10}$')", rows, [True, False, False, False], current="phone")
    check("string-length(.) > 0", rows, [True, True, True, False], current="phone")
    check("string-length(.)", rows, [10.0, 9.0, 11.0, 0.0], current="phone")


def test_if_births_int_round() -> None:
    rows = [{"age": "17", "births": "2", "x": "a b", "a": "7", "b": "2", "v": "2.345"},
            {"age": "18", "births": "1", "x": "a b", "a": "", "b": "0", "v": "-2.35"},
            {"age": "", "births": "", "x": "", "a": "-7", "b": "2", "v": "x"}]
    check("if(${age} < 18, 'minor', 'adult')", rows, ["minor", "adult", "adult"])
    check("${births} = count-selected(${x})", rows, [True, False, False])
    check("int(${a} div ${b})", rows, [3.0, None, -3.0])
    check("round(${v}, 1)", rows, [2.3, -2.4, None])
    check("${a} mod ${b}", rows, [1.0, None, -1.0])


def test_today_and_date_comparisons() -> None:
    rows = [{"dob": "2000-05-01"}, {"dob": "2026-12-01"}, {"dob": ""}, {"dob": "2026-02-30"}]
    check(". <= today()", rows, [True, False, False, False], current="dob")
    check("${dob} > date('2026-01-01')", rows, [False, True, False, False])
    check("today() - date('2026-03-01')", rows, [14.0] * 4)
    check("date(${dob})", rows, [date(2000, 5, 1), date(2026, 12, 1), None, None])
    check("concat('on ', today())", rows, ["on 2026-03-15"] * 4)


def test_text_functions() -> None:
    rows = [{"name": "Wanjiku Otieno", "nick": ""}, {"name": "", "nick": "Ki"}]
    check("substr(${name}, 0, 7)", rows, ["Wanjiku", ""])
    check("substr(${name}, 8)", rows, ["Otieno", ""])
    check("concat(${name}, ' (', ${nick}, ')')", rows, ["Wanjiku Otieno ()", " (Ki)"])
    check("coalesce(${nick}, ${name})", rows, ["Wanjiku Otieno", "Ki"])
    check("contains(${name}, 'jiku') and starts-with(${name}, 'W') and ends-with(${name}, 'o')",
          rows, [True, False])
    check("not(${nick} = '')", rows, [False, True])


def test_numbers_as_text_compare_numerically_strings_as_strings() -> None:
    rows = [{"a": "15", "b": "15.0"}, {"a": "abc", "b": "abc"}, {"a": "", "b": ""}]
    check("${a} = 15", rows, [True, False, False])
    check("${a} = ${b}", rows, [False, True, True])  # two texts: compared as texts
    check("number(${a}) = number(${b})", rows, [True, False, False])  # NaN = NaN is false
    check("number(${a}) != number(${b})", rows, [False, True, True])
    check("${a} + 1", rows, [16.0, None, None])
    check("1 div 0 > 1000 and -1 div 0 < 0", rows, [True, True, True])


def test_precedence_follows_xpath() -> None:
    rows: list[dict[str, str | None]] = [{"x": ""}]
    check("1 + 2 * 3 = 7 and 2 - 1 - 1 = 0 or false()", rows, [True])
    check("-2 * 3 + 10 div 4", rows, [-3.5])
    check("(1 + 2) * 3", rows, [9.0])
    check("concat(1 div 3, '|', 2.50, '|', true())", rows, ["0.3333333333333333|2.5|true"])


def test_choice_name_uses_the_labels_of_the_form() -> None:
    schema = FormSchema(form_id="f", version="1", title="F", root="f", fields=(
        Field(name="county", path="county", type="select_one", list_name="c",
              choices=(Choice("nbi", "Nairobi"), Choice("ksm", "Kisumu"), Choice("x"))),
    ))
    labels = choice_labels(schema)
    rows = [{"county": "nbi"}, {"county": "x"}, {"county": "zzz"}, {"county": ""}]
    check("jr:choice-name(${county}, '${county}')", rows, ["Nairobi", "x", "", ""], labels=labels)


def test_truthy_and_field_refs() -> None:
    assert [truthy(v) for v in ("", "0", 0.0, float("nan"), 2.0, None, True, date.today())] == \
        [False, True, False, False, True, False, True, True]
    assert field_refs(parse("${a} + ${b} > . and jr:choice-name(${c}, '${d}') = ''")) == \
        {"a", "b", "c", "d"}
    table = ibis.memtable(pd.DataFrame({"a": ["1", "", "x"]}))
    flags = CON.execute(table.select(f=compile_truthy(parse("${a}"), table)))["f"].tolist()
    assert flags == [True, False, True]


# -- errors --------------------------------------------------------------------------------


def test_unsupported_function_names_function_field_row_and_position() -> None:
    with pytest.raises(BadInput) as exc:
        parse(". > 0 and pulldata('hh', 'size', 'id', ${hh})", field="size", row=12)
    err = exc.value
    assert err.code == "expr.unsupported_function"
    assert "pulldata()" in err.message
    assert err.where is not None
    assert (err.where.field, err.where.row, err.where.sheet, err.where.position) == \
        ("size", 12, "survey", 10)


@pytest.mark.parametrize(("text", "position"), [
    (". >= 15 and", 11),
    ("${age} > > 3", 9),
    ("(${age} + 1", 11),
    ("${age} = 'yes", 9),
    ("age > 3", 0),
    ("${} = 1", 0),
    ("", 0),
    ("1 2", 2),
])
def test_syntax_error_gives_the_character_position(text: str, position: int) -> None:
    with pytest.raises(BadInput) as exc:
        parse(text, field="q", row=3)
    assert exc.value.code == "expr.syntax"
    assert exc.value.where is not None
    assert exc.value.where.position == position
    assert exc.value.where.row == 3


def test_unknown_field_at_parse_and_at_compile() -> None:
    with pytest.raises(BadInput) as exc:
        parse("${age} > 3 and ${agee} < 9", field="q", row=4, known={"age", "q"})
    assert exc.value.code == "expr.unknown_field"
    assert "agee" in exc.value.message
    assert exc.value.where is not None and exc.value.where.position == 15
    table = ibis.memtable(pd.DataFrame({"age": ["1"]}))
    with pytest.raises(BadInput) as exc:
        compile_expr(parse("${weight} > 3"), table)
    assert exc.value.code == "expr.unknown_field"


def test_wrong_arguments_and_invalid_regex() -> None:
    with pytest.raises(BadInput) as exc:
        parse("selected(${a})", field="q", row=2)
    assert exc.value.code == "expr.wrong_arguments"
    with pytest.raises(BadInput) as exc:
        parse("regex(., '[0-9')", field="q", row=2)
    assert exc.value.code == "expr.invalid_regex"
    with pytest.raises(BadInput) as exc:
        parse("jr:choice-name(${a}, ${a})")
    assert exc.value.code == "expr.wrong_arguments"


# -- property: the compiler agrees with the interpreter -------------------------------------

FIELDS = ("n1", "n2", "s1", "m1", "d1")
NUM_TEXT = st.sampled_from(["", "0", "12", "-3.5", " 7 ", "abc", "1e3", ".5", "2.", "100",
                            "-0", "2020-02-29", "1", "3"])
STR_TEXT = st.sampled_from(["", "yes", "no", "a b", "Ünï", "12", " x "])
MULTI_TEXT = st.sampled_from(["", "a", "a b", " b  c ", "a\tc", "c"])
DATE_TEXT = st.sampled_from(["", "2026-03-15", "2000-01-01", "2026-02-30", "soon", "2026-12-31"])

ROW = st.fixed_dictionaries({"n1": NUM_TEXT, "n2": NUM_TEXT, "s1": STR_TEXT, "m1": MULTI_TEXT,
                             "d1": DATE_TEXT})

LEAVES = st.sampled_from([
    "${n1}", "${n2}", "${s1}", "${m1}", "${d1}", ".", "'yes'", "''", "'a'", "'12'", "0", "3",
    "2.5", "15", "'2026-01-01'", "true()", "false()", "today()", "-1",
])


def _call(name: str, n: int) -> Any:
    """A strategy for a call of ``name`` with ``n`` sub-expressions."""
    return lambda sub: st.tuples(*([sub] * n)).map(lambda args: f"{name}({', '.join(args)})")


def _extend(sub: Any) -> Any:
    """One level more of expression structure."""
    binary = st.tuples(sub, st.sampled_from(
        ["+", "-", "*", "div", "mod", "=", "!=", "<", "<=", ">", ">=", "and", "or"]), sub
    ).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    calls = [
        _call(name, n)(sub) for name, n in [
            ("selected", 2), ("count-selected", 1), ("string-length", 1), ("contains", 2),
            ("starts-with", 2), ("ends-with", 2), ("concat", 2), ("concat", 3), ("substr", 2),
            ("substr", 3), ("if", 3), ("coalesce", 2), ("int", 1), ("number", 1), ("round", 1),
            ("round", 2), ("date", 1), ("not", 1),
        ]
    ]
    regex = st.tuples(sub, st.sampled_from(["'^[0-9]+$'", "'a'", "'^$'", "'[ab] ?c'"])).map(
        lambda t: f"regex({t[0]}, {t[1]})")
    neg = sub.map(lambda s: f"-({s})")
    return st.one_of(binary, regex, neg, *calls)


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=EXPRESSIONS, rows=st.lists(ROW, min_size=1, max_size=8))
def test_compiled_expression_agrees_with_interpreter(text: str, rows: list[dict[str, str]]) -> None:
    compiled, reference = run(text, list(rows), current="n1")
    for row, c, r in zip(rows, compiled, reference, strict=True):
        assert same(c, r), f"{text!r} on {row}: compiled {c!r}, interpreter {r!r}"


def test_huge_numbers_do_not_overflow() -> None:
    rows = [{"x": "1" + "0" * 30}, {"x": "-" + "9" * 25 + ".5"}]
    check("round(today(), today())", rows, [20527.0, 20527.0])
    check("int(${x}) = ${x} and round(${x}, 3) = ${x}", rows, [True, True])
    check("string-length(concat(${x}, ''))", rows, [31.0, 28.0])
    check("date(${x} * ${x})", rows, [None, None])
