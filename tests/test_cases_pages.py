"""The cases pages by role: the case list, one case and its verification form, clerical
review of record pairs and the linkage summary, on a small Colombia scenario.

Who opens what (403 for roles without the right, 404 outside the project), the Spanish
page, CSRF refusals, a verification posted through the form and shown in the history,
a refusal shown in the page with what was typed kept, a pair decided and the queue
shorter, names hidden from an analyst, and the summary's figures equal to the Client's.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from citizendata.scenarios import colombia_press_freedom as co
from citizendata.workspace import Workspace
from conftest import file_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

from citizendata.server.app import create_app

SLUG = co.PROJECT["slug"]
# a few percent of the scenario: every list has records, linkage takes a second
SCALE = 0.06
REVIEW_BAND = (0.0005, 0.9999)
MERGE = {"prensa": ["flip", "medios"], "estado": ["fiscalia", "defensoria"],
         "sociedad": ["sindical", "somos"]}
ROLES = {"owner": "owner", "val": "validator", "ana": "analyst", "vie": "viewer",
         "col": "collector", "nso": "nso"}
PASSWORD = "pages-password-2026"
# who may open each page: the case list and a case need submission.view, review needs
# submission.review, the summary data.export (estimates) or submission.review (linkage)
PAGES: dict[str, set[str]] = {
    "cases": {"owner", "val", "ana"},
    "case": {"owner", "val", "ana"},
    "review": {"owner", "val"},
    "linkage": {"owner", "val", "ana", "nso"},
}


def build_cases_workspace(root: Path) -> tuple[Workspace, co.ColombiaScenario]:
    """FLIP's project with its six lists imported, and one user per role (plus one outside)."""
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", PASSWORD)
    spec = co.spec_dict()
    # the other organisations' lists arrive as received: analysis takes all but rejected
    spec["validation"] = {"analytics": "all_but_rejected"}
    # a wide review band: at this small scale the scenario's band holds no pair
    spec["cases"]["linkage"]["review_band"] = list(REVIEW_BAND)
    # three lists (the press, the state, civil society), no strata and two thresholds:
    # the model search over six lists takes about ten seconds a fit (the page's latency is
    # the estimator's, not tested here)
    spec["cases"]["linkage"]["sensitivity"] = [0.5, 0.99]
    for est in spec["cases"]["estimates"].values():
        est["merge"], est["strata"] = MERGE, []
    owner.create_project(spec)
    owner.add_form(SLUG, co.FORM_PATH)
    for user, role in ROLES.items():
        if user != "owner":
            owner.create_user(user, PASSWORD)
            owner.add_member(SLUG, user, role)
    owner.create_user("out", PASSWORD)
    data = co.generate(scale=SCALE)
    for name, frame in data.files.items():
        owner.import_case_list(SLUG, name, frame.to_csv(index=False).encode(),
                               filename=f"{name}.csv")
    # FLIP's reports its backlog has verified count; the pending ones wait for the pages
    ids = {r["record_id"]: r["instance_id"]
           for r in owner.cases(SLUG, list="flip", limit=1000)["rows"]}
    codes, _ = _criteria()
    for rid in data.backlog.loc[data.backlog["status"] == "verified", "record_id"]:
        owner.verify_case(SLUG, ids[rid], "verified", criteria=codes,
                          evidence="Acta de verificación de la FLIP")
    return ws, data


_BUILT: dict[str, tuple[Path, co.ColombiaScenario]] = {}


def cases_workspace_copy(tmp_path_factory: pytest.TempPathFactory
                         ) -> tuple[Path, co.ColombiaScenario]:
    """A fresh copy of the built workspace folder: built once per test run (the Chromium
    module uses it too), since hashing passwords and importing take seconds."""
    if "template" not in _BUILT:
        root = tmp_path_factory.mktemp("cases-template")
        ws, data = build_cases_workspace(root)
        ws.close()
        _BUILT["template"] = (root, data)
    template, data = _BUILT["template"]
    root = tmp_path_factory.mktemp("cases-pages")
    shutil.copytree(template, root, dirs_exist_ok=True)
    return root, data


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, co.ColombiaScenario]:
    return cases_workspace_copy(tmp_path_factory)


