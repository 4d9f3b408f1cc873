"""Every XLSForm feature in the browser: a collector fills a "features" form (one small
question per feature, in English and Kiswahili) with ODK Web Forms 0.22 on the fill page,
as a person would, and the test checks what the page shows and what the server stores.

A feature the engine does not support is not hidden with xfail: its test asserts what
happens today (e.g. the audio question says support is pending; ``${last-saved#…}``
stays empty), so the support table in docs/webforms.md is checked by CI.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_kit import (
    CHROMIUM_MARKS,
    DESKTOP,
    PHONE,
    axe_violations,
    fenced_page,
    login,
    serve,
    sideways_overflow,
)
from citizendata.workspace import Client, Workspace
from conftest import SPEC, file_settings
from xlsform_builders import make_xlsform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FilePayload, Locator, Page

pytestmark = CHROMIUM_MARKS
SLUG = str(SPEC["slug"])
EN, SW = "English (en)", "Kiswahili (sw)"
COLLECTOR = ("juma", "juma-password")
SWAHILI_COLLECTOR = ("neema", "neema-password")  # her interface language is Kiswahili
HOME = {"latitude": -1.9, "longitude": 36.5, "accuracy": 4}


def words(en: str, sw: str, column: str = "label") -> dict[str, str]:
    """One column in both of the form's languages."""
    return {f"{column}::{EN}": en, f"{column}::{SW}": sw}


SURVEY: list[dict[str, Any]] = [
    {"type": "start", "name": "start"},
    {"type": "end", "name": "end"},
    {"type": "deviceid", "name": "deviceid"},
    {"type": "text", "name": "full_name", **words("Your name", "Jina lako"),
     **words("Write the name you are known by", "Andika jina unalojulikana kwalo", "hint"),
     "required": "yes",
     **words("Please write a name", "Tafadhali andika jina", "required_message")},
    {"type": "integer", "name": "age", **words("Age in years", "Umri kwa miaka"),
     "constraint": ". >= 15 and . <= 120",
     **words("Age must be 15 to 120", "Umri lazima uwe kati ya 15 na 120",
             "constraint_message")},
    {"type": "select_one yn", "name": "has_phone", **words("Do you have a phone?", "Una simu?")},
    {"type": "text", "name": "phone_number", **words("Phone number", "Namba ya simu"),
     "relevant": "${has_phone} = 'yes'"},
    {"type": "decimal", "name": "milk_price",
     **words("Price of a litre of milk", "Bei ya lita moja ya maziwa")},
    {"type": "calculate", "name": "two_litres", "calculation": "${milk_price} * 2"},
    {"type": "note", "name": "two_litres_note",
     **words("Two litres cost ${two_litres}", "Lita mbili zinagharimu ${two_litres}")},
    {"type": "date", "name": "visit_date", **words("Date of the visit", "Tarehe ya ziara")},
    {"type": "select_one county", "name": "county", **words("County", "Kaunti")},
    {"type": "select_one ward", "name": "ward", **words("Ward", "Wadi"),
     "choice_filter": "county = ${county}"},
    {"type": "select_multiple livestock", "name": "livestock",
     **words("Livestock kept", "Mifugo inayofugwa"), "appearance": "minimal"},
    {"type": "select_one_from_file markets.csv", "name": "market",
     **words("Nearest market", "Soko la karibu")},
    {"type": "begin_group", "name": "household", **words("Household", "Kaya")},
    {"type": "integer", "name": "hh_size", **words("People in the household", "Watu katika kaya")},
    {"type": "end_group"},
    {"type": "begin_group", "name": "contact", **words("Contact", "Mawasiliano"),
     "appearance": "field-list"},
    {"type": "text", "name": "village", **words("Village", "Kijiji")},
    {"type": "text", "name": "landmark", **words("Landmark", "Alama ya eneo")},
    {"type": "end_group"},
    {"type": "begin_repeat", "name": "children", **words("Child", "Mtoto")},
    {"type": "text", "name": "child_name", **words("Child's name", "Jina la mtoto")},
    {"type": "end_repeat"},
    {"type": "integer", "name": "n_visits",
     **words("Number of clinic visits", "Idadi ya ziara za kliniki")},
    {"type": "begin_repeat", "name": "visits", **words("Visit", "Ziara"),
     "repeat_count": "${n_visits}"},
    {"type": "text", "name": "visit_place", **words("Where was the visit?", "Ziara ilikuwa wapi?")},
    {"type": "end_repeat"},
    {"type": "geopoint", "name": "location", **words("Location of the home", "Mahali pa nyumba")},
    {"type": "note", "name": "well_note", **words("A water point looks like this",
                                                  "Kisima kinaonekana hivi"),
     **words("well.png", "well.png", "image")},
    {"type": "image", "name": "photo", **words("Photo of the water point", "Picha ya kisima")},
    {"type": "audio", "name": "voice", **words("Voice note", "Ujumbe wa sauti")},
    {"type": "acknowledge", "name": "ack",
     **words("I have read this to the respondent", "Nimemsomea mhojiwa")},
]
CHOICES: list[dict[str, Any]] = [
    {"list_name": "yn", "name": "yes", **words("Yes", "Ndiyo")},
    {"list_name": "yn", "name": "no", **words("No", "Hapana")},
    {"list_name": "county", "name": "kajiado", **words("Kajiado", "Kajiado")},
    {"list_name": "county", "name": "nairobi", **words("Nairobi", "Nairobi")},
    {"list_name": "ward", "name": "magadi", **words("Magadi", "Magadi"), "county": "kajiado"},
    {"list_name": "ward", "name": "ewuaso", **words("Ewuaso", "Ewuaso"), "county": "kajiado"},
    {"list_name": "ward", "name": "kibra", **words("Kibra", "Kibra"), "county": "nairobi"},
    {"list_name": "ward", "name": "mathare", **words("Mathare", "Mathare"), "county": "nairobi"},
    {"list_name": "livestock", "name": "cattle", **words("Cattle", "Ng'ombe")},
    {"list_name": "livestock", "name": "goats", **words("Goats", "Mbuzi")},
    {"list_name": "livestock", "name": "camels", **words("Camels", "Ngamia")},
]
SETTINGS = {"form_id": "features", "version": "1", "form_title": "Features",
            "default_language": EN}
