"""The XLSForm expression language: parser, reference interpreter and the Ibis compiler."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.forms.schema import Choice, Field, FormSchema, Group
from citizendata.validate.expr import (
    Scope,
    choice_labels,
    compile_expr,
    compile_truthy,
    evaluate,
    field_refs,
    parse,
    scope_of,
    server_problem,
    truthy,
)

TODAY = date(2026, 3, 15)
CON = ibis.duckdb.connect()


def run(text: str, rows: list[dict[str, str | None]], *, current: str | None = None,
        labels: dict[str, dict[str, str]] | None = None, scope: Scope | None = None
        ) -> tuple[list[Any], list[Any]]:
    """The compiled column and the interpreter's values for every row."""
    node = parse(text, field=current, scope=scope)
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

# a household repeat with a member repeat inside: the rule is checked on the household
# items, bound to the field n1 (so '../n2' is its sibling and position(..) its item)
YN_CHOICES = (Choice("yes", "Yes"), Choice("no", "No"), Choice("a b", "A and B"))
PROP_FORM = FormSchema(form_id="data", version="1", title="T", root="data", fields=(
    Field(name="n1", path="hh/n1", type="integer", repeat="hh"),
    Field(name="n2", path="hh/n2", type="decimal", repeat="hh"),
    Field(name="s1", path="hh/s1", type="select_one", list_name="yn", choices=YN_CHOICES,
          repeat="hh"),
    Field(name="m1", path="hh/m1", type="select_multiple", repeat="hh"),
    Field(name="d1", path="hh/d1", type="date", repeat="hh"),
    Field(name="t1", path="hh/t1", type="datetime", repeat="hh"),
    Field(name="age", path="hh/member/age", type="integer", repeat="hh/member"),
), groups=(Group(name="hh", path="hh", repeat=True),
           Group(name="member", path="hh/member", repeat=True, parent_repeat="hh")))
PROP_SCOPE = scope_of(PROP_FORM, "hh/n1", "hh")
PROP_LABELS = choice_labels(PROP_FORM)

NUM_TEXT = st.sampled_from(["", "0", "12", "-3.5", " 7 ", "abc", "1e3", ".5", "2.", "100",
                            "-0", "2020-02-29", "1", "3", "0.5", "-1"])
STR_TEXT = st.sampled_from(["", "yes", "no", "a b", "Ünï", "12", " x ", "true", "aGk="])
MULTI_TEXT = st.sampled_from(["", "a", "a b", " b  c ", "a\tc", "c"])
DATE_TEXT = st.sampled_from(["", "2026-03-15", "2000-01-01", "2026-02-30", "soon", "2026-12-31"])
DATETIME_TEXT = st.sampled_from(["", "2026-03-15T10:30:00+02:00", "2026-03-15T23:59:59.5Z",
                                 "2026-03-15", "10:30", "soon", "1999-12-31T00:00:00"])

ROW = st.fixed_dictionaries({
    "n1": NUM_TEXT, "n2": NUM_TEXT, "s1": STR_TEXT, "m1": MULTI_TEXT, "d1": DATE_TEXT,
    "t1": DATETIME_TEXT, "_item": st.sampled_from(["hh[1]", "hh[12]", "", None]),
    "#hh/member": st.sampled_from(["0", "3", None]),
})

LEAVES = st.sampled_from([
    "${n1}", "${n2}", "${s1}", "${m1}", "${d1}", "${t1}", ".", "'yes'", "''", "'a'", "'12'",
    "0", "3", "2.5", "15", "'2026-01-01'", "true()", "false()", "today()", "-1",
    # XPath paths as pyxform writes them and users type them
    "../n2", "/data/hh/s1", "current()/../m1", "position(..)", "count(${member})", "pi()",
    "instance('yn')/root/item[name = ${s1}]/label", "jr:choice-name(../s1, '${s1}')",
])


CALLS = [
    ("selected", 2), ("count-selected", 1), ("string-length", 1), ("contains", 2),
    ("starts-with", 2), ("ends-with", 2), ("concat", 2), ("concat", 3), ("substr", 2),
    ("substr", 3), ("if", 3), ("coalesce", 2), ("int", 1), ("number", 1), ("round", 1),
    ("round", 2), ("date", 1), ("not", 1),
    # the ODK functions added for real forms
    ("boolean-from-string", 1), ("translate", 3), ("normalize-space", 1),
    ("substring-before", 2), ("substring-after", 2), ("selected-at", 2), ("pow", 2),
    ("log", 1), ("log10", 1), ("exp", 1), ("exp10", 1), ("sqrt", 1), ("abs", 1), ("sin", 1),
    ("cos", 1), ("tan", 1), ("asin", 1), ("acos", 1), ("atan", 1), ("atan2", 2), ("sum", 1),
    ("max", 2), ("min", 3), ("count-non-empty", 1), ("join", 3), ("checklist", 4),
    ("weighted-checklist", 4), ("format-date", 2), ("decimal-date-time", 1),
    ("decimal-time", 1), ("digest", 2), ("base64-decode", 1),
]