@pytest.fixture(scope="module")
def app(built: tuple[Path, co.ColombiaScenario]) -> Any:
    return create_app(settings=file_settings(built[0]))


def login(app: Any, user: str, language: str = "en") -> TestClient:
    """A browser-like client logged in as ``user`` (pages carry their CSRF token)."""
    c = TestClient(app, headers={"Accept-Language": language})
    page = c.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf": token.group(1)},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def _csrf(html: str) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


def _flip_case(app: Any, status: str = "reported") -> dict[str, Any]:
    """A FLIP report with this status, as the validator's Client lists it."""
    ws = app.state.workspace
    rows = ws.as_user("val").cases(SLUG, list="flip", status=status, limit=1000)["rows"]
    assert rows, f"no FLIP report is {status}"
    return dict(rows[0])


def _criteria() -> tuple[list[str], list[str]]:
    """Every criterion's code, and the required ones."""
    v = co.project_spec().cases.verification  # type: ignore[union-attr]
    assert v is not None
    return [c.code for c in v.criteria], list(v.required or [])


@pytest.mark.parametrize("user", [*ROLES, "out"])
def test_each_page_opens_only_for_the_roles_that_use_it(app: Any, user: str) -> None:
    case = _flip_case(app)
    urls = {"cases": f"/projects/{SLUG}/cases",
            "case": f"/projects/{SLUG}/cases/{case['instance_id']}",
            "review": f"/projects/{SLUG}/linkage/review",
            "linkage": f"/projects/{SLUG}/linkage"}
    with login(app, user) as c:
        for page, url in urls.items():
            if page == "linkage" and user in ("owner", "ana", "nso"):
                continue  # its estimates take seconds: the summary's own test opens it
            r = c.get(url)
            expected = 200 if user in PAGES[page] else 404 if user == "out" else 403
            assert r.status_code == expected, (user, page, r.status_code, r.text[:300])
            if expected == 200:
                assert '<main id="main">' in r.text


def test_without_a_login_the_pages_ask_for_one(app: Any) -> None:
    with TestClient(app) as c:
        r = c.get(f"/projects/{SLUG}/cases", headers={"Accept": "text/html"},
                  follow_redirects=False)
    assert r.status_code in (303, 401)


def test_the_case_list_filters_by_status_and_list_and_pages(app: Any) -> None:
    ws = app.state.workspace
    total = ws.as_user("val").cases(SLUG, limit=1)["total"]
    with login(app, "val") as c:
        page = c.get(f"/projects/{SLUG}/cases").text
        assert f"{total} case records" in page
        links = re.findall(r'href="(/projects/[^"]+/cases/[^"]+)"', page)
        assert len(links) == min(50, total)
        if total > 50:
            second = c.get(f"/projects/{SLUG}/cases?page=2").text
            assert "page 2 of" in second
            assert set(re.findall(r'href="(/projects/[^"]+/cases/[^"]+)"', second)).isdisjoint(
                links)
        fiscalia = c.get(f"/projects/{SLUG}/cases?list=fiscalia").text
        n = len(co.generate(scale=SCALE).files["fiscalia"])
        assert f"{n} case records" in fiscalia
        assert "flip ·" not in fiscalia and "fiscalia ·" in fiscalia
        reported = c.get(f"/projects/{SLUG}/cases?list=flip&status=reported").text
        assert 'value="reported" checked' in reported


def test_the_pages_in_spanish(app: Any) -> None:
    case = _flip_case(app)
    with login(app, "val", "es") as c:
        listing = c.get(f"/projects/{SLUG}/cases").text
        assert "<h1>Casos</h1>" in listing
        assert "Estado de verificación" in listing and "reportado" in listing
        one = c.get(f"/projects/{SLUG}/cases/{case['instance_id']}").text
        for text in ("Verificar este caso", "Soportes", "Registro de origen",
                     "Hecho victimizante", "Registrar la verificación"):
            assert text in one, text
        # the spec's written criteria, each with its full text, as checkboxes
        spec = co.project_spec().cases.verification  # type: ignore[union-attr]
        assert spec is not None
        for crit in spec.criteria:
            assert f'value="{crit.code}"' in one and crit.text.replace("'", "&#39;") in one
        review = c.get(f"/projects/{SLUG}/linkage/review").text
        assert "<h1>Revisión manual</h1>" in review
        assert re.search(r"Quedan? \d+ pa(r|res) por decidir|Ningún par espera revisión",
                         review)