# select_one_from_file: the engine reads the CSV's "label" column (a "label::English (en)"
# column stops the whole form from loading: "Expression has syntax error")
MARKETS = b"name,label\nkiserian,Kiserian market\nmagadi,Magadi market\n"
LAST_SAVED_SURVEY: list[dict[str, Any]] = [
    {"type": "text", "name": "village", "label": "Village"},
    {"type": "text", "name": "village_again", "label": "Village as last saved",
     "default": "${last-saved#village}"},
]


# the same CSV with a label column per language, as a multilingual project might write it
MARKETS_IN_LANGUAGES = (f"name,label::{EN},label::{SW}\n"
                        "kiserian,Kiserian market,Soko la Kiserian\n").encode()


def features_xlsx() -> bytes:
    """The features XLSForm (form id "features")."""
    return make_xlsform(SURVEY, CHOICES, SETTINGS)


def last_saved_xlsx() -> bytes:
    """A form whose default is the last saved submission's answer (form id "last_saved")."""
    return make_xlsform(LAST_SAVED_SURVEY, None, {
        "form_id": "last_saved", "version": "1", "form_title": "Last saved"})


def csv_languages_xlsx() -> bytes:
    """A form whose choices come from a CSV with a label column per language."""
    return make_xlsform(
        [{"type": "select_one_from_file markets.csv", "name": "market", **words(
            "Nearest market", "Soko la karibu")}], None,
        {"form_id": "csv_languages", "version": "1", "form_title": "CSV in two languages",
         "default_language": EN})


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A small, valid, solid blue PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = b"".join(b"\x00" + b"\x1d\x4f\x91" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png_bytes()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Client]]:
    """The project with the features form (and its CSV) and the last-saved form, a
    collector, served over HTTP; yields the base URL and the owner."""
    root = Path(tmp_path_factory.mktemp("webform-features"))
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.create_user(*COLLECTOR)
    owner.add_member(SLUG, COLLECTOR[0], "collector")
    owner.create_user(*SWAHILI_COLLECTOR)
    owner.add_member(SLUG, SWAHILI_COLLECTOR[0], "collector")
    ws.as_user(SWAHILI_COLLECTOR[0]).set_language("sw")
    owner.add_form(SLUG, features_xlsx(), "features.xlsx",
                   attachments={"markets.csv": MARKETS, "well.png": png_bytes(40, 30)})
    owner.add_form(SLUG, last_saved_xlsx(), "last_saved.xlsx")
    owner.add_form(SLUG, csv_languages_xlsx(), "csv_languages.xlsx",
                   attachments={"markets.csv": MARKETS_IN_LANGUAGES})
    with serve(ws) as url:
        yield url, owner
    ws.close()


