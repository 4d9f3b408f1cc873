"""The analysis pages over HTTP: estimates (table, words, charts, map, coherence, runs,
downloads), the quality page (record, attestations, the NSO's decision) and the project
page that leads with each role's work; every role, including non-members."""

from __future__ import annotations

import io
import re
import shutil
import warnings
from collections.abc import Iterator
from datetime import date
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

import analysis_workspace as aw
from citizendata.errors import NotFound
from citizendata.i18n import use_locale
from citizendata.publish.charts import choropleth, fmt_number, interval_chart
from citizendata.quality.report import STYLESHEET, quality_html_from_json
from citizendata.server.app import create_app
from citizendata.stats.runs import run_file
from citizendata.workspace import Workspace
from conftest import file_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
BASE = f"/projects/{aw.SLUG}"
EST = f"{BASE}/estimates/{aw.INDICATOR}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The analysis workspace, built once, with one kept run of each indicator."""
    root = tmp_path_factory.mktemp("analysis")
    aw.build(root).close()
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the template workspace."""
    shutil.copytree(template / "ws", tmp_path / "ws")
    w = Workspace(file_settings(tmp_path))
    yield w
    w.close()


@pytest.fixture
def app(ws: Workspace) -> FastAPI:
    return create_app(ws)


def browser(app: FastAPI, user: str | None) -> TestClient:
    """A browser-like client logged in as ``user`` (following no redirects)."""
    c = TestClient(app, follow_redirects=False, headers=HTML)
    if user is not None:
        r = c.post("/login", data={"username": user, "password": aw.PASSWORD.format(user),
                                   "csrf": csrf_of(c.get("/login").text), "next": "/projects"})
        assert r.status_code == 303, r.text
    return c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def text_of(page: str) -> str:
    """The page's visible words, tags dropped, spaces collapsed."""
    page = re.sub(r"<(svg|head)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())


def no_inline_styles(page: str) -> None:
    """What the server's CSP (style-src 'self') would block: none of it."""
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)


# ---- the library -----------------------------------------------------------------------

def test_a_kept_run_is_read_by_id_and_its_file_is_the_protected_table(ws: Workspace) -> None:
    analyst = ws.login("wanjiku", aw.PASSWORD.format("wanjiku"))
    latest = analyst.estimate_runs(aw.SLUG, indicator=aw.INDICATOR, limit=1)[0]
    run = analyst.estimate_run(aw.SLUG, latest["id"])
    assert run == latest
    table = pd.read_csv(io.BytesIO(analyst.estimate_run_file(aw.SLUG, run["id"], "csv")),
                        keep_default_na=False, dtype=str)
    hidden = table[table["conf_status"] != "F"]
    assert sorted(hidden["ward"]) == ["kibera", "kware"]
    assert (hidden[["value", "se", "ci_low", "ci_high", "cv", "n"]] == "").all().all()
    assert dict(zip(hidden["ward"], hidden["suppression"], strict=True)) == {
        "kibera": "secondary", "kware": "threshold"}
    parquet = pd.read_parquet(io.BytesIO(analyst.estimate_run_file(aw.SLUG, run["id"],
                                                                   "parquet")))
    assert list(parquet["ward"]) == list(table["ward"])
    assert parquet.loc[parquet["ward"] == "kware", "value"].isna().all()
    with pytest.raises(NotFound) as e:
        analyst.estimate_run(aw.SLUG, 999)
    assert e.value.code == "not_found.estimate_run"
    with pytest.raises(Exception, match="format"):
        run_file(run["result"], "xlsx")


def test_the_decisions_are_readable_by_every_member(ws: Workspace) -> None:
    viewer = ws.login("baraka", aw.PASSWORD.format("baraka"))
    found = viewer.quality_decisions(aw.SLUG, indicator=aw.INDICATOR)
    assert found == {"dataset": aw.FORM_ID, "indicator": aw.INDICATOR, "decisions": []}


def test_the_quality_section_speaks_the_language_and_can_leave_its_styles_out(
        ws: Workspace) -> None:
    record = ws.login("njeri", aw.PASSWORD.format("njeri")).quality(aw.SLUG, None, aw.INDICATOR)
    report = quality_html_from_json(record)
    assert report.count("<style>") == 1 and STYLESHEET.read_text(encoding="utf-8") in report
    page = quality_html_from_json(record, inline_css=False)
    no_inline_styles(page)
    assert "Quality scorecard" in page
    with use_locale("sw"):
        swahili = quality_html_from_json(record, inline_css=False)
    assert "Quality scorecard" not in swahili and "Kadi ya alama za ubora" in swahili


