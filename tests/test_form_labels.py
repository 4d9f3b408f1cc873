"""Question and choice labels per form language, and the GPS point map of the review page."""

from __future__ import annotations

from citizendata.forms.labels import form_labels, pick_language
from citizendata.forms.xlsform import parse_xlsform
from citizendata.server.review_map import parse_geopoint, point_map
from test_review_pages import REVIEW_FORM, WARDS
from xlsform_builders import make_xlsform


def test_labels_follow_the_interface_language_with_the_default_as_fallback() -> None:
    form = parse_xlsform(REVIEW_FORM, "clinic.xlsx")
    sw = form_labels(form.xform_xml, form.schema, "sw")
    assert sw.language == "Swahili (sw)"
    assert sw.field_label("age") == "Umri" and sw.field_label("location") == "Mahali"
    assert sw.field_label("births/place") == "Mahali pa kujifungua"
    assert sw.choice_label("yn", "yes") == "Ndiyo" and sw.choice_label("yn", "maybe") == "maybe"
    assert sw.message("age", "constraint", "15 or older") == "Miaka 15 au zaidi"
    assert sw.message("consent", "required", "x") == "x"
    fr = form_labels(form.xform_xml, form.schema, "fr")  # no French: the form's default
    assert fr.language == "English (en)" and fr.field_label("age") == "Age"
    assert form_labels(None, form.schema, "sw").field_label("age") == "Age"


def test_plain_labels_stay_the_default_when_a_language_is_missing() -> None:
    xls = make_xlsform([{"type": "integer", "name": "age", "label": "Age",
                         "label::Swahili (sw)": "Umri"}], [], {"form_id": "f", "version": "1"})
    form = parse_xlsform(xls, "f.xlsx")
    assert form_labels(form.xform_xml, form.schema, "en").field_label("age") == "Age"
    assert form_labels(form.xform_xml, form.schema, "sw").field_label("age") == "Umri"
    assert pick_language(["Kiswahili", "Français"], None, "fr") == "Français"
    assert pick_language(["Swahili (sw)"], None, "es") is None


def test_the_point_map_names_the_area_and_draws_nothing_from_outside() -> None:
    assert parse_geopoint("-1.75 36.25 1200 5") == (-1.75, 36.25)
    assert parse_geopoint("north") is None and parse_geopoint("95 10") is None
    svg, area = point_map(-1.75, 36.75, WARDS, "GPS")
    assert area == "Ewuaso Kedong" and 'class="area here"' in svg and "http" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    plain, none = point_map(-1.75, 36.75, None, "GPS")
    assert none is None and 'class="grid"' in plain and "<circle" in plain
