"""Web forms in Chromium: Lekishon collects for the Kenya maternal-health project in his
browser, on a 375 px phone, in Swahili, with and without a connection.

- He fills the whole form (consent, county, ward and ranch through their choice filters,
  a GPS point, the Washington Group questions, two births in a repeat) and presses Send;
  the outbox says it went, and the snapshot holds the same values a JSON submission of
  the same answers gives.
- Offline: the page opened once opens again from the service worker's cache; two
  submissions wait on the device, still there when the page is closed and reopened; back
  online, each arrives exactly once, and a forced resend is answered "duplicate".
- An age outside 15-49 and an unanswered required question stop Send with the form's
  own messages; nothing is queued.
- A form version uploaded while his draft is open: the draft reopens with its version and
  is stored against it; the next fill uses the new version.
- A public link: anyone fills it without logging in (channel weblink); a revoked link and
  a full link are refused with the reason on the page; the rate limit per address holds.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_kit import (
    CHROMIUM_MARKS,
    PHONE,
    check_page,
    fenced_page,
    login,
    serve,
    service_worker_page,
    wait_until,
)
from citizendata.demo import _setup, kenya_spec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from citizendata.workspace import Client, Workspace
from conftest import file_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = CHROMIUM_MARKS

COLLECTOR = ("lekishon", "demo-collector-2026")
# Magadi ward, Kajiado: a fixed position the browser reports when asked (accuracy 12 m:
# "acceptable", so the engine waits for the collector to press "Save location")
MAGADI = {"latitude": -1.9, "longitude": 36.25, "accuracy": 12}
GEO: dict[str, Any] = {"geolocation": MAGADI, "permissions": ["geolocation"]}
WG = ("wg_seeing", "wg_hearing", "wg_walking", "wg_cognition", "wg_selfcare",
      "wg_communication")
# the questions' Swahili labels start so (the form's label::Swahili (sw) column)
WG_SW = ("Je, una shida ya kuona", "Je, una shida ya kusikia", "Je, una shida ya kutembea",
         "Je, una shida ya kukumbuka", "Je, una shida (ya kujihudumia",
         "Ukitumia lugha yako")
CONSENT_SW = "Tunawauliza wanawake"
# the engine's own words, in the page's language
ENGINE = {"en": {"send": "Send", "get": "Get location", "save": "Save location",
                 "required": "This question needs an answer."},
          "sw": {"send": "Tuma", "get": "Pata mahali", "save": "Hifadhi mahali",
                 "required": "Swali hili linahitaji jibu."}}
CONSENT_EN = "We are asking women"
# what the snapshot holds but the two channels cannot share: who, when, which device
NOT_ANSWERS = {"start", "end", "deviceid", "instanceID", "instanceName"}


@dataclass
class Site:
    """The Kenya project served over HTTP, its owner and its one form."""

    base: str
    ws: Workspace
    owner: Client
    slug: str
    form_id: str

    @property
    def fill_url(self) -> str:
        return f"{self.base}/projects/{self.slug}/forms/{self.form_id}/fill"

    def rows(self, instance_id: str) -> int:
        """How many stored submissions carry this instance id."""
        total, subs = self.owner.submissions(self.slug, self.form_id, limit=1000)
        assert total < 1000
        return sum(1 for s in subs if s["instance_id"] == instance_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo's Kenya project (as `citizendata demo` sets it up) with its form."""
    ws = Workspace(file_settings(Path(tmp_path_factory.mktemp("webforms"))))
    owner = _setup(ws)
    slug = kenya_spec().slug
    form_id = owner.add_form(slug, FORM_PATH.read_bytes(), "form.xlsx").form_id
    with serve(ws) as url:
        yield Site(url, ws, owner, slug, form_id)
    ws.close()


# -- the engine's widgets, as a person uses them ------------------------------------------

