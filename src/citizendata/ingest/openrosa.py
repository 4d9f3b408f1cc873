"""OpenRosa 1.0: submissions from ODK Collect and Enketo, the form list, and responses.

The instance XML becomes a payload as the form defines it: groups are objects,
repeats are lists (even with one occurrence), leaf text is kept exactly, and an
empty element is "". XML is parsed with defusedxml (no entities, no DTDs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Problem, Where
from citizendata.forms.schema import FormSchema
from citizendata.ingest.payload import (
    DEPRECATED_ID_PATH,
    INSTANCE_ID_PATH,
    ROOT_UUID_PATH,
    IncomingSubmission,
    SchemaIndex,
    misshapen_paths,
    pop_path,
    raise_problems,
    unknown_paths,
)

__all__ = [
    "OPENROSA_HEADERS",
    "FormListEntry",
    "formlist_xml",
    "instance_head",
    "instance_xml",
    "openrosa_headers",
    "parse_instance_xml",
    "response_xml",
]

OPENROSA_VERSION = "1.0"
OPENROSA_HEADERS: dict[str, str] = {"X-OpenRosa-Version": OPENROSA_VERSION}
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
RESPONSE_NS = "http://openrosa.org/http/response"


def openrosa_headers(max_bytes: int) -> dict[str, str]:
    """The OpenRosa response headers, announcing the largest submission accepted."""
    return {**OPENROSA_HEADERS, "X-OpenRosa-Accept-Content-Length": str(max_bytes)}


@dataclass(frozen=True)
class FormListEntry:
    """One form in the OpenRosa form list."""

    form_id: str
    name: str
    version: str
    hash_md5: str
    download_url: str
    manifest_url: str | None = None


def _escape(text: str, attr: bool = False) -> str:
    """XML-escape text; carriage returns become &#13; so they survive parsing."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    if attr:
        out = out.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return out


def formlist_xml(entries: Sequence[FormListEntry], base_url: str) -> str:
    """The OpenRosa xformsList document; relative URLs are joined to base_url."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f'<xforms xmlns="{XFORMS_LIST_NS}">']
    for e in entries:
        digest = e.hash_md5 if e.hash_md5.startswith("md5:") else f"md5:{e.hash_md5}"
        parts.append(
            "<xform>"
            f"<formID>{_escape(e.form_id)}</formID><name>{_escape(e.name)}</name>"
            f"<version>{_escape(e.version)}</version><hash>{_escape(digest)}</hash>"
            f"<downloadUrl>{_escape(urljoin(base_url, e.download_url))}</downloadUrl>"
            + (f"<manifestUrl>{_escape(urljoin(base_url, e.manifest_url))}</manifestUrl>"
               if e.manifest_url else "")
            + "</xform>"
        )
    parts.append("</xforms>")
    return "".join(parts)


MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"


def manifest_xml(files: Sequence[tuple[str, str, str]]) -> str:
    """The OpenRosa xformsManifest: (file name, md5 hex, download URL) per media file."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f'<manifest xmlns="{MANIFEST_NS}">']
    for name, md5, url in files:
        parts.append(f"<mediaFile><filename>{_escape(name)}</filename>"
                     f"<hash>md5:{_escape(md5)}</hash>"
                     f"<downloadUrl>{_escape(url)}</downloadUrl></mediaFile>")
    parts.append("</manifest>")
    return "".join(parts)


def response_xml(message: str, nature: str = "submit_success") -> str:
    """An OpenRosaResponse carrying one message for ODK Collect to show."""
    return (f'<OpenRosaResponse xmlns="{RESPONSE_NS}">'
            f'<message nature="{_escape(nature, attr=True)}">{_escape(message)}</message>'
            "</OpenRosaResponse>")


def _local(tag: Any) -> str:
    """An element name without its namespace (orx:meta is meta)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _TooDeep(Exception):
    """An element nests deeper than the limit (raised from inside the parser)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class _DepthLimitedBuilder:
    """A TreeBuilder that stops the parse at the first element deeper than ``limit``.

    expat itself does not recurse, but what walks the tree afterwards does; stopping at
    the limit also keeps a deep document from being built in memory at all.
    """

    def __init__(self, limit: int) -> None:
        self._tree = TreeBuilder()
        self._names: list[str] = []
        self.limit = limit

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._names.append(_local(tag))
        if len(self._names) > self.limit:
            raise _TooDeep("/".join(self._names[1:]))
        return self._tree.start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._names.pop()
        return self._tree.end(tag)

    def data(self, data: str) -> None:
        self._tree.data(data)

    def close(self) -> Element:
        return self._tree.close()


def _parse_xml(xml: bytes, max_depth: int) -> Element:
    """The instance XML parsed safely (no DTD, no entities), at most ``max_depth`` deep."""
    parser = DefusedXMLParser(target=_DepthLimitedBuilder(max_depth))
    try:
        parser.feed(xml)
        root: Element = parser.close()
        return root
    except _TooDeep as exc:
        expat = parser.parser
        raise BadInput("input.too_deep", f"The submission's elements nest deeper than {max_depth} "
                       f"levels (at <{exc.path.rsplit('/', 1)[-1]}>)",
                       where=Where(row=expat.CurrentLineNumber,
                                   position=expat.CurrentColumnNumber + 1,
                                   field=exc.path or None),
                       details={"limit": max_depth},
                       fix=f"Nest elements at most {max_depth} levels deep, as the form "
                           "defines them.") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise BadInput("intake.invalid_xml", f"The submission is not well-formed XML: {exc}",
                       where=Where(row=line, position=column)) from None
    except DefusedXmlException as exc:
        raise BadInput("intake.invalid_xml", f"The submission uses a forbidden XML feature: {exc}",
                       fix="Send the instance without a DTD or entity declarations.") from None


