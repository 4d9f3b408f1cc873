"""Languages: complete catalogues, placeholders, error titles, and how a language is chosen.

The completeness tests fail whenever a ``_()`` string (in Python code or any Jinja template
under src/citizendata) or an error code's title lacks a translation in a language that has
a catalogue folder: translate it in your own domain's .po (``scripts/i18n.py check`` lists
what is missing, ``scripts/i18n.py update DOMAIN`` adds the empty entries).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from citizendata import i18n
from citizendata.config import Settings
from citizendata.errors import CATALOGUE, BadInput
from citizendata.server.app import create_app
from citizendata.server.middleware import LANGUAGE_COOKIE, language_href
from citizendata.store.models import AuditEvent
from citizendata.workspace import Workspace
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "citizendata"
HTML = {"Accept": "text/html,application/xhtml+xml"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
FOUND = SCRIPT.extracted()
TRANSLATED = [code for code in i18n.languages() if code != i18n.DEFAULT_LANGUAGE]


def _where(msgid: Any) -> str:
    return ", ".join(f"{f}:{n}" for f, n in FOUND[msgid].locations[:2])


# -- (a) every message is translated in every language ------------------------------------
def test_the_four_languages_have_catalogues() -> None:
    assert {"en", "sw", "es", "fr"} <= set(i18n.LANGUAGES)
    assert i18n.LANGUAGES["sw"] == "Kiswahili" and i18n.LANGUAGES["fr"] == "Français"


def test_extraction_finds_code_templates_and_error_titles() -> None:
    assert "Skip to content" in FOUND  # base.html
    assert "owner" in FOUND  # routers/html.py
    assert ("%(num)d submission", "%(num)d submissions") in FOUND  # ngettext in form.html
    assert all(spec.title in FOUND and spec.fix in FOUND for spec in CATALOGUE.values())


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    lacking = SCRIPT.missing(language, FOUND)
    assert not lacking, (
        f"{len(lacking)} message(s) have no {language} translation (add them to your "
        f"domain's locale/{language}/LC_MESSAGES/<domain>.po):\n"
        + "\n".join(f"  {m!r}  ({_where(m)})" for m in lacking))


def _entries(language: str) -> Iterator[tuple[Path, Any]]:
    for po in sorted((SOURCE / "locale" / language / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if message.id:
                    yield po, message


# -- (b) placeholders survive translation --------------------------------------------------
def _formats(text: str, names: set[str]) -> bool:
    try:
        text % dict.fromkeys(names, 1)
    except (TypeError, ValueError, KeyError):
        return False
    return True


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = []
    for po, message in _entries(language):
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = (message.string if isinstance(message.string, tuple | list)
                   else (message.string,))
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            if not text:
                continue
            if set(PLACEHOLDER.findall(text)) != wanted:
                wrong.append(f"{po.name}: {ids[0]!r} → {text!r}")
                continue
            if _formats(ids[-1], wanted) and not _formats(text, wanted):
                # newstyle gettext formats every string: a stray % breaks the page
                wrong.append(f"{po.name}: {text!r} cannot be %-formatted (write %% for %)")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("language", TRANSLATED)
def test_plural_forms_are_complete(language: str) -> None:
    for po, message in _entries(language):
        if isinstance(message.id, tuple | list):
            # the two forms citizendata uses (one, other) are filled
            assert len(message.string) >= 2 and all(message.string[:2]), (po.name, message.id)


# -- error titles: one per code, in every language -----------------------------------------
_RAISED = re.compile(
    r"\b(?:BadInput|NotFound|Conflict|Forbidden|Unauthenticated|PayloadTooLarge|"
    r"UnsupportedMediaType|TooManyRequests|ServerMisconfigured|CitizenDataError|Problem)"
    r"\(\s*\"([a-z_]+(?:\.[a-z_]+)?)\"")


def _codes_raised() -> set[str]:
    codes: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        codes.update(_RAISED.findall(path.read_text(encoding="utf-8")))
    return codes


def _codes_documented() -> set[str]:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+)?)` \| [A-Z]\w+ \|", text, flags=re.MULTILINE))


def test_every_raised_and_documented_code_is_in_the_catalogue() -> None:
    raised, documented = _codes_raised(), _codes_documented()
    assert len(raised) > 50, "the pattern no longer finds the raised codes"
    assert documented == set(CATALOGUE)
    assert raised <= set(CATALOGUE), sorted(raised - set(CATALOGUE))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_error_code_has_a_title_in_the_language(language: str) -> None:
    table = i18n.catalogue(language)
    codes = set(CATALOGUE) | _codes_documented() | _codes_raised()
    lacking = sorted(c for c in codes
                     if c not in CATALOGUE or not table.get(CATALOGUE[c].title))
    assert not lacking, f"error titles without a {language} translation: {lacking}"
    no_fix = sorted(c for c in CATALOGUE if CATALOGUE[c].fix and not table.get(CATALOGUE[c].fix))
    assert not no_fix, f"error fixes without a {language} translation: {no_fix}"


# -- (c) negotiation -------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "expected"), [
    (None, "en"),
    ("", "en"),
    ("sw", "sw"),
    ("sw-KE,sw;q=0.9,en;q=0.8", "sw"),
    ("es-MX,es;q=0.9", "es"),
    ("fr-CA;q=0.8, sw;q=0.9, en;q=0.1", "sw"),
    ("de-DE, fr;q=0.5, en;q=0.4", "fr"),
    ("sw;q=0, fr;q=0.2", "fr"),
    ("sw;q=0", "en"),
    ("zz, *;q=0.1", "en"),
    ("sw_TZ", "sw"),
    ("fr;q=bogus, es", "es"),
])
def test_accept_language_with_qualities_and_regions(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_an_unknown_language_falls_back_to_english() -> None:
    with i18n.use_locale("zz") as chosen:
        assert chosen == "en" and i18n.gettext("Log in") == "Log in"
    with i18n.use_locale("fr"):
        assert i18n.gettext("Log in") == "Se connecter"
        assert i18n.ngettext("%(num)d entry", "%(num)d entries", 0) == "%(num)d entrée"
    with i18n.use_locale("es"):
        assert i18n.ngettext("%(num)d entry", "%(num)d entries", 0) == "%(num)d entradas"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """'amina' (no saved language) and 'baraka' (saved Spanish), each owning a project."""
    root = tmp_path_factory.mktemp("i18n")
    ws = Workspace(Settings(workspace=root / "ws", database_url=None, mode="test"))
    admin = ws.create_admin("amina", "amina-password")
    admin.create_project({"slug": "maji", "name": "Maji safi", "initiator": {
        "slug": "wanawake", "name": "Wanawake wa Maji"}})
    admin.add_form("maji", make_xlsform(
        [{"type": "integer", "name": "litres", "label": "Litres"},
         {"type": "begin_repeat", "name": "taps", "label": "Taps"},
         {"type": "text", "name": "tap", "label": "Tap"},
         {"type": "end_repeat"}],
        settings={"form_id": "kisima", "version": "1", "form_title": "Kisima"}), "k.xlsx")
    admin.submit("maji", "kisima", {"meta": {"instanceID": "uuid:k1"}, "litres": 20,
                                    "taps": [{"tap": "a"}, {"tap": "b"}]})
    admin.create_user("baraka", "baraka-password")
    admin.add_member("maji", "baraka", "collector")
    ws.login("baraka", "baraka-password").set_language("es")
    ws.close()
    return root


@pytest.fixture
def served(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    shutil.copytree(template / "ws", tmp_path / "ws")
    ws = Workspace(Settings(workspace=tmp_path / "ws", database_url=None, mode="test"))
    yield ws
    ws.close()


def _browser(ws: Workspace, **headers: str) -> TestClient:
    return TestClient(create_app(ws), follow_redirects=False, headers={**HTML, **headers})


def _log_in(http: TestClient, user: str) -> None:
    page = http.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, page
    r = http.post("/login", data={"username": user, "password": f"{user}-password",
                                  "csrf": token.group(1), "next": "/projects"})
    assert r.status_code == 303, r.text


def _lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', page)
    assert found
    return found.group(1)


def test_accept_language_chooses_the_page_language(served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"}) as http:
        page = http.get("/login")
        assert _lang(page.text) == "sw" and "<h1>Ingia</h1>" in page.text
        assert 'aria-label="Lugha"' in page.text
        # the switch names every language in its own language, the current one marked
        assert '<span aria-current="true" lang="sw">Kiswahili</span>' in page.text
        assert 'lang="fr" hreflang="fr">Français</a>' in page.text
        assert 'href="/login?lang=es"' in page.text


def test_the_switch_beats_accept_language_and_is_remembered_in_a_cookie(
        served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "sw"}) as http:
        switched = http.get("/login?lang=fr")
        assert _lang(switched.text) == "fr" and "Se connecter" in switched.text
        assert f"{LANGUAGE_COOKIE}=fr" in switched.headers["set-cookie"]
        assert switched.headers["content-language"] == "fr"
        assert "Accept-Language" in switched.headers["vary"]
        assert _lang(http.get("/login").text) == "fr"  # the cookie beats Accept-Language
        assert _lang(http.get("/login?lang=es").text) == "es"  # the switch beats the cookie
        assert _lang(http.get("/login?lang=xx").text) == "es"  # an unknown code is ignored
        # other query parameters survive a switch
        assert 'href="/login?next=%2Fprojects&amp;lang=fr"' in http.get(
            "/login?next=/projects").text


def test_the_switch_stays_on_this_site() -> None:
    from starlette.requests import Request

    def request(path: str, query: bytes = b"") -> Request:
        return Request({"type": "http", "method": "GET", "path": path, "query_string": query,
                        "headers": [], "server": ("testserver", 80), "scheme": "http"})

    assert language_href(request("//evil.example/x", b"page=2"), "fr") == (
        "/evil.example/x?page=2&lang=fr")
    assert language_href(request("/projects", b"lang=sw"), "es") == "/projects?lang=es"
    assert language_href(None, "sw") == "?lang=sw"


def test_a_users_saved_language_beats_cookie_and_accept_language(served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "sw"}) as http:
        http.cookies.set(LANGUAGE_COOKIE, "fr")
        _log_in(http, "baraka")
        page = http.get("/projects").text
        assert _lang(page) == "es" and "Sus proyectos" in page and "recolector" in page
        assert http.get("/projects").headers["content-language"] == "es"
        # …but the switch still wins for this request, and becomes the saved language
        assert _lang(http.get("/projects?lang=sw").text) == "sw"
        assert served.as_user("baraka").language() == "sw"


def test_switching_while_logged_in_saves_the_language_for_the_user(served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "sw"}) as http:
        _log_in(http, "amina")
        assert served.as_user("amina").language() is None
        assert _lang(http.get("/projects").text) == "sw"  # nothing saved: the browser decides
        page = http.get("/projects?lang=fr").text
        assert "Vos projets" in page and "propriétaire" in page
        assert served.as_user("amina").language() == "fr"
        events = served.run(lambda db: list(db.scalars(select(AuditEvent).where(
            AuditEvent.action == "user.set_language", AuditEvent.actor == "amina"))))
        assert [(e.actor, e.details) for e in events] == [("amina", {"language": "fr"})]
        http.post("/logout", data={})
    # another browser, no cookie, asking for Swahili: the saved French follows the user
    with _browser(served, **{"Accept-Language": "sw"}) as other:
        assert _lang(other.get("/login").text) == "sw"
        _log_in(other, "amina")
        page = other.get("/projects").text
        assert _lang(page) == "fr" and "Vos projets" in page


def test_error_pages_put_the_translated_title_above_the_english_detail(
        served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "sw"}) as http:
        _log_in(http, "amina")
        page = http.get("/projects/nope").text
        title = i18n.catalogue("sw")[CATALOGUE["not_found.project"].title]
        assert f"<h1>{title}</h1>" in page and _lang(page) == "sw"
        assert '<p lang="en">' in page and "nope" in page  # the precise detail, in English
        assert "not_found.project" in page and "Rudi kwenye miradi yako" in page
        # the catalogue's advice is translated; advice written for one case stays English
        assert i18n.catalogue("sw")[CATALOGUE["not_found.project"].fix] in page


def test_json_errors_carry_a_translated_title_and_the_unchanged_code_and_message(
        served: Workspace) -> None:
    token = served.as_user("amina").create_token("t")
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with TestClient(create_app(served)) as api:
        english = api.get("/api/v1/projects/nope", headers=auth).json()["error"]
        french = api.get("/api/v1/projects/nope",
                         headers={**auth, "Accept-Language": "fr-FR,fr;q=0.9"}).json()["error"]
    assert english["title"] == CATALOGUE["not_found.project"].title
    assert "language" not in english
    assert french["title"] == "Ce projet n’existe pas" and french["language"] == "fr"
    assert (french["code"], french["message"]) == (english["code"], english["message"])


def test_form_and_api_pages_in_swahili_and_french(served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "sw"}) as http:
        _log_in(http, "amina")
        page = http.get("/projects/maji/forms/kisima").text
        assert "wasilisho 1" in page and "Foleni ya mapitio" in page
        assert "<caption>Mawasilisho, mapya kwanza</caption>" in page
        assert "<td>imepokelewa</td>" in page and "<td>vipengele 2</td>" in page
        docs = http.get("/docs?lang=fr").text
        assert "<h1>API de citizendata" in docs
        assert 'La description lisible par machine se trouve à l’adresse <a href="/openapi.json">' \
            in docs


def test_login_failures_are_explained_in_the_page_language(served: Workspace) -> None:
    with _browser(served, **{"Accept-Language": "es"}) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
        assert token
        r = http.post("/login", data={"username": "amina", "password": "wrong-password",
                                      "csrf": token.group(1), "next": "/projects"})
        assert r.status_code == 401
        assert "Nombre de usuario o contraseña incorrectos." in r.text


# -- (d) adding a language is adding a folder -----------------------------------------------
PORTUGUESE = '''msgid ""
msgstr ""
"Language: pt\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Plural-Forms: nplurals=3; plural=(n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2);\\n"

msgid "Log in"
msgstr "Entrar"

msgid "%(num)d entry"
msgid_plural "%(num)d entries"
msgstr[0] "%(num)d entrada"
msgstr[1] "%(num)d entradas"
msgstr[2] ""

msgid "Language"
msgstr "Idioma"
'''


@pytest.fixture
def with_portuguese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    locale = tmp_path / "locale"
    shutil.copytree(SOURCE / "locale", locale)
    (locale / "pt" / "LC_MESSAGES").mkdir(parents=True)
    (locale / "pt" / "LC_MESSAGES" / "messages.po").write_text(PORTUGUESE, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    monkeypatch.setattr(SCRIPT, "LOCALE", locale)
    i18n.reload()
    yield locale
    monkeypatch.undo()
    i18n.reload()


def test_a_language_added_as_a_folder_is_offered_without_code_changes(
        with_portuguese: Path, served: Workspace) -> None:
    assert list(i18n.LANGUAGES)[:1] == ["en"] and i18n.LANGUAGES["pt"] == "Português"
    assert i18n.negotiate("pt-BR,pt;q=0.9") == "pt"
    with i18n.use_locale("pt"):  # CLDR's third form ('many') left empty: one and other used
        assert i18n.ngettext("%(num)d entry", "%(num)d entries", 5) == "%(num)d entradas"
        assert i18n.ngettext("%(num)d entry", "%(num)d entries", 1) == "%(num)d entrada"
    with _browser(served, **{"Accept-Language": "pt-BR"}) as http:
        page = http.get("/login").text
        assert _lang(page) == "pt" and "<h1>Entrar</h1>" in page
        assert '<span aria-current="true" lang="pt">Português</span>' in page
    # …and the completeness check now lists what Portuguese still lacks
    lacking = SCRIPT.missing("pt", FOUND)
    assert "Log in" not in lacking and "Password" in lacking
    assert ("%(num)d entry", "%(num)d entries") not in lacking


def test_an_unnamed_language_is_named_by_babel(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "locale" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(PORTUGUESE.replace("pt", "de"), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    i18n.reload()
    try:
        assert dict(i18n.LANGUAGES) == {"en": "English", "de": "Deutsch"}
    finally:
        monkeypatch.undo()
        i18n.reload()


# -- the library: a user's language is kept in the database (SQLite and PostgreSQL) ---------
def test_a_users_language_is_stored_and_audited(ws: Workspace) -> None:
    admin = ws.create_admin("zawadi", "zawadi-password")
    assert admin.language() is None
    assert admin.set_language("sw") == "sw" and admin.language() == "sw"
    admin.set_language("sw")  # unchanged: not audited again
    with pytest.raises(BadInput) as err:
        admin.set_language("klingon")
    assert err.value.code == "input.invalid" and "klingon" in err.value.message
    assert admin.set_language(None) is None and admin.language() is None
    events = ws.run(lambda db: [(e.action, e.details) for e in db.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.set_language")
        .order_by(AuditEvent.id))])
    assert events == [("user.set_language", {"language": "sw"}),
                      ("user.set_language", {"language": None})]