def question(page: Page, label: str, nth: int = 0) -> Locator:
    """The nth question whose label starts with ``label`` (nth > 0: in later repeats)."""
    starts = re.compile("^" + re.escape(label))
    return page.locator("#webform .question-container").filter(
        has=page.locator(".control-text label", has_text=starts)).nth(nth)


def choose(page: Page, label: str, option: str, nth: int = 0) -> None:
    """Click an option's visible text (the engine's radios and checkboxes are drawn)."""
    exact = re.compile("^" + re.escape(option) + "$")
    question(page, label, nth).locator("label.value-option").filter(
        has=page.locator(".text-content", has_text=exact)).click()


def type_number(page: Page, label: str, value: str, nth: int = 0) -> None:
    """Type a number key by key and leave the field (the engine's number input takes
    keystrokes, not a pasted value, and commits on leaving)."""
    field = question(page, label, nth).locator("input")
    field.click()
    field.press_sequentially(value)
    field.press("Tab")


def capture_location(page: Page, label: str, language: str) -> None:
    """Press the geopoint's button and save the position the browser reports."""
    words = ENGINE[language]
    question(page, label).get_by_role("button", name=words["get"]).click()
    page.get_by_role("button", name=words["save"]).click()
    question(page, label).locator(".geopoint-value").wait_for()


def send(page: Page, language: str = "en") -> None:
    """The engine's Send button."""
    page.locator("#webform").get_by_role("button", name=ENGINE[language]["send"],
                                         exact=True).click()


def open_form(page: Page, url: str, first_label: str) -> None:
    """Open a fill page and wait until the form's first question is there."""
    page.goto(url)
    question(page, first_label).wait_for()


def outbox_item(page: Page, state: str, instance_id: str | None = None) -> Locator:
    """The outbox's items in one state (queued, sent, refused)."""
    where = f"#outbox li.outbox-item[data-state={state}]"
    if instance_id:
        where += f"[data-instance-id='{instance_id}']"
    return page.locator(where)


def wait_sent(page: Page, count: int = 1) -> list[str]:
    """Wait until ``count`` items are sent; their instance ids, newest first."""
    wait_until(page, "() => document.querySelectorAll("
               f"'#outbox li.outbox-item[data-state=sent]').length >= {count}", 20)
    ids = outbox_item(page, "sent").evaluate_all(
        "items => items.map(i => i.dataset.instanceId)")
    return [str(i) for i in ids]


def device_outbox(page: Page) -> list[dict[str, Any]]:
    """The outbox as the device keeps it (IndexedDB): each item without its parts, and
    ``xml``, the submission's XML while the device still keeps it."""
    result: list[dict[str, Any]] = page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('citizendata-webforms');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('outbox')) { db.close(); resolve([]); return; }
            const req = db.transaction('outbox').objectStore('outbox').getAll();
            req.onsuccess = async () => {
                db.close();
                resolve(await Promise.all(req.result.map(async ({parts, ...rest}) => {
                    const xml = (parts || []).find(p => p.name === 'xml_submission_file');
                    return {...rest, xml: xml ? await xml.blob.text() : null};
                })));
            };
            req.onerror = () => reject(req.error);
        };
    })""")
    return result


def draft_instance_id(page: Page) -> str:
    """The instanceID of the one draft on the device (IndexedDB)."""
    found: list[str] = page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('citizendata-webforms');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const req = open.result.transaction('drafts').objectStore('drafts').getAll();
            req.onsuccess = () => { open.result.close(); resolve(req.result.map(d => {
                const doc = new DOMParser().parseFromString(d.instanceXml, 'application/xml');
                return doc.getElementsByTagNameNS('*', 'instanceID')[0].textContent;
            })); };
            req.onerror = () => reject(req.error);
        };
    })""")
    assert len(found) == 1, found
    return found[0]


