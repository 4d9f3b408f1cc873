"""Interface languages: gettext catalogues read from ``citizendata/locale``.

Every ``.po`` file under ``locale/<lang>/LC_MESSAGES/`` is one domain (``messages`` for
the interface, others per area: ``report``, ``errors`` …); all domains of a language are
merged into one catalogue, so templates and code call a single ``_()``. English is the
source language and needs no catalogue. The language of the current request or build
is a context variable, set with :func:`use_locale`; nothing is read at import time.

Adding a language is adding a folder ``locale/<lang>/LC_MESSAGES/`` with its ``.po``
files: :data:`LANGUAGES` lists English and every such folder, each named in its own
language (from :data:`NAMES`, else from Babel's locale data, else the code).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "NAMES",
    "catalogue",
    "current_language",
    "gettext",
    "languages",
    "negotiate",
    "ngettext",
    "reload",
    "use_locale",
]

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "en"
# each language's own name, as a language switch shows it (a language not named here is
# named by Babel's locale data)
NAMES: Mapping[str, str] = {"en": "English", "sw": "Kiswahili", "es": "Español",
                            "fr": "Français", "pt": "Português", "ar": "العربية",
                            "am": "አማርኛ", "ha": "Hausa", "yo": "Yorùbá", "so": "Soomaali",
                            "rw": "Ikinyarwanda", "lg": "Luganda", "zu": "isiZulu"}


def _own_name(code: str) -> str:
    if code in NAMES:
        return NAMES[code]
    try:
        from babel import Locale

        name = Locale.parse(code).get_display_name(code)
    except Exception:  # an unknown code is shown as it is
        return code
    return name[:1].upper() + name[1:] if name else code


@cache
def languages() -> dict[str, str]:
    """Code → own name: English, then every folder of ``locale`` that holds a ``.po`` file."""
    found = {DEFAULT_LANGUAGE: _own_name(DEFAULT_LANGUAGE)}
    if LOCALE_DIR.is_dir():
        for folder in sorted(LOCALE_DIR.iterdir()):
            if folder.name != DEFAULT_LANGUAGE and any((folder / "LC_MESSAGES").glob("*.po")):
                found[folder.name] = _own_name(folder.name)
    return found


class _Languages(Mapping[str, str]):
    """:func:`languages` as a read-only mapping, read when first used (not at import)."""

    def __getitem__(self, code: str) -> str:
        return languages()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(languages())

    def __len__(self) -> int:
        return len(languages())

    def __repr__(self) -> str:
        return f"LANGUAGES({languages()!r})"


LANGUAGES: Mapping[str, str] = _Languages()


def reload() -> None:
    """Forget the catalogues and languages read so far (after a catalogue changed)."""
    languages.cache_clear()
    catalogue.cache_clear()


_current: ContextVar[str] = ContextVar("citizendata_language", default=DEFAULT_LANGUAGE)


@cache
def catalogue(language: str) -> Mapping[str | tuple[str, str], str | tuple[str, ...]]:
    """msgid → translation for one language, all its domains merged (empty for English)."""
    from babel.messages.pofile import read_po

    merged: dict[str | tuple[str, str], str | tuple[str, ...]] = {}
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        with po.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if not message.id or message.fuzzy:
                    continue
                if isinstance(message.id, tuple | list):
                    # two forms are used (one, other: see _plural_index); a catalogue
                    # written with CLDR's three for es/fr ('many') leaves the third empty
                    strings = tuple(message.string or ())[:2]
                    if strings and all(strings):
                        merged[tuple(message.id)] = strings  # type: ignore[index]
                elif message.string:
                    merged[str(message.id)] = str(message.string)
    return merged


def current_language() -> str:
    """The language of the current request or build."""
    return _current.get()


@contextmanager
def use_locale(language: str | None) -> Iterator[str]:
    """Translate into ``language`` (an unknown one falls back to English) inside the block."""
    chosen = language if language is not None and language in LANGUAGES else DEFAULT_LANGUAGE
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """``message`` in the current language, or as written when there is no translation."""
    found = catalogue(_current.get()).get(message)
    return found if isinstance(found, str) else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language."""
    language = _current.get()
    forms = catalogue(language).get((singular, plural))
    if isinstance(forms, tuple) and forms:
        return forms[_plural_index(language, n, len(forms))]
    return singular if n == 1 else plural


def _plural_index(language: str, n: int, count: int) -> int:
    # the four languages here have two forms: one, other (French counts 0 as one)
    one = n in (0, 1) if language == "fr" else n == 1
    return 0 if one or count == 1 else 1


def negotiate(accept_language: str | None, *, default: str = DEFAULT_LANGUAGE) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, i, tag.strip().lower()))
    for neg_q, _, tag in sorted(ranked):
        base = tag.replace("_", "-").split("-", 1)[0]
        if neg_q < 0 and base in LANGUAGES:
            return base
    return default
