"""The web-form engine's built files as the package ships them, and how the server hands
them out (no browser): the build's manifest and its files, the fill page's script tag,
the service worker's headers, the web app manifest, the content policies, and which
Internet addresses the built JavaScript could reach at run time.
"""

from __future__ import annotations

import gzip
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citizendata.server.app import create_app
from citizendata.server.errors import SECURITY_HEADERS
from citizendata.server.webform_page import ENGINE_DIR, FILL_POLICY, engine_build
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SLUG = SPEC["slug"]
FILL = f"/projects/{SLUG}/forms/household/fill"
HTML = {"Accept": "text/html,application/xhtml+xml"}
STRICT = dict(SECURITY_HEADERS)[b"content-security-policy"].decode()

# Every http(s) address in the built JavaScript, and why it is there. A new one fails
# the test below until someone has looked at it and added it here.
# - "identifier": an XML namespace or a coordinate system's name, compared as a string,
#   never fetched;
# - "link": text of a link the person may follow (<a href>) or of an error message or a
#   comment; the page itself loads nothing from it;
# - "runtime": the page would load it by itself.
KNOWN_URLS: dict[str, str] = {
    "http://www.w3.org/2000/svg": "identifier",
    "http://www.w3.org/1999/xhtml": "identifier",
    "http://www.w3.org/1999/xlink": "identifier",
    "http://www.w3.org/1998/Math/MathML": "identifier",
    "http://www.w3.org/2000/xmlns/": "identifier",
    "http://www.w3.org/XML/1998/namespace": "identifier",
    "http://www.w3.org/2001/XMLSchema": "identifier",
    "http://www.w3.org/2002/xforms": "identifier",
    "http://www.w3.org/2005/xpath-functions": "identifier",
    "http://openrosa.org/xforms": "identifier",
    "http://openrosa.org/javarosa": "identifier",
    "http://www.opendatakit.org/xforms": "identifier",
    "http://enketo.org/xforms": "identifier",
    "http://www.opengis.net/gml/srs/epsg.xml#4326": "identifier",
    "http://www.opengis.net/gml/srs/epsg.xml#3857": "identifier",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84": "identifier",
    "http://www.opengis.net/def/crs/EPSG/0/4326": "identifier",
    "http://www.opengis.net/def/crs/EPSG/0/3857": "identifier",
    # the engine's footer: <a class="anchor" href="https://getodk.org">Powered by ODK</a>
    "https://getodk.org": "link",
    # Vue's production error messages point at its documentation
    "https://vuejs.org/error-reference/#runtime-": "link",
    # OpenLayers: the OpenStreetMap attribution (<a href>) and a comment in a shader
    "https://www.openstreetmap.org/copyright": "link",
    "https://iquilezles.org/articles/distfunctions/": "link",
    # OpenLayers' default OSM tile source, used by the engine's map (MapBlock): a
    # geopoint with appearance "maps" or "placement-map", and geotrace and geoshape
    # questions (also every geopoint in the engine's edit mode, which drafts no longer use)
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png": "runtime",
}
URL = re.compile(r"""https?://[^\s"'`<>()\\]+""")


def built_js() -> list[Path]:
    return sorted(ENGINE_DIR.glob("*.js"))


def urls_in(text: str) -> set[str]:
    # a template literal's ${…} ends the constant part of the address
    return {u.split("${")[0].rstrip(".,;") for u in URL.findall(text)}


# -- the build -------------------------------------------------------------------------
def test_the_manifest_names_one_entry_and_every_file_it_names_is_in_the_package() -> None:
    manifest: dict[str, dict[str, Any]] = json.loads(
        (ENGINE_DIR / "manifest.json").read_text(encoding="utf-8"))
    entries = [v for v in manifest.values() if v.get("isEntry")]
    assert len(entries) == 1 and entries[0]["src"] == "src/main.js"
    named = set()
    for chunk in manifest.values():
        for name in [chunk["file"], *chunk.get("css", []), *chunk.get("assets", [])]:
            named.add(name)
            assert (ENGINE_DIR / name).is_file(), f"manifest.json names {name}, not built"
        for imported in chunk.get("imports", []) + chunk.get("dynamicImports", []):
            assert imported in manifest, f"{chunk['file']} imports {imported}, not in manifest"
    # and no stale chunk of an older build ships along (sw.js is the public/ copy)
    assert {p.name for p in built_js()} - named == {"sw.js"}
    assert {p.name for p in ENGINE_DIR.glob("*.css")} <= named
    assert engine_build()[0] == "/static/webforms/" + entries[0]["file"]


def test_each_engine_file_has_compressed_copies_of_the_same_build() -> None:
    # the server sends NAME.gz / NAME.br as they are: a copy left from another build
    # would be a different program than the one the manifest names
    for path in [*built_js(), ENGINE_DIR / "manifest.json"]:
        gz, br = path.with_name(path.name + ".gz"), path.with_name(path.name + ".br")
        assert gz.is_file() and br.is_file(), path.name
        assert gzip.decompress(gz.read_bytes()) == path.read_bytes(), gz.name
        assert 0 < br.stat().st_size < path.stat().st_size, br.name
    compressed = {p.name for p in ENGINE_DIR.iterdir() if p.suffix in (".gz", ".br")}
    assert all((ENGINE_DIR / n[:-3]).is_file() for n in compressed), "a copy without its file"