def _extend(sub: Any) -> Any:
    """One level more of expression structure."""
    binary = st.tuples(sub, st.sampled_from(
        ["+", "-", "*", "div", "mod", "=", "!=", "<", "<=", ">", ">=", "and", "or"]), sub
    ).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    # one flatmap over the functions, not a one_of of one strategy per function: the
    # strategy's repr stays small as the recursion nests
    calls = st.sampled_from(CALLS).flatmap(lambda c: st.tuples(*([sub] * c[1])).map(
        lambda args, name=c[0]: f"{name}({', '.join(args)})"))
    regex = st.tuples(sub, st.sampled_from(["'^[0-9]+$'", "'a'", "'^$'", "'[ab] ?c'"])).map(
        lambda t: f"regex({t[0]}, {t[1]})")
    fmt = st.tuples(sub, st.sampled_from(["'%Y-%m-%d'", "'%e/%n/%y %a %b'", "'%H:%M:%S.%3'"])
                    ).map(lambda t: f"format-date-time({t[0]}, {t[1]})")
    neg = sub.map(lambda s: f"-({s})")
    return st.one_of(binary, regex, fmt, neg, calls, calls)


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=EXPRESSIONS, rows=st.lists(ROW, min_size=1, max_size=8))
# found by CI: Java's Math.pow gives NaN for a NaN exponent even of 1, as DuckDB does
@example(text="pow(true(), ${n1})", rows=[{"n1": "", "n2": "", "s1": "", "m1": "", "d1": "",
                                         "t1": "", "_item": "hh[1]", "#hh/member": "0"}])
def test_compiled_expression_agrees_with_interpreter(text: str, rows: list[dict[str, str]]) -> None:
    # a sum() of a lookup is valid but left to the phones (skipped), not compared here
    assume(server_problem(parse(text, field="n1", scope=PROP_SCOPE)) is None)
    compiled, reference = run(text, list(rows), current="n1", scope=PROP_SCOPE,
                              labels=PROP_LABELS)
    for row, c, r in zip(rows, compiled, reference, strict=True):
        assert same(c, r), f"{text!r} on {row}: compiled {c!r}, interpreter {r!r}"


def test_huge_numbers_do_not_overflow() -> None:
    rows = [{"x": "1" + "0" * 30}, {"x": "-" + "9" * 25 + ".5"}]
    check("round(today(), today())", rows, [20527.0, 20527.0])
    check("int(${x}) = ${x} and round(${x}, 3) = ${x}", rows, [True, True])
    check("string-length(concat(${x}, ''))", rows, [31.0, 28.0])
    check("date(${x} * ${x})", rows, [None, None])


# -- XPath as pyxform writes it and as real forms use it ----------------------------------

HOUSEHOLD = FormSchema(form_id="hh_survey", version="1", title="H", root="hh_survey", fields=(
    Field(name="county", path="county", type="select_one", list_name="counties",
          choices=(Choice("nbi", "Nairobi"), Choice("ksm", "Kisumu"), Choice("other", "Other"))),
    Field(name="county_other", path="county_other", type="text"),
    Field(name="head", path="g/head", type="text"),
    Field(name="size", path="g/size", type="integer"),
    Field(name="name", path="member/name", type="text", repeat="member"),
    Field(name="pos", path="member/pos", type="calculate", repeat="member"),
    Field(name="age", path="member/age", type="integer", repeat="member"),
    Field(name="dose", path="member/vacc/dose", type="integer", repeat="member/vacc"),
), groups=(Group(name="g", path="g", repeat=False),
           Group(name="member", path="member", repeat=True),
           Group(name="vacc", path="member/vacc", repeat=True, parent_repeat="member")))
KNOWN = {f.name for f in HOUSEHOLD.fields}


def at(here: str, level: str | None) -> Scope:
    """The household form's scope for an expression bound to ``here``."""
    return scope_of(HOUSEHOLD, here, level)


