"""Forms: XLSForm parsing and the form schema the rest of citizendata relies on."""

from citizendata.forms.schema import Choice, Field, FormSchema, Group
from citizendata.forms.xlsform import ParsedForm, merge_schemas, parse_xlsform

__all__ = ["Choice", "Field", "FormSchema", "Group", "ParsedForm", "merge_schemas", "parse_xlsform"]
