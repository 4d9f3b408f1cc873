"""Settings (production refusals) and the project spec file (round trips, threshold rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.config import get_settings
from citizendata.errors import BadInput, ServerMisconfigured
from citizendata.projects.spec import STAGES, ProjectSpec, load_spec

SPEC_YAML = """
slug: nairobi-water
name: Water points in Kibera
initiator: {slug: kibera-youth, name: Kibera Youth Water Group}
partners:
  - {slug: knbs, name: Kenya National Bureau of Statistics, kind: nso, role: nso}
purpose: Map which water points work.
consent_basis: verbal consent recorded in the form
integration_intent: publish_alongside
engagement:
  design: {level: 5, evidence: residents chose the questions}
  collect: {level: 4}
  analyse: {level: 2}
"""


def test_spec_file_reads_and_meets_threshold(tmp_path: Path) -> None:
    path = tmp_path / "project.yaml"
    path.write_text(SPEC_YAML)
    spec = load_spec(path)
    assert spec.meets_citizen_data_threshold and spec.partners[0].kind == "nso"
    assert load_spec(spec.to_yaml()) == spec


@pytest.mark.parametrize(("design", "collect", "meets"), [
    (5, 1, True), (1, 4, True), (3, 3, False), (4, None, True), (None, None, False)])
def test_threshold_is_design_or_collection_at_level_4_or_5(
        design: int | None, collect: int | None, meets: bool) -> None:
    engagement = {k: {"level": v} for k, v in (("design", design), ("collect", collect)) if v}
    engagement["release"] = {"level": 5}  # later stages do not count
    spec = load_spec({"slug": "abc", "name": "n", "initiator": {"slug": "o", "name": "O"},
                      "engagement": engagement})
    assert spec.meets_citizen_data_threshold is meets


def test_spec_problems_name_file_and_field() -> None:
    with pytest.raises(BadInput) as e:
        load_spec("slug: X\nname: n\ninitiator: {slug: o, name: O}\nengagement: {design: "
                  "{level: 9}}\n", file="project.yaml")
    fields = {p.where.field for p in e.value.problems if p.where}
    assert {"slug", "engagement.design.level"} <= fields
    assert all(p.where and p.where.file == "project.yaml" for p in e.value.problems)
    with pytest.raises(BadInput):
        load_spec("[1, 2", file="broken.yaml")


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=50, deadline=None)
@given(
    name=_text.filter(str.strip),
    purpose=_text,
    levels=st.dictionaries(st.sampled_from(sorted(STAGES)), st.integers(1, 5)),
    intent=st.sampled_from(["integrate", "publish_alongside", "stand_alone"]),
)
def test_spec_yaml_round_trip(name: str, purpose: str, levels: dict[str, int],
                              intent: str) -> None:
    spec = ProjectSpec.model_validate({
        "slug": "round-trip", "name": name, "purpose": purpose,
        "initiator": {"slug": "org", "name": name}, "integration_intent": intent,
        "engagement": {k: {"level": v, "evidence": purpose} for k, v in levels.items()}})
    assert load_spec(spec.to_yaml()) == spec


def test_production_refuses_unsafe_defaults(tmp_path: Path) -> None:
    with pytest.raises(ServerMisconfigured) as e:
        get_settings(workspace=tmp_path, mode="production")
    assert e.value.code == "config.unsafe"
    with pytest.raises(ServerMisconfigured):
        get_settings(workspace=tmp_path, mode="production", secret_key="changeme")
    with pytest.raises(ServerMisconfigured):
        get_settings(workspace=tmp_path, mode="production", secret_key="x" * 48,
                     open_registration=True)
    ok = get_settings(workspace=tmp_path, mode="production", secret_key="k" * 48)
    assert ok.session_secret() == "k" * 48


def test_development_key_is_created_once_and_private(tmp_path: Path) -> None:
    s = get_settings(workspace=tmp_path)
    key = s.session_secret()
    assert get_settings(workspace=tmp_path).session_secret() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_url_spellings(tmp_path: Path) -> None:
    assert get_settings(workspace=tmp_path).resolved_database_url.startswith("sqlite:///")
    pg = get_settings(workspace=tmp_path, database_url="postgresql://u@h/db")
    assert pg.resolved_database_url == "postgresql+psycopg://u@h/db" and not pg.is_sqlite
    with pytest.raises(ServerMisconfigured):
        get_settings(workspace=tmp_path, mode="nonsense")