@pytest.fixture
def page(browser: Browser, served: tuple[str, Client]) -> Iterator[Page]:
    """A collector's own browser (its own context), logged in, at a known place."""
    with collector_page(browser, served[0], COLLECTOR) as pg:
        yield pg


_SESSIONS: dict[tuple[str, str], Any] = {}


@contextmanager
def collector_page(browser: Browser, base: str, user: tuple[str, str],
                   device: dict[str, Any] = DESKTOP) -> Iterator[Page]:
    """A page of ``user``'s own browser context, logged in; no page error and no refused
    request (4xx/5xx) while it is used, and nothing leaves the machine. The user logs in
    through the login form once per module; later contexts start with that session's
    cookie (and nothing else: no drafts, no outbox)."""
    key = (base, user[0])
    if key not in _SESSIONS:
        with fenced_page(browser) as (first, _):
            login(first, base, *user)
            _SESSIONS[key] = first.context.storage_state()
    with fenced_page(browser, geolocation=HOME, permissions=["geolocation"],
                     storage_state=_SESSIONS[key], **device) as (pg, traffic):
        errors: list[str] = []
        pg.set_default_timeout(20_000)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
              else None)
        yield pg
        traffic.assert_local()
        assert errors == []


def open_form(page: Page, base: str, form_id: str = "features") -> None:
    """The fill page, with the engine's form rendered."""
    page.goto(f"{base}/projects/{SLUG}/forms/{form_id}/fill")
    page.locator(".form-initialization-status.ready").wait_for(state="attached")
    page.locator(".odk-form .form-questions").wait_for()


def question(page: Page, label: str) -> Locator:
    """The question whose label is ``label``."""
    return page.locator(".question-container").filter(
        has=page.get_by_text(label, exact=True))


def type_into(field: Locator, text: str) -> None:
    """Type as a person does, then leave the field."""
    field.click()
    field.press("ControlOrMeta+a")
    field.press("Backspace")
    field.press_sequentially(text)
    field.press("Tab")


def send(page: Page) -> None:
    """Press the engine's Send button."""
    page.get_by_role("button", name="Send", exact=True).click()


def outbox_states(page: Page) -> list[str]:
    return page.locator("#outbox li.outbox-item").evaluate_all(
        "items => items.map(i => i.dataset.state)")


def choose_language(page: Page, language: str) -> None:
    """Switch the form's language with the engine's globe menu."""
    page.locator(".language-changer").first.click()
    page.get_by_role("option", name=language).click()


# -- relevance, calculation, note, integer/decimal/date, audio -----------------------------
def test_relevance_and_a_calculation_shown_in_a_note(page: Page,
                                                     served: tuple[str, Client]) -> None:
    open_form(page, served[0])
    phone = question(page, "Phone number")
    assert phone.count() == 0
    question(page, "Do you have a phone?").get_by_text("Yes", exact=True).click()
    expect_visible(question(page, "Phone number"))
    question(page, "Do you have a phone?").get_by_text("No", exact=True).click()
    question(page, "Phone number").wait_for(state="detached")

    # before the price is known, the note shows the engine's NaN (as ODK Collect does)
    assert page.get_by_text("Two litres cost NaN").count() == 1
    type_into(question(page, "Price of a litre of milk").locator("input"), "1.5")
    page.get_by_text("Two litres cost 3", exact=True).wait_for()


