"""The languages a form can be filled in, read from its XForm.

An XLSForm with ``label::English (en)`` and ``label::Swahili (sw)`` columns becomes an
XForm with ``<translation lang="English (en)" default="true()">`` and ``<translation
lang="Swahili (sw)">`` under ``<itext>``; the default one is the form's
``default_language`` (else the first). :func:`form_languages` lists them in the XForm's
order, each split into its name and its code when the author wrote one ("English (en)" →
"English", "en"). A form written with plain ``label`` columns only has one unnamed language:
the list is empty. A form that mixes plain ``label`` with ``label::…`` columns has the
unnamed one too, which pyxform writes as ``lang="default"``: it is listed by that name, as
the form engine's language switch shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from defusedxml import ElementTree as SafeET

__all__ = ["FormLanguage", "form_languages", "split_language"]

_XF = "{http://www.w3.org/2002/xforms}"
# "Swahili (sw)", "Português (pt-BR)": a name, then a language code in brackets
_NAMED = re.compile(r"^(?P<name>.*?)\s*\((?P<code>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\)$")
_UNNAMED = "default"


@dataclass(frozen=True)
class FormLanguage:
    """One of a form's languages: as the XForm writes it, its name, its code (None when the
    author gave none) and whether the form opens in it."""

    lang: str
    name: str
    code: str | None
    default: bool = False

    def to_dict(self) -> dict[str, str | bool | None]:
        """The language as JSON."""
        return {"lang": self.lang, "name": self.name, "code": self.code,
                "default": self.default}


def split_language(lang: str) -> tuple[str, str | None]:
    """``"English (en)"`` → ``("English", "en")``; ``"Maa"`` → ``("Maa", None)``."""
    text = " ".join(lang.split())
    found = _NAMED.match(text)
    if found and found.group("name"):
        return found.group("name"), found.group("code")
    return text, None


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true()", "true", "1")


def form_languages(xform_xml: str | bytes) -> list[FormLanguage]:
    """The form's languages in the XForm's order, the default one marked (exactly one when
    the form has any: the one marked ``default="true()"``, else the first)."""
    data = xform_xml.encode("utf-8") if isinstance(xform_xml, str) else xform_xml
    doc = SafeET.fromstring(data)
    model = doc.find(f".//{_XF}model")
    if model is None:
        return []
    found: list[tuple[str, bool]] = []
    for tr in model.findall(f"{_XF}itext/{_XF}translation"):
        lang = " ".join(str(tr.get("lang") or "").split())
        if lang and lang not in (seen for seen, _ in found):
            found.append((lang, _is_true(tr.get("default"))))
    if all(lang == _UNNAMED for lang, _ in found):  # one unnamed language, or none
        return []
    marked = next((lang for lang, default in found if default), found[0][0])
    return [FormLanguage(lang, *split_language(lang), default=lang == marked)
            for lang, _ in found]
