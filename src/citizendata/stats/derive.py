"""Derived variables as Ibis expressions: Washington Group disability, age groups, roll-ups.

Each function returns a column expression over the analysis table, so the same
definitions run on DuckDB here and on Spark at scale. Formulas and sources are in
docs/methods/disaggregation.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from citizendata.errors import BadInput, Problem, Where

__all__ = [
    "WG_DEFAULT_CODES",
    "WG_DOMAINS",
    "WG_IDENTIFIERS",
    "WG_LEVELS",
    "WITHOUT_DISABILITY",
    "WITH_DISABILITY",
    "age_group",
    "age_labels",
    "rollup",
    "washington_group",
]

WG_DOMAINS = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
WG_IDENTIFIERS = ("DISABILITY1", "DISABILITY2", "DISABILITY3", "DISABILITY4")
WITH_DISABILITY = "with_disability"
WITHOUT_DISABILITY = "without_disability"
WG_LEVELS = ("no_difficulty", "some", "a_lot", "cannot")
# today's (and the WG's own) coding: 1 no difficulty, 2 some, 3 a lot, 4 cannot do at all
WG_DEFAULT_CODES: dict[str, str] = {"no_difficulty": "1", "some": "2", "a_lot": "3", "cannot": "4"}


def _normalise(code: object) -> str:
    """An answer code as compared: stripped text, a decimal export 3.0 read as 3."""
    text = str(code).strip()
    m = re.fullmatch(r"(-?[0-9]+)\.0+", text)
    return m.group(1) if m else text


def _wg_codes(codes: Mapping[str, str | Sequence[str]] | None,
              missing: Sequence[str] | None) -> tuple[dict[str, int], set[str]]:
    """Answer code -> severity 1-4, and the missing codes; a bad coding is refused."""
    given = dict(WG_DEFAULT_CODES) if codes is None else dict(codes)
    bad_keys = sorted(set(given) ^ set(WG_LEVELS))
    if bad_keys:
        raise BadInput("indicator.invalid",
                       f"the Washington Group codes must name exactly {list(WG_LEVELS)}; "
                       f"wrong or absent: {bad_keys}", where=Where(field="codes"),
                       fix='E.g. codes: {"no_difficulty": "0", "some": "1", "a_lot": "2", '
                           '"cannot": "3"}.')
    severity: dict[str, int] = {}
    for level, value in zip(WG_LEVELS, (given[k] for k in WG_LEVELS), strict=True):
        values = [value] if isinstance(value, str | int | float) else list(value)
        if not values:
            raise BadInput("indicator.invalid", f"Washington Group code {level!r} lists no answer",
                           where=Where(field="codes"))
        for v in map(_normalise, values):
            if not v or v in severity:
                raise BadInput("indicator.invalid",
                               f"Washington Group answer {v!r} is given to two levels (or is "
                               "empty)", where=Where(field="codes"))
            severity[v] = WG_LEVELS.index(level) + 1
    miss = {_normalise(m) for m in (missing or ())}
    clash = sorted(miss & set(severity))
    if clash:
        raise BadInput("indicator.invalid",
                       f"Washington Group answer(s) {clash} are listed both as a valid answer and "
                       "as missing", where=Where(field="missing"))
    return severity, miss


def _text(col: ir.Value) -> ir.StringValue:
    """An answer as stripped text; a decimal export of a code (3.0) as the code."""
    text = col.cast("string").strip()
    # no back-reference in the replacement: DuckDB writes it \1, Spark $1
    return ibis.cases((text.re_search(r"^-?[0-9]+\.0+$"), text.re_replace(r"\.0+$", "")),
                      else_=text)


def _answer(col: ir.Value, severity: Mapping[str, int]) -> ir.IntegerValue:
    """A WG answer as 1-4, NULL when blank, don't know, refused or anything else."""
    # one CASE text WHEN .. (the text written once), not a WHEN text = .. per code: the
    # status repeats each answer, and the repeated text made every frame's SQL ~16 KB
    return _text(col).substitute(dict(severity), else_=ibis.null("int8"))