def expect_visible(loc: Locator) -> None:
    loc.wait_for(state="visible")


# -- constraint and required, with their messages, in two languages ----------------------
def test_constraint_and_required_messages_block_sending_in_both_languages(
        page: Page, served: tuple[str, Client]) -> None:
    open_form(page, served[0])
    age = question(page, "Age in years")
    type_into(age.locator("input"), "9")
    age.get_by_text("Age must be 15 to 120", exact=True).wait_for()

    # Send with the name empty and the age out of range: both messages, nothing queued
    send(page)
    name = question(page, "Your name")
    name.get_by_text("Please write a name", exact=True).wait_for()
    page.get_by_text("2 questions with errors").wait_for()  # the engine's words: English
    assert outbox_states(page) == []

    choose_language(page, SW)
    name = question(page, "Jina lako")
    name.get_by_text("Andika jina unalojulikana kwalo", exact=True).wait_for()
    name.get_by_text("Tafadhali andika jina", exact=True).wait_for()
    age = question(page, "Umri kwa miaka")
    age.get_by_text("Umri lazima uwe kati ya 15 na 120", exact=True).wait_for()
    assert question(page, "Una simu?").get_by_text("Ndiyo", exact=True).count() == 1
    assert page.get_by_role("button", name="Send", exact=True).count() == 1

    # the constraint alone still blocks sending
    type_into(name.locator("input"), "Amina")
    name.get_by_text("Tafadhali andika jina", exact=True).wait_for(state="hidden")
    send(page)
    page.get_by_text("1 question with error").wait_for()
    assert outbox_states(page) == []

    # answered within the constraint, the submission goes
    type_into(age.locator("input"), "34")
    age.get_by_text("Umri lazima uwe kati ya 15 na 120").wait_for(state="hidden")
    send(page)
    wait_sent(page)
    iid = page.locator("#outbox li.outbox-item").first.get_attribute("data-instance-id")
    assert iid
    data = served[1].submission(SLUG, "features", iid)["data"]
    assert (data["full_name"], data["age"]) == ("Amina", "34")


# -- choice filter, select_one_from_file, select_multiple minimal -------------------------
def options_of(loc: Locator) -> list[str]:
    return [t.strip() for t in loc.locator(".value-option, label").all_inner_texts() if t.strip()]


def test_cascading_choices_choices_from_a_csv_and_a_minimal_multiple_select(
        page: Page, served: tuple[str, Client]) -> None:
    open_form(page, served[0])
    ward = question(page, "Ward")
    assert ward.get_by_role("radio").count() == 0
    question(page, "County").get_by_text("Kajiado", exact=True).click()
    ward.get_by_text("Magadi", exact=True).wait_for()
    assert sorted(ward.get_by_role("radio").evaluate_all("rs => rs.map(r => r.value)")) == [
        "ewuaso", "magadi"]
    question(page, "County").get_by_text("Nairobi", exact=True).click()
    ward.get_by_text("Kibra", exact=True).wait_for()
    assert sorted(ward.get_by_role("radio").evaluate_all("rs => rs.map(r => r.value)")) == [
        "kibra", "mathare"]

    # the CSV sent with the form (form media), fetched through the fill page's attachments
    market = question(page, "Nearest market")
    market.get_by_text("Magadi market", exact=True).wait_for()
    assert sorted(market.get_by_role("radio").evaluate_all("rs => rs.map(r => r.value)")) == [
        "kiserian", "magadi"]

    # a label's image (form media), fetched through the fill page's attachments
    picture = page.locator(".question-container").filter(
        has_text="A water point looks like this").locator("img")
    picture.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    assert picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]

    # appearance minimal: a drop-down list with check boxes
    livestock = question(page, "Livestock kept")
    assert livestock.get_by_role("checkbox").count() == 0
    livestock.locator(".p-multiselect").click()
    page.get_by_role("option", name="Cattle").click()
    page.get_by_role("option", name="Camels").click()
    page.keyboard.press("Escape")
    assert livestock.locator(".p-multiselect-label").inner_text() == "Cattle, Camels"


