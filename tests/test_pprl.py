"""Privacy-preserving record linkage: Bloom-filter encodings of Spanish-named lists."""

from __future__ import annotations

import base64
import hashlib
import hmac
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.pprl import (
    ClkSchema,
    FieldSpec,
    colombia_schema,
    decode_clks,
    derive_key,
    dice,
    encode_clks,
    greedy_one_to_one,
    link_encodings,
    normalise_name,
    pairwise_quality,
    read_schema,
)
from citizendata.integrate.pprl._synthetic import spanish_lists
from citizendata.integrate.pprl.encode import field_tokens

SECRET = "la-clave-compartida-por-las-organizaciones"


@pytest.fixture(scope="module")
def lists() -> tuple[dict[str, pd.DataFrame], pd.Series]:
    return spanish_lists(700, seed=7)


@pytest.fixture(scope="module")
def encoded(lists: tuple[dict[str, pd.DataFrame], pd.Series]) -> dict[str, pd.DataFrame]:
    schema = colombia_schema()
    return {name: encode_clks(frame, schema, SECRET) for name, frame in lists[0].items()}


def _qgram_dice(x: str, y: str) -> float:
    a = set(field_tokens(FieldSpec(name="n", kind="name"), normalise_name(x)))
    b = set(field_tokens(FieldSpec(name="n", kind="name"), normalise_name(y)))
    return 2 * len(a & b) / (len(a) + len(b))


# -- normalisation ------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "want"), [
    ("María José", "maria jose"),
    ("  MARÍA   JOSÉ ", "maria jose"),
    ("de la Peña Núñez", "pena nunez"),
    ("Pérez-Del Río", "perez rio"),
    ("Ortega y Gasset", "ortega gasset"),
    ("Pacho", "francisco"),
    ("Toño Gómez", "antonio gomez"),
    ("O'Connor", "o connor"),
    (None, ""),
    (float("nan"), ""),
])
def test_spanish_names_are_normalised_alike_at_every_holder(raw: object, want: str) -> None:
    assert normalise_name(raw) == want


def test_bigrams_are_padded_per_word() -> None:
    spec = FieldSpec(name="surnames", kind="name")
    assert field_tokens(spec, "pena") == ["_p", "pe", "en", "na", "a_"]
    assert field_tokens(FieldSpec(name="d", kind="date"), "2019-03-14") == [
        "y2019", "m2019-03", "d2019-03-14"]
    assert field_tokens(FieldSpec(name="s", kind="exact"), "female") == ["female"]


# -- hashing: Kirsch–Mitzenmacher double hashing keyed with HMAC-SHA256 ---------------------

def test_bit_positions_follow_keyed_double_hashing() -> None:
    """One record of one token: exactly the k positions (h1 + i·h2) mod l are set."""
    schema = ClkSchema(fields=[FieldSpec(name="sex", kind="exact", k=7)], length=256)
    enc = encode_clks(pd.DataFrame({"record_id": ["1"], "sex": ["Female"]}), schema, SECRET)
    bits = np.unpackbits(np.frombuffer(base64.b64decode(enc.clk[0]), dtype=np.uint8))
    key = SECRET.encode()
    msg = b"sex\x1ffemale"
    h1 = int.from_bytes(hmac.digest(derive_key(key, "h1"), msg, "sha256")[:8], "big") % 256
    h2 = int.from_bytes(hmac.digest(derive_key(key, "h2"), msg, "sha256")[:8], "big") % 256 | 1
    want = sorted((h1 + i * h2) % 256 for i in range(7))
    assert np.flatnonzero(bits).tolist() == want
    assert derive_key(key, "h1") == hmac.new(key, b"citizendata.pprl.v1/h1",
                                              hashlib.sha256).digest()


