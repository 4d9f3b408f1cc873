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
    string_to_number,
    truthy,
)
from citizendata.validate.expr.parser import (
    FUNCTIONS,
    Binary,
    Call,
    Kind,
    Lit,
    Node,
    Ref,
    Unary,
    field_refs,
    parse,
)

__all__ = [
    "FUNCTIONS",
    "Binary",
    "Call",
    "Kind",
    "Labels",
    "Lit",
    "Node",
    "Ref",
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
    "parse",
    "string_to_number",
    "truthy",
]


def choice_labels(schema: FormSchema) -> dict[str, dict[str, str]]:
    """The jr:choice-name() lookup of a form: field name -> choice name -> label."""
    out: dict[str, dict[str, str]] = {}
    for f in schema.fields:
        if f.choices:
            out[f.name] = {c.name: c.label if c.label is not None else c.name for c in f.choices}
    return out