def test_the_report_charts_render_under_the_servers_csp() -> None:
    rows = [{"w": "A", "value": 1.0, "ci_low": 0.5, "ci_high": 1.5},
            {"w": "B", "value": None, "conf_status": "C"}]
    no_inline_styles(interval_chart(rows, "w", "t"))
    no_inline_styles(choropleth({"features": []}, {}, "t"))


# ---- estimates -------------------------------------------------------------------------

def test_an_analyst_sees_each_indicator_with_its_latest_estimate(app: FastAPI) -> None:
    page = browser(app, "wanjiku").get(f"{BASE}/estimates")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Water points working working 55.6 37.3 to 72.4" in words
    assert "Households served" in words
    assert page.text.count(">Compute estimates</button>") == 2
    no_inline_styles(page.text)


def test_the_estimate_page_shows_figures_words_charts_map_coherence_and_runs(
        app: FastAPI) -> None:
    page = browser(app, "wanjiku").get(EST)
    assert page.status_code == 200
    no_inline_styles(page.text)
    words = text_of(page.text)
    assert "55.6 per cent" in words and "95% confidence interval: 37.3 to 72.4" in words
    assert "Mathare 33.3 13.8 to 60.9 40.8 % 12 low sample size" in words
    assert "Kware suppressed: fewer than 5 respondents" in words
    assert "Kibera suppressed to protect another cell" in words
    assert "2 of 4 cells are suppressed" in words
    assert page.text.count('class="chart"') >= 2  # the interval chart and the map
    assert 'id="est-c0"' in page.text and 'id="est-map0"' in page.text
    assert "Official figure 55.0 (county survey 2025)" in words
    assert "not statistically significant" in words
    assert "Run 1 (shown)" in words
    assert f"{EST}/download.csv?run=1" in page.text
    assert f"{EST}/download.parquet?run=1" in page.text