def test_the_built_javascript_loads_nothing_from_the_internet_but_map_tiles() -> None:
    found: dict[str, set[str]] = {}
    for path in built_js():
        text = path.read_text(encoding="utf-8")
        for u in urls_in(text):
            found.setdefault(u, set()).add(path.name)
        # no script, module or data is fetched from another site
        remote = re.findall(r"""(?:fetch|import|importScripts)\(\s*["'`]https?://""", text)
        assert remote == [], f"{path.name} fetches from another site: {remote}"
    unknown = sorted(set(found) - set(KNOWN_URLS))
    assert unknown == [], f"new addresses in the built engine, classify them: {unknown}"
    runtime = {u: sorted(files) for u, files in found.items() if KNOWN_URLS[u] == "runtime"}
    # the only one: OpenStreetMap's tiles, in the map chunk the engine loads on demand
    assert list(runtime) == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert all(f.startswith("MapBlock-") for f in runtime[next(iter(runtime))])


def test_the_fill_policy_keeps_the_map_tiles_and_every_other_site_out() -> None:
    directives = dict(d.strip().split(" ", 1) for d in FILL_POLICY.split(";"))
    # OpenLayers loads a tile as an image (or by fetch for some sources): both stay here
    for name in ("default-src", "img-src", "connect-src", "script-src", "style-src",
                 "worker-src", "media-src"):
        assert "http" not in directives[name] and "*" not in directives[name], name
    assert "tile.openstreetmap.org" not in FILL_POLICY


# -- the server ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """The app over a workspace with the household form; a collector's API token."""
    root = tmp_path_factory.mktemp("webform-assets")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(), "household.xlsx")
    owner.create_user("collector", "collector-password-1")
    owner.add_member(SLUG, "collector", "collector")
    token = ws.as_user("collector").create_token("t")
    with TestClient(create_app(ws), follow_redirects=False) as client:
        yield client, token
    ws.close()


def fill_page(http: tuple[TestClient, str]) -> Any:
    client, token = http
    r = client.get(FILL, headers={**HTML, "Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r


def test_the_fill_page_loads_the_entry_and_names_this_build_s_service_worker(
        http: tuple[TestClient, str]) -> None:
    r = fill_page(http)
    scripts = re.findall(r'<script type="module" src="([^"]+)"></script>', r.text)
    entry, build = engine_build()
    assert scripts == [entry]
    assert re.findall(r"<script(?![^>]*application/json)[^>]*>", r.text) == [
        f'<script type="module" src="{entry}">']
    js = http[0].get(entry)
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    config = json.loads(re.search(r'<script type="application/json" id="webform-config">'
                                  r"(.*?)</script>", r.text, re.S).group(1))  # type: ignore[union-attr]
    assert config["serviceWorkerUrl"] == f"/webforms-sw.js?v={build}"
    assert config["formXmlUrl"] == FILL + "/form.xml"
    # the worker precaches the build from its manifest
    assert http[0].get("/static/webforms/manifest.json").status_code == 200


def test_the_service_worker_may_serve_the_site_and_is_never_cached(
        http: tuple[TestClient, str]) -> None:
    r = http[0].get("/webforms-sw.js?v=whatever")
    assert r.status_code == 200
    assert r.headers["service-worker-allowed"] == "/"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == (ENGINE_DIR / "sw.js").read_bytes()


@pytest.mark.parametrize(("start", "expected"), [
    (None, "/projects"),
    (FILL, FILL),
    ("//evil.example", "/projects"),
    ("https://evil.example/x", "/projects"),
    ("/\\evil.example", "/projects"),
    ("evil.example", "/projects"),
])
def test_the_web_app_manifest_starts_only_on_this_site(
        http: tuple[TestClient, str], start: str | None, expected: str) -> None:
    r = http[0].get("/webforms.webmanifest", params={"start": start} if start else None)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(r.text)
    assert manifest["start_url"] == expected and manifest["scope"] == "/"
    assert manifest["display"] == "standalone" and manifest["name"]
    sizes = set()
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/webforms/")
        assert (ENGINE_DIR / icon["src"].rsplit("/", 1)[1]).is_file()
        assert http[0].get(icon["src"]).status_code == 200
        sizes.add(icon["sizes"])
    # installable: Chromium asks for a 192 and a 512 pixel icon
    assert {"192x192", "512x512"} <= sizes


def test_only_the_fill_page_has_the_engine_s_policy(http: tuple[TestClient, str]) -> None:
    client, token = http
    assert fill_page(http).headers["content-security-policy"] == FILL_POLICY
    auth = {"Authorization": f"Bearer {token}"}
    for url, headers in [("/login", HTML), ("/projects", {**HTML, **auth}),
                         (f"/projects/{SLUG}", {**HTML, **auth}),
                         (FILL + "/form.xml", auth), ("/webforms-sw.js", {}),
                         ("/webforms.webmanifest", {})]:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.status_code)
        assert r.headers["content-security-policy"] == STRICT, url
