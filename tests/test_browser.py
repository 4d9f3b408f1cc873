"""Headless Chromium opens the public release list and a report: all drawn, all from localhost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_kit import CHROMIUM_MARKS, fenced_page, serve
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Workspace
from conftest import SPEC, WARDS, file_settings, household_form
from conftest import WARD_ESTIMATION as ESTIMATION

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FloatRect, Page

pytestmark = CHROMIUM_MARKS
REPORT = "/public/releases/test-project/1/report.html"
def published_workspace(root: Path) -> Workspace:
    """Twelve approved households in two wards, released with ward maps and signed off."""
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form("test-project", household_form(), "household.xlsx")
    # the boundaries go in first: the release spec names them
    owner.add_reference_table("test-project", "wards", json.dumps(WARDS).encode(),
                              kind="boundaries")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "protection": {"tables": {"threshold": 3}},
         "release": {"community_representatives": ["rep"],
                     "maps": [{"boundaries": "wards", "dimension": "ward"}]}}))
    owner.create_user("rep", "rep-password-1")
    owner.add_member("test-project", "rep", "viewer")
    # six per ward; 5 of 6 consent in Magadi, 2 of 6 in Ewuaso: the map has two colours
    subs: list[dict[str, Any]] = [
        {"meta": {"instanceID": f"uuid:r{i}"}, "consent": "yes" if i in (0, 1, 2, 3, 4, 6, 7) else "no",
         "age": 50 if i in (0, 1, 2, 6) else 30,
         "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
        for i in range(12)]
    owner.submit("test-project", "household", json.dumps(subs).encode())
    owner.decide("test-project", "household", [s["meta"]["instanceID"] for s in subs],
                 "approved")
    owner.build_release("test-project", as_of=date(2026, 6, 30))
    ws.as_user("rep").sign_release("test-project", 1)
    owner.publish_release("test-project", 1)
    return ws


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app, serving the published workspace over real HTTP on 127.0.0.1."""
    ws = published_workspace(tmp_path_factory.mktemp("browser"))
    with serve(ws) as url:
        yield url
    ws.close()


def drawn(box: FloatRect | None) -> bool:
    """True when an element has a rendered box with area."""
    return box is not None and box["width"] > 0 and box["height"] > 0


def check_report(base_url: str, page: Page) -> None:
    """Follow the public list to the report; its charts, maps and tables are drawn."""
    page.goto(f"{base_url}/public/releases")
    listed = page.locator("li", has_text="Test project")
    assert listed.count() == 1
    listed.get_by_role("link", name="report").click()
    page.wait_for_load_state("load")
    assert page.url == base_url + REPORT
    # built before sign-off, the file says "Release v1"; only the public list says published
    assert page.locator(".banner.published").inner_text() == "Status: Release v1"
    charts = page.locator("svg.chart")
    assert charts.count() == 4  # per indicator: the interval chart and the ward map
    assert all(drawn(charts.nth(i).bounding_box()) for i in range(4))
    # the maps carry no id of their own (yet): their title is "<anchor>-map-title"
    maps = page.locator("svg[id$='-map'], svg:has(> title[id$='-map-title'])")
    assert maps.count() == 2
    fills = []
    for i in range(maps.count()):
        areas = maps.nth(i).locator("path.area")
        assert areas.count() == 2  # one per ward in the boundaries
        for j in range(2):
            assert drawn(areas.nth(j).bounding_box())
            fills.append(areas.nth(j).get_attribute("fill") or "")
    # the first map has two colour classes; the second hatches both suppressed wards
    assert fills[0].startswith("#") and fills[1].startswith("#") and fills[0] != fills[1]
    assert all(f.startswith("url(#") for f in fills[2:])
    # every cell is in a table, the suppressed ones marked as such
    tables = page.locator("table", has=page.locator("caption", has_text="all published cells"))
    assert tables.count() == 2
    suppressed = tables.nth(1).locator("tr.suppressed")
    assert suppressed.count() == 2 and "suppressed" in suppressed.first.inner_text()


def test_the_report_draws_its_charts_maps_and_tables_from_localhost_only(
        browser: Browser, base_url: str) -> None:
    with fenced_page(browser, viewport={"width": 1280, "height": 900}) as (page, traffic):
        check_report(base_url, page)
        traffic.assert_local()
        assert base_url + REPORT in traffic.seen


def test_the_report_and_the_list_fit_a_phone(browser: Browser, base_url: str) -> None:
    with fenced_page(browser, viewport={"width": 375, "height": 812}, is_mobile=True,
                     has_touch=True, device_scale_factor=2) as (page, traffic):
        for path in (REPORT, "/public/releases"):
            page.goto(base_url + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a 375px phone"
        page.goto(base_url + REPORT)
        # every chart and map shrinks into the screen rather than being cut off
        charts = page.locator("svg.chart")
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and drawn(box) and box["x"] + box["width"] <= 375 + 1
        traffic.assert_local()