def test_downloads_hold_exactly_the_pages_protected_figures(app: FastAPI) -> None:
    http = browser(app, "wanjiku")
    words = text_of(http.get(EST).text)
    csv = http.get(f"{EST}/download.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    table = pd.read_csv(io.StringIO(csv.text), keep_default_na=False, dtype=str)
    names = {"_T": "Total", "kibera": "Kibera", "mathare": "Mathare", "kware": "Kware"}
    for _, row in table.iterrows():
        if row["conf_status"] == "F":
            shown = f"{names[row['ward']]} {fmt_number(float(row['value']), 1)} " \
                    f"{fmt_number(float(row['ci_low']), 1)} to {fmt_number(float(row['ci_high']), 1)}"
            assert shown in words
        else:
            assert row["value"] == row["n"] == row["ci_low"] == ""
            assert f"{names[row['ward']]} suppressed" in words
    parquet = http.get(f"{EST}/download.parquet?run=1")
    assert parquet.status_code == 200
    back = pd.read_parquet(io.BytesIO(parquet.content))
    assert list(back["conf_status"]) == list(table["conf_status"])


def test_computing_keeps_a_new_run_and_earlier_runs_can_be_opened(app: FastAPI) -> None:
    http = browser(app, "wanjiku")
    page = http.get(EST).text
    r = http.post(EST, data={"csrf": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == EST
    latest = http.get(EST).text
    assert "Estimates computed for" in text_of(latest)
    assert re.search(r"Run (\d+) \(shown\)", latest) and 'href="?run=1"' in latest
    older = http.get(f"{EST}?run=1").text
    assert "Run 1 (shown)" in text_of(older)
    assert "download.csv?run=1" in older


def test_a_compute_without_the_forms_token_is_refused(app: FastAPI) -> None:
    assert browser(app, "wanjiku").post(EST, data={}).status_code == 403


def test_a_run_that_is_not_the_indicators_is_not_found(app: FastAPI, ws: Workspace) -> None:
    http = browser(app, "wanjiku")
    other = ws.login("wanjiku", aw.PASSWORD.format("wanjiku")).estimate_runs(
        aw.SLUG, indicator="households", limit=1)[0]["id"]
    assert http.get(f"{EST}?run={other}").status_code == 404
    assert http.get(f"{EST}?run=999").status_code == 404
    assert http.get(f"{EST}/download.csv?run=999").status_code == 404
    assert http.get(f"{BASE}/estimates/nope").status_code == 404


@pytest.mark.parametrize("user", ["baraka", "otieno", "akinyi"])
def test_roles_without_data_export_get_no_estimates(app: FastAPI, user: str) -> None:
    http = browser(app, user)
    assert f'href="{BASE}/estimates"' not in http.get(BASE).text
    for url in (f"{BASE}/estimates", EST, f"{EST}/download.csv", f"{EST}/download.parquet"):
        assert http.get(url).status_code == 403, url


def test_a_non_member_finds_no_project_pages(app: FastAPI) -> None:
    http = browser(app, "zawadi")
    for url in (BASE, f"{BASE}/estimates", EST, f"{EST}/download.csv", f"{BASE}/quality"):
        assert http.get(url).status_code == 404, url


def test_an_anonymous_visitor_is_sent_to_log_in(app: FastAPI) -> None:
    r = browser(app, None).get(EST)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_owners_get_public_microdata_analysts_no_link(app: FastAPI) -> None:
    owner = browser(app, "amina")
    link = f"{BASE}/estimates/microdata/{aw.FORM_ID}.csv"
    assert link in owner.get(f"{BASE}/estimates").text
    got = owner.get(link)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert link not in browser(app, "wanjiku").get(f"{BASE}/estimates").text


def test_the_estimates_page_speaks_swahili(app: FastAPI) -> None:
    http = browser(app, "wanjiku")
    page = http.get(f"{EST}?lang=sw").text
    assert '<html lang="sw">' in page
    words = text_of(page)
    assert "imefichwa: wahojiwa wachache kuliko 5" in words
    assert "Pakua jedwali hili" in words


# ---- quality ---------------------------------------------------------------------------

def test_the_nso_confirms_or_overrides_the_recommendation_with_reasons(app: FastAPI) -> None:
    http = browser(app, "njeri")
    page = http.get(f"{BASE}/quality")
    assert page.status_code == 200
    no_inline_styles(page.text)
    assert '<link rel="stylesheet" href="/assets/quality.css">' in page.text
    words = text_of(page.text)
    assert "Recommendation: Stand alone" in words and "No decision yet" in words
    assert 'action="/projects/nairobi-water/quality/decision"' in page.text
    token = csrf_of(page.text)
    # an override without reasons is refused with the library's message, on the page
    r = http.post(f"{BASE}/quality/decision", data={"csrf": token, "decision": "integrate",
                                                    "indicator": aw.INDICATOR})
    assert r.status_code == 303
    assert "needs a reason" in text_of(http.get(r.headers["location"]).text)
    r = http.post(f"{BASE}/quality/decision", data={
        "csrf": token, "decision": "publish_alongside", "indicator": aw.INDICATOR,
        "reason": "The ethics review is on file with us; publish beside the county survey."})
    after = text_of(http.get(r.headers["location"]).text)
    assert "The fitness decision is recorded." in after
    assert "Decision: Publish alongside official statistics (recommendation overridden)" in after
    assert "The ethics review is on file with us" in after


def test_others_see_the_decision_read_only(app: FastAPI, ws: Workspace) -> None:
    ws.login("njeri", aw.PASSWORD.format("njeri")).decide_fitness(
        aw.SLUG, "stand_alone", indicator=aw.INDICATOR)
    for user in ("wanjiku", "baraka", "amina"):
        page = browser(app, user).get(f"{BASE}/quality").text
        words = text_of(page)
        assert "Decision: Stand alone (recommendation confirmed)" in words, user
        assert "/quality/decision" not in page, user
    assert "Quality scorecard" in text_of(browser(app, "wanjiku").get(f"{BASE}/quality").text)
    viewer = text_of(browser(app, "baraka").get(f"{BASE}/quality").text)
    assert "Quality scorecard" not in viewer and "your role does not read" in viewer


def test_attestations_are_for_owners_managers_and_the_nso(app: FastAPI) -> None:
    http = browser(app, "amina")
    page = http.get(f"{BASE}/quality").text
    assert 'action="/projects/nairobi-water/quality/attestations"' in page
    r = http.post(f"{BASE}/quality/attestations", data={
        "csrf": csrf_of(page), "subject": "gateway:need", "rating": "pass",
        "statement": "The county water office asked for these figures.", "on": "2026-03-02",
        "indicator": aw.INDICATOR})
    assert r.status_code == 303
    after = text_of(http.get(r.headers["location"]).text)
    assert "Your attestation is recorded." in after
    assert "The county water office asked for these figures." in after
    bad = http.post(f"{BASE}/quality/attestations", data={
        "csrf": csrf_of(page), "subject": "gateway:need", "rating": "high", "statement": "x"})
    assert "is not one of" in text_of(http.get(bad.headers["location"]).text)
    analyst = browser(app, "wanjiku")
    page = analyst.get(f"{BASE}/quality").text
    assert "/quality/attestations" not in page and "/quality/decision" not in page
    assert analyst.post(f"{BASE}/quality/decision", data={
        "csrf": csrf_of(page), "decision": "stand_alone"}).status_code == 403
    assert analyst.post(f"{BASE}/quality/attestations", data={
        "csrf": csrf_of(page), "subject": "gateway:need", "rating": "pass",
        "statement": "x"}).status_code == 403


def test_the_quality_stylesheet_is_the_reports_own(app: FastAPI) -> None:
    r = browser(app, None).get("/assets/quality.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert r.text == STYLESHEET.read_text(encoding="utf-8")


# ---- the project page ------------------------------------------------------------------

def test_a_collector_sees_their_forms_and_odk_collect_first(app: FastAPI) -> None:
    page = browser(app, "otieno").get(BASE).text
    assert page.index("Your forms") < page.index("Collect with ODK Collect") \
        < page.index("About the project") < page.index("Engagement record")
    assert f"http://testserver/openrosa/{aw.SLUG}" in page and "<svg" in page
    assert f'href="{BASE}/forms/{aw.FORM_ID}/fill"' in page  # the app has web forms
    assert page.index(f'href="{BASE}/collect"') < page.index("Your forms")
    assert f'href="{BASE}/forms/{aw.FORM_ID}"' not in page  # the submissions page is 403


def test_a_collector_gets_a_fill_link_once_the_app_has_the_page(app: FastAPI) -> None:
    @app.get("/projects/{slug}/forms/{form_id}/fill")
    def fill(slug: str, form_id: str) -> PlainTextResponse:
        return PlainTextResponse("form")

    page = browser(app, "otieno").get(BASE).text
    assert f'href="{BASE}/forms/{aw.FORM_ID}/fill"' in page
    assert "Fill in the browser" in page


@pytest.mark.parametrize(("user", "first", "absent"), [
    ("wanjiku", f"{BASE}/estimates", f"{BASE}/review"),
    ("njeri", f"{BASE}/quality", f"{BASE}/settings"),
    ("akinyi", f"{BASE}/review", f"{BASE}/estimates"),
    ("amina", f"{BASE}/settings", None),
    ("baraka", f"{BASE}/releases", f"{BASE}/estimates"),
])
def test_each_role_sees_its_work_first(app: FastAPI, user: str, first: str,
                                       absent: str | None) -> None:
    page = browser(app, user).get(BASE).text
    start = page.index('id="start"')
    assert start < page.index(f'href="{first}"', start) < page.index('id="about"')
    if absent:
        assert f'href="{absent}"' not in page[start:]


def test_the_project_page_speaks_swahili(app: FastAPI) -> None:
    page = browser(app, "otieno").get(f"{BASE}?lang=sw").text
    assert "Fomu zako" in page and "Kusanya kwa ODK Collect" in page



def test_every_page_renders_in_every_language(app: FastAPI, ws: Workspace) -> None:
    ws.login("njeri", aw.PASSWORD.format("njeri")).decide_fitness(
        aw.SLUG, "stand_alone", indicator=aw.INDICATOR)
    for user, urls in (("njeri", (BASE, f"{BASE}/estimates", EST, f"{BASE}/quality")),
                       ("otieno", (BASE,)), ("baraka", (f"{BASE}/quality",))):
        http = browser(app, user)
        for lang in ("sw", "es", "fr", "en"):
            for url in urls:
                page = http.get(f"{url}?lang={lang}")
                assert page.status_code == 200, (user, lang, url)
                assert f'<html lang="{lang}">' in page.text


@pytest.mark.parametrize("user", ["amina", "wanjiku", "njeri", "baraka", "otieno", "akinyi"])
def test_no_link_leads_a_role_to_a_refusal(app: FastAPI, user: str) -> None:
    http = browser(app, user)
    seen: set[str] = set()
    todo = [BASE]
    while todo:
        url = todo.pop()
        page = http.get(url)
        assert page.status_code != 403, (user, url)
        if page.status_code != 200 or "text/html" not in page.headers["content-type"]:
            continue
        for href in re.findall(r'href="(/projects/[^"#]*)"', page.text):
            href = unescape(href)
            # the analysis pages and what they link; other areas' pages are checked there
            if href not in seen and (href == BASE or "/estimates" in href
                                     or href.endswith("/quality")):
                seen.add(href)
                todo.append(href)
    assert BASE in seen


def test_a_new_quality_record_is_computed_by_a_job_and_the_page_does_not_wait(
        tmp_path: Path, template: Path) -> None:
    """With a separate worker (jobs_in_server off) and no wait, the first view says the
    record is being computed and links to its job; once a worker ran it, the page shows it;
    asking again while it is queued does not queue it twice."""
    from citizendata.jobs.worker import Worker

    shutil.copytree(template / "ws", tmp_path / "ws")
    settings = file_settings(tmp_path).model_copy(update={"jobs_in_server": False,
                                                          "jobs_wait_s": 0.0})
    ws = Workspace(settings)
    try:
        nso = ws.login("njeri", aw.PASSWORD.format("njeri"))
        assert nso.quality_kept(aw.SLUG, None, aw.INDICATOR)[0] is None
        http = browser(create_app(ws), "njeri")
        first = http.get(f"{BASE}/quality?indicator={aw.INDICATOR}")
        assert first.status_code == 200 and "is being computed" in text_of(first.text)
        job = nso.jobs(aw.SLUG)[0]
        assert job.kind == "quality" and f'href="/jobs/{job.id}"' in first.text
        assert "Quality scorecard" not in text_of(first.text)
        http.get(f"{BASE}/quality?indicator={aw.INDICATOR}")
        assert [j.id for j in nso.jobs(aw.SLUG) if j.kind == "quality"] == [job.id]
        assert Worker(ws, beat=False).run_once()
        assert nso.job(job.id).state == "done"
        assert nso.quality_kept(aw.SLUG, None, aw.INDICATOR)[0] is not None
        ready = http.get(f"{BASE}/quality?indicator={aw.INDICATOR}")
        assert "Quality scorecard" in text_of(ready.text)
        assert "is being computed" not in text_of(ready.text)
    finally:
        ws.close()


def test_a_quality_record_that_cannot_be_made_says_why_once_per_state_of_the_data(
        tmp_path: Path, template: Path) -> None:
    """A computation that failed on the data as they are is shown with its reason, not
    retried on every view; a change to the data (a new key) would ask again."""
    from sqlalchemy import text

    shutil.copytree(template / "ws", tmp_path / "ws")
    ws = Workspace(file_settings(tmp_path))
    try:
        nso = ws.login("njeri", aw.PASSWORD.format("njeri"))
        key = nso.quality_kept(aw.SLUG, None, aw.INDICATOR)[1]
        failed = nso.submit_job(aw.SLUG, "quality", {"indicator": aw.INDICATOR, "key": key})
        ws.run(lambda db: db.execute(text(
            "UPDATE jobs SET state = 'failed', error_code = 'indicator.invalid', "
            "error_message = 'a derived variable needs a reference table' WHERE id = :i"),
            {"i": failed.id}))
        http = browser(create_app(ws), "njeri")
        for _ in range(2):
            page = http.get(f"{BASE}/quality?indicator={aw.INDICATOR}")
            assert ("could not be computed: a derived variable needs a reference table"
                    in text_of(page.text))
        assert [j.id for j in nso.jobs(aw.SLUG) if j.kind == "quality"] == [failed.id]
        other = nso.quality_kept(aw.SLUG, None, aw.INDICATOR, today=date(2030, 1, 1))[1]
        assert other != key  # the day is part of the key: another day asks again
    finally:
        ws.close()
