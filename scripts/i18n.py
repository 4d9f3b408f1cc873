"""Translation catalogues: extract the messages, check every language, update a domain.

    PYTHONPATH=src python scripts/i18n.py extract          # → src/citizendata/locale/messages.pot
    PYTHONPATH=src python scripts/i18n.py check            # what each language still lacks
    PYTHONPATH=src python scripts/i18n.py update DOMAIN    # add the missing msgids to DOMAIN.po

``extract`` reads every ``_()`` / ``gettext`` / ``ngettext`` call with a literal string in
``src/citizendata/**/*.py`` (Babel's Python extractor) and in every Jinja template under
``src/citizendata`` (``jinja2.ext.babel_extract``), plus each error code's title and
default fix from :data:`citizendata.errors.CATALOGUE` (the ``errors`` domain: the title is
shown on error pages and as ``error.title`` in JSON, the fix under "What to do" on error
pages), and writes them to ``locale/messages.pot``.

``check`` compares the extracted messages with each language's catalogues (all domains of
a language are merged, as at run time) and lists the msgids that are missing, empty or
fuzzy; it exits with status 1 when any language lacks one.

``update DOMAIN`` adds every msgid a language lacks to ``locale/<lang>/LC_MESSAGES/DOMAIN.po``
as an empty entry for translators (``--lang`` for one language; a new language is created
by ``update messages --lang pt``: the folder is all it takes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "citizendata"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "messages.pot"
TEMPLATE_SUFFIXES = (".html", ".j2", ".jinja", ".xml", ".txt", ".md")
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "gettext": None, "ngettext": (1, 2)}

MessageId = str | tuple[str, str]


@dataclass
class Found:
    """One message and where it was found."""

    id: MessageId
    locations: list[tuple[str, int]]
    comments: list[str]
    error_title: bool = False


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _add(found: dict[MessageId, Found], msgid: MessageId, where: tuple[str, int],
         comments: Iterable[str] = ()) -> None:
    entry = found.setdefault(msgid, Found(msgid, [], []))
    entry.locations.append(where)
    entry.comments.extend(c for c in comments if c not in entry.comments)


def _messages(method: str, path: Path, options: dict[str, str] | None = None
              ) -> Iterator[tuple[int, MessageId, list[str]]]:
    with path.open("rb") as fh:
        for lineno, message, comments, _context in extract(
                method, fh, keywords=KEYWORDS, comment_tags=("i18n:", "Translators:"),
                options=options or {}, strip_comment_tags=True):
            if isinstance(message, tuple):
                if len(message) < 2 or not message[0] or not message[1]:
                    continue
                yield lineno, (str(message[0]), str(message[1])), list(comments)
            elif message:
                yield lineno, str(message), list(comments)


def template_files() -> list[Path]:
    """Every Jinja template of the package (server pages, release report, quality report)."""
    return sorted(p for folder in PACKAGE.rglob("templates") if folder.is_dir()
                  for p in folder.rglob("*") if p.suffix in TEMPLATE_SUFFIXES and p.is_file())


def python_files() -> list[Path]:
    """Every Python module of the package."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def error_texts() -> dict[str, tuple[str, str]]:
    """Error code → its English title and default fix (the ``errors`` domain)."""
    sys.path.insert(0, str(ROOT / "src"))
    from citizendata.errors import CATALOGUE

    return {code: (spec.title, spec.fix) for code, spec in CATALOGUE.items()}


def extracted() -> dict[MessageId, Found]:
    """Every message of the interface, the templates and the error catalogue."""
    found: dict[MessageId, Found] = {}
    for path in python_files():
        for lineno, msgid, comments in _messages("python", path):
            _add(found, msgid, (_rel(path), lineno), comments)
    for path in template_files():
        options = {"extensions": "jinja2.ext.do,jinja2.ext.loopcontrols",
                   "newstyle_gettext": "true", "trimmed": "false"}
        for lineno, msgid, comments in _messages("jinja2.ext:babel_extract", path, options):
            _add(found, msgid, (_rel(path), lineno), comments)
    for code, (title, fix) in error_texts().items():
        _add(found, title, ("src/citizendata/errors.py", 0), [f"error code {code}"])
        found[title].error_title = True
        if fix:
            _add(found, fix, ("src/citizendata/errors.py", 0), [f"what to do, error code {code}"])
            found[fix].error_title = True
    return found


def write_pot(found: dict[MessageId, Found], path: Path = POT) -> None:
    """The template every language's catalogues are checked against."""
    catalog = Catalog(project="citizendata", msgid_bugs_address="",
                      copyright_holder="citizendata contributors", fuzzy=False)
    for msgid in sorted(found, key=lambda m: m if isinstance(m, str) else m[0]):
        entry = found[msgid]
        catalog.add(msgid, locations=entry.locations, auto_comments=entry.comments,
                    flags=("python-format",) if "%(" in (msgid if isinstance(msgid, str)
                                                         else msgid[0]) else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=96, omit_header=False, sort_output=False)


def languages() -> list[str]:
    """Every language with a folder of catalogues (English is the source, it has none)."""
    return sorted(p.name for p in LOCALE.iterdir()
                  if p.is_dir() and any((p / "LC_MESSAGES").glob("*.po")))


