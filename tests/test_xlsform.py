"""Reading XLSForms into form schemas, as a form designer would upload them."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.forms import Choice, FormSchema, merge_schemas, parse_xlsform
from citizendata.forms.media import check_attachments
from xlsform_builders import make_xlsform

EN, SW = "label::English (en)", "label::Swahili (sw)"

HOUSEHOLD_SURVEY = [
    {"type": "start", "name": "start"},                                               # row 2
    {"type": "text", "name": "respondent", EN: "Respondent's name", SW: "Jina",
     "required": "yes", "required_message::English (en)": "Please give a name"},      # row 3
    {"type": "begin_group", "name": "location", EN: "Location", SW: "Mahali"},        # row 4
    {"type": "select_one wards", "name": "ward", EN: "Ward", SW: "Kata",
     "required": "yes"},                                                              # row 5
    {"type": "geopoint", "name": "gps", EN: "Position", SW: "Mahali pa GPS"},         # row 6
    {"type": "end_group"},                                                            # row 7
    {},                                                                               # row 8
    {"type": "integer", "name": "births_count", EN: "Births in the last year",
     SW: "Vizazi", "constraint": ". >= 0 and . < 20",
     "constraint_message::English (en)": "Between 0 and 19",
     "constraint_message::Swahili (sw)": "Kati ya 0 na 19"},                          # row 9
    {"type": "begin_repeat", "name": "births", EN: "Birth", SW: "Kizazi",
     "repeat_count": "${births_count}", "relevant": "${births_count} > 0"},           # row 10
    {"type": "select_multiple places", "name": "place", EN: "Place of birth",
     SW: "Mahali pa kuzaliwa", "appearance": "minimal"},                              # row 11
    {"type": "date", "name": "born", EN: "Date of birth", SW: "Tarehe",
     "relevant": "selected(${place}, 'home')"},                                       # row 12
    {"type": "calculate", "name": "born_at_home",
     "calculation": "if(selected(${place}, 'home'), 1, 0)"},                          # row 13
    {"type": "end_repeat"},                                                           # row 14
    {"type": "note", "name": "thanks", EN: "Thank you", SW: "Asante"},                # row 15
]
HOUSEHOLD_CHOICES = [
    {"list_name": "wards", "name": "kibera", EN: "Kibera", SW: "Kibera"},
    {"list_name": "wards", "name": "mathare", EN: "Mathare", SW: "Mathare"},
    {"list_name": "places", "name": "home", EN: "At home", SW: "Nyumbani"},
    {"list_name": "places", "name": "clinic", EN: "At a clinic", SW: "Kliniki"},
]
HOUSEHOLD_SETTINGS = {"form_title": "Household survey", "form_id": "household",
                      "version": "2026031501", "default_language": "English (en)"}


@pytest.fixture(scope="module")
def household() -> bytes:
    return make_xlsform(HOUSEHOLD_SURVEY, HOUSEHOLD_CHOICES, HOUSEHOLD_SETTINGS)


def test_household_form_identity(household: bytes) -> None:
    parsed = parse_xlsform(household, "household.xlsx")
    assert (parsed.form_id, parsed.version, parsed.title) == (
        "household", "2026031501", "Household survey")
    assert parsed.sha256 == hashlib.sha256(household).hexdigest()
    assert not parsed.version_defaulted
    schema = parsed.schema
    assert (schema.form_id, schema.version, schema.root) == ("household", "2026031501", "data")
    assert '<data id="household" version="2026031501">' in parsed.xform_xml
    assert schema.default_language == "English (en)"
    assert schema.languages == ("English (en)", "Swahili (sw)")


def test_household_paths_types_and_rows(household: bytes) -> None:
    schema = parse_xlsform(household, "household.xlsx").schema
    got = [(f.path, f.type, f.row, f.repeat) for f in schema.fields]
    assert got == [
        ("start", "start", 2, None),
        ("respondent", "text", 3, None),
        ("location/ward", "select_one", 5, None),
        ("location/gps", "geopoint", 6, None),
        ("births_count", "integer", 9, None),
        ("births/place", "select_multiple", 11, "births"),
        ("births/born", "date", 12, "births"),
        ("births/born_at_home", "calculate", 13, "births"),
        ("thanks", "note", 15, None),
        ("meta/instanceID", "text", None, None),
    ]
    groups = [(g.path, g.repeat, g.row, g.repeat_count, g.relevant) for g in schema.groups]
    assert groups == [
        ("location", False, 4, None, None),
        ("births", True, 10, "${births_count}", "${births_count} > 0"),
        ("meta", False, None, None, None),
    ]


def test_household_question_details(household: bytes) -> None:
    schema = parse_xlsform(household, "household.xlsx").schema
    respondent = schema.field("respondent")
    assert respondent.label == "Respondent's name"
    assert respondent.required and respondent.required_message == "Please give a name"
    ward = schema.field("location/ward")
    assert ward.list_name == "wards"
    assert ward.choices == (Choice("kibera", "Kibera"), Choice("mathare", "Mathare"))
    count = schema.field("births_count")
    assert count.constraint == ". >= 0 and . < 20"
    assert count.constraint_message == "Between 0 and 19"
    assert not count.required
    place = schema.field("births/place")
    assert place.appearance == "minimal" and [c.name for c in place.choices] == ["home", "clinic"]
    assert schema.field("births/born").relevant == "selected(${place}, 'home')"
    assert schema.field("births/born_at_home").calculation.startswith("if(selected(")
    assert schema.find("born_at_home") is schema.field("births/born_at_home")


def test_default_personal_data_tags(household: bytes) -> None:
    schema = parse_xlsform(household, "household.xlsx").schema
    personal = {f.path for f in schema.fields if f.personal}
    assert personal == {"respondent", "location/gps"}


def test_personal_and_sensitive_columns_override_the_defaults() -> None:
    data = make_xlsform([
        {"type": "text", "name": "village", "label": "Village", "personal": "no"},
        {"type": "integer", "name": "age", "label": "Age", "sensitive": "yes"},
        {"type": "select_one yn", "name": "hiv", "label": "HIV test?", "personal": "TRUE"},
        {"type": "email", "name": "mail"},
        {"type": "text", "name": "phone", "label": "Phone", "appearance": "numbers"},
    ], [{"list_name": "yn", "name": "yes", "label": "Yes"}])
    schema = parse_xlsform(data).schema
    assert {f.name: f.personal for f in schema.fields} == {
        "village": False, "age": True, "hiv": True, "mail": True, "phone": True,
        "instanceID": False}


def test_swahili_is_used_when_it_is_the_default_language() -> None:
    data = make_xlsform(HOUSEHOLD_SURVEY, HOUSEHOLD_CHOICES,
                        {**HOUSEHOLD_SETTINGS, "default_language": "Swahili (sw)"})
    schema = parse_xlsform(data).schema
    assert schema.default_language == "Swahili (sw)"
    assert schema.field("location/ward").label == "Kata"
    # The required message exists only in English, so the English text is the fallback.
    assert schema.field("respondent").required_message == "Please give a name"


def test_schema_round_trips_through_json(household: bytes) -> None:
    schema = parse_xlsform(household, "household.xlsx").schema
    again = FormSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    assert again.warnings == schema.warnings


def test_pyxform_warnings_are_kept_not_raised() -> None:
    data = make_xlsform([{"type": "integer", "name": "n", EN: "N", SW: "N",
                          "constraint": ". > 0", "constraint_message::English (en)": "Positive"}])
    parsed = parse_xlsform(data)
    assert any("Swahili (sw)" in w for w in parsed.warnings)
    assert parsed.schema.warnings == parsed.warnings


def test_missing_version_defaults_to_the_file_hash_and_is_sent_to_devices() -> None:
    data = make_xlsform([{"type": "text", "name": "a", "label": "A"}], settings={"form_id": "f"})
    parsed = parse_xlsform(data)
    assert parsed.version == hashlib.sha256(data).hexdigest()[:12]
    assert parsed.version_defaulted and parsed.schema.version == parsed.version
    assert f'version="{parsed.version}"' in parsed.xform_xml
    assert parse_xlsform(data).version == parsed.version  # stable


def test_form_id_defaults_to_the_file_name() -> None:
    data = make_xlsform([{"type": "text", "name": "a", "label": "A"}])
    parsed = parse_xlsform(data, "market_prices.xlsx")
    assert parsed.form_id == "market_prices" and parsed.schema.root == "data"
    assert parse_xlsform(make_xlsform([{"type": "text", "name": "a", "label": "A"}],
                                      settings={"id_string": "prices"})).form_id == "prices"


def test_csv_xlsform_is_accepted() -> None:
    text = b"survey,,,\n,type,name,label\n,text,shop,Shop name\n,decimal,price,Price\n"
    schema = parse_xlsform(text, "prices.csv").schema
    assert [(f.path, f.type) for f in schema.fields] == [
        ("shop", "text"), ("price", "decimal"), ("meta/instanceID", "text")]


def test_select_from_file_is_kept_as_text() -> None:
    data = make_xlsform([{"type": "select_one_from_file wards.csv", "name": "ward", "label": "W"}])
    ward = parse_xlsform(data).schema.field("ward")
    assert (ward.type, ward.list_name, ward.choices, ward.storage_type) == (
        "select_one_from_file", "wards.csv", (), "text")


@pytest.mark.parametrize("content, name", [
    (b"type,name,label\n", "form.xlsx"),
    (b"%PDF-1.7 not a workbook", "form.pdf"),
    (b"PK\x03\x04 broken zip", "form.xlsx"),
    (bytes.fromhex("D0CF11E0A1B11AE1") + bytes(600), "form.xls"),
])
def test_files_that_are_not_workbooks_are_refused(content: bytes, name: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_xlsform(content, name)
    assert err.value.code == "form.not_xlsform"
    assert err.value.where is not None and err.value.where.file == name


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(BadInput) as err:
        parse_xlsform(buf.getvalue(), "notes.xlsx")
    assert err.value.code == "form.not_xlsform"


def test_bad_type_names_its_row() -> None:
    data = make_xlsform([
        {"type": "text", "name": "a", "label": "A"},
        {"type": "text", "name": "b", "label": "B"},
        {"type": "integer", "name": "c", "label": "C"},
        {"type": "interger", "name": "d", "label": "D"},   # row 5
    ])
    with pytest.raises(BadInput) as err:
        parse_xlsform(data, "typo.xlsx")
    e = err.value
    assert e.code == "form.invalid" and "interger" in e.message
    assert e.where is not None
    assert (e.where.file, e.where.sheet, e.where.row, e.where.column) == (
        "typo.xlsx", "survey", 5, "type")


def test_unknown_choice_list_names_its_row() -> None:
    data = make_xlsform(
        [{"type": "text", "name": "a", "label": "A"},
         {"type": "select_one colours", "name": "colour", "label": "Colour"}],
        [{"list_name": "colors", "name": "red", "label": "Red"}])
    with pytest.raises(BadInput) as err:
        parse_xlsform(data)
    e = err.value
    assert e.code == "form.invalid" and "colours" in e.message
    assert e.where is not None and (e.where.sheet, e.where.row) == ("survey", 3)


def test_broken_reference_keeps_pyxform_message_and_column() -> None:
    data = make_xlsform([{"type": "text", "name": "a", "label": "A", "relevant": "${nope} = 1"}])
    with pytest.raises(BadInput) as err:
        parse_xlsform(data)
    e = err.value
    assert e.code == "form.invalid" and "nope" in e.message
    assert e.where is not None and (e.where.sheet, e.where.row, e.where.column) == (
        "survey", 2, "relevant")


def test_pulldata_and_search_need_their_files_reported_together() -> None:
    data = make_xlsform(
        [{"type": "text", "name": "hh_id", "label": "Household id"},
         {"type": "calculate", "name": "head",
          "calculation": "pulldata('households', 'head', 'id', ${hh_id})"},
         {"type": "select_one wards", "name": "ward", "label": "Ward",
          "appearance": "search('wards')"}],
        [{"list_name": "wards", "name": "name_key", "label": "name"}])
    parsed = parse_xlsform(data, "lookup.xlsx")
    assert [(n.name, n.row, n.field) for n in parsed.needs] == [
        ("households.csv", 3, "head"), ("wards.csv", 4, "ward")]
    with pytest.raises(BadInput) as err:
        check_attachments(list(parsed.needs), {"wards.csv": b"name_key,name\n"}, "lookup.xlsx")
    e = err.value
    assert e.code == "form.attachment_missing" and e.details["missing"] == ["households.csv"]
    assert [(p.where.sheet, p.where.row) for p in e.problems if p.where] == [("survey", 3)]
    assert "pulldata()" in e.message or "pulldata()" in e.problems[0].message


def test_entities_sheet_is_unsupported() -> None:
    data = make_xlsform([{"type": "text", "name": "tree", "label": "Tree", "save_to": "species"}],
                        extra_sheets={"entities": [{"dataset": "trees", "label": "${tree}"}]})
    with pytest.raises(BadInput) as err:
        parse_xlsform(data)
    assert err.value.code == "form.unsupported"
    assert [p.where.sheet for p in err.value.problems if p.where] == ["entities"]


def _version(fields: list[tuple[str, str]], version: str) -> FormSchema:
    rows = [{"type": t, "name": n, "label": label} for n, t, label in
            ((n, t.split(":")[0], t.split(":")[-1]) for n, t in fields)]
    data = make_xlsform(rows, settings={"form_id": "f", "version": version})
    return parse_xlsform(data).schema


def test_merge_keeps_newest_order_then_older_only_fields() -> None:
    v1 = _version([("name", "text:Name"), ("age", "integer:Age"), ("old", "text:Old")], "1")
    v2 = _version([("age", "decimal:Age in years"), ("name", "text:Name"),
                   ("new", "integer:New")], "2")
    merged = merge_schemas([v1, v2])
    assert merged.version == "2"
    assert [f.path for f in merged.fields] == ["age", "name", "new", "meta/instanceID", "old"]
    assert merged.field("age").type == "decimal" and merged.field("age").label == "Age in years"
    assert merged.field("old").row == 4  # kept as the older version defined it
    assert merge_schemas([v2]) == v2


_NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
_TYPES = st.sampled_from(["text", "integer", "decimal", "date", "geopoint", "note", "barcode"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(top=st.lists(st.tuples(_NAMES, _TYPES), max_size=4, unique_by=lambda t: t[0]),
       inner=st.lists(st.tuples(_NAMES, _TYPES), min_size=1, max_size=3,
                      unique_by=lambda t: t[0]),
       repeat=st.booleans())
def test_generated_forms_have_right_paths_rows_and_round_trip(
        top: list[tuple[str, str]], inner: list[tuple[str, str]], repeat: bool) -> None:
    kind = "repeat" if repeat else "group"
    rows = [{"type": t, "name": f"q_{n}", "label": n} for n, t in top]
    rows += [{"type": f"begin_{kind}", "name": "g", "label": "G"}]
    rows += [{"type": t, "name": n, "label": n} for n, t in inner]
    rows += [{"type": f"end_{kind}"}]
    schema = parse_xlsform(make_xlsform(rows)).schema
    expected: list[tuple[str, str, int, str | None]] = [
        (f"q_{n}", t, i + 2, None) for i, (n, t) in enumerate(top)]
    expected += [(f"g/{n}", t, len(top) + 3 + i, "g" if repeat else None)
                 for i, (n, t) in enumerate(inner)]
    got = [(f.path, f.type, f.row, f.repeat) for f in schema.fields if f.path != "meta/instanceID"]
    assert got == expected
    assert schema.field("meta/instanceID").type == "text"
    first_group = schema.groups[0]
    assert (first_group.path, first_group.repeat, first_group.row) == ("g", repeat, len(top) + 2)
    assert FormSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


def test_conditional_required_and_choice_filter_are_kept() -> None:
    parsed = parse_xlsform(make_xlsform(
        [{"type": "select_one county", "name": "county", "label": "County"},
         {"type": "select_one ward", "name": "ward", "label": "Ward",
          "choice_filter": "county=${county}", "required": "${county} != ''"},
         {"type": "text", "name": "note", "label": "Note", "required": "yes"}],
        [{"list_name": "county", "name": "kajiado", "label": "Kajiado"},
         {"list_name": "ward", "name": "magadi", "label": "Magadi", "county": "kajiado"}],
        {"form_id": "cf", "version": "1"}), "cf.xlsx")
    ward, note = parsed.schema.field("ward"), parsed.schema.field("note")
    assert ward.choice_filter is not None and "county" in ward.choice_filter
    assert ward.required_if is not None and not ward.required
    assert note.required and note.required_if is None


def test_personal_groups_and_values_derived_from_personal_fields() -> None:
    parsed = parse_xlsform(make_xlsform(
        [{"type": "text", "name": "respondent", "label": "Name"},
         {"type": "begin_group", "name": "contact", "label": "Contact", "personal": "yes"},
         {"type": "integer", "name": "phone", "label": "Phone"},
         {"type": "integer", "name": "rooms", "label": "Rooms", "personal": "no"},
         {"type": "end_group"},
         {"type": "calculate", "name": "initials", "calculation": "substr(${respondent}, 0, 2)"},
         {"type": "calculate", "name": "tag", "calculation": "concat('x', ${initials})"},
         {"type": "integer", "name": "age", "label": "Age"}],
        None, {"form_id": "pp", "version": "1",
               "instance_name": "concat(${respondent}, '-', ${age})"}), "pp.xlsx")
    personal = {f.path for f in parsed.schema.fields if f.personal}
    assert {"respondent", "contact/phone", "initials", "tag", "meta/instanceName"} <= personal
    assert "contact/rooms" not in personal and "age" not in personal


def test_a_form_id_with_a_space_is_accepted_as_odk_central_does() -> None:
    parsed = parse_xlsform(make_xlsform([{"type": "text", "name": "q", "label": "Q"}], None,
                                        {"form_id": "Spec test", "version": "1"}), "f.xlsx")
    assert parsed.form_id == parsed.schema.form_id == "Spec test"


@pytest.mark.parametrize("form_id", ["../../etc/evil", "..", "x/y", "a\\b"])
def test_form_ids_that_would_be_paths_are_refused(form_id: str) -> None:
    with pytest.raises(BadInput) as e:
        parse_xlsform(make_xlsform([{"type": "text", "name": "q", "label": "Q"}], None,
                                   {"form_id": form_id, "version": "1"}), "f.xlsx")
    assert e.value.code == "form.invalid"


def test_an_instance_name_error_is_reported_on_the_settings_sheet() -> None:
    data = make_xlsform([{"type": "text", "name": "a", "label": "A"}], None,
                        {"form_id": "f", "version": "1", "instance_name": "concat(${a}, "})
    with pytest.raises(BadInput) as err:
        parse_xlsform(data, "f.xlsx")
    e = err.value
    assert e.code.startswith("expr.")
    places = [e.where, *(p.where for p in e.problems)]
    assert all(w is not None and (w.sheet, w.row, w.column) == ("settings", 2, "instance_name")
               for w in places), places


def test_parameters_on_media_geo_and_text_questions_are_kept() -> None:
    parsed = parse_xlsform(make_xlsform(
        [{"type": "image", "name": "photo", "label": "Photo", "parameters": "max-pixels=1024"},
         {"type": "audio", "name": "voice", "label": "Voice", "parameters": "quality=voice-only"},
         {"type": "geopoint", "name": "gps", "label": "GPS",
          "parameters": "capture-accuracy=10"},
         {"type": "text", "name": "story", "label": "Story", "parameters": "rows=5"}],
        None, {"form_id": "p", "version": "1"}), "p.xlsx")
    params = {f.name: f.parameters for f in parsed.schema.fields}
    assert params["photo"] == (("max-pixels", "1024"),)
    assert params["voice"] == (("quality", "voice-only"),)
    assert params["gps"] == (("capture-accuracy", "10"),)
    assert params["story"] == (("rows", "5"),)


def test_answers_from_files_are_kept_as_text_not_as_choices() -> None:
    parsed = parse_xlsform(make_xlsform(
        [{"type": "select_one shop", "name": "shop", "label": "Shop",
          "appearance": "search('shops')"},
         {"type": "select_one_from_file villages.csv", "name": "village", "label": "Village"}],
        [{"list_name": "shop", "name": "name_key", "label": "name"}],
        {"form_id": "s", "version": "1"}), "s.xlsx")
    by_name = {f.name: f for f in parsed.schema.fields}
    shop, village = by_name["shop"], by_name["village"]
    assert (shop.type, shop.list_name, shop.choices) == ("select_one_from_file", "shops.csv", ())
    assert shop.storage_type == village.storage_type == "text"
    assert [(n.name, n.feature) for n in parsed.needs] == [
        ("shops.csv", "search()"), ("villages.csv", "select_one_from_file villages.csv")]