def post_again(page: Page, submit_url: str, xml: str) -> dict[str, Any]:
    """Post a submission's XML as the page does (multipart, the session's CSRF token):
    a forced resend. Answers {status, body}."""
    answer: dict[str, Any] = page.evaluate("""async ([url, xml]) => {
        const me = await (await fetch('/api/v1/me', {headers: {Accept: 'application/json'}})).json();
        const data = new FormData();
        data.append('xml_submission_file', new Blob([xml], {type: 'text/xml'}), 'submission.xml');
        const r = await fetch(url, {method: 'POST', body: data, headers: {
            Accept: 'application/json', 'X-CSRF-Token': me.csrf_token}});
        return {status: r.status, body: await r.json()};
    }""", [submit_url, xml])
    return answer


def fill_consent_no(page: Page, label: str = CONSENT_EN, no: str = "No") -> None:
    """The shortest complete submission: the woman does not take part."""
    choose(page, label, no)
    page.locator("#webform").get_by_text("Thank you. The interview ends here.").wait_for()


# -- the answers, given once in the browser and once as JSON ----------------------------------

BIRTHS = [  # (place, attendants, travel minutes, km, child's sex) in the form's names
    ("facility_public", ["nurse_midwife"], "45", "12.5", "male"),
    ("home", ["tba", "relative_friend"], "120", "30", "female"),
]
PLACE_SW = {"facility_public": "Kituo cha afya - cha umma", "home": "Nyumbani"}
ATTENDANT_SW = {"nurse_midwife": "Muuguzi / mkunga", "tba": "Mkunga wa jadi",
                "relative_friend": "Jamaa / rafiki"}
CHILD_SW = {"male": "Mvulana", "female": "Msichana"}


def json_twin(instance_id: str) -> dict[str, Any]:
    """The answers the browser gives, as a JSON submission would carry them (the
    calculated ``skilled`` included: the engine sends it too)."""
    return {
        "meta": {"instanceID": instance_id}, "consent": "yes",
        "location": {"county": "kajiado", "ward": "magadi", "group_ranch": "enkare_pus",
                     "gps": f"{MAGADI['latitude']} {MAGADI['longitude']} 0 "
                            f"{MAGADI['accuracy']}"},
        "respondent": {"age": 28, "sex": "female", "ethnicity": "maasai"},
        "wg": dict.fromkeys(WG, "1"),
        "births_count": len(BIRTHS),
        "births": [{"place": place, "attendants": " ".join(who), "travel_minutes": int(mins),
                    "distance_km": float(km), "child_sex": sex,
                    "skilled": 1 if {"doctor", "nurse_midwife"} & set(who) else 0}
                   for place, who, mins, km, sex in BIRTHS],
    }


def fill_kenya_sw(page: Page) -> None:
    """The whole form, as Lekishon answers it in Swahili."""
    choose(page, CONSENT_SW, "Ndiyo")
    choose(page, "Kaunti", "Kajiado")
    # choice filters: the wards of Kajiado only, then the ranches of Magadi only
    wards = question(page, "Wadi").locator(".text-content").all_inner_texts()
    assert wards == ["Kimana", "Ildamat", "Magadi"], wards
    choose(page, "Wadi", "Magadi")
    ranches = question(page, "Ranchi ya kikundi").locator(".text-content").all_inner_texts()
    assert ranches == ["Ol Donyo Keri", "Enkare Pus"], ranches
    choose(page, "Ranchi ya kikundi", "Enkare Pus")
    capture_location(page, "Rekodi mahali pa kaya", "sw")
    type_number(page, "Una umri wa miaka", "28")
    choose(page, "Jinsia yako ni ipi?", "Mwanamke")
    choose(page, "Wewe ni wa jamii gani?", "Mmaasai")
    for label in WG_SW:
        choose(page, label, "Hapana - sina shida")
    type_number(page, "Umejifungua watoto wangapi", str(len(BIRTHS)))
    # repeat_count: one "Birth" per child, made by the form itself
    expect_count(page, "Ulijifungulia wapi?", len(BIRTHS))
    for i, (place, who, mins, km, sex) in enumerate(BIRTHS):
        choose(page, "Ulijifungulia wapi?", PLACE_SW[place], i)
        for w in who:
            choose(page, "Nani alikusaidia", ATTENDANT_SW[w], i)
        type_number(page, "Inachukua dakika ngapi", mins, i)
        type_number(page, "Ni umbali wa kilomita", km, i)
        choose(page, "Mtoto ni mvulana au msichana?", CHILD_SW[sex], i)


