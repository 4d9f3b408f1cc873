"""Write the XLSForm corpus: one workbook per form below, made with openpyxl.

Run from the repository root to regenerate (the files are checked in; tests never run
this): ``python tests/data/xlsforms/corpus/make_corpus.py``. Each form exercises one
XLSForm feature the way the XLSForm documentation and pyxform's test suite write it, or
is a realistic field form of the kind community organisations use. Media files the forms
need (select_one_from_file lists, pulldata tables) are written to ``media/``.

Keep forms small: the corpus test converts each with pyxform and parses it on every run.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
FORMS = HERE / "forms"
MEDIA = HERE / "media"

Row = dict[str, Any]


def q(kind: str, name: str | None = None, label: str | None = None, **cols: Any) -> Row:
    """One survey row."""
    row: Row = {"type": kind}
    if name is not None:
        row["name"] = name
    if label is not None:
        row["label"] = label
    row.update(cols)
    return row


def ch(list_name: str, *options: str, **cols: Any) -> list[Row]:
    """Choice rows of one list; each option is 'name' or 'name=Label'."""
    out = []
    for opt in options:
        name, _, label = opt.partition("=")
        out.append({"list_name": list_name, "name": name, "label": label or name.title(),
                    **cols})
    return out


YESNO = ch("yn", "yes", "no")


def sheet_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Header and values of one sheet."""
    cols: list[str] = []
    for row in rows:
        cols.extend(k for k in row if k not in cols)
    return cols, [[row.get(c) for c in cols] for row in rows]


