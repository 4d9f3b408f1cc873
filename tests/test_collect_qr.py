"""The ODK Collect QR code on the project page: Collect's settings format, no password."""

from __future__ import annotations

import base64
import json
import re
import warnings
import zlib
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

from citizendata.collect_qr import (
    collect_settings,
    decode_settings,
    encode_settings,
    settings_qr_svg,
)
from citizendata.workspace import Workspace


def test_payload_is_base64_zlib_json_as_collect_reads_it() -> None:
    settings = collect_settings("https://data.example.org/openrosa/kisumu-roads",
                                "Kisumu road safety", "otieno")
    payload = encode_settings(settings)
    # what Collect does with a scanned code: base64-decode, inflate (zlib), parse JSON
    assert json.loads(zlib.decompress(base64.b64decode(payload))) == {
        "general": {"server_url": "https://data.example.org/openrosa/kisumu-roads",
                    "username": "otieno"},
        "admin": {}, "project": {"name": "Kisumu road safety"}}
    assert decode_settings(payload) == settings


def test_project_page_carries_the_qr_code_of_the_viewer_s_settings(
        http_server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _, client, auth = http_server
    r = client.get("/projects/test-project", headers=auth)
    assert r.status_code == 200, r.text
    svg = re.search(r"<svg.*?</svg>", r.text, re.S)
    assert svg is not None and "<path" in svg.group()
    expected: dict[str, Any] = collect_settings("http://testserver/openrosa/test-project",
                                                "Test project", "owner")
    # the page's code is exactly the code of these settings: server, project, user name
    assert svg.group() == settings_qr_svg(expected)
    assert "password" not in r.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<script" not in svg.group()
    # and where Excel or Power BI read each form
    assert "http://testserver/api/v1/projects/test-project/forms/household.svc" in r.text