def _unexpected(table: ir.Table, columns: Sequence[str], known: set[str]) -> pd.DataFrame:
    """Answers neither a valid code nor a missing code: field, value, count (one query)."""
    parts = []
    for c in columns:
        text = _text(table[c])
        parts.append(table.select(field=ibis.literal(c), value=text)
                     .filter(text.notnull() & (text != "") & ~text.isin(sorted(known))))
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p, distinct=False)
    return (union.group_by(["field", "value"]).aggregate(n=ibis._.count())
            .order_by([ibis.desc("n"), "field", "value"]).limit(20).to_pandas())


def washington_group(table: ir.Table, fields: Mapping[str, str],
                     identifier: str = "DISABILITY3", *,
                     missing: Sequence[str] | None = None,
                     codes: Mapping[str, str | Sequence[str]] | None = None,
                     on_unexpected: str | None = None) -> ir.StringValue:
    """Disability status by a Washington Group Short Set identifier (NULL when unknown).

    DISABILITY1: at least one domain 'some difficulty' or worse. DISABILITY2: at least
    two domains 'some difficulty' or worse, or one 'a lot' or worse. DISABILITY3 (the
    WG's recommended cut-off): at least one domain 'a lot of difficulty' or 'cannot do
    at all'. DISABILITY4: at least one domain 'cannot do at all'. Only when all six
    answers are missing (blank, don't know, refused) is the status unknown.

    ``codes`` maps no_difficulty, some, a_lot and cannot to the form's answer codes (a code
    or a list of codes, e.g. 0-3 or choice names); the default is 1-4. ``missing`` lists
    the don't-know and refused codes. An answer that is neither valid nor listed is
    refused (``on_unexpected="raise"``, the default when ``missing`` is given, which runs
    one query to find them) or counted as missing (``"missing"``, the default otherwise).
    """
    if identifier not in WG_IDENTIFIERS:
        raise BadInput("indicator.invalid", f"unknown Washington Group identifier {identifier!r}",
                       where=Where(field="identifier"), fix=f"Use one of {list(WG_IDENTIFIERS)}.")
    mode = on_unexpected or ("raise" if missing is not None else "missing")
    if mode not in ("raise", "missing"):
        raise BadInput("indicator.invalid", f"on_unexpected must be 'raise' or 'missing', not "
                       f"{on_unexpected!r}", where=Where(field="on_unexpected"))
    severity, miss = _wg_codes(codes, missing)
    absent = [d for d in WG_DOMAINS if d not in fields]
    missing_cols = [fields[d] for d in WG_DOMAINS if d in fields and fields[d] not in table.columns]
    if absent or missing_cols:
        raise BadInput("indicator.unknown_dimension",
                       f"the Washington Group variable needs all six domains; domains not mapped: "
                       f"{absent}, fields not in the table: {missing_cols}",
                       where=Where(field=", ".join(absent + missing_cols)),
                       fix="Map seeing, hearing, walking, cognition, selfcare and communication "
                           "to the form's WG-SS questions.")
    if mode == "raise":
        _raise_unexpected(table, [fields[d] for d in WG_DOMAINS], severity, miss)
    answers = [_answer(table[fields[d]], severity) for d in WG_DOMAINS]
    return _status(answers, identifier)


def _raise_unexpected(table: ir.Table, columns: list[str], severity: Mapping[str, int],
                      miss: set[str]) -> None:
    """indicator.invalid naming every answer that is neither a valid nor a missing code."""
    odd = _unexpected(table, columns, set(severity) | miss)
    if odd.empty:
        return
    listing = "; ".join(f"{r.value!r} in {r.field} ({int(r.n)} answer(s))"
                        for r in odd.itertuples())
    valid = ", ".join(f"{v}={WG_LEVELS[k - 1]}" for v, k in severity.items())
    raise BadInput(
        "indicator.invalid",
        f"Washington Group answers that are neither a valid code ({valid}) nor listed as "
        f"missing ({', '.join(sorted(miss)) or 'none'}): {listing}",
        where=Where(field=str(odd["field"].iloc[0])),
        fix="If the form codes the answers differently (0-3, choice names), give `codes`; "
            "if these are don't-know or refused codes, add them to `missing`.",
        details={"unexpected": [{"field": str(r.field), "value": str(r.value), "n": int(r.n)}
                                for r in odd.itertuples()]})