def expect_count(page: Page, label: str, n: int) -> None:
    """Wait until ``n`` questions start with ``label``."""
    starts = re.compile("^" + re.escape(label))
    loc = page.locator("#webform .question-container").filter(
        has=page.locator(".control-text label", has_text=starts))
    for _ in range(50):
        if loc.count() == n:
            return
        page.wait_for_timeout(100)
    assert loc.count() == n, f"{loc.count()} questions {label!r}, not {n}"


def snapshot_rows(site: Site, instance_ids: list[str]) -> dict[str, Any]:
    """Each submission's snapshot row and its births' rows, without what differs by
    channel (ids, times, device, submitter)."""
    snap = site.owner.open_snapshot(site.slug, site.form_id, include_personal=True)
    main = snap.table().to_pyarrow().to_pylist()
    births = snap.table("births").to_pyarrow().to_pylist()

    def answers(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if not k.startswith("_") and k not in NOT_ANSWERS}

    out: dict[str, Any] = {}
    for iid in instance_ids:
        row = next(r for r in main if r["_instance_id"] == iid)
        kids = [b for b in births if b["_submission_id"] == row["_id"]]
        out[iid] = {"row": answers(row), "births": [answers(b) for b in kids]}
    return out


# -- the journeys --------------------------------------------------------------------------

def test_a_collector_fills_the_kenya_form_in_swahili_on_a_phone(
        browser: Browser, site: Site) -> None:
    version = site.owner.form_versions(site.slug, site.form_id)[-1].version
    with fenced_page(browser, language="sw", **PHONE, **GEO) as (page, traffic):
        login(page, site.base, *COLLECTOR)
        open_form(page, site.fill_url, CONSENT_SW)
        # the interface is Swahili, and the form follows it
        assert page.locator("html").get_attribute("lang") == "sw"
        assert page.get_by_text("Je, unakubali kushiriki?", exact=False).is_visible()
        assert page.locator("#outbox-title").inner_text() == "Kwenye kifaa hiki"
        fill_kenya_sw(page)
        # the guide shows the place: county, ward and ranch chosen, the GPS point taken
        question(page, "Kaunti").evaluate("q => q.scrollIntoView({block: 'start'})")
        check_page(page, phone=True, shot="webform-filled-sw")

        send(page, "sw")
        [sent] = wait_sent(page)
        item = outbox_item(page, "sent", sent)
        assert item.locator(".outbox-state").inner_text() == "Imetumwa"
        assert version in item.inner_text()
        # the form starts afresh for the next woman
        expect_count(page, "Ulijifungulia wapi?", 0)
        traffic.assert_local()

    stored = site.owner.submission(site.slug, site.form_id, sent)
    assert (stored["channel"], stored["submitter"], stored["form_version"]) == (
        "webform", "lekishon", version)
    assert stored["data"]["location"]["gps"].startswith("-1.9 36.25 ")
    assert len(stored["data"]["births"]) == 2

    twin = "uuid:json-twin-of-the-browser"
    site.owner.submit(site.slug, site.form_id, json.dumps(json_twin(twin)).encode())
    rows = snapshot_rows(site, [sent, twin])
    assert rows[sent] == rows[twin]
    row, births = rows[sent]["row"], rows[sent]["births"]
    assert (row["ward"], row["age"], row["gps__lat"], row["gps__lon"]) == (
        "magadi", 28, MAGADI["latitude"], MAGADI["longitude"])
    assert [(b["child_sex"], b["attendants__tba"]) for b in births] == [
        ("male", False), ("female", True)]