# -- groups, field lists, repeats ---------------------------------------------------------
def test_groups_a_field_list_and_repeats_added_removed_and_counted(
        page: Page, served: tuple[str, Client]) -> None:
    open_form(page, served[0])
    household = page.locator(".p-panel").filter(has=page.get_by_text("Household", exact=True))
    assert household.get_by_text("People in the household", exact=True).is_visible()
    # a field list shows its questions together, in one panel
    contact = page.locator(".p-panel").filter(has=page.get_by_text("Contact", exact=True))
    assert contact.get_by_text("Village", exact=True).is_visible()
    assert contact.get_by_text("Landmark", exact=True).is_visible()
    # a group can be folded away
    household.locator(".p-panel-header").first.click()
    household.get_by_text("People in the household", exact=True).wait_for(state="hidden")

    # a repeat the collector adds to and removes from (one instance to start with)
    children = page.locator(".p-panel.is-repeat")
    assert children.count() == 1
    page.get_by_role("button", name="Add Child").click()
    assert children.count() == 2
    assert page.get_by_text("Child's name", exact=True).count() == 2
    type_into(question(page, "Child's name").nth(0).locator("input"), "Naserian")
    type_into(question(page, "Child's name").nth(1).locator("input"), "Lemayian")
    children.nth(0).locator(".button-menu").click()
    page.get_by_role("menuitem", name="Remove").click()
    assert children.count() == 1
    assert question(page, "Child's name").locator("input").input_value() == "Lemayian"

    # a repeat whose count is an answer: as many instances as visits, no Add button
    visits = question(page, "Where was the visit?")
    assert visits.count() == 0
    type_into(question(page, "Number of clinic visits").locator("input"), "3")
    expect_count(visits, 3)
    type_into(question(page, "Number of clinic visits").locator("input"), "1")
    expect_count(visits, 1)
    assert page.get_by_role("button", name="Add Visit").count() == 0


def expect_count(loc: Locator, n: int) -> None:
    for _ in range(100):
        if loc.count() == n:
            return
        loc.page.wait_for_timeout(100)
    assert loc.count() == n


# -- a whole submission: geopoint, photo, date, metadata; stored on the server ------------
def wait_sent(page: Page, n: int = 1) -> None:
    """Until the outbox shows ``n`` submissions sent."""
    page.locator("#outbox li.outbox-item[data-state=sent]").nth(n - 1).wait_for()