def test_a_verification_posted_through_the_form_appears_in_the_history(app: Any) -> None:
    case = _flip_case(app)
    url = f"/projects/{SLUG}/cases/{case['instance_id']}"
    codes, _required = _criteria()
    with login(app, "val") as c:
        token = _csrf(c.get(url).text)
        r = c.post(f"{url}/verify", data={
            "csrf": token, "decision": "verified", "criteria": codes,
            "evidence": "Acta de levantamiento y dos testigos", "note": "llamada del 3 de mayo"},
            follow_redirects=False)
        assert r.status_code == 303, r.text
        page = c.get(r.headers["location"]).text
    history = page.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert "Acta de levantamiento y dos testigos" in history
    assert "llamada del 3 de mayo" in history and "<strong>val</strong>" in history
    assert 'class="status v-verified"' in page.split('id="h-record"')[0]
    state = app.state.workspace.as_user("val").case_verification(SLUG, case["instance_id"])
    assert state["status"] == "verified" and state["history"][-1]["criteria"] == codes


def test_a_refusal_is_shown_in_the_page_with_what_was_typed(app: Any) -> None:
    case = _flip_case(app)
    url = f"/projects/{SLUG}/cases/{case['instance_id']}"
    _codes, required = _criteria()
    with login(app, "val", "es") as c:
        token = _csrf(c.get(url).text)
        r = c.post(f"{url}/verify", data={"csrf": token, "decision": "verified",
                                          "criteria": [required[0]],
                                          "evidence": "solo un testigo"})
    assert r.status_code == 422
    alert = r.text.split('role="alert">', 1)[1].split("</p>", 1)[0]
    # the coded error's translated title, then its message naming the criteria not checked
    assert alert.startswith("La decisión de verificación no puede registrarse: ")
    assert required[1] in alert
    assert "solo un testigo</textarea>" in r.text
    assert f'value="{required[0]}" checked' in r.text
    assert f'value="{required[1]}" checked' not in r.text
    state = app.state.workspace.as_user("val").case_verification(SLUG, case["instance_id"])
    assert state["status"] == "reported"


def test_a_post_without_the_pages_csrf_token_is_refused(app: Any) -> None:
    case = _flip_case(app)
    url = f"/projects/{SLUG}/cases/{case['instance_id']}"
    codes, _ = _criteria()
    with login(app, "val") as c:
        for token in (None, "forged"):
            data = {"decision": "verified", "criteria": codes, "evidence": "x"}
            if token:
                data["csrf"] = token
            assert c.post(f"{url}/verify", data=data).status_code == 403
            r = c.post(f"/projects/{SLUG}/linkage/review", data={
                **({"csrf": token} if token else {}), "left_key": "a", "right_key": "b",
                "decision": "match"})
            assert r.status_code == 403
    state = app.state.workspace.as_user("val").case_verification(SLUG, case["instance_id"])
    assert state["status"] == "reported"


def test_an_analyst_may_read_but_not_verify(app: Any) -> None:
    case = _flip_case(app)
    url = f"/projects/{SLUG}/cases/{case['instance_id']}"
    codes, _ = _criteria()
    with login(app, "ana") as c:
        page = c.get(url).text
        assert "Verify this case" not in page and 'name="criteria"' not in page
        r = c.post(f"{url}/verify", data={"csrf": _csrf(page), "decision": "verified",
                                          "criteria": codes, "evidence": "x"})
        assert r.status_code == 403


def _names(data: co.ColombiaScenario) -> list[str]:
    flip = data.files["flip"]
    return [str(v) for v in flip["nombres"].head(5)] + [str(v) for v in flip["apellidos"].head(5)]


def test_names_are_hidden_from_an_analyst_and_shown_to_the_validator(
        app: Any, built: tuple[Path, co.ColombiaScenario]) -> None:
    names = _names(built[1])
    case = _flip_case(app)
    with login(app, "ana") as c:
        listing = c.get(f"/projects/{SLUG}/cases?list=flip").text
        one = c.get(f"/projects/{SLUG}/cases/{case['instance_id']}").text
    for page in (listing, one):
        assert not any(n in page for n in names)
    assert "Victims' names are shown only to roles" in listing
    assert "withheld: personal data" in one
    with login(app, "val") as c:
        listing = c.get(f"/projects/{SLUG}/cases?list=flip").text
    assert any(n in listing for n in names)


