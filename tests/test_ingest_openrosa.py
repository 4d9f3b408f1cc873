"""OpenRosa: instance XML from ODK Collect, the form list and the response document."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.forms.schema import Field, FormSchema, Group
from citizendata.ingest.openrosa import (
    FormListEntry,
    formlist_xml,
    instance_xml,
    openrosa_headers,
    parse_instance_xml,
    response_xml,
)
from citizendata.ingest.payload import IncomingSubmission

SCHEMA = FormSchema(
    form_id="household", version="2026.1", title="Household survey", root="household",
    fields=(
        Field("start", "start", "start"),
        Field("end", "end", "end"),
        Field("ward", "location/ward", "text"),
        Field("members", "members", "integer"),
        Field("name", "people/name", "text", repeat="people"),
        Field("age", "people/age", "integer", repeat="people"),
    ),
    groups=(Group("location", "location", False), Group("people", "people", True)),
)


def schema_for(form_id: str, version: str | None) -> FormSchema:
    assert form_id == "household"
    return SCHEMA


COLLECT_XML = b"""<?xml version='1.0' ?>
<household id="household" version="2026.1" xmlns:jr="http://openrosa.org/javarosa"
           xmlns:orx="http://openrosa.org/xforms">
  <start>2026-03-01T10:00:00.000+03:00</start>
  <end>2026-03-01T10:15:00.000+03:00</end>
  <location><ward> Kibera &amp; Co </ward></location>
  <members/>
  <people><name>Amina</name><age>34</age></people>
  <orx:meta><orx:instanceID>uuid:new</orx:instanceID><orx:deprecatedID>uuid:old</orx:deprecatedID></orx:meta>
</household>"""


def test_collect_submission() -> None:
    form_id, sub = parse_instance_xml(COLLECT_XML, schema_for)
    assert form_id == "household"
    assert sub.instance_id == "uuid:new" and sub.deprecated_id == "uuid:old"
    assert sub.form_version == "2026.1"
    assert sub.collected_at == datetime(2026, 3, 1, 7, 15, tzinfo=UTC)
    assert sub.payload == {
        "start": "2026-03-01T10:00:00.000+03:00", "end": "2026-03-01T10:15:00.000+03:00",
        "location": {"ward": " Kibera & Co "}, "members": "",
        "people": [{"name": "Amina", "age": "34"}]}


def test_bad_xml_says_line_and_column() -> None:
    with pytest.raises(BadInput) as err:
        parse_instance_xml(b'<household id="household">\n  <members>3</member>\n</household>', schema_for)
    assert err.value.code == "intake.invalid_xml"
    assert err.value.where is not None and err.value.where.row == 2


def test_unknown_element_and_missing_instance_id_together() -> None:
    xml = b'<household id="household"><pets>2</pets></household>'
    with pytest.raises(BadInput) as err:
        parse_instance_xml(xml, schema_for)
    assert sorted(p.code for p in err.value.problems) == ["intake.missing_instance_id",
                                                          "intake.unknown_field"]


def test_entities_are_refused() -> None:
    xml = (b'<!DOCTYPE household [<!ENTITY x "boom">]><household id="household">'
           b"<members>&x;</members></household>")
    with pytest.raises(BadInput) as err:
        parse_instance_xml(xml, schema_for)
    assert err.value.code == "intake.invalid_xml"


def test_form_list_and_response() -> None:
    listing = formlist_xml([FormListEntry("household", "Household & survey", "2026.1", "abc",
                                          "/forms/household.xml", "/forms/household/manifest")],
                           "https://data.example.org/p/demo/")
    root = ElementTree.fromstring(listing)
    ns = {"x": "http://openrosa.org/xforms/xformsList"}
    assert root.findtext("x:xform/x:name", namespaces=ns) == "Household & survey"
    assert root.findtext("x:xform/x:hash", namespaces=ns) == "md5:abc"
    assert root.findtext("x:xform/x:downloadUrl", namespaces=ns) == (
        "https://data.example.org/forms/household.xml")
    resp = ElementTree.fromstring(response_xml("Thanks <3"))
    msg = resp.find("{http://openrosa.org/http/response}message")
    assert msg is not None and msg.text == "Thanks <3" and msg.get("nature") == "submit_success"
    assert openrosa_headers(10_000_000) == {"X-OpenRosa-Version": "1.0",
                                            "X-OpenRosa-Accept-Content-Length": "10000000"}


safe_text = st.text(st.characters(codec="utf-8", blacklist_categories=("Cs", "Cc"),
                                  whitelist_characters="<&>\"'\n\t\r"), max_size=20)


@settings(max_examples=60, deadline=None)
@given(ward=safe_text, members=safe_text,
       people=st.lists(st.fixed_dictionaries({"name": safe_text, "age": safe_text}), min_size=1, max_size=3),
       instance_id=safe_text.filter(lambda s: s.strip() != ""))
def test_instance_xml_round_trip(ward: str, members: str, people: list[dict[str, str]],
                                 instance_id: str) -> None:
    sub = IncomingSubmission(instance_id=instance_id, collected_at=None, form_version="2026.1",
                             payload={"location": {"ward": ward}, "members": members, "people": people})
    form_id, back = parse_instance_xml(instance_xml(SCHEMA, sub), schema_for)
    assert form_id == "household"
    assert (back.instance_id, back.payload, back.form_version) == (instance_id, sub.payload, "2026.1")