def translations(language: str) -> dict[MessageId, tuple[str, ...] | str | None]:
    """msgid → translation across all the language's domains (None when fuzzy)."""
    merged: dict[MessageId, tuple[str, ...] | str | None] = {}
    for po in sorted((LOCALE / language / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if not message.id:
                    continue
                key: MessageId = (tuple(message.id)[:2] if isinstance(message.id, tuple | list)
                                  else str(message.id))  # type: ignore[assignment]
                value: tuple[str, ...] | str | None
                if message.fuzzy:
                    value = None
                elif isinstance(message.string, tuple | list):
                    # the two forms used at run time (one, other); a third is ignored
                    value = tuple(str(s or "") for s in message.string)[:2]
                else:
                    value = str(message.string or "")
                # a translation in any domain is enough; an empty one elsewhere does not undo it
                if merged.get(key) in (None, "") or key not in merged:
                    merged[key] = value
    return merged


def missing(language: str, found: Iterable[MessageId]) -> list[MessageId]:
    """The msgids ``language`` lacks: absent, empty or fuzzy in every domain."""
    have = translations(language) if (LOCALE / language).is_dir() else {}
    out = []
    for msgid in found:
        value = have.get(msgid)
        if value is None or value == "" or (isinstance(value, tuple) and not all(value)):
            out.append(msgid)
    return out


def _show(msgid: MessageId) -> str:
    return repr(msgid) if isinstance(msgid, str) else f"{msgid[0]!r} / {msgid[1]!r}"


def clashes(language: str) -> dict[MessageId, dict[str, str | tuple[str, ...]]]:
    """msgids translated differently in two domains (at run time the later file wins)."""
    seen: dict[MessageId, dict[str, str | tuple[str, ...]]] = {}
    for po in sorted((LOCALE / language / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if not message.id or not message.string or message.fuzzy:
                    continue
                key: MessageId = (str(message.id) if isinstance(message.id, str)
                                  else (str(message.id[0]), str(message.id[1])))
                value = (str(message.string) if isinstance(message.string, str)
                         else tuple(str(x) for x in message.string)[:2])
                seen.setdefault(key, {})[po.stem] = value
    return {k: v for k, v in seen.items() if len(set(v.values())) > 1}


def check(found: dict[MessageId, Found]) -> int:
    """Print what each language lacks; 1 when any lacks something.

    Also lists (without failing) msgids that two domains translate differently: the
    merged catalogue uses the alphabetically later domain's, so agree on one.
    """
    bad = 0
    for language in languages():
        lacking = missing(language, found)
        print(f"{language}: {len(found) - len(lacking)}/{len(found)} translated")
        for msgid in lacking:
            where = ", ".join(f"{f}:{n}" for f, n in found[msgid].locations[:3])
            print(f"  missing {_show(msgid)}  ({where})")
        for msgid, by_domain in clashes(language).items():
            used = by_domain[sorted(by_domain)[-1]]
            print(f"  differs {_show(msgid)}: " + "; ".join(
                f"{d} {v!r}" for d, v in sorted(by_domain.items())) + f" (used: {used!r})")
        bad += len(lacking)
    return 1 if bad else 0


def _ids_in(path: Path, language: str) -> set[MessageId]:
    if not path.exists():
        return set()
    with path.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else tuple(m.id)[:2]  # type: ignore[misc]
                for m in read_po(fh, locale=language) if m.id}


def update(found: dict[MessageId, Found], domain: str, only: str | None = None) -> None:
    """Add the msgids each language lacks to its ``domain``.po as empty entries.

    Error titles and fixes go only to the ``errors`` domain, every other message only to the others;
    a msgid already present (even empty) in another domain file of the language is left
    where it is.
    """
    targets = [only] if only else languages()
    for language in targets:
        folder = LOCALE / language / "LC_MESSAGES"
        path = folder / f"{domain}.po"
        elsewhere: set[MessageId] = set()
        for other in folder.glob("*.po") if folder.is_dir() else []:
            if other != path:
                elsewhere |= _ids_in(other, language)
        lacking = [m for m in missing(language, found)
                   if m not in elsewhere and found[m].error_title == (domain == "errors")]
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=language)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, domain=domain, project="citizendata",
                              fuzzy=False)
        added = 0
        for msgid in lacking:
            if msgid in catalog:
                continue
            entry = found[msgid]
            catalog.add(msgid, string=("", "") if isinstance(msgid, tuple) else "",
                        locations=entry.locations, auto_comments=entry.comments)
            added += 1
        with path.open("wb") as fh:
            write_po(fh, catalog, width=96, omit_header=False)
        print(f"{_rel(path)}: {added} new empty entr{'y' if added == 1 else 'ies'}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write locale/messages.pot")
    sub.add_parser("check", help="list the msgids each language lacks (exit 1 if any)")
    up = sub.add_parser("update", help="add the missing msgids to a domain's .po files")
    up.add_argument("domain", help="the domain file to add to (messages, errors, report …)")
    up.add_argument("--lang", help="only this language (a new one is created)")
    args = parser.parse_args(argv)
    found = extracted()
    if args.command == "extract":
        write_pot(found)
        print(f"wrote {_rel(POT)} ({len(found)} messages)")
        return 0
    if args.command == "check":
        return check(found)
    update(found, args.domain, args.lang)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
