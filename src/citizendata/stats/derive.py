"""Derived variables as Ibis expressions: Washington Group disability, age groups, roll-ups.

Each function returns a column expression over the analysis table, so the same
definitions run on DuckDB here and on Spark at scale. Formulas and sources are in
docs/methods/disaggregation.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from citizendata.errors import BadInput, Problem, Where

__all__ = [
    "WG_DOMAINS",
    "WG_IDENTIFIERS",
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
_VALID = ("1", "2", "3", "4")


def _answer(col: ir.Value) -> ir.IntegerValue:
    """A WG answer as 1-4, NULL when blank, don't know, refused or anything else."""
    text = col.cast("string").strip()
    # a decimal export of the codes (3.0) is still the code
    text = text.re_replace(r"\.0+$", "")
    return ibis.cases(*[(text == v, int(v)) for v in _VALID], else_=ibis.null("int8"))


def washington_group(table: ir.Table, fields: Mapping[str, str],
                     identifier: str = "DISABILITY3") -> ir.StringValue:
    """Disability status by a Washington Group Short Set identifier (NULL when unknown).

    DISABILITY1: at least one domain 'some difficulty' or worse. DISABILITY2: at least
    two domains 'some difficulty' or worse, or one 'a lot' or worse. DISABILITY3 (the
    WG's recommended cut-off): at least one domain 'a lot of difficulty' or 'cannot do
    at all'. DISABILITY4: at least one domain 'cannot do at all'. Only when all six
    answers are missing (blank, don't know, refused) is the status unknown.
    """
    if identifier not in WG_IDENTIFIERS:
        raise BadInput("indicator.invalid", f"unknown Washington Group identifier {identifier!r}",
                       where=Where(field="identifier"), fix=f"Use one of {list(WG_IDENTIFIERS)}.")
    absent = [d for d in WG_DOMAINS if d not in fields]
    missing_cols = [fields[d] for d in WG_DOMAINS if d in fields and fields[d] not in table.columns]
    if absent or missing_cols:
        raise BadInput("indicator.unknown_dimension",
                       f"the Washington Group variable needs all six domains; domains not mapped: "
                       f"{absent}, fields not in the table: {missing_cols}",
                       where=Where(field=", ".join(absent + missing_cols)),
                       fix="Map seeing, hearing, walking, cognition, selfcare and communication "
                           "to the form's WG-SS questions.")
    answers = [_answer(table[fields[d]]) for d in WG_DOMAINS]

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
