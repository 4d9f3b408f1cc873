"""Form attachments: the files an XForm needs on the phone besides itself.

ODK Collect downloads a form's attachments ("media files") from the OpenRosa manifest.
Some are only decoration (an image next to a label); others the form cannot work
without: the choices of ``select_one_from_file``/``select_multiple_from_file`` (a CSV,
XML or GeoJSON file), the lookup table of ``pulldata()``, the list behind a
``search()`` appearance and the ``itemsets.csv`` of ``select_one_external`` questions.
This module names the second kind, so a form is never accepted while phones would lack
one of them, and checks the names of uploaded attachments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from citizendata.errors import BadInput, Problem, Where
from citizendata.forms.schema import Field, FormSchema

__all__ = [
    "ITEMSETS",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "Need",
    "check_attachments",
    "check_name",
    "content_type",
    "label_media",
    "needed_files",
]

ITEMSETS = "itemsets.csv"  # the file ODK Collect reads select_one_external choices from
MAX_ATTACHMENTS = 100
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
_XF = "{http://www.w3.org/2002/xforms}"
_SRC = re.compile(r"^jr://file(?:-csv)?/(.+)$")
_SEARCH = re.compile(r"search\(\s*['\"]([^'\"]+)['\"]")
_PULLDATA = re.compile(r"pulldata\(\s*['\"]([^'\"]+)['\"]")
_INSTANCE = re.compile(r"instance\(\s*['\"]([^'\"]+)['\"]\s*\)")
# a plain file name: what Collect stores in the form's media folder
_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")
_TYPES = {".csv": "text/csv", ".xml": "text/xml", ".geojson": "application/geo+json",
          ".json": "application/json", ".png": "image/png", ".jpg": "image/jpeg",
          ".jpeg": "image/jpeg", ".mp3": "audio/mpeg", ".mp4": "video/mp4"}


@dataclass(frozen=True)
class Need:
    """A file the form cannot work without, and the survey row that needs it."""

    name: str
    feature: str
    field: str | None = None
    row: int | None = None
    column: str | None = None


def needed_files(schema: FormSchema, instance_srcs: Mapping[str, str]) -> list[Need]:
    """Files the phones must get: every external secondary instance of the XForm
    (``instance_srcs``: instance id → ``jr://file…`` URL), every ``search('x')`` list and
    ``itemsets.csv`` for select_one_external; each tied to the first field that uses it."""
    files = {iid: m.group(1) for iid, src in instance_srcs.items() if (m := _SRC.match(src))}
    needs: dict[str, Need] = {}

    for f in schema.fields:
        def need(name: str, feature: str, column: str, f: Field = f) -> None:
            needs.setdefault(name, Need(name, feature, f.path, f.row, column))

        exprs = (("calculation", f.calculation), ("relevant", f.relevant),
                 ("constraint", f.constraint), ("default", f.default),
                 ("choice_filter", f.choice_filter), ("required", f.required_if))
        for m in _SEARCH.finditer(f.appearance or ""):
            need(f"{m.group(1)}.csv", "search()", "appearance")
        if f.type.endswith("_from_file") and f.list_name:
            need(f.list_name, f"{f.type} {f.list_name}", "type")
        for column, text in exprs:
            for m in _PULLDATA.finditer(text or ""):
                need(files.get(m.group(1), f"{m.group(1)}.csv"), "pulldata()", column)
            for m in _INSTANCE.finditer(text or ""):
                if m.group(1) in files:
                    need(files[m.group(1)], f"instance('{m.group(1)}')", column)
        if f.type == "select_one_external":
            need(ITEMSETS, "select_one_external", "type")
    for name in files.values():
        needs.setdefault(name, Need(name, "an external secondary instance"))
    return list(needs.values())


_LABEL_MEDIA = re.compile(r"jr://(?:images|audio|video|file)/([^<\"'\s]+)")


def label_media(xform: str) -> list[str]:
    """Files the XForm's labels show (``media::image`` and the like), which phones only
    display when they were uploaded; the form works without them."""
    return sorted({m.group(1) for m in _LABEL_MEDIA.finditer(xform)})


def check_name(name: str, filename: str) -> str:
    """An attachment's file name as phones store it, or BadInput form.attachment_invalid."""
    base = PurePosixPath(name.replace("\\", "/")).name
    if base != name or not _NAME.match(name) or name in (".", ".."):
        raise BadInput("form.attachment_invalid",
                       f"The attachment name {name!r} is not a plain file name.",
                       where=Where(file=filename),
                       fix="Upload the file under the name the form uses, e.g. 'villages.csv'.")
    return name


def check_attachments(needs: list[Need], given: Mapping[str, bytes], filename: str) -> None:
    """BadInput form.attachment_missing naming every needed file that was not given."""
    missing = [n for n in needs if n.name not in given]
    if not missing:
        return
    problems = [Problem(
        "form.attachment_missing",
        f"{n.feature} needs the file '{n.name}'"
        + (f" (field '{n.field}'" + (f", survey row {n.row})" if n.row else ")") if n.field
           else ""),
        where=Where(file=filename, sheet="survey" if n.field else None, row=n.row,
                    column=n.column, field=n.field),
        fix=f"Upload '{n.name}' with the form as a form attachment.",
    ) for n in missing]
    names = "; ".join(f"{n.name!r} ({n.feature}" + (f", survey row {n.row})" if n.row else ")")
                      for n in missing)
    raise BadInput("form.attachment_missing",
                   f"The form needs {len(missing)} attachment file(s) that were not uploaded "
                   f"with it: {names}. Phones could not fill the form without them.",
                   where=problems[0].where, problems=problems,
                   details={"missing": [n.name for n in missing]})


def content_type(name: str) -> str:
    """The media type an attachment is served with."""
    return _TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