def test_offline_submissions_wait_on_the_device_and_arrive_exactly_once(
        browser: Browser, site: Site) -> None:
    with service_worker_page(browser, **PHONE) as (page, traffic):
        login(page, site.base, *COLLECTOR)
        open_form(page, site.fill_url, CONSENT_EN)
        # the service worker takes the page over and keeps the page and its form
        wait_until(page, "() => navigator.serviceWorker.controller !== null"
                         " && document.documentElement.dataset.offlineReady === 'true'", 20)
        path = site.fill_url.removeprefix(site.base)
        assert wait_until(page, f"""async () => {{
            const c = await caches.open('citizendata-pages-v1');
            return Boolean(await c.match('{path}')) && Boolean(await c.match('{path}/form.xml'));
        }}""", 5)

        page.context.set_offline(True)
        page.reload()
        question(page, CONSENT_EN).wait_for()
        status = page.locator("#outbox .outbox-status")
        assert status.get_attribute("data-online") == "false"
        assert "Offline" in status.inner_text()
        for _ in range(2):
            fill_consent_no(page)
            send(page)
            question(page, CONSENT_EN).locator("input:checked").wait_for(state="detached")
        queued = outbox_item(page, "queued")
        queued.nth(1).wait_for()
        assert queued.count() == 2
        ids = [str(i) for i in queued.evaluate_all("l => l.map(i => i.dataset.instanceId)")]
        assert len(set(ids)) == 2 and all(i.startswith("uuid:") for i in ids)
        page.locator(".webform-outbox").scroll_into_view_if_needed()
        check_page(page, phone=True, shot="webform-outbox-offline")
        assert [site.rows(i) for i in ids] == [0, 0]
        waiting = {i["instanceID"]: i for i in device_outbox(page)}
        assert {i: waiting[i]["state"] for i in ids} == dict.fromkeys(ids, "queued")
        first_xml = waiting[ids[0]]["xml"]
        assert f"<instanceID>{ids[0]}</instanceID>" in first_xml

        # closed and opened again, still offline: both still wait
        context = page.context
        page.close()
        page = context.new_page()
        page.goto(site.fill_url)
        outbox_item(page, "queued").nth(1).wait_for()
        assert sorted(outbox_item(page, "queued").evaluate_all(
            "l => l.map(i => i.dataset.instanceId)")) == sorted(ids)

        context.set_offline(False)  # the page sends on 'online'
        assert sorted(wait_sent(page, 2)) == sorted(ids)
        assert [site.rows(i) for i in ids] == [1, 1]
        for i in ids:
            assert site.owner.submission(site.slug, site.form_id, i)["channel"] == "webform"

        # sent: the device no longer keeps the answers
        kept = {i["instanceID"]: i for i in device_outbox(page)}
        assert {i: (kept[i]["state"], kept[i]["xml"]) for i in ids} == dict.fromkeys(
            ids, ("sent", None))
        # a forced resend of the same submission: the server already has it
        again = post_again(page, f"{path}/submission", first_xml)
        assert again == {"status": 202, "body": {"status": "duplicate",
                                                 "instance_id": ids[0]}}
        assert [site.rows(i) for i in ids] == [1, 1]
        traffic.assert_local()