def test_filter_dice_tracks_the_qgram_dice_as_the_bloom_filter_model_predicts() -> None:
    """Expected bits shared by two filters of token sets with c common, a and b own tokens
    (k uniform positions each, l bits): l(1 - q^(c+a) - q^(c+b) + q^(c+a+b)), q = (1-1/l)^k.
    Mean over many random name pairs, simulated from the known token sets."""
    rng = np.random.default_rng(3)
    schema = ClkSchema(fields=[FieldSpec(name="n", kind="name", k=15)], length=512,
                       hashing="random")
    letters = list("abcdefghijlmnoprstuv")
    words = ["".join(rng.choice(letters, size=int(rng.integers(4, 9)))) for _ in range(800)]
    left = words[:400]
    right = [w[:-2] + "xy" if i % 2 else w for i, w in enumerate(left)]
    frame = pd.DataFrame({"record_id": [str(i) for i in range(800)], "n": left + right})
    m = decode_clks(encode_clks(frame, schema, SECRET)["clk"])
    ia, ib = np.arange(400), np.arange(400, 800)
    got = dice(m, m, ia, ib)
    q = (1 - 1 / 512) ** 15
    want = []
    for x, y in zip(left, right, strict=True):
        tx, ty = set(field_tokens(schema.fields[0], x)), set(field_tokens(schema.fields[0], y))
        c, a, b = len(tx & ty), len(tx - ty), len(ty - tx)
        both = 1 - q ** (c + a) - q ** (c + b) + q ** (c + a + b)
        want.append(2 * both / (2 - q ** (c + a) - q ** (c + b)))
    changed = np.arange(400) % 2 == 1  # the pairs whose last two letters differ
    assert got[changed].mean() == pytest.approx(np.mean(np.array(want)[changed]), abs=0.01)
    assert (got[~changed] == 1).all()


def test_similar_names_score_high_and_different_names_low(encoded: dict[str, pd.DataFrame]
                                                          ) -> None:
    schema = ClkSchema(fields=[FieldSpec(name="n", kind="name")], length=1024, k=20)
    names = ["José Rodríguez Peña", "JOSE RODRIGUEZ PENA", "Pepe Rodríguez", "Jose Rodrigez Peña",
             "Ana Lucía Mosquera Palacios"]
    enc = encode_clks(pd.DataFrame({"record_id": list("abcde"), "n": names}), schema, SECRET)
    m = decode_clks(enc["clk"])
    s = dice(m, m, np.zeros(4, dtype=np.int64), np.arange(1, 5))
    assert s[0] == 1.0  # accents and case do not change the encoding
    assert 0.75 < s[1] < 1.0  # nickname made formal, second surname missing
    assert s[2] == pytest.approx(_qgram_dice(names[0], names[3]), abs=0.12)
    assert s[3] < s[2] - 0.3


# -- linkage quality against the truth ----------------------------------------------------

def test_pprl_links_spanish_lists_nearly_as_well_as_the_plain_qgram_comparison(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        encoded: dict[str, pd.DataFrame]) -> None:
    frames, truth = lists
    res = link_encodings(encoded, threshold=0.8)
    q = pairwise_quality(res.clusters(), truth)
    # plain linkage of the same records: the same comparison on the names in the clear
    plain = _plain_clusters(frames, threshold=0.8)
    p = pairwise_quality(plain, truth)
    assert q["precision"] > 0.97 and q["recall"] > 0.93, q
    assert q["f1"] > p["f1"] - 0.03, (q, p)
    assert res.summary["reduction_ratio"] > 0.85  # blocking by the hashed event year