def test_a_pair_decided_in_clerical_review_leaves_the_queue(app: Any) -> None:
    ws = app.state.workspace
    before = ws.as_user("val").link_review_queue(SLUG, limit=1)
    if not before.get("pairs"):
        pytest.fail("the scenario gives no pair for clerical review")
    with login(app, "val") as c:
        page = c.get(f"/projects/{SLUG}/linkage/review").text
        left = int(re.search(r'data-left="(\d+)"', page).group(1))  # type: ignore[union-attr]
        keys = re.findall(r'name="(left_key|right_key)" value="([^"]+)"', page)
        assert len(keys) == 2
        r = c.post(f"/projects/{SLUG}/linkage/review", data={
            "csrf": _csrf(page), **dict(keys), "decision": "non_match", "note": "otra fecha"})
        assert r.status_code == 200  # followed to the next pair
        assert "Decision recorded: not the same." in r.text
        after = int(re.search(r'data-left="(\d+)"', r.text).group(1))  # type: ignore[union-attr]
    assert after == left - 1
    bad = login(app, "val")
    r = bad.post(f"/projects/{SLUG}/linkage/review", data={
        "csrf": _csrf(bad.get(f"/projects/{SLUG}/cases").text), "left_key": "flip:x",
        "right_key": "fiscalia:y", "decision": "match"})
    assert r.status_code == 200 and 'class="flash error"' in r.text


def test_the_summary_shows_the_clients_figures(app: Any) -> None:
    ws = app.state.workspace
    linked = ws.as_user("val").link_cases(SLUG)
    with login(app, "val") as c:
        page = c.get(f"/projects/{SLUG}/linkage").text
    # the validator reviews: the linkage run, and no estimate (they are read by data.export)
    assert f'<dd id="n-clusters">{linked["clusters"]:,}</dd>' in page
    assert f'<dd id="n-records">{linked["records"]:,}</dd>' in page
    assert f'<dd id="n-review">{linked["review"]:,}' in page
    assert "Estimated total" not in page
    analyst = ws.as_user("ana")
    with login(app, "ana", "es") as c:
        page = c.get(f"/projects/{SLUG}/linkage").text
    assert "<h1>Vinculación y estimaciones</h1>" in page
    assert "Sensibilidad al umbral de vinculación" in page and "Total estimado" in page
    # the analyst reads estimates, not the linkage run, but sees each list's size
    assert 'id="n-clusters"' not in page
    for name in linked["by_list"]:
        n = analyst.cases(SLUG, list=name, limit=1)["total"]
        assert re.search(rf"<code>{name}</code></th><td>[^<]*</td><td class=\"num\">{n:,}<",
                         page), name
    shown = 0
    for key in co.project_spec().cases.estimates:  # type: ignore[union-attr]
        est = analyst.estimate_uncounted(SLUG, key)
        assert est["series"] in page
        total = next(r for r in est["table"] if r["stratum"] == "_T")
        if total.get("conf_status", "F") == "F" and total.get("estimate") is not None:
            assert f"<strong>{round(total['estimate']):,}</strong>" in page
            shown += 1
    assert shown >= 1, "no series has an estimate to show"
    assert "<svg" in page and "<figcaption" in page


def test_the_nso_reads_the_estimates_without_the_lists_sizes(app: Any) -> None:
    # the NSO reads protected estimates (data.export) but not the records (no
    # submission.view): the page is theirs, without each list's size or the linkage run
    with login(app, "nso") as c:
        r = c.get(f"/projects/{SLUG}/linkage")
    assert r.status_code == 200, r.text[:300]
    page = r.text
    assert "Estimated total" in page and 'id="n-clusters"' not in page
    for x in co.project_spec().cases.lists:  # type: ignore[union-attr]
        assert re.search(rf"<code>{x.name}</code></th><td>[^<]*</td><td class=\"num\">—<",
                         page), x.name