def test_a_constraint_and_a_required_question_stop_send_with_the_forms_messages(
        browser: Browser, site: Site) -> None:
    before = site.owner.submissions(site.slug, site.form_id)[0]
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        login(page, site.base, *COLLECTOR)
        open_form(page, site.fill_url, CONSENT_SW)
        choose(page, CONSENT_SW, "Ndiyo")
        type_number(page, "Una umri wa miaka", "12")
        age = question(page, "Una umri wa miaka")
        age.get_by_text("Umri lazima uwe kati ya miaka 15 na 49.").wait_for()
        send(page, "sw")
        # nothing left the form: the county (required) is unanswered, the age out of range
        county = question(page, "Kaunti")
        county.get_by_text(ENGINE["sw"]["required"]).wait_for()
        assert page.get_by_text(re.compile(r"^Maswali \d+ yana makosa\.$")).is_visible()
        assert age.get_by_text("Umri lazima uwe kati ya miaka 15 na 49.").is_visible()
        age.scroll_into_view_if_needed()
        check_page(page, phone=True, shot="webform-constraint-sw")
        page.wait_for_timeout(500)
        assert device_outbox(page) == []
        assert outbox_item(page, "queued").count() == 0
        assert "Zinasubiri: 0" in page.locator("#outbox .outbox-status").inner_text()
        traffic.assert_local()
    assert site.owner.submissions(site.slug, site.form_id)[0] == before


def consent_no_xml(form_id: str, version: str, instance_id: str) -> bytes:
    """The shortest complete submission as OpenRosa instance XML (what the page sends)."""
    return (f'<?xml version="1.0"?><data id="{form_id}" version="{version}" '
            f'xmlns:orx="http://openrosa.org/xforms"><consent>no</consent>'
            f"<meta><orx:instanceID>{instance_id}</orx:instanceID></meta></data>").encode()


def test_a_public_link_takes_anonymous_submissions_until_revoked_full_or_too_fast(
        browser: Browser, site: Site) -> None:
    import httpx

    owner, slug, form_id = site.owner, site.slug, site.form_id
    _, capped = owner.create_public_link(slug, form_id, "Redio Magadi", max_submissions=1)
    revoked_info, revoked = owner.create_public_link(slug, form_id, "Chifu wa Ildamat")
    with fenced_page(browser, language="en", **PHONE) as (page, traffic):
        # nobody logs in: the link is enough
        open_form(page, f"{site.base}/f/{capped}", CONSENT_EN)
        assert "Redio Magadi" in page.locator(".webform-context").inner_text()
        assert "Anyone with this link" in page.locator(".webform-page").inner_text()
        assert page.get_by_role("link", name="All forms of").count() == 0
        check_page(page, phone=True, shot="webform-public-link")
        fill_consent_no(page)
        send(page)
        [first] = wait_sent(page)
        stored = owner.submission(slug, form_id, first)
        assert (stored["channel"], stored["submitter"]) == ("weblink", None)

        # the cap is one: the next one is refused, and the page says why
        fill_consent_no(page)
        send(page)
        refused = outbox_item(page, "refused")
        refused.wait_for(timeout=20_000)
        reason = refused.locator(".outbox-reason").inner_text()
        assert reason.startswith("weblink.full") and "takes no more submissions" in reason
        second = str(refused.get_attribute("data-instance-id"))
        assert site.rows(second) == 0
        traffic.assert_local()

    with fenced_page(browser, language="en", **PHONE) as (page, traffic):
        open_form(page, f"{site.base}/f/{revoked}", CONSENT_EN)
        owner.revoke_public_link(slug, revoked_info.id)
        # switched off while the page was open: what is sent now is refused
        fill_consent_no(page)
        send(page)
        refused = outbox_item(page, "refused")
        refused.wait_for(timeout=20_000)
        assert refused.locator(".outbox-reason").inner_text().startswith("weblink.revoked")
        assert site.rows(str(refused.get_attribute("data-instance-id"))) == 0
        # and the link's page itself is gone
        answer = page.goto(f"{site.base}/f/{revoked}")
        assert answer is not None and answer.status == 410
        assert "This public link was switched off" in page.locator("body").inner_text()
        traffic.assert_local()
    links = {link.name: link for link in owner.public_links(slug, form_id)}
    assert (links["Redio Magadi"].state(), links["Redio Magadi"].submissions) == ("full", 1)
    assert links["Chifu wa Ildamat"].state() == "revoked"

    # one address sending fast: past the limit per minute, 429 with the seconds to wait
    limit = site.ws.settings.weblink_rate_per_minute
    _, open_link = owner.create_public_link(slug, form_id, "Radio, evening")
    version = owner.form_versions(slug, form_id)[-1].version
    answers = []
    with httpx.Client(base_url=site.base) as http:
        for n in range(limit + 1):
            iid = f"uuid:fast-{n}"
            r = http.post(f"/f/{open_link}/submission", files={"xml_submission_file": (
                "submission.xml", consent_no_xml(form_id, version, iid), "text/xml")})
            answers.append((r.status_code, iid, r))
    codes = [code for code, _, _ in answers]
    took = codes.count(201)
    # the browser's three sends above counted too (a refused one included)
    assert 1 <= took < limit and codes == [201] * took + [429] * (len(codes) - took), codes
    last = answers[-1][2]
    assert last.json()["error"]["code"] == "weblink.rate_limited"
    assert 1 <= int(last.headers["retry-after"]) <= 60
    assert [site.rows(iid) for code, iid, _ in answers] == [
        1 if code == 201 else 0 for code in codes]