def _plain_clusters(frames: dict[str, pd.DataFrame], threshold: float) -> pd.DataFrame:
    """Clear-text baseline: Dice of the token sets (not filters), same blocking and 1:1."""
    schema = colombia_schema()
    toks = {}
    for name, f in frames.items():
        rows = []
        for r in f.itertuples(index=False):
            t: set[str] = set()
            for spec in schema.fields:
                raw = " ".join(str(getattr(r, c)) for c in spec.columns)
                value = (normalise_name(raw) if spec.kind == "name" else
                         str(pd.Timestamp(raw).date()) if spec.kind == "date" else
                         raw.strip().lower())
                t |= {f"{spec.name}|{x}" for x in field_tokens(spec, value)
                      for _ in range(1)} if value else set()
            rows.append((f"{name}:{r.record_id}", r.event_date[:4], t))
        toks[name] = rows
    out = []
    for la, lb in combinations(sorted(frames), 2):
        for ka, ya, ta in toks[la]:
            for kb, yb, tb in toks[lb]:
                if ya == yb:
                    s = 2 * len(ta & tb) / (len(ta) + len(tb))
                    if s >= threshold:
                        out.append((ka, kb, la, lb, s))
    pairs = pd.DataFrame(out, columns=["left_key", "right_key", "left_list", "right_list",
                                       "score"])
    from citizendata.integrate.pprl.link import PPRLResult

    keys = pd.Series([f"{n}:{r}" for n, f in frames.items() for r in f["record_id"]])
    return PPRLResult(pairs, keys, threshold).clusters()


def test_blocking_by_lsh_finds_nearly_every_pair_the_full_comparison_finds(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        encoded: dict[str, pd.DataFrame]) -> None:
    full = link_encodings(encoded, threshold=0.8, blocking="all").links()
    lsh = link_encodings(encoded, threshold=0.8, blocking="lsh")
    found = set(zip(lsh.links().left_key, lsh.links().right_key, strict=True))
    want = set(zip(full.left_key, full.right_key, strict=True))
    assert len(found & want) / len(want) > 0.95
    assert lsh.summary["reduction_ratio"] > 0.95


def test_vectorised_dice_equals_a_plain_loop_over_pairs(encoded: dict[str, pd.DataFrame]) -> None:
    a, b = decode_clks(encoded["fiscalia"]["clk"]), decode_clks(encoded["flip"]["clk"])
    rng = np.random.default_rng(1)
    ia, ib = rng.integers(0, len(a), 300), rng.integers(0, len(b), 300)
    got = dice(a, b, ia, ib)
    for s, i, j in zip(got, ia, ib, strict=True):
        x = int.from_bytes(a[i].tobytes(), "little")
        y = int.from_bytes(b[j].tobytes(), "little")
        assert s == 2 * (x & y).bit_count() / (x.bit_count() + y.bit_count())


def test_dice_equals_anonlinks_on_the_same_filters() -> None:
    """Reference: anonlink 0.15.3's C++ kernel (tests/data/pprl/anonlink_reference.py, run
    in a scratch venv) on 60 pairs of 1,024-bit CLKs and 60 of 1,024-bit balanced ones."""
    ref = pd.read_csv(Path(__file__).parent / "data" / "pprl" / "anonlink_dice.csv")
    got = np.concatenate([
        dice(decode_clks(part["clk_a"]), decode_clks(part["clk_b"]),
             np.arange(len(part)), np.arange(len(part)))
        for part in (ref.iloc[:60], ref.iloc[60:])])
    np.testing.assert_allclose(got, ref["anonlink_dice"], rtol=0, atol=1e-12)


def test_one_to_one_is_greedy_best_first() -> None:
    pairs = pd.DataFrame({
        "left_key": ["A:1", "A:1", "A:2", "A:2", "A:3"],
        "right_key": ["B:1", "B:2", "B:1", "B:3", "B:3"],
        "left_list": "A", "right_list": "B",
        "score": [0.95, 0.9, 0.93, 0.85, 0.84]})
    got = greedy_one_to_one(pairs)
    assert sorted(zip(got.left_key, got.right_key, strict=True)) == [
        ("A:1", "B:1"), ("A:2", "B:3")]


def test_clusters_span_lists_and_keys_are_list_and_record_id(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        encoded: dict[str, pd.DataFrame]) -> None:
    res = link_encodings(encoded, threshold=0.8)
    c = res.clusters()
    assert set(c["key"]) == set(lists[1].index)
    links = res.links()
    for side in ("left_key", "right_key"):  # 1:1: a record in one link per two lists
        assert not links.duplicated([side, "left_list", "right_list"]).any()
    sizes = c.groupby("cluster_id").size()
    assert (sizes > 3).mean() < 0.01  # chains across three lists are rare
    # a lower threshold links more; a higher one fewer (the result keeps pairs ≥ 0.7)
    assert (res.clusters(0.72)["cluster_id"].nunique() < c["cluster_id"].nunique()
            < res.clusters(0.9)["cluster_id"].nunique())


