"""JSON intake: envelopes, bare payloads, flat and nested keys, and every problem of a batch at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput, PayloadTooLarge
from citizendata.forms.schema import Field, FormSchema, Group
from citizendata.ingest.payload import (
    canonical_json,
    content_hash,
    parse_json_body,
    parse_json_submission,
)

SCHEMA = FormSchema(
    form_id="household", version="2026.1", title="Household survey", root="household",
    fields=(
        Field("start", "start", "start"),
        Field("end", "end", "end"),
        Field("ward", "location/ward", "text"),
        Field("district", "location/district", "text"),
        Field("members", "members", "integer"),
        Field("name", "people/name", "text", repeat="people"),
        Field("age", "people/age", "integer", repeat="people"),
    ),
    groups=(Group("location", "location", False), Group("people", "people", True)),
)


def test_nested_and_flat_keys_give_the_same_payload_and_hash() -> None:
    body = json.dumps([
        {"instance_id": "uuid:1", "data": {"location": {"ward": "Kibera", "district": "Nairobi"},
                                           "members": 3, "people": [{"name": "Amina", "age": 34}]}},
        {"instance_id": "uuid:2", "data": {"location/ward": "Kibera", "location/district": "Nairobi",
                                           "members": 3, "people": [{"name": "Amina", "age": 34}]}},
    ]).encode()
    a, b = parse_json_body(body, SCHEMA)
    assert a.payload == b.payload == {
        "location": {"ward": "Kibera", "district": "Nairobi"}, "members": 3,
        "people": [{"name": "Amina", "age": 34}]}
    assert content_hash(a.payload) == content_hash(b.payload)


def test_bare_kobo_record_lifts_ids_version_and_channel_metadata() -> None:
    record = {"_id": 981, "_uuid": "abc", "_submission_time": "2026-03-02T08:00:00",
              "__version__": "vKx9", "formhub/uuid": "f00", "meta/instanceID": "uuid:abc",
              "end": "2026-03-01T10:15:00.000+03:00", "members": "4", "location/ward": "Kibera"}
    sub = parse_json_submission(record, SCHEMA)
    assert sub.instance_id == "uuid:abc"
    assert sub.form_version == "vKx9"
    assert sub.payload == {"end": "2026-03-01T10:15:00.000+03:00", "members": "4",
                           "location": {"ward": "Kibera"}}
    assert sub.source_meta == {"_id": 981, "_uuid": "abc", "_submission_time": "2026-03-02T08:00:00",
                               "__version__": "vKx9", "formhub/uuid": "f00"}
    assert sub.collected_at == datetime(2026, 3, 1, 7, 15, tzinfo=UTC)


def test_kobo_uuid_alone_becomes_the_odk_instance_id() -> None:
    assert parse_json_submission({"_uuid": "abc", "members": 1}, SCHEMA).instance_id == "uuid:abc"


def test_a_single_repeat_object_becomes_a_list_and_values_keep_their_type() -> None:
    sub = parse_json_submission({"instanceID": "x", "members": "three", "people": {"age": 4.5}}, SCHEMA)
    assert sub.payload == {"members": "three", "people": [{"age": 4.5}]}


def test_unknown_field_names_the_path_and_the_item() -> None:
    body = json.dumps([{"instance_id": "a", "data": {"members": 1}},
                       {"instance_id": "b", "data": {"location": {"village": "x"}}}]).encode()
    with pytest.raises(BadInput) as err:
        parse_json_body(body, SCHEMA)
    assert err.value.code == "intake.unknown_field"
    assert err.value.where is not None
    assert (err.value.where.row, err.value.where.field) == (1, "location/village")


def test_all_problems_of_a_batch_come_together() -> None:
    body = json.dumps({"submissions": [
        {"instance_id": "a", "data": {"members": 1}},
        {"data": {"members": 2}},
        {"instance_id": "a", "collected_at": "yesterday", "data": {"pets": 2}},
    ]}).encode()
    with pytest.raises(BadInput) as err:
        parse_json_body(body, SCHEMA)
    assert err.value.code == "intake.invalid_submission"
    codes = sorted(p.code for p in err.value.problems)
    assert codes == ["intake.bad_timestamp", "intake.duplicate_instance_id",
                     "intake.missing_instance_id", "intake.unknown_field"]
    dup = next(p for p in err.value.problems if p.code == "intake.duplicate_instance_id")
    assert "items 0 and 2" in dup.message


def test_invalid_json_says_line_and_column() -> None:
    with pytest.raises(BadInput) as err:
        parse_json_body(b'[\n  {"instance_id": "a",\n   "data": {"members": 1,}}\n]', SCHEMA)
    assert err.value.code == "intake.invalid_json"
    assert err.value.where is not None
    assert (err.value.where.row, err.value.where.position) == (3, 26)


def test_too_many_submissions() -> None:
    body = json.dumps([{"instance_id": str(i), "data": {}} for i in range(3)]).encode()
    with pytest.raises(PayloadTooLarge) as err:
        parse_json_body(body, SCHEMA, max_batch=2)
    assert err.value.code == "intake.batch_too_large"


def test_missing_instance_id_alone_raises_its_own_code() -> None:
    with pytest.raises(BadInput) as err:
        parse_json_submission({"members": 1}, SCHEMA)
    assert err.value.code == "intake.missing_instance_id"


def test_explicit_collected_at_wins_over_end() -> None:
    sub = parse_json_submission({"instance_id": "a", "collected_at": "2026-01-02T03:04:05Z",
                                 "data": {"end": "2026-03-01T10:15:00+03:00"}}, SCHEMA)
    assert sub.collected_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_content_hash_does_not_depend_on_key_order() -> None:
    a = {"b": 1, "a": {"y": "é", "x": [1, 2]}}
    b = {"a": {"x": [1, 2], "y": "é"}, "b": 1}
    assert canonical_json(a) == '{"a":{"x":[1,2],"y":"é"},"b":1}'
    assert content_hash(a) == content_hash(b)


# NUL characters and lone surrogates cannot be stored and are refused (test_bad_input.py)
leaf = st.one_of(st.none(), st.booleans(), st.integers(),
                 st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                         max_size=20),
                 st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=60, deadline=None)
@given(ward=leaf, members=leaf, people=st.lists(st.fixed_dictionaries({"name": leaf, "age": leaf}), max_size=3))
def test_json_round_trip_keeps_every_value(ward: object, members: object, people: list[dict[str, object]]) -> None:
    data = {"location": {"ward": ward}, "members": members, "people": people}
    flat = {"location/ward": ward, "members": members, "people": people}
    body = json.dumps([{"instance_id": "n", "data": data}, {"instance_id": "f", "data": flat}]).encode()
    nested, flat_sub = parse_json_body(body, SCHEMA)
    assert nested.payload == data == flat_sub.payload
    assert nested.content_hash == flat_sub.content_hash