def test_a_filled_form_with_a_gps_point_and_a_photo_arrives_with_its_attachment(
        page: Page, served: tuple[str, Client]) -> None:
    base, owner = served
    open_form(page, base)
    type_into(question(page, "Your name").locator("input"), "Amina Wanjiru")
    type_into(question(page, "Age in years").locator("input"), "34")
    question(page, "Do you have a phone?").get_by_text("Yes", exact=True).click()
    type_into(question(page, "Phone number").locator("input"), "0712 345 678")
    type_into(question(page, "Price of a litre of milk").locator("input"), "62.5")
    page.get_by_text("Two litres cost 125", exact=True).wait_for()
    # a date picked from the calendar (this month, the 15th)
    question(page, "Date of the visit").locator("input").click()
    page.locator(".p-datepicker-panel").get_by_text("15", exact=True).click()
    question(page, "County").get_by_text("Kajiado", exact=True).click()
    question(page, "Ward").get_by_text("Ewuaso", exact=True).click()
    question(page, "Livestock kept").locator(".p-multiselect").click()
    page.get_by_role("option", name="Goats").click()
    page.keyboard.press("Escape")
    question(page, "Nearest market").get_by_text("Kiserian market", exact=True).click()
    type_into(question(page, "People in the household").locator("input"), "6")
    type_into(question(page, "Village").locator("input"), "Oloika")
    type_into(question(page, "Child's name").locator("input"), "Naserian")
    page.get_by_role("button", name="Add Child").click()
    type_into(question(page, "Child's name").nth(1).locator("input"), "Lemayian")
    type_into(question(page, "Number of clinic visits").locator("input"), "2")
    expect_count(question(page, "Where was the visit?"), 2)
    type_into(question(page, "Where was the visit?").nth(0).locator("input"), "Magadi")
    type_into(question(page, "Where was the visit?").nth(1).locator("input"), "Kiserian")

    # the browser's position, accepted in the engine's dialog
    gps = question(page, "Location of the home")
    gps.get_by_role("button", name="Get location").click()
    page.get_by_text("Good accuracy").first.wait_for()
    page.get_by_role("button", name="Save location").click()
    gps.get_by_text("Latitude: -1.9").wait_for()
    assert "Longitude: 36.5" in gps.inner_text()

    # a photo chosen with the file chooser, previewed before sending
    choose_photo(page)
    question(page, "I have read this to the respondent").get_by_text("Okay").click()

    send(page)
    wait_sent(page)
    iid = page.locator("#outbox li.outbox-item").first.get_attribute("data-instance-id")
    assert iid and iid.startswith("uuid:")
    stored = owner.submission(SLUG, "features", iid)
    assert stored["channel"] == "webform" and stored["submitter"] == COLLECTOR[0]
    data = stored["data"]
    assert {k: data[k] for k in ("full_name", "age", "has_phone", "phone_number", "milk_price",
                                 "two_litres", "county", "ward", "livestock", "market", "ack",
                                 "household", "contact")} == {
        "full_name": "Amina Wanjiru", "age": "34", "has_phone": "yes",
        "phone_number": "0712 345 678", "milk_price": "62.5", "two_litres": "125",
        "county": "kajiado", "ward": "ewuaso", "livestock": "goats", "market": "kiserian",
        "ack": "OK", "household": {"hh_size": "6"},
        "contact": {"village": "Oloika", "landmark": ""}}
    assert re.fullmatch(r"\d{4}-\d{2}-15", data["visit_date"])
    assert data["children"] == [{"child_name": "Naserian"}, {"child_name": "Lemayian"}]
    assert data["visits"] == [{"visit_place": "Magadi"}, {"visit_place": "Kiserian"}]
    assert data["location"] == "-1.9 36.5 0.0 4.0"
    # metadata the engine fills: start, end and its own device id
    assert data["start"] <= data["end"] and data["start"][:4] == data["end"][:4]
    assert data["deviceid"].startswith("getodk.org:webforms:")
    assert data["voice"] == ""
    # the photo travelled as a media part and is stored, byte for byte
    assert re.fullmatch(r"\d+\.png", data["photo"])
    listed = owner.attachments(SLUG, "features", iid).attachments
    assert [(a.name, a.field, a.content_type, a.size) for a in listed] == [
        (data["photo"], "photo", "image/png", len(PNG))]
    info, body = owner.attachment(SLUG, "features", iid, data["photo"])
    assert body == PNG and info.field == "photo" and info.present


def choose_photo(page: Page) -> None:
    """Choose the PNG with the photo question's file chooser; wait for its preview."""
    photo = question(page, "Photo of the water point")
    with page.expect_file_chooser() as chooser:
        photo.get_by_role("button", name="Choose image").click()
    well: FilePayload = {"name": "well.png", "mimeType": "image/png", "buffer": PNG}
    chooser.value.set_files(files=[well])
    photo.get_by_role("img", name="Captured image preview").wait_for()


def test_a_photo_queued_offline_is_sent_with_the_submission_when_online_again(
        page: Page, served: tuple[str, Client]) -> None:
    base, owner = served
    open_form(page, base)
    type_into(question(page, "Your name").locator("input"), "Draft Person")
    choose_photo(page)
    page.get_by_text("Draft saved on this device").wait_for()
    page.reload()
    # the draft reopens (the engine's restore mode) with the name and the photo's preview
    page.get_by_text("reopened").wait_for()
    page.locator(".odk-form .form-questions").wait_for()
    assert question(page, "Your name").locator("input").input_value() == "Draft Person"
    question(page, "Photo of the water point").get_by_role(
        "img", name="Captured image preview").wait_for()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Discard the draft").click()
    page.locator(".odk-form .form-questions").wait_for()

    type_into(question(page, "Your name").locator("input"), "Offline Person")
    choose_photo(page)
    page.context.set_offline(True)
    send(page)
    page.locator("#outbox li.outbox-item[data-state=queued]").wait_for()
    page.context.set_offline(False)  # the page sends the queue when the browser is online
    wait_sent(page)
    iid = page.locator("#outbox li.outbox-item").first.get_attribute("data-instance-id")
    assert iid
    data = owner.submission(SLUG, "features", iid)["data"]
    assert data["full_name"] == "Offline Person"
    assert owner.attachment(SLUG, "features", iid, data["photo"])[1] == PNG