# -- hardening and its cost -----------------------------------------------------------------

@pytest.mark.parametrize(("hardening", "threshold"), [(["balance"], 0.85), (["xor_fold"], 0.7)])
def test_hardened_encodings_link_at_their_own_threshold(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        hardening: list[str], threshold: float) -> None:
    frames, truth = lists
    schema = colombia_schema(hardening=hardening)
    enc = {n: encode_clks(f, schema, SECRET) for n, f in frames.items()}
    width = len(base64.b64decode(enc["flip"].clk[0])) * 8
    assert width == (2048 if hardening == ["balance"] else 512)
    if hardening == ["balance"]:  # constant weight: the count of set bits hides the length
        assert set(np.bitwise_count(decode_clks(enc["flip"]["clk"])).sum(axis=1)) == {1024}
    q = pairwise_quality(link_encodings(enc, threshold=threshold).clusters(), truth)
    assert q["f1"] > 0.9, q


def test_salting_names_with_the_event_year_costs_the_pairs_whose_year_differs(
        lists: tuple[dict[str, pd.DataFrame], pd.Series]) -> None:
    frames, truth = lists
    salted = colombia_schema(fields=[
        FieldSpec(name="given_names", columns=["victim_given_names"], kind="name", salt="year"),
        FieldSpec(name="surnames", columns=["victim_surnames"], kind="name", salt="year"),
        FieldSpec(name="year", columns=["event_date"], kind="year", k=1),
        FieldSpec(name="event_date", kind="date"),
        FieldSpec(name="sex", columns=["victim_sex"], kind="exact", weight=0.5)], blocking=[])
    enc = {n: encode_clks(f, salted, SECRET) for n, f in frames.items()}
    res = link_encodings(enc, threshold=0.8, blocking="all")
    links = res.links()
    year = {f"{n}:{r.record_id}": r.event_date[:4] for n, f in frames.items()
            for r in f.itertuples()}
    # every accepted pair has the same event year: across years names share no bits
    assert (links.left_key.map(year) == links.right_key.map(year)).all()
    assert pairwise_quality(res.clusters(), truth)["f1"] > 0.85


# -- security --------------------------------------------------------------------------------

def test_the_encodings_hold_no_name_text_and_not_the_secret(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        encoded: dict[str, pd.DataFrame]) -> None:
    text = encoded["flip"].to_csv(index=False)
    # every name word as written and as normalised (base64 text may hold any short
    # string by chance: words of six letters or more have under 1% chance to appear)
    words = {w for col in ("victim_given_names", "victim_surnames")
             for v in lists[0]["flip"][col]
             for w in [*str(v).split(), *normalise_name(v).split()] if len(w) >= 6}
    assert len(words) > 50 and not [w for w in words if w in text]
    assert SECRET not in text and SECRET.encode().hex() not in text
    assert list(encoded["flip"].columns) == ["record_id", "clk", "block_1", "schema"]
    # the blocking key is hashed too: no year in the clear
    assert not encoded["flip"]["block_1"].str.match(r"^20\d\d$").any()


def test_a_different_secret_gives_unlinkable_encodings(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        encoded: dict[str, pd.DataFrame]) -> None:
    frames = lists[0]
    other = encode_clks(frames["flip"], colombia_schema(), "otra-clave-que-nadie-comparte-2026")
    same = decode_clks(encoded["flip"]["clk"])
    diff = decode_clks(other["clk"])
    idx = np.arange(len(same))
    own = dice(same, diff, idx, idx)  # the very same records, different secrets
    # background: two independent filters of these weights share |a||b|/l bits on average
    na = np.bitwise_count(same).sum(axis=1)
    nb = np.bitwise_count(diff).sum(axis=1)
    background = 2 * na * nb / 1024 / (na + nb)
    assert own.mean() == pytest.approx(background.mean(), abs=0.01)
    assert own.max() < 0.7  # far below any threshold that links
    assert not set(other["block_1"]) & set(encoded["flip"]["block_1"])
    res = link_encodings({"flip": other, "fiscalia": encoded["fiscalia"]}, threshold=0.8,
                         blocking="all", within=False)
    assert len(res.links()) == 0


