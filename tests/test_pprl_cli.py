"""`citizendata pprl schema|encode|link`: holders encode their CSVs, the server links them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from citizendata.cli import app
from citizendata.errors import BadInput
from citizendata.integrate.pprl import (
    colombia_schema,
    encode_clks,
    link_encodings,
    normalise_name,
    pairwise_quality,
    read_schema,
)
from citizendata.integrate.pprl._synthetic import spanish_lists

runner = CliRunner()
SECRET = b"9f1c2e7a55d04b8e8a3f6c1d2b7e9a40\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pprl")
    frames, truth = spanish_lists(300, seed=11)
    out = {}
    for name, frame in frames.items():
        out[name] = d / f"{name}.csv"
        frame.to_csv(out[name], index=False)
    (d / "key").write_bytes(SECRET)
    truth.to_csv(d / "truth.csv")
    res = runner.invoke(app, ["pprl", "schema", "--out", str(d / "schema.json")])
    assert res.exit_code == 0, res.output
    return out


def _encode(files: dict[str, Path], name: str, *extra: str) -> Path:
    d = files[name].parent
    out = d / f"{name}.enc.csv"
    res = runner.invoke(app, ["pprl", "encode", str(files[name]), "--schema",
                              str(d / "schema.json"), "--secret-file", str(d / "key"),
                              "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return out


def test_encode_then_link_gives_the_librarys_links(files: dict[str, Path]) -> None:
    d = next(iter(files.values())).parent
    enc = {n: _encode(files, n) for n in files}
    res = runner.invoke(app, ["pprl", "link", *[f"{n}={p}" for n, p in enc.items()],
                              "--out", str(d / "pairs.csv"), "--clusters",
                              str(d / "clusters.csv"), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    pairs = pd.read_csv(d / "pairs.csv", dtype=str)
    assert info["links"] == len(pairs) > 100
    assert list(pairs.columns) == ["left_key", "right_key", "score"]
    # the same lists encoded in the library (the secret without its newline) link alike
    frames = {n: pd.read_csv(p, dtype=str, keep_default_na=False) for n, p in files.items()}
    lib = link_encodings({n: encode_clks(f, colombia_schema(), SECRET.strip())
                          for n, f in frames.items()}).links()
    assert set(zip(lib.left_key, lib.right_key, strict=True)) == set(
        zip(pairs.left_key, pairs.right_key, strict=True))
    truth = pd.read_csv(d / "truth.csv", index_col=0).iloc[:, 0]
    q = pairwise_quality(pd.read_csv(d / "clusters.csv"), truth)
    assert q["f1"] > 0.93, q
    for path in enc.values():  # what leaves the holder: no names, no secret
        text = path.read_text()
        assert SECRET.strip().decode() not in text
        assert not any(w in text for w in frames["flip"]["victim_surnames"] if len(w) >= 6)


def test_table_output_says_what_was_compared(files: dict[str, Path]) -> None:
    d = next(iter(files.values())).parent
    enc = [f"{n}={_encode(files, n)}" for n in ("flip", "fiscalia")]
    res = runner.invoke(app, ["pprl", "link", *enc, "--out", str(d / "p2.csv"),
                              "--blocking", "keys", "--blocking", "lsh", "--threshold", "0.85"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())  # rich wraps to the terminal's width
    assert "link(s) at Dice ≥ 0.85" in text and "candidate pairs" in text


def test_a_list_encoded_with_another_schema_is_refused_with_a_code(files: dict[str, Path]
                                                                   ) -> None:
    d = next(iter(files.values())).parent
    other = d / "schema512.json"
    other.write_text(colombia_schema(length=512).model_dump_json())
    a = _encode(files, "flip")
    res = runner.invoke(app, ["pprl", "encode", str(files["fiscalia"]), "--schema", str(other),
                              "--secret-file", str(d / "key"), "--out", str(d / "f512.csv")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["pprl", "link", f"flip={a}", f"fiscalia={d / 'f512.csv'}",
                              "--out", str(d / "x.csv"), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["code"] == "pprl.invalid"
    assert not (d / "x.csv").exists()


@pytest.mark.parametrize("args", [
    ["pprl", "link", "flip", "--out", "x.csv", "--json"],
    ["pprl", "link", "a=one.csv", "a=two.csv", "--out", "x.csv", "--json"],
])
def test_bad_list_arguments_are_coded(args: list[str]) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["code"] == "pprl.invalid"


def test_a_missing_or_short_secret_is_coded(files: dict[str, Path], tmp_path: Path) -> None:
    d = next(iter(files.values())).parent
    (tmp_path / "short").write_text("abc\n")
    for key in (tmp_path / "none", tmp_path / "short"):
        res = runner.invoke(app, ["pprl", "encode", str(files["flip"]), "--schema",
                                  str(d / "schema.json"), "--secret-file", str(key),
                                  "--out", str(tmp_path / "e.csv"), "--json"])
        assert res.exit_code == 2, res.output
        assert json.loads(res.stderr)["error"]["code"] == "pprl.invalid"
        assert "abc" not in res.stderr


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["fields", "name", "kind", "length", "k", "q", "weight", "salt",
                         "columns", "blocking", "hardening", "encoding", "hashing", "x"]),
        inner, max_size=5), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_any_json_is_a_schema_or_a_coded_error(data: object) -> None:
    try:
        schema = read_schema({"fields": data} if not isinstance(data, dict) else data)
    except BadInput as exc:
        assert exc.code == "pprl.invalid"
    else:
        assert schema.fields and schema.length % 128 == 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once
    assert once == once.strip() and "  " not in once