def workbook(survey: Sequence[Row], choices: Sequence[Row] = (),
             settings: Mapping[str, Any] | None = None,
             extra: Mapping[str, Sequence[Row]] | None = None) -> bytes:
    """An .xlsx XLSForm."""
    wb = Workbook()
    first = wb.active
    if first is not None:
        wb.remove(first)
    sheets: dict[str, Sequence[Row]] = {"survey": survey}
    if choices:
        sheets["choices"] = choices
    if settings:
        sheets["settings"] = [dict(settings)]
    sheets.update(extra or {})
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        cols, values = sheet_rows(rows)
        ws.append(cols)
        for v in values:
            ws.append(v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def markdown(survey: Sequence[Row], choices: Sequence[Row] = (),
             settings: Mapping[str, Any] | None = None) -> bytes:
    """pyxform's markdown text form of the same sheets."""
    lines: list[str] = []
    for title, rows in (("survey", survey), ("choices", choices),
                        ("settings", [dict(settings)] if settings else [])):
        if not rows:
            continue
        cols, values = sheet_rows(rows)
        lines.append(f"| {title} |")
        lines.append("| | " + " | ".join(cols) + " |")
        lines.extend("| | " + " | ".join("" if v is None else str(v) for v in vals) + " |"
                     for vals in values)
    return ("\n".join(lines) + "\n").encode("utf-8")


def s(form_id: str, version: str = "1", **more: Any) -> dict[str, Any]:
    """A settings row."""
    return {"form_id": form_id, "version": version, **more}


# -- the forms -----------------------------------------------------------------------------

FORMS_SPEC: dict[str, tuple[list[Row], list[Row], dict[str, Any] | None, dict[str, Any]]] = {}


def form(name: str, survey: list[Row], choices: list[Row] | None = None,
         settings: dict[str, Any] | None = None, **extra: Any) -> None:
    """Register one form (extra: other sheets by name)."""
    FORMS_SPEC[name] = (survey, choices or [], settings, extra)


# question types, one form each (as in the XLSForm documentation's question type table)
for kind, extra_cols in [
    ("text", {}), ("integer", {}), ("decimal", {}), ("date", {}), ("time", {}),
    ("datetime", {}), ("geopoint", {}), ("geotrace", {}), ("geoshape", {}),
    ("image", {}), ("audio", {}), ("video", {}), ("file", {}), ("barcode", {}),
    ("acknowledge", {}), ("background-audio", {}), ("note", {}),
]:
    form(f"type_{kind.replace('-', '_')}", [q(kind, "answer", f"A {kind} question", **extra_cols)],
         settings=s(f"type_{kind.replace('-', '_')}"))

form("type_range", [q("range", "score", "Score 1-10", parameters="start=1 end=10 step=1")],
     settings=s("type_range"))
form("type_range_decimal", [q("range", "ph", "Water pH", parameters="start=0;end=14;step=0.5")],
     settings=s("type_range_decimal"))
form("type_calculate", [q("integer", "adults", "Adults"), q("integer", "children", "Children"),
                        q("calculate", "total", calculation="${adults} + ${children}"),
                        q("note", "show", "Total: ${total}")], settings=s("type_calculate"))
form("type_hidden", [q("hidden", "source"), q("text", "name", "Name")], settings=s("type_hidden"))
form("type_rank", [q("rank needs", "priorities", "Rank the needs")],
     ch("needs", "water", "food", "shelter"), s("type_rank"))
form("type_trigger", [q("trigger", "ready", "Tap when ready")], settings=s("type_trigger"))
form("select_one", [q("select_one yn", "consent", "Do you agree?")], YESNO, s("select_one"))
form("select_multiple", [q("select_multiple assets", "assets", "Assets")],
     ch("assets", "radio", "bicycle", "phone"), s("select_multiple"))
form("select_one_or_other", [q("select_one fuel or_other", "fuel", "Cooking fuel")],
     ch("fuel", "wood", "charcoal", "gas"), s("select_one_or_other"))

# metadata
form("metadata_all", [q(k, k) for k in ("start", "end", "today", "deviceid", "phonenumber",
                                        "username", "email", "simserial", "subscriberid",
                                        "audit")] + [q("text", "who", "Who")],
     settings=s("metadata_all"))
form("metadata_start_geopoint", [q("start-geopoint", "where_started"), q("text", "x", "X")],
     settings=s("metadata_start_geopoint"))

# the parameters column (pyxform passes these through as text)
form("params_image_max_pixels", [q("image", "photo", "Photo of the house",
                                   parameters="max-pixels=1024")], settings=s("params_image"))
form("params_audio_quality", [q("audio", "voice", "Record", parameters="quality=voice-only")],
     settings=s("params_audio"))
form("params_background_audio", [q("background-audio", "ambient", parameters="quality=low"),
                                  q("text", "n", "Notes")], settings=s("params_background_audio"))
form("params_geopoint_accuracy", [q("geopoint", "gps", "Location",
                                    parameters="capture-accuracy=10 warning-accuracy=20")],
     settings=s("params_geopoint"))
form("params_geotrace_auto", [q("geotrace", "path", "Walk the path",
                                parameters="incremental=true")], settings=s("params_geotrace"))
form("params_text_rows", [q("text", "story", "Your story", parameters="rows=5")],
     settings=s("params_text"))
form("params_select_randomize", [q("select_one c", "c", "Pick", parameters="randomize=true")],
     ch("c", "a", "b", "d"), s("params_randomize"))
form("params_image_app", [q("image", "scan", "Scan", parameters="max-pixels=640",
                            appearance="annotate")], settings=s("params_image_app"))

# groups and repeats
form("group_simple", [q("begin_group", "hh", "Household"), q("integer", "size", "Size"),
                      q("end_group")], settings=s("group_simple"))
form("group_nested", [q("begin_group", "a", "A"), q("begin_group", "b", "B"),
                      q("text", "c", "C"), q("end_group"), q("end_group")],
     settings=s("group_nested"))
form("group_field_list", [q("begin_group", "page", "One page", appearance="field-list"),
                          q("text", "x", "X"), q("integer", "y", "Y"), q("end_group")],
     settings=s("group_field_list"))
form("group_table_list", [q("begin_group", "tbl", "Crops", appearance="table-list"),
                          q("select_one yn", "maize", "Maize"),
                          q("select_one yn", "beans", "Beans"), q("end_group")],
     YESNO, s("group_table_list"))
form("group_relevant", [q("select_one yn", "has_kids", "Children?"),
                        q("begin_group", "kids", "Children", relevant="${has_kids} = 'yes'"),
                        q("integer", "n", "How many"), q("end_group")],
     YESNO, s("group_relevant"))
form("repeat_simple", [q("begin_repeat", "member", "Member"), q("text", "mname", "Name"),
                       q("integer", "age", "Age"), q("end_repeat")], settings=s("repeat_simple"))
form("repeat_count", [q("integer", "n", "Members"),
                      q("begin_repeat", "member", "Member", repeat_count="${n}"),
                      q("integer", "age", "Age"), q("end_repeat")], settings=s("repeat_count"))
form("repeat_nested", [q("begin_repeat", "plot", "Plot"), q("text", "crop", "Crop"),
                       q("begin_repeat", "harvest", "Harvest"), q("decimal", "kg", "Kg"),
                       q("end_repeat"), q("end_repeat")], settings=s("repeat_nested"))
form("repeat_in_group", [q("begin_group", "g", "G"), q("begin_repeat", "r", "R"),
                         q("text", "t", "T"), q("end_repeat"), q("end_group")],
     settings=s("repeat_in_group"))
form("repeat_position", [q("begin_repeat", "child", "Child"),
                         q("calculate", "idx", calculation="position(..)"),
                         q("text", "cname", "Name of child ${idx}"), q("end_repeat")],
     settings=s("repeat_position"))
form("repeat_indexed", [q("begin_repeat", "p", "Person"), q("text", "pname", "Name"),
                        q("end_repeat"),
                        q("calculate", "first", calculation="indexed-repeat(${pname}, ${p}, 1)")],
     settings=s("repeat_indexed"))
form("loop_over_choices", [q("begin loop over crops", "crop_loop", "Crop"),
                           q("integer", "area", "Area of %(label)s"), q("end loop")],
     ch("crops", "maize", "beans"), s("loop_over_choices"))

# expressions
form("expr_relevant", [q("integer", "age", "Age"),
                       q("text", "school", "School", relevant="${age} < 18")],
     settings=s("expr_relevant"))
form("expr_constraint", [q("integer", "age", "Age", constraint=". >= 0 and . <= 120",
                           constraint_message="0 to 120")], settings=s("expr_constraint"))
form("expr_required", [q("text", "name", "Name", required="yes",
                         required_message="Please answer")], settings=s("expr_required"))
form("expr_required_if", [q("select_one yn", "sick", "Sick?"),
                          q("text", "symptoms", "Symptoms", required="${sick} = 'yes'")],
     YESNO, s("expr_required_if"))
form("expr_selected", [q("select_multiple assets", "assets", "Assets"),
                       q("integer", "phones", "Phones", relevant="selected(${assets}, 'phone')")],
     ch("assets", "radio", "phone"), s("expr_selected"))
form("expr_count_selected", [q("select_multiple a", "a", "A"),
                             q("calculate", "n", calculation="count-selected(${a})")],
     ch("a", "x", "y"), s("expr_count_selected"))
form("expr_choice_name", [q("select_one a", "a", "A"),
                          q("calculate", "lbl", calculation="jr:choice-name(${a}, '${a}')")],
     ch("a", "x", "y"), s("expr_choice_name"))
form("expr_concat_if", [q("text", "first", "First"), q("integer", "age", "Age"),
                        q("calculate", "tag",
                          calculation="concat(${first}, '-', if(${age} >= 18, 'adult', 'minor'))")],
     settings=s("expr_concat_if"))
form("expr_coalesce_once", [q("text", "a", "A"),
                            q("calculate", "b", calculation="once(coalesce(${a}, 'none'))")],
     settings=s("expr_coalesce_once"))
form("expr_dates", [q("date", "dob", "Birth date",
                      constraint=". <= today()"),
                    q("calculate", "age_days", calculation="today() - ${dob}")],
     settings=s("expr_dates"))
form("expr_default_dynamic", [q("date", "visit", "Visit", default="today()")],
     settings=s("expr_default_dynamic"))
form("expr_default_static", [q("integer", "n", "N", default="3"),
                             q("select_one yn", "ok", "OK", default="yes")],
     YESNO, s("expr_default_static"))
form("expr_trigger", [q("integer", "a", "A"),
                      q("calculate", "b", calculation="${a} * 2", trigger="${a}")],
     settings=s("expr_trigger"))
form("expr_choice_filter", [q("select_one county", "county", "County"),
                            q("select_one ward", "ward", "Ward",
                              choice_filter="county = ${county}")],
     [*ch("county", "kisumu", "siaya"),
      {"list_name": "ward", "name": "w1", "label": "Ward 1", "county": "kisumu"},
      {"list_name": "ward", "name": "w2", "label": "Ward 2", "county": "siaya"}],
     s("expr_choice_filter"))
form("expr_relative_path", [q("integer", "a", "A"),
                            q("integer", "b", "B", relevant="../a > 0")],
     settings=s("expr_relative_path"))
form("expr_absolute_path", [q("integer", "a", "A"),
                            q("integer", "b", "B", relevant="/data/a > 0")],
     settings=s("expr_absolute_path"))
form("expr_regex", [q("text", "phone", "Phone", constraint="regex(., '^[0-9]{10}$')")],
     settings=s("expr_regex"))
form("expr_instance_lookup",
     [q("select_one fruit", "f", "Fruit"),
      q("calculate", "colour",
        calculation="instance('fruit')/root/item[name = ${f}]/colour")],
     [{"list_name": "fruit", "name": "apple", "label": "Apple", "colour": "red"},
      {"list_name": "fruit", "name": "lime", "label": "Lime", "colour": "green"}],
     s("expr_instance_lookup"))

# settings
form("settings_title_only", [q("text", "a", "A")], settings={"form_title": "Only a title"})
form("settings_no_sheet", [q("text", "a", "A")])
form("settings_form_id_space", [q("text", "a", "A")],
     settings={"form_title": "Spec test", "form_id": "Spec test", "version": "1"})
form("settings_instance_name", [q("text", "fname", "First name"), q("text", "village", "Village")],
     settings=s("settings_instance_name", instance_name="concat(${fname}, ' ', ${village})"))
form("settings_instance_name_bare", [q("text", "a", "A")],
     settings=s("settings_instance_name_bare", instance_name="XLDate-v1"))
form("settings_public_key", [q("text", "a", "A")],
     settings=s("settings_public_key", public_key=(
         "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwwY0mR8jGQyW3u1zHq1yv8pq2tq3zR0m1K3b9x8"
         "a6XnBvJx8bI6Yh2b0KZ0vT0aUqj6f3d1m8Yb0uJ7VJm1z3HqQ2k3v5a4Z1T0w6hLqF0q0a7m5r8pZx9Y"
         "2lq8c1W5b3e9R7n0v6u4Q2t8s1k0y3x5g7h9j2m4p6r8t0v2x4z6b8d0f2h4j6l8n0p2r4t6v8x0z2b4"
         "d6f8h0j2l4n6p8r0t2v4x6z8b0d2f4h6j8l0n2p4r6t8v0x2z4b6d8f0h2j4l6n8p0r2t4v6x8z0b2d4"
         "f6h8j0l2n4p6r8t0v2x4z6b8d0f2h4j6l8n0p2r4t6v8x0z2b4d6f8h0j2l4n6p8r0t2v4QIDAQAB")))
form("settings_submission_url", [q("text", "a", "A")],
     settings=s("settings_submission_url", submission_url="https://example.org/submission"))
form("settings_style_pages", [q("begin_group", "p1", "Page 1"), q("text", "a", "A"),
                              q("end_group"), q("begin_group", "p2", "Page 2"),
                              q("text", "b", "B"), q("end_group")],
     settings=s("settings_style_pages", style="pages"))
form("settings_allow_choice_duplicates", [q("select_one c", "c", "C")],
     ch("c", "a", "a"), s("settings_dup", allow_choice_duplicates="yes"))
form("settings_version_formula", [q("text", "a", "A")],
     settings={"form_id": "vf", "version": "2026120701"})

# languages and media labels
form("lang_two", [q("text", "name", None, **{"label::English (en)": "Name",
                                              "label::Kiswahili (sw)": "Jina"})],
     settings=s("lang_two", default_language="English (en)"))
form("lang_hints_messages", [q("integer", "age", None, **{
    "label::English (en)": "Age", "label::Español (es)": "Edad",
    "hint::English (en)": "In years", "hint::Español (es)": "En años",
    "constraint": ". < 130",
    "constraint_message::English (en)": "Too old", "constraint_message::Español (es)": "Demasiado"})],
    settings=s("lang_hints_messages"))
form("lang_choices", [q("select_one yn2", "ok", None, **{"label::English (en)": "OK?",
                                                          "label::Français (fr)": "D'accord ?"})],
     [{"list_name": "yn2", "name": "y", "label::English (en)": "Yes", "label::Français (fr)": "Oui"},
      {"list_name": "yn2", "name": "n", "label::English (en)": "No", "label::Français (fr)": "Non"}],
     s("lang_choices"))
form("media_labels", [q("select_one animal", "animal", "Which animal?", **{
    "media::image": "cow.png"})],
     [{"list_name": "animal", "name": "cow", "label": "Cow", "media::image": "cow.png"},
      {"list_name": "animal", "name": "goat", "label": "Goat", "media::image": "goat.png"}],
     s("media_labels"))
form("guidance_hint", [q("text", "a", "A", hint="short", guidance_hint="Longer help")],
     settings=s("guidance_hint"))
form("appearances", [q("integer", "n", "N", appearance="thousands-sep"),
                     q("select_one yn", "m", "M", appearance="minimal"),
                     q("date", "d", "D", appearance="month-year"),
                     q("text", "sig", "Sign", appearance="multiline"),
                     q("image", "signature", "Signature", appearance="signature")],
     YESNO, s("appearances"))
form("read_only_and_body_attr", [q("text", "a", "A", read_only="yes",
                                   **{"body::accuracyThreshold": "5"})],
     settings=s("read_only_body"))
form("bind_attributes", [q("text", "a", "A", **{"bind::odk:length": "5"})],
     settings=s("bind_attributes"))
form("comment_columns", [q("text", "a", "A", **{"#note": "for the team"}),
                         {"type": None, "name": None}, q("text", "b", "B")],
     settings=s("comment_columns"))
form("personal_columns", [q("text", "respondent", "Name", personal="yes"),
                          q("text", "village", "Village", personal="no"),
                          q("integer", "income", "Income", sensitive="yes")],
     settings=s("personal_columns"))

# files the phones need
form("from_file_csv", [q("select_one_from_file villages.csv", "village", "Village")],
     settings=s("from_file_csv"))
form("from_file_csv_no_media", [q("select_one_from_file villages.csv", "village", "Village")],
     settings=s("from_file_csv_no_media"))
form("from_file_xml", [q("select_multiple_from_file markets.xml", "markets", "Markets")],
     settings=s("from_file_xml"))
form("from_file_geojson", [q("select_one_from_file wells.geojson", "well", "Well",
                             appearance="map")], settings=s("from_file_geojson"))
form("from_file_params", [q("select_one_from_file villages.csv", "v", "Village",
                            parameters="value=code label=vname")],
     settings=s("from_file_params"))
form("pulldata_csv", [q("text", "hh", "Household id"),
                      q("calculate", "head",
                        calculation="pulldata('households', 'head', 'hh_id', ${hh})")],
     settings=s("pulldata_csv"))
form("pulldata_no_media", [q("text", "hh", "Household id"),
                           q("calculate", "head",
                             calculation="pulldata('households', 'head', 'hh_id', ${hh})")],
     settings=s("pulldata_no_media"))
form("search_appearance", [q("select_one shop", "shop", "Shop", appearance="search('shops')")],
     ch("shop", "name_key=name"), s("search_appearance"))
form("external_choices", [q("select_one county", "county", "County"),
                          q("select_one_external ward", "ward", "Ward",
                            choice_filter="county=${county}")],
     ch("county", "kisumu", "siaya"), s("external_choices"),
     external_choices=[{"list_name": "ward", "name": "w1", "label": "W1", "county": "kisumu"},
                       {"list_name": "ward", "name": "w2", "label": "W2", "county": "siaya"}])
form("csv_external", [q("csv-external", "prices"), q("text", "item", "Item"),
                      q("calculate", "p", calculation="instance('prices')/root/item[name=${item}]/price")],
     settings=s("csv_external"))
form("xml_external", [q("xml-external", "regions"), q("text", "r", "Region")],
     settings=s("xml_external"))
form("entities_create", [q("text", "tree", "Species", save_to="species")],
     settings=s("entities_create"),
     entities=[{"dataset": "trees", "label": "${tree}"}])
form("entities_update", [q("select_one_from_file trees.csv", "tree", "Tree"),
                         q("integer", "height", "Height", save_to="height")],
     settings=s("entities_update"),
     entities=[{"dataset": "trees", "entity_id": "${tree}"}])

# realistic field forms
form("field_household_survey", [
    q("start", "start"), q("end", "end"), q("today", "today"), q("deviceid", "deviceid"),
    q("note", "intro", "Good morning. We are collecting data about water and sanitation."),
    q("select_one yn", "consent", "Do you agree to take part?", required="yes"),
    q("begin_group", "hh", "Household", relevant="${consent} = 'yes'"),
    q("text", "head_name", "Name of the household head", personal="yes"),
    q("geopoint", "gps", "Household location", parameters="capture-accuracy=10"),
    q("integer", "members", "How many people live here?", constraint=". > 0 and . < 40",
      constraint_message="1 to 39"),
    q("select_one source", "water_source", "Main drinking water source"),
    q("text", "water_other", "Other source", relevant="${water_source} = 'other'"),
    q("select_multiple treat", "treatment", "How do you treat water?"),
    q("decimal", "minutes", "Minutes to collect water", constraint=". >= 0"),
    q("image", "photo", "Photo of the water container", parameters="max-pixels=1024"),
    q("end_group"),
    q("begin_repeat", "person", "Household member", repeat_count="${members}"),
    q("text", "pname", "Name", personal="yes"),
    q("integer", "page", "Age", constraint=". <= 120"),
    q("select_one sex", "psex", "Sex"),
    q("select_one yn", "school", "Attends school?", relevant="${page} >= 5 and ${page} <= 18"),
    q("end_repeat"),
    q("calculate", "n_children", calculation="${members} - 1"),
], YESNO + ch("source", "piped", "borehole", "river", "other") + ch(
    "treat", "boil", "chlorine", "filter", "none") + ch("sex", "female", "male"),
    s("household_wash", "2026.1", form_title="Household WASH survey",
      instance_name="concat(${head_name}, ' ', ${today})"))
form("field_market_prices", [
    q("today", "today"), q("select_one market", "market", "Market"),
    q("begin_repeat", "item", "Item"), q("select_one commodity", "commodity", "Commodity"),
    q("decimal", "price", "Price (KES)", constraint=". > 0"),
    q("select_one unit", "unit", "Unit"), q("end_repeat"),
    q("text", "remarks", "Remarks", personal="no"),
], ch("market", "kibuye", "oile") + ch("commodity", "maize", "beans", "sukuma") + ch(
    "unit", "kg", "bag_90kg=Bag (90 kg)"), s("market_prices", "3", form_title="Market prices"))
form("field_health_facility", [
    q("text", "facility", "Facility name"), q("select_one level", "level", "Level"),
    q("integer", "beds", "Beds"), q("select_multiple services", "services", "Services"),
    q("integer", "staff", "Staff on duty", constraint=". >= 0"),
    q("select_one yn", "power", "Electricity today?"),
    q("time", "opened", "Opening time"), q("geopoint", "where", "Location"),
    q("note", "thanks", "Thank you"),
], YESNO + ch("level", "dispensary", "health_centre", "hospital") + ch(
    "services", "anc", "immunisation", "maternity", "lab"), s("health_facility", "7"))
form("field_disability_wg", [
    q("note", "wg_intro", "The next questions ask about difficulties you may have."),
    *(q("select_one wg", k, f"Do you have difficulty {v}?") for k, v in (
        ("seeing", "seeing, even if wearing glasses"), ("hearing", "hearing"),
        ("walking", "walking or climbing steps"), ("cognition", "remembering or concentrating"),
        ("selfcare", "with self-care"), ("communication", "communicating"))),
    q("calculate", "disability",
      calculation="if(${seeing} = 'a_lot' or ${seeing} = 'cannot', 1, 0)"),
], ch("wg", "none=No difficulty", "some=Some difficulty", "a_lot=A lot of difficulty",
      "cannot=Cannot do at all"), s("wg_short_set", "1"))
form("field_incident_report", [
    q("datetime", "when", "When did it happen?"), q("geopoint", "where", "Where?"),
    q("select_one incident", "kind", "What happened?"),
    q("text", "details", "Describe", parameters="rows=4"),
    q("image", "evidence", "Photo", parameters="max-pixels=2048"),
    q("audio", "testimony", "Testimony", parameters="quality=normal"),
    q("select_one yn", "reported", "Reported to police?"),
    q("acknowledge", "confirm", "I confirm this is true"),
], YESNO + ch("incident", "threat", "assault", "harassment", "other"),
    s("incident_report", "2", form_title="Incident report"))
form("field_school_census", [
    q("text", "school", "School"),
    q("begin_repeat", "grade", "Grade"), q("integer", "grade_no", "Grade number"),
    q("integer", "girls", "Girls"), q("integer", "boys", "Boys"),
    q("calculate", "pupils", calculation="${girls} + ${boys}"), q("end_repeat"),
    q("calculate", "total", calculation="sum(${pupils})"),
], None, s("school_census", "1"))
form("field_road_mapping", [
    q("geotrace", "road", "Walk the road"), q("select_one surface", "surface", "Surface"),
    q("geoshape", "market_area", "Outline the market"), q("barcode", "sign", "Sign code"),
], ch("surface", "tarmac", "gravel", "earth"), s("road_mapping", "1"))
form("field_two_language_survey", [
    q("select_one yn", "consent", None, **{"label::English (en)": "Consent?",
                                           "label::Español (es)": "¿Consentimiento?"}),
    q("integer", "age", None, **{"label::English (en)": "Age", "label::Español (es)": "Edad"},
      relevant="${consent} = 'yes'"),
], [{"list_name": "yn", "name": "yes", "label::English (en)": "Yes", "label::Español (es)": "Sí"},
    {"list_name": "yn", "name": "no", "label::English (en)": "No", "label::Español (es)": "No"}],
    s("two_language", "1", default_language="Español (es)"))

# forms pyxform refuses
form("bad_no_name", [q("text", None, "No name")], settings=s("bad_no_name"))
form("bad_duplicate_name", [q("text", "a", "A"), q("text", "a", "Again")],
     settings=s("bad_duplicate_name"))
form("bad_unknown_type", [q("texte", "a", "A")], settings=s("bad_unknown_type"))
form("bad_missing_list", [q("select_one nolist", "a", "A")], settings=s("bad_missing_list"))
form("bad_unclosed_group", [q("begin_group", "g", "G"), q("text", "a", "A")],
     settings=s("bad_unclosed_group"))
form("bad_unmatched_end", [q("text", "a", "A"), q("end_repeat")],
     settings=s("bad_unmatched_end"))
form("bad_calculate_empty", [q("calculate", "c")], settings=s("bad_calculate_empty"))
form("bad_parameters", [q("range", "r", "R", parameters="start=1 end")],
     settings=s("bad_parameters"))
form("bad_unknown_reference", [q("integer", "a", "A", relevant="${nope} > 1")],
     settings=s("bad_unknown_reference"))
form("bad_no_label", [q("integer", "a")], settings=s("bad_no_label"))
form("bad_search_shared_list", [q("select_one fr", "a", "A", appearance="search('f')"),
                                q("select_one fr", "b", "B")],
     ch("fr", "x"), s("bad_search_shared_list"))


# text forms (pyxform's .md format) of a few of the same forms
MARKDOWN = ("select_one", "repeat_count", "expr_relevant", "field_market_prices",
            "params_image_max_pixels", "settings_form_id_space")

MEDIA_FILES: dict[str, bytes] = {
    "villages.csv": b"name,label,code,vname\nkibuye,Kibuye,K1,Kibuye\noile,Oile,O1,Oile\n",
    "markets.xml": (b"<root><item><name>kibuye</name><label>Kibuye</label></item>"
                    b"<item><name>oile</name><label>Oile</label></item></root>\n"),
    "wells.geojson": (b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
                      b'{"type":"Point","coordinates":[34.75,-0.09]},"properties":'
                      b'{"id":"w1","title":"Well 1"}}]}\n'),
    "households.csv": b"hh_id,head\nH1,Achieng\nH2,Otieno\n",
    "shops.csv": b"name_key,name\ns1,Mama Oliech\ns2,Kibuye Hardware\n",
    "prices.csv": b"name,price\nmaize,50\nbeans,120\n",
    "regions.xml": b"<root><item><name>nyanza</name><label>Nyanza</label></item></root>\n",
    "trees.csv": b"name,label\nt1,Tree 1\n",
    "cow.png": bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                             "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049"
                             "454e44ae426082"),
}


def main() -> None:
    """Write every form and media file."""
    FORMS.mkdir(parents=True, exist_ok=True)
    MEDIA.mkdir(parents=True, exist_ok=True)
    for old in FORMS.iterdir():
        old.unlink()
    for name, (survey, choices, settings, extra) in FORMS_SPEC.items():
        (FORMS / f"{name}.xlsx").write_bytes(workbook(survey, choices, settings, extra))
        if name in MARKDOWN:
            (FORMS / f"{name}.md").write_bytes(markdown(survey, choices, settings))
    for name, data in MEDIA_FILES.items():
        (MEDIA / name).write_bytes(data)
    # files that are not XLSForms at all
    (FORMS / "nasty_truncated.xlsx").write_bytes(
        workbook([q("text", "a", "A")], settings=s("t"))[:300])
    (FORMS / "nasty_not_a_workbook.xlsx").write_bytes(b"name,label\nthis is a csv,really\n")
    (FORMS / "nasty_empty.xlsx").write_bytes(b"")
    (FORMS / "nasty_no_survey.xlsx").write_bytes(_no_survey())


def _no_survey() -> bytes:
    """A workbook whose only sheet is not 'survey'."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "data"
    ws.append(["a", "b"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


if __name__ == "__main__":
    main()