# -- what the engine does not support (yet) -----------------------------------------------
def test_an_audio_question_says_support_is_pending(page: Page,
                                                   served: tuple[str, Client]) -> None:
    open_form(page, served[0])
    # ODK Web Forms 0.22 renders only image uploads; an audio question shows a notice in
    # place of its label and offers no way to attach a file
    pending = page.get_by_text("Support for non-image uploads is pending.")
    pending.wait_for()
    assert page.get_by_text("Voice note", exact=True).count() == 0
    assert page.locator("input[type=file]").evaluate_all(
        "fs => fs.map(f => f.accept)") == ["image/*"]


def test_a_last_saved_default_stays_empty(page: Page, served: tuple[str, Client]) -> None:
    base, owner = served
    open_form(page, base, "last_saved")
    type_into(question(page, "Village").locator("input"), "Oloika")
    assert question(page, "Village as last saved").locator("input").input_value() == ""
    send(page)
    wait_sent(page)
    # the next, blank submission: ODK Collect would offer "Oloika"; the engine leaves it empty
    question(page, "Village").locator("input").wait_for()
    assert question(page, "Village").locator("input").input_value() == ""
    assert question(page, "Village as last saved").locator("input").input_value() == ""
    page.reload()
    page.locator(".odk-form .form-questions").wait_for()
    assert question(page, "Village as last saved").locator("input").input_value() == ""
    iid = page.locator("#outbox li.outbox-item").first.get_attribute("data-instance-id")
    assert iid
    stored = owner.submission(SLUG, "last_saved", iid)["data"]
    assert stored["village"] == "Oloika" and stored["village_again"] == ""


def test_the_form_opens_in_the_interface_language_and_the_globe_menu_switches_it(
        browser: Browser, served: tuple[str, Client]) -> None:
    with collector_page(browser, served[0], SWAHILI_COLLECTOR) as page:
        open_form(page, served[0])
        question(page, "Jina lako").wait_for()
        assert SW in page.locator(".language-changer").first.inner_text()
        assert page.get_by_text("Lita mbili zinagharimu NaN").count() == 1
        choose_language(page, EN)
        question(page, "Your name").wait_for()
        assert question(page, "Do you have a phone?").get_by_text("No", exact=True).count() == 1
        page.get_by_text("Two litres cost NaN").wait_for()


def test_a_csv_with_a_label_column_per_language_stops_the_form_loading(
        page: Page, served: tuple[str, Client]) -> None:
    # the engine turns each CSV column into an element named after it, and
    # "label::English (en)" is no name: the whole form fails (ODK Collect reads "label")
    page.goto(f"{served[0]}/projects/{SLUG}/forms/csv_languages/fill")
    page.get_by_text("An error occurred while loading this form").wait_for()
    assert page.get_by_text(f"Expression has syntax error: label::{EN}").first.is_visible()
    assert page.locator(".odk-form .form-questions").count() == 0


# axe-core's serious and critical findings on the engine's own widgets in 0.22 (number and
# date inputs without a label, the repeat menu button without a name, pale hints,
# messages and buttons) are mended by the page (web/src/main.js nameWidgets, webform.css)
def test_on_a_phone_the_filled_form_fits_and_axe_finds_nothing_serious(
        browser: Browser, served: tuple[str, Client]) -> None:
    with collector_page(browser, served[0], COLLECTOR, PHONE) as page:
        open_form(page, served[0])
        type_into(question(page, "Age in years").locator("input"), "9")
        send(page)  # with the messages showing
        page.get_by_text("2 questions with errors").wait_for()
        assert sideways_overflow(page) <= 0
        assert axe_violations(page) == []
