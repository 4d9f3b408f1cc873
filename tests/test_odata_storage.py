"""The OData feed and attachments on both stores (SQLite and PostgreSQL): the same rows,
pages, filters and counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from citizendata.services.intake import StoredAttachment
from citizendata.workspace import Client

SLUG, FORM = "test-project", "household"


def feed(me: Client, table: str = "Submissions", **params: str) -> dict[str, Any]:
    """One response of the feed, parsed."""
    text = "".join(me.odata_stream(SLUG, FORM, table, params, service_root="http://x/svc"))
    out: dict[str, Any] = json.loads(text)
    return out


def test_feed_pages_filters_and_counts_on_every_store(owner: Client) -> None:
    subs = [{"meta": {"instanceID": f"uuid:b{i}"}, "respondent": f"R{i}", "age": 20 + i,
             "consent": "yes", "location": {"ward": "magadi", "gps": "-1.2 36.8 0 4"},
             "n_births": i % 3,
             "births": [{"place": "home", "attendants": "doctor nurse"}] * (i % 3)}
            for i in range(9)]
    owner.submit(SLUG, FORM, json.dumps(subs))
    owner.edit(SLUG, FORM, "uuid:b2", {"age": 99}, "checked with the family")
    owner.withdraw_consent(SLUG, FORM, "uuid:b4")
    first = feed(owner, **{"$top": "3", "$count": "true"})
    assert [r["__id"] for r in first["value"]] == ["uuid:b0", "uuid:b1", "uuid:b2"]
    assert first["value"][2]["age"] == 99 and first["value"][2]["__system"]["edits"] == 1
    assert first["value"][0]["location"]["gps"]["coordinates"] == [36.8, -1.2, 0.0]
    assert first["@odata.count"] == 8
    link = dict(parse_qsl(urlsplit(first["@odata.nextLink"]).query))
    assert link["$top"] == "3" and link["$count"] == "true"
    rest = feed(owner, **{**link, "$top": "10"})
    assert [r["__id"] for r in rest["value"]] == [f"uuid:b{i}" for i in (3, 5, 6, 7, 8)]
    assert "@odata.nextLink" not in rest and rest["@odata.count"] == 8
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert feed(owner, **{"$filter": f"__system/submissionDate ge {future}",
                          "$count": "true"})["@odata.count"] == 0
    assert len(feed(owner, **{"$filter": f"__system/submissionDate lt {future}"})["value"]) == 8
    births = feed(owner, "Submissions.births", **{"$count": "true"})
    assert births["@odata.count"] == len(births["value"]) == sum(
        i % 3 for i in range(9) if i != 4)
    assert births["value"][0]["attendants"] == "doctor nurse"


def test_attachments_on_every_store(owner: Client) -> None:
    xml = (b"<?xml version='1.0'?><data id=\"household\" version=\"1\"><age>30</age>"
           b"<consent>yes</consent><meta><instanceID>uuid:m1</instanceID></meta>"
           b"</data>")
    owner.submit_instance(SLUG, xml, [StoredAttachment("extra.jpg", "image/jpeg", b"\xff")])
    listing = owner.attachments(SLUG, FORM, "uuid:m1")
    # no media field names it: shown to whoever may see personal data, with its bytes
    assert [(a.name, a.field, a.present) for a in listing.attachments] == [
        ("extra.jpg", None, True)]
    assert owner.attachment(SLUG, FORM, "uuid:m1", "extra.jpg")[1] == b"\xff"