def test_or_other_relevance_as_pyxform_writes_it() -> None:
    """select_one ... or_other: pyxform gives the _other question selected(../x, 'other')."""
    node = parse("selected(../county, 'other')", field="county_other", known=KNOWN,
                 scope=at("county_other", None))
    assert field_refs(node) == {"county"}
    rows = [{"county": "other"}, {"county": "nbi"}, {"county": ""}]
    check("selected(../county, 'other')", rows, [True, False, False],
          scope=at("county_other", None))


@pytest.mark.parametrize(("text", "here", "level", "refs"), [
    ("../size > 0", "g/head", None, {"size"}),  # a sibling in a group
    ("../../county = 'nbi'", "g/head", None, {"county"}),  # out of the group
    ("../../g/size", "member/age", "member", {"size"}),  # out of a repeat, into a group
    ("/hh_survey/g/size + /hh_survey/county", "member/age", "member", {"size", "county"}),
    ("current()/../age > 15", "member/name", "member", {"age"}),
    (". > 0 and ./. > 0", "g/size", None, {"size"}),  # ./. names the field itself
])
def test_paths_resolve_from_the_node_the_rule_is_bound_to(
        text: str, here: str, level: str | None, refs: set[str]) -> None:
    assert field_refs(parse(text, known=KNOWN, scope=at(here, level))) == refs


@pytest.mark.parametrize(("text", "position"), [
    ("../nothing = 1", 0),
    ("/other_root/g/size", 0),
    ("../../../county", 4),
])
def test_a_path_that_names_nothing_is_unknown_field_at_its_position(text: str,
                                                                    position: int) -> None:
    with pytest.raises(BadInput) as exc:
        parse(f"1 + {text}"[4:] if position == 0 else f"1 + {text}", field="head", row=5,
              known=KNOWN, scope=at("g/head", None))
    assert exc.value.code == "expr.unknown_field"
    assert exc.value.where is not None and exc.value.where.position == position


def test_position_of_the_repeat_item_from_the_item_column() -> None:
    rows = [{"_item": "member[1]"}, {"_item": "member[12]"}, {"_item": None}]
    check("position(..)", rows, [1.0, 12.0, None], scope=at("member/pos", "member"))
    check("position(..) = 1 or ${age} > 15",
          [{"_item": "member[1]", "age": "3"}, {"_item": "member[2]", "age": "3"}],
          [True, False], scope=at("member/pos", "member"))
    # from a nested repeat, ../.. is the household member, .. the vaccination
    nested = [{"_item": "member[2]/vacc[3]"}]
    check("position(../..) * 10 + position(..)", nested, [23.0],
          scope=at("member/vacc/dose", "member/vacc"))
    # position() of a group that does not repeat is 1
    check("position(..)", [{"_item": None}], [1.0], scope=at("g/size", None))


def test_count_of_a_repeat_reads_its_item_count() -> None:
    rows = [{"#member": "3", "size": "3"}, {"#member": "0", "size": "2"}]
    check("count(${member}) = ${size}", rows, [True, False], scope=at("g/size", None))
    check("count(/hh_survey/member/age)", rows, [3.0, 0.0], scope=at("g/size", None))


@pytest.mark.parametrize(("text", "why"), [
    ("indexed-repeat(${name}, ${member}, 1)", "indexed-repeat"),
    ("sum(${age}) > 0", "sum() over the items"),
    ("max(/hh_survey/member/age)", "max() over the items"),
    ("count(${dose})", "count() over the items"),  # a repeat two levels down
    ("once(concat(${head}, now()))", "once()"),
    ("random() < 0.5", "random()"),
    ("uuid()", "uuid()"),
    ("instance('villages')/root/item[name = ${county}]/label", "external list"),
    ("instance('counties')/root/item[name = ${county} and x = 1]/label", "not of the form"),
    ("${member} = ''", "group /member as a value"),
    ("${last-saved#head} = ''", "last submission saved on the phone"),
    ("head > 3", "'head' is read as a child element"),  # a typo for ${head}: warned
    ("${member}[position() = 1]/age > 3", "predicate"),
    ("/hh_survey/member[name = 'x']/age", "predicate"),
    ("instance('counties')/root/item[name = ${county}][1]/label", "not of the form"),
])
def test_what_the_server_cannot_evaluate_parses_and_says_why(text: str, why: str) -> None:
    node = parse(text, field="head", known=KNOWN, scope=at("g/head", None))
    problem = server_problem(node)
    assert problem is not None and why in problem


