"""The XLSForm/ODK expression language: parser, reference interpreter and Ibis compiler.

``parse`` turns the text of a constraint, relevance, calculation or
required-if expression into a typed AST; ``evaluate`` runs it on one row of raw
texts (the reference); ``compile_expr`` turns it into one vectorised Ibis
expression over a table of raw texts. See docs/methods/expressions.md.
"""

from citizendata.forms.schema import FormSchema
from citizendata.validate.expr.compile import (
    compile_expr,
    compile_number,
    compile_text,
    compile_truthy,
)
from citizendata.validate.expr.interpret import (
    Labels,
    evaluate,
    evaluate_number,
    evaluate_text,
    format_number,
    lookup_key,
    string_to_number,
    truthy,
)
from citizendata.validate.expr.parser import (
    FUNCTIONS,
    PER_ROW,
    SKIPPED,
    Binary,
    Call,
    Kind,
    Lit,
    Lookup,
    Node,
    Nodes,
    Ref,
    Unary,
    field_refs,
    parse,
    per_row,
    server_problem,
)
from citizendata.validate.expr.paths import Scope, scope_of

__all__ = [
    "FUNCTIONS",
    "PER_ROW",
    "SKIPPED",
    "Binary",
    "Call",
    "Kind",
    "Labels",
    "Lit",
    "Lookup",
    "Node",
    "Nodes",
    "Ref",
    "Scope",
    "Unary",
    "choice_labels",
    "compile_expr",
    "compile_number",
    "compile_text",
    "compile_truthy",
    "evaluate",
    "evaluate_number",
    "evaluate_text",
    "field_refs",
    "format_number",
    "lookup_key",
    "parse",
    "per_row",
    "scope_of",
    "server_problem",
    "string_to_number",
    "truthy",
]


def choice_labels(schema: FormSchema) -> dict[str, dict[str, str]]:
    """The choice labels of a form: field name -> choice name -> label for jr:choice-name(),
    and ``instance('list')`` -> choice name -> label for lookups in a choice list."""
    out: dict[str, dict[str, str]] = {}
    for f in schema.fields:
        if f.choices:
            labels = {c.name: c.label if c.label is not None else c.name for c in f.choices}
            out[f.name] = labels
            if f.list_name:
                out[lookup_key(f.list_name)] = labels
    return out
