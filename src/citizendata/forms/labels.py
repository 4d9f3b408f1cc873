"""Question and choice labels in each of a form's own languages, read from its XForm.

A form's schema keeps its labels in the default language only; the XForm keeps every
language as ``itext`` translations (``label::Swahili (sw)`` in the XLSForm becomes
``<translation lang="Swahili (sw)">``). :func:`form_labels` picks the form language
that matches an interface language (``sw`` → ``Swahili (sw)``) and falls back to the
form's default language, then to the schema's labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET

from citizendata.forms.schema import FormSchema

__all__ = ["FormLabels", "form_labels", "itext", "pick_language"]

_XF = "{http://www.w3.org/2002/xforms}"
# an interface language's names as a form author may write them in a label column
_NAMES: Mapping[str, tuple[str, ...]] = {
    "en": ("english", "en"), "sw": ("swahili", "kiswahili", "sw"),
    "es": ("spanish", "español", "espanol", "es"), "fr": ("french", "français", "francais", "fr"),
}


@dataclass(frozen=True)
class FormLabels:
    """Labels of one form in one of its languages (``language`` None: the schema's own)."""

    language: str | None
    fields: dict[str, str] = field(default_factory=dict)  # path → label (fields and groups)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # list → name → label
    # path → {"constraint" | "required": the form's own message in this language}
    messages: dict[str, dict[str, str]] = field(default_factory=dict)

    def field_label(self, path: str, fallback: str | None = None) -> str:
        """A question's (or group's) label, else ``fallback``, else its path."""
        return self.fields.get(path) or fallback or path

    def choice_label(self, list_name: str | None, name: str) -> str:
        """A choice's label, else its name."""
        return self.choices.get(list_name or "", {}).get(name) or name

    def message(self, path: str, kind: str, fallback: str) -> str:
        """A question's constraint or required message in this language, else ``fallback``."""
        return self.messages.get(path, {}).get(kind) or fallback


def itext(xform_xml: str) -> tuple[str | None, dict[str, dict[str, str]]]:
    """The XForm's root element name and its translations: language → text id → text."""
    doc = SafeET.fromstring(xform_xml.encode("utf-8"))
    model = doc.find(f".//{_XF}model")
    if model is None:
        return None, {}
    out: dict[str, dict[str, str]] = {}
    for tr in model.findall(f"{_XF}itext/{_XF}translation"):
        texts = out.setdefault(str(tr.get("lang") or "default"), {})
        for t in tr.findall(f"{_XF}text"):
            value = next((v for v in t.findall(f"{_XF}value") if v.get("form") is None), None)
            if value is not None and t.get("id"):
                texts[str(t.get("id"))] = " ".join("".join(value.itertext()).split())
    primary = next((i for i in model.findall(f"{_XF}instance") if "id" not in i.attrib), None)
    root = next(iter(primary), None) if primary is not None else None
    return (root.tag.rsplit("}", 1)[-1] if root is not None else None), out


def pick_language(languages: tuple[str, ...] | list[str], default: str | None,
                  interface: str | None) -> str | None:
    """The form language matching an interface language code, else the form's default
    (None: the unnamed language of plain ``label`` columns)."""
    if interface:
        code = interface.lower()
        names = _NAMES.get(code, (code,))
        for lang in languages:
            low = lang.lower()
            if low.endswith(f"({code})") or low == code or low.split(" ")[0] in names:
                return lang
    return default if default in languages else None


def _choice_ids(xform_xml: str) -> dict[str, dict[str, str]]:
    """Secondary instances of choices: list name → itext id → choice name."""
    doc = SafeET.fromstring(xform_xml.encode("utf-8"))
    out: dict[str, dict[str, str]] = {}
    model = doc.find(f".//{_XF}model")
    for inst in model.findall(f"{_XF}instance") if model is not None else []:
        list_name = inst.get("id")
        if not list_name:
            continue
        for item in inst.iter(f"{_XF}item"):
            tid, name = item.find(f"{_XF}itextId"), item.find(f"{_XF}name")
            if tid is not None and name is not None and tid.text and name.text:
                out.setdefault(list_name, {})[tid.text] = name.text
    return out


def form_labels(xform_xml: str | None, schema: FormSchema, interface: str | None
                ) -> FormLabels:
    """A form's labels in the form language best matching ``interface``.

    Anything the XForm does not translate keeps the schema's label (the default language).
    """
    fields = {g.path: g.label for g in schema.groups if g.label}
    fields.update({f.path: f.label for f in schema.fields if f.label})
    choices = {f.list_name: {c.name: c.label or c.name for c in f.choices}
               for f in schema.fields if f.list_name}
    if not xform_xml:
        return FormLabels(None, fields, choices)
    root, texts = itext(xform_xml)
    languages = [lang for lang in texts if lang != "default"]
    lang = pick_language(languages, schema.default_language, interface)
    chosen = texts.get(lang) if lang else texts.get("default")
    if chosen is None:  # nothing matches and no unnamed language: the schema's labels stand
        return FormLabels(None, fields, choices)
    prefix = f"/{root}/"
    messages: dict[str, dict[str, str]] = {}
    for tid, text in chosen.items():
        for suffix, kind in ((":jr:constraintMsg", "constraint"), (":jr:requiredMsg",
                                                                   "required")):
            if tid.startswith(prefix) and tid.endswith(suffix) and text:
                messages.setdefault(tid[len(prefix):-len(suffix)], {})[kind] = text
    for tid, text in chosen.items():
        if tid.startswith(prefix) and tid.endswith(":label") and text:
            path = tid[len(prefix):-len(":label")]
            if path in fields or not any(path.startswith(p + "/") for p in fields):
                fields[path] = text
            else:  # an old-style choice id: /root/question/choice:label
                q, _, name = path.rpartition("/")
                f = schema.find(q)
                if f is not None and f.list_name:
                    choices.setdefault(f.list_name, {})[name] = text
    for list_name, ids in _choice_ids(xform_xml).items():
        for tid, name in ids.items():
            if chosen.get(tid):
                choices.setdefault(list_name, {})[name] = chosen[tid]
    return FormLabels(lang, fields, choices, messages)