def test_instance_lookup_in_a_choice_list_of_the_form() -> None:
    labels = choice_labels(HOUSEHOLD)
    text = "instance('counties')/root/item[name = ${county}]/label"
    node = parse(text, known=KNOWN, scope=at("county_other", None))
    assert server_problem(node) is None
    rows = [{"county": "nbi"}, {"county": "ksm"}, {"county": "zzz"}, {"county": ""}]
    check(text, rows, ["Nairobi", "Kisumu", "", ""], labels=labels,
          scope=at("county_other", None))
    check("instance('counties')/root/item[name = current()/../county]/name != ''", rows,
          [True, True, False, False], labels=labels, scope=at("county_other", None))
    check("jr:choice-name(${county}, '/hh_survey/county')", rows,
          ["Nairobi", "Kisumu", "", ""], labels=labels, scope=at("county_other", None))


def test_math_functions_follow_java() -> None:
    rows = [{"x": "8"}, {"x": "-8"}, {"x": "0"}, {"x": ""}]
    check("pow(${x}, 2)", rows, [64.0, 64.0, 0.0, None])
    check("pow(${x}, 1 div 3) < 3", rows, [True, False, True, False])
    check("sqrt(${x})", rows, [math.sqrt(8), None, 0.0, None])
    check("log10(${x} * 125)", rows, [3.0, None, -math.inf, None])
    check("abs(${x}) + round(exp(log(2)), 6)", rows, [10.0, 10.0, 2.0, None])
    check("round(sin(pi() div 2) + cos(0) + tan(0) + atan2(0, 1) + asin(1) * 0, 9)", rows,
          [2.0] * 4)
    check("acos(${x})", rows, [None, None, math.pi / 2, None])
    check("exp10(2) + atan(0)", rows, [100.0] * 4)


def test_text_functions_added_for_odk() -> None:
    rows = [{"s": "  Wanjiku   Otieno ", "m": "a b c"}, {"s": "", "m": ""}]
    check("normalize-space(${s})", rows, ["Wanjiku Otieno", ""])
    check("translate(${s}, 'abcdefghijklmnopqrstuvwxyz ', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')",
          rows, ["WANJIKUOTIENO", ""])
    check("substring-before(normalize-space(${s}), ' ')", rows, ["Wanjiku", ""])
    check("substring-after(normalize-space(${s}), ' ')", rows, ["Otieno", ""])
    check("selected-at(${m}, 1)", rows, ["b", ""])
    check("join(', ', ${m}, 'd')", rows, ["a b c, d", ", d"])
    check("boolean-from-string('1') and boolean-from-string('true') and "
          "not(boolean-from-string('yes'))", rows, [True, True])
    check("coalesce(${s}, 'none')", rows, ["  Wanjiku   Otieno ", "none"])
    check("count-non-empty(${m}) + sum(3) + max(1, 4, 2) + min(5, 6)", rows, [13.0, 12.0])


def test_checklists() -> None:
    rows = [{"a": "yes", "b": "", "c": "x"}, {"a": "", "b": "", "c": ""}]
    check("checklist(1, 2, ${a}, ${b}, ${c})", rows, [True, False])
    check("checklist(-1, 1, ${a}, ${b}, ${c})", rows, [False, True])
    check("weighted-checklist(3, -1, ${a}, 2, ${b}, 5, ${c}, 1)", rows, [True, False])


def test_dates_and_times_evaluated_row_by_row() -> None:
    rows = [{"t": "2026-03-15T10:30:00.250+02:00", "d": "2000-05-01"}, {"t": "", "d": "x"}]
    check("format-date(${d}, '%e %b %Y (%a), %d/%m/%y')", rows,
          ["1 May 2000 (Mon), 01/05/00", ""])
    check("format-date-time(${t}, '%Y-%m-%d %H:%M:%S.%3')", rows,
          ["2026-03-15 10:30:00.250", ""])
    check("decimal-date-time(${t})", rows, [20527.0 + (8.5 * 3600 + 0.25) / 86400, None])
    check("decimal-time('18:00')", rows, [0.75, 0.75])
    check("format-date(today(), '%Y')", rows, ["2026", "2026"])
    check("digest('abc', 'SHA-1', 'hex')", rows, ["a9993e364706816aba3e25717850c26c9cd0d89d"] * 2)
    check("base64-decode('SGFsbG8=')", rows, ["Hallo", "Hallo"])
