"""Forms: XLSForm parsing and the form schema the rest of citizendata relies on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from citizendata.forms.schema import Choice, Field, FormSchema, Group

if TYPE_CHECKING:
    from citizendata.forms.xlsform import ParsedForm, merge_schemas, parse_xlsform

__all__ = ["Choice", "Field", "FormSchema", "Group", "ParsedForm", "merge_schemas", "parse_xlsform"]


def __getattr__(name: str) -> Any:
    # the XLSForm parser pulls in pyxform and openpyxl: loaded when first asked for
    if name in {"ParsedForm", "merge_schemas", "parse_xlsform"}:
        from citizendata.forms import xlsform

        return getattr(xlsform, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
