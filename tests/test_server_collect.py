"""The collector's page /projects/{slug}/collect: the forms with their languages, the fill
links, the keep-offline data for the script, the ODK Collect set-up; who may see it; and
the project page's way to it."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from citizendata.server.app import create_app
from citizendata.server.webform_page import engine_build
from citizendata.workspace import Workspace
from test_server_html import HTML, SPEC, TestClient, _settings, log_in
from xlsform_builders import make_xlsform

SLUG = "nakuru-clinics"
VILLAGES = make_xlsform(
    [{"type": "select_one_from_file villages.csv", "name": "village", "label": "Village"}],
    None, {"form_id": "villages", "version": "3", "form_title": "Village visit"})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Kenya form (English and Swahili) and a one-language form with a CSV file;
    'otieno' collects, 'wanjiru' views, 'achieng' analyses."""
    root = tmp_path_factory.mktemp("collect")
    ws = Workspace(_settings(root))
    admin = ws.create_admin("njeri", "njeri-password")
    admin.create_project(SPEC)
    admin.add_form(SLUG, FORM_PATH)
    admin.add_form(SLUG, VILLAGES, "villages.xlsx",
                   attachments={"villages.csv": b"name,label\nnaivasha,Naivasha\n"})
    for user, role in (("otieno", "collector"), ("wanjiru", "viewer"), ("achieng", "analyst")):
        admin.create_user(user, f"{user}-password")
        admin.add_member(SLUG, user, role)
    ws.close()
    return root


@pytest.fixture
def http(template: Path, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copytree(template / "ws", tmp_path / "ws")
    ws = Workspace(_settings(tmp_path))
    with TestClient(create_app(ws), follow_redirects=False, headers=HTML) as c:
        yield c
    ws.close()


def _kenya_id(http: TestClient) -> str:
    forms = http.get(f"/api/v1/projects/{SLUG}/forms", headers={"Accept": "application/json"})
    return next(f["form_id"] for f in forms.json()["forms"] if f["form_id"] != "villages")


def _items(page: str) -> list[str]:
    return re.findall(r'<li class="collect-form".*?</li>', page, re.S)


def test_a_collector_sees_each_form_with_its_languages_and_fill_link(http: TestClient) -> None:
    log_in(http, "otieno")
    kenya = _kenya_id(http)
    r = http.get(f"/projects/{SLUG}/collect")
    assert r.status_code == 200
    kenya_item, villages_item = sorted(_items(r.text), key=lambda item: "villages" in item)
    assert '<span lang="en">English</span> (default)' in kenya_item
    assert '<span lang="sw">Swahili</span>' in kenya_item
    fill = f"/projects/{SLUG}/forms/{kenya}/fill"
    assert f'<a class="button-link" href="{fill}">Fill in the browser' in kenya_item
    assert f'data-fill-url="{fill}"' in kenya_item
    assert "Village visit" in villages_item and "newest version: 3" in villages_item
    assert "One language" in villages_item and "Languages:" not in villages_item
    keep = json.loads(html.unescape(re.search(r"data-keep-urls='([^']*)'",
                                              villages_item).group(1)))
    here = f"/projects/{SLUG}/forms/villages/fill"
    assert keep == [here, f"{here}/form.xml", f"{here}/attachments/villages.csv"]
    # the status and the button are the script's: hidden until it fills them
    assert '<p class="offline-status" data-state="unknown" hidden></p>' in kenya_item
    assert f'data-sw="/webforms-sw.js?v={engine_build()[1]}"' in r.text
    assert """data-assets='["/static/webform.css"]'""" in r.text  # the fill page's own
    assert "Available offline on this device" in r.text  # the script's words, in the page
    # ODK Collect set-up: the same URL and QR code as the project page
    assert "http://testserver/openrosa/nakuru-clinics" in r.text
    assert '<figure class="collect-qr"><svg' in r.text


def test_the_page_has_no_inline_script_or_style(http: TestClient) -> None:
    log_in(http, "otieno")
    r = http.get(f"/projects/{SLUG}/collect")
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'") and "'unsafe-inline'" not in csp
    assert re.findall(r"<script[^>]*>[^<]*</script>", r.text) == [
        '<script src="/static/collect.js" defer></script>']
    assert "<style" not in r.text and " style=" not in r.text
    assert not re.search(r"<[^>]+\son[a-z]+=", r.text)  # no onclick= and the like
    assert http.get("/static/collect.js").status_code == 200
    assert http.get("/static/collect.css").status_code == 200


@pytest.mark.parametrize("user", ["wanjiru", "achieng"])
def test_members_who_cannot_submit_get_the_403_page(http: TestClient, user: str) -> None:
    log_in(http, user)
    r = http.get(f"/projects/{SLUG}/collect")
    assert r.status_code == 403 and "auth.forbidden" in r.text
    assert "<!doctype html>" in r.text.lower()[:50]


def test_owners_may_collect_too_and_strangers_log_in_first(http: TestClient) -> None:
    r = http.get(f"/projects/{SLUG}/collect")
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/projects/{SLUG}/collect"
    log_in(http, "njeri")
    assert http.get(f"/projects/{SLUG}/collect").status_code == 200
    assert http.get("/projects/no-such-project/collect").status_code == 404


def test_in_swahili_the_headings_are_translated(http: TestClient) -> None:
    log_in(http, "otieno")
    by_switch = http.get(f"/projects/{SLUG}/collect?lang=sw").text
    by_header = http.get(f"/projects/{SLUG}/collect",
                         headers={**HTML, "Accept-Language": "sw"}).text
    for page in (by_switch, by_header):
        assert '<html lang="sw"' in page
        assert "Kusanya data" in page and "Jaza fomu kwenye kivinjari" in page
        assert "Kusanya kwa ODK Collect" in page
        assert "Collect data" not in page and "Fill forms in the browser" not in page


def test_the_project_page_leads_to_the_collect_page(http: TestClient) -> None:
    log_in(http, "otieno")
    page = http.get(f"/projects/{SLUG}").text
    assert f'<a class="button-link" href="/projects/{SLUG}/collect">Collect data</a>' in page
    assert "/fill\">Fill in the browser" in page  # each form's own link stays
    assert '<figure class="collect-qr"><svg' in page  # the shared ODK Collect block
    log_in(http, "njeri")
    assert f'<li><a href="/projects/{SLUG}/collect">' in http.get(f"/projects/{SLUG}").text
    log_in(http, "wanjiru")
    assert f"/projects/{SLUG}/collect" not in http.get(f"/projects/{SLUG}").text