def _status(answers: list[ir.IntegerValue], identifier: str) -> ir.StringValue:
    """with_disability / without_disability / NULL from the six answers' severities."""

    def count(pred_min: int) -> ir.IntegerValue:
        total: ir.IntegerValue = ibis.literal(0)
        for a in answers:
            total = total + (a >= pred_min).fill_null(False).cast("int8")
        return total

    answered: ir.IntegerValue = ibis.literal(0)
    for a in answers:
        answered = answered + a.notnull().cast("int8")
    some, alot, cannot = count(2), count(3), count(4)
    disabled = {
        "DISABILITY1": some >= 1,
        "DISABILITY2": (some >= 2) | (alot >= 1),
        "DISABILITY3": alot >= 1,
        "DISABILITY4": cannot >= 1,
    }[identifier]
    return ibis.cases(
        (answered == 0, ibis.null("string")),
        (disabled, ibis.literal(WITH_DISABILITY)),
        else_=ibis.literal(WITHOUT_DISABILITY),
    )


def age_labels(breaks: Sequence[int], upper: int | None) -> list[str]:
    """Labels of age bands: '15-19', …, and '65+' for an open last band."""
    labels = []
    for i, lo in enumerate(breaks):
        hi = breaks[i + 1] - 1 if i + 1 < len(breaks) else (upper - 1 if upper is not None else None)
        labels.append(f"{lo}-{hi}" if hi is not None else f"{lo}+")
    return labels


def age_group(col: ir.Value, breaks: Sequence[int], upper: int | None = None) -> ir.StringValue:
    """The age band of an age in completed years (NULL when missing or out of every band)."""
    age = col.cast("float64")
    labels = age_labels(breaks, upper)
    cases = []
    for i, lo in enumerate(breaks):
        hi = breaks[i + 1] if i + 1 < len(breaks) else upper
        cond = age >= lo if hi is None else (age >= lo) & (age < hi)
        cases.append((cond, ibis.literal(labels[i])))
    return ibis.cases(*cases, else_=ibis.null("string"))


def rollup(col: ir.Value, geography: pd.DataFrame, lowest: str, level: str) -> ir.StringValue:
    """The higher-level area (e.g. county) of a lower-level code (e.g. ward), from a reference table.

    Every lower-level code must map to exactly one higher-level code; a code missing
    from the table gives NULL (reported as unknown in every estimate).
    """
    problems = [Problem("indicator.unknown_dimension", f"the geography table has no column {c!r}",
                        Where(column=c)) for c in (lowest, level) if c not in geography.columns]
    if problems:
        raise BadInput("indicator.unknown_dimension", "; ".join(p.message for p in problems),
                       where=Where(column=", ".join(str(p.where.column) for p in problems
                                                    if p.where)),
                       fix=f"The geography table has columns {list(geography.columns)}.",
                       problems=problems)
    pairs = geography[[lowest, level]].dropna().astype(str).drop_duplicates()
    clash = pairs[pairs.duplicated(lowest, keep=False)]
    if not clash.empty:
        code = str(clash[lowest].iloc[0])
        parents = sorted(clash.loc[clash[lowest] == code, level].tolist())
        raise BadInput("indicator.invalid",
                       f"the geography table puts {lowest} {code!r} in several {level}s: {parents}",
                       where=Where(column=lowest),
                       fix="Give every lower-level area exactly one parent.")
    mapping = dict(zip(pairs[lowest].tolist(), pairs[level].tolist(), strict=True))
    return col.cast("string").substitute(mapping, else_=ibis.null("string"))