def test_the_secret_is_never_written_by_the_library(
        lists: tuple[dict[str, pd.DataFrame], pd.Series], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    enc = encode_clks(lists[0]["flip"], colombia_schema(), SECRET)
    assert list(tmp_path.iterdir()) == []
    assert SECRET not in caplog.text
    assert SECRET not in repr(enc) and SECRET not in colombia_schema().model_dump_json()


def test_a_short_secret_is_refused() -> None:
    frame = pd.DataFrame({"record_id": ["1"], "sex": ["male"]})
    schema = ClkSchema(fields=[FieldSpec(name="sex", kind="exact")])
    with pytest.raises(BadInput) as err:
        encode_clks(frame, schema, "clave")
    assert err.value.code == "pprl.invalid" and "clave" not in err.value.message


# -- coded errors ----------------------------------------------------------------------------

def test_lists_of_different_schemas_or_lengths_are_refused(
        lists: tuple[dict[str, pd.DataFrame], pd.Series],
        encoded: dict[str, pd.DataFrame]) -> None:
    other = encode_clks(lists[0]["flip"], colombia_schema(length=512), SECRET)
    with pytest.raises(BadInput) as err:
        link_encodings({"fiscalia": encoded["fiscalia"], "flip": other})
    assert err.value.code == "pprl.invalid" and "different schemas" in err.value.message
    forged = other.assign(schema=encoded["fiscalia"]["schema"].iloc[0])
    with pytest.raises(BadInput) as err:
        link_encodings({"fiscalia": encoded["fiscalia"], "flip": forged})
    assert err.value.code == "pprl.invalid" and "different lengths" in err.value.message
    with pytest.raises(BadInput, match="base64"):
        link_encodings({"fiscalia": encoded["fiscalia"],
                        "flip": encoded["flip"].assign(clk="no es base64!")})
    with pytest.raises(BadInput, match="at least two lists"):
        link_encodings({"flip": encoded["flip"]})


def test_a_list_without_the_schemas_columns_or_with_repeated_ids_is_refused(
        lists: tuple[dict[str, pd.DataFrame], pd.Series]) -> None:
    frame = lists[0]["flip"]
    with pytest.raises(BadInput) as err:
        encode_clks(frame.drop(columns="victim_surnames"), colombia_schema(), SECRET)
    assert err.value.code == "pprl.invalid" and err.value.where is not None
    assert err.value.where.column == "victim_surnames"
    dup = frame.assign(record_id=frame["record_id"].where(frame.index != 5,
                                                          frame["record_id"].iloc[4]))
    with pytest.raises(BadInput) as err:
        encode_clks(dup, colombia_schema(), SECRET)
    assert err.value.where is not None
    assert err.value.where.row == 6 and err.value.where.column == "record_id"
    assert frame["victim_surnames"].iloc[4] not in str(err.value.to_dict())


def test_a_broken_schema_names_every_problem() -> None:
    with pytest.raises(BadInput) as err:
        read_schema({"fields": [{"name": "n", "kind": "soundex"}], "length": 1000})
    assert err.value.code == "pprl.invalid"
    fields = {p.where.field for p in err.value.problems if p.where}
    assert {"fields.0.kind", "length"} <= fields
    with pytest.raises(BadInput, match="salt"):
        read_schema({"fields": [{"name": "n", "salt": "year"}]})
    with pytest.raises(BadInput, match="blocking"):
        read_schema({"fields": [{"name": "n"}], "blocking": [["place:year"]]})
    assert read_schema(colombia_schema().model_dump(mode="json")) == colombia_schema()
