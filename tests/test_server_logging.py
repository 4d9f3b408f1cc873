"""Unexpected errors are logged without the values people sent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citizendata.config import Settings
from citizendata.server.app import create_app
from citizendata.workspace import Workspace


def test_internal_errors_log_no_personal_data(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    ws = Workspace(Settings(workspace=tmp_path / "ws", mode="test"))
    app = create_app(ws)

    person = "".join(["Nase", "rian"])  # data, not source text (tracebacks show source lines)

    @app.get("/boom")
    def boom() -> None:
        message = f"Key (respondent)=({person}) already exists"
        raise RuntimeError(message)

    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as http:
        r = http.get("/boom")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
    assert r.headers["X-Request-ID"] in caplog.text and "RuntimeError" in caplog.text
    assert "Naserian" not in caplog.text and "Naserian" not in r.text
    ws.close()