def _element_payload(elem: Element, prefix: str, index: SchemaIndex,
                     problems: list[Problem]) -> dict[str, Any]:
    """The children of an element as a payload object.

    An element with child elements is an object even where the form has a plain
    question, so that it is refused as misshapen (as in JSON) rather than cut to its text.
    """
    out: dict[str, Any] = {}
    for child in elem:
        name = _local(child.tag)
        if not name:
            continue  # comments and processing instructions
        path = f"{prefix}/{name}" if prefix else name
        if path in index.groups or len(child):
            value: Any = _element_payload(child, path, index, problems)
        else:
            value = child.text or ""
        if path in index.repeats:
            out.setdefault(name, []).append(value)
        elif name in out:
            problems.append(Problem("intake.invalid_xml",
                                    f"<{name}> appears more than once but '{path}' is not a repeat",
                                    where=Where(field=path)))
        else:
            out[name] = value
    return out


def parse_instance_xml(
    xml: bytes, schema_for: Callable[[str, str | None], FormSchema], *,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[str, IncomingSubmission]:
    """An XForm instance as (form id, submission); the schema comes from schema_for(form_id, version).

    Elements nested deeper than ``max_depth`` (the root is level 1) are refused with
    input.too_deep before the tree is built.
    """
    root = _parse_xml(xml, max_depth)
    form_id = root.get("id")
    if not form_id:
        raise BadInput("intake.invalid_xml", "The instance's root element has no 'id' attribute",
                       where=Where(field=_local(root.tag)))
    version = root.get("version")
    schema = schema_for(form_id, version)
    if _local(root.tag) != schema.root:
        raise BadInput("intake.form_mismatch",
                       f"The instance's root is <{_local(root.tag)}> but form '{form_id}' expects "
                       f"<{schema.root}>")
    index = SchemaIndex(schema)
    problems: list[Problem] = []
    payload = _element_payload(root, "", index, problems)
    instance_id = pop_path(payload, INSTANCE_ID_PATH)
    deprecated = pop_path(payload, DEPRECATED_ID_PATH)
    source_meta: dict[str, Any] = {}
    root_uuid = pop_path(payload, ROOT_UUID_PATH)
    if root_uuid is not None:
        source_meta[ROOT_UUID_PATH] = root_uuid
    if "formhub" in payload and not index.is_known("formhub"):
        source_meta["formhub"] = payload.pop("formhub")  # KoboToolbox adds formhub/uuid
    for path in unknown_paths(payload, index):
        problems.append(Problem("intake.unknown_field",
                                f"<{path}> is not a field of form '{form_id}'", where=Where(field=path)))
    for path in misshapen_paths(payload, index):
        # the code JSON intake gives for the same mistake
        problems.append(Problem("intake.invalid_submission",
                                f"<{path}> has the wrong shape for form '{form_id}': a question "
                                "holds text only, not child elements",
                                where=Where(field=path)))
    if not isinstance(instance_id, str) or not instance_id.strip():
        problems.append(Problem("intake.missing_instance_id",
                                "The instance has no meta/instanceID", where=Where(field=INSTANCE_ID_PATH)))
    raise_problems(problems)
    assert isinstance(instance_id, str)
    return form_id, IncomingSubmission(
        instance_id=instance_id,
        payload=payload,
        collected_at=index.collected_at(payload),
        form_version=version,
        deprecated_id=deprecated if isinstance(deprecated, str) and deprecated else None,
        source_meta=source_meta,
    )


def _write(node: Any, name: str, out: list[str]) -> None:
    """Append one element (a leaf, a group, or each occurrence of a repeat)."""
    if isinstance(node, list):
        for item in node:
            _write(item, name, out)
    elif isinstance(node, dict):
        out.append(f"<{name}>")
        for k, v in node.items():
            _write(v, k, out)
        out.append(f"</{name}>")
    elif node is None or node == "":
        out.append(f"<{name}/>")
    else:
        text = node if isinstance(node, str) else str(node).lower() if isinstance(node, bool) else str(node)
        out.append(f"<{name}>{_escape(text)}</{name}>")


def instance_xml(form: FormSchema, sub: IncomingSubmission) -> bytes:
    """A submission written back as an XForm instance, as ODK Collect would send it."""
    payload = {k: v for k, v in sub.payload.items() if k != "meta"}
    meta = dict(sub.payload.get("meta") or {})
    meta["instanceID"] = sub.instance_id
    if sub.deprecated_id:
        meta["deprecatedID"] = sub.deprecated_id
    payload["meta"] = meta
    version = sub.form_version if sub.form_version is not None else form.version
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<{form.root} xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
           f'id="{_escape(form.form_id, attr=True)}" version="{_escape(version, attr=True)}">']
    for k, v in payload.items():
        _write(v, k, out)
    out.append(f"</{form.root}>")
    return "".join(out).encode("utf-8")


def instance_head(xml: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH
                  ) -> tuple[str, str, str | None] | None:
    """(form id, meta/instanceID, meta/deprecatedID) of an instance, read before its answers.

    None when the XML cannot be read (too deep included) or names no form or instance
    id: parsing the whole instance then says what is wrong.
    """
    try:
        root = _parse_xml(xml, max_depth)
    except BadInput:
        return None
    meta = next((c for c in root if _local(c.tag) == "meta"), None)
    # kept exactly as parse_instance_xml keeps them, so both name the same submission
    found = {_local(c.tag): c.text or "" for c in meta or ()}
    form_id, instance_id = root.get("id"), found.get("instanceID", "")
    if not form_id or not instance_id.strip():
        return None
    return form_id, instance_id, found.get("deprecatedID") or None