def new_version(version: str) -> bytes:
    """The Kenya XLSForm with another version in its settings sheet."""
    import openpyxl

    book = openpyxl.load_workbook(FORM_PATH)
    sheet = book["settings"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=header.index("version") + 1, value=version)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_draft_keeps_its_form_version_when_a_new_one_arrives(
        browser: Browser, site: Site) -> None:
    owner, slug, form_id = site.owner, site.slug, site.form_id
    old_version = owner.form_versions(slug, form_id)[-1].version
    new = f"{old_version}.1"
    with fenced_page(browser, language="en", **PHONE) as (page, traffic):
        login(page, site.base, *COLLECTOR)
        open_form(page, site.fill_url, CONSENT_EN)
        choose(page, CONSENT_EN, "Yes")
        choose(page, "County", "Narok")
        choose(page, "Ward", "Siana")
        page.locator("#draft-status").get_by_text("Draft saved on this device").wait_for()
        draft_id = draft_instance_id(page)
        assert draft_id.startswith("uuid:")

        owner.add_form(slug, new_version(new), "form.xlsx")
        assert owner.form_versions(slug, form_id)[-1].version == new
        page.reload()
        page.locator("#draft-status").get_by_text("reopened").wait_for()
        # the answers given so far are back, in the form they were given with
        question(page, "Ward").locator("input[value=siana]:checked").wait_for(
            state="attached")
        choose(page, "Group ranch", "Olkinyei")
        type_number(page, "How old are you", "31")
        for label in ("Do you have difficulty seeing", "Do you have difficulty hearing",
                      "Do you have difficulty walking", "Do you have difficulty remembering",
                      "Do you have difficulty (with self-care",
                      "Using your usual (customary) language"):
            choose(page, label, "No - no difficulty")
        type_number(page, "How many children", "0")
        send(page)
        [old] = wait_sent(page)
        assert old == draft_id  # the draft kept its instanceID
        assert f"form version {old_version}" in outbox_item(page, "sent", old).inner_text()
        stored = owner.submission(slug, form_id, old)
        assert (stored["form_version"], stored["data"]["location"]["ward"]) == (
            old_version, "siana")
        assert stored["deprecated_id"] is None

        # the next woman's form is the new version
        page.locator("#draft-status").get_by_text("reopened").wait_for(state="detached")
        fill_consent_no(page)
        send(page)
        newest = next(i for i in wait_sent(page, 2) if i != old)
        assert f"form version {new}" in outbox_item(page, "sent", newest).inner_text()
        assert owner.submission(slug, form_id, newest)["form_version"] == new
        traffic.assert_local()
