"""The analyst reads how the margin of error was computed, in English and in Kiswahili.

The demo's Kenya estimates declare their design (a non-probability sample, group ranches
as first-stage units within ward strata, raked to the census margins): the indicator page
says so near the overall estimate, in the page's language, with the design's degrees of
freedom, on a 375 px phone, and passes axe.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from browser_kit import CHROMIUM_MARKS, PHONE, check_page, fenced_page, login, serve
from citizendata.demo import build_demo
from citizendata.scenarios.kenya_maternal_health import project as kp

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = CHROMIUM_MARKS
ANALYST = next(u for u in kp.DEMO_USERS if u["role"] == "analyst")
PAGE = f"/projects/{kp.PROJECT['slug']}/estimates/sba"
WORDS = {
    "en": {"heading": "How the margin of error was computed",
           "says": ["Non-probability sample: no design weights",
                    "first-stage units (PSUs) as independent draws with replacement",
                    "valid only if selection is ignorable given the calibration variables"],
           "df": "Degrees of freedom of the design:"},
    "sw": {"heading": "Jinsi ukingo wa makosa ulivyokokotolewa",
           "says": ["Sampuli isiyo ya kinasibu: hakuna uzito wa mpango",
                    "ya hatua ya kwanza (PSU) kama chaguo huru",
                    "ni sahihi tu ikiwa nani alishiriki"],
           "df": "Viwango vya uhuru vya mpango:"},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """A small demo workspace (its kept sba run), served over HTTP, and that run."""
    ws, _ = build_demo(Path(tmp_path_factory.mktemp("design-browser")) / "demo", n=150,
                       console=Console(file=io.StringIO()))
    run = ws.as_user(ANALYST["username"]).estimate_runs(kp.PROJECT["slug"], indicator="sba")[0]
    with serve(ws) as url:
        yield url, run["result"]["provenance"]
    ws.close()


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_estimate_page_says_how_its_margin_of_error_was_computed(
        browser: Browser, served: tuple[str, dict], language: str) -> None:
    base_url, provenance = served
    words = WORDS[language]
    assert provenance["variance_assumption_code"] == "non_probability"
    with fenced_page(browser, language=language, **PHONE) as (page, traffic):
        login(page, base_url, ANALYST["username"], ANALYST["password"])
        page.goto(f"{base_url}{PAGE}")
        section = page.locator("section.variance")
        assert section.locator("h2").inner_text() == words["heading"]
        said = section.locator("p.assumption").inner_text()
        for phrase in words["says"]:
            assert phrase in said, (phrase, said)
        if language == "en":  # the page says what the provenance records
            text = provenance["variance_assumption"]
            assert said == text[:1].upper() + text[1:] + "."
        df = provenance["df"]
        assert isinstance(df, int | float)
        assert f"{words['df']} {int(df)}" in section.inner_text()
        # near the overall estimate: the next card after it
        assert page.locator("section.headline + section.variance").count() == 1
        # the guide's picture shows the overall estimate and the sentence under it
        page.evaluate("() => document.querySelector('section.headline').scrollIntoView()")
        check_page(page, phone=True, shot="analysis-design-sw" if language == "sw" else None)
        traffic.assert_local()
