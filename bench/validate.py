"""Benchmark: validate 1,000,000 submissions of a 30-question form with 20+ rules.

Builds a 30-question XLSForm (required, relevance, constraints with messages, a
calculation, choice lists, typed fields), reads its rules with
``citizendata.validate.rules.form_rules`` and a million synthetic rows of raw
answers (with a few per cent of broken answers), then times the compiled
validation (one vectorised DuckDB query through Ibis) against the plain per-row
interpreter over the same rules (timed on a sample and scaled; the output says so).
Writes bench/results/validate.json. Targets: < 10 s on 2 cores, >= 50x the interpreter.

    python bench/validate.py [--rows 1000000] [--sample 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results

from citizendata.forms.xlsform import parse_xlsform
from citizendata.validate.checks import check_table, reference_findings
from citizendata.validate.expr import format_number
from citizendata.validate.extract import connect
from citizendata.validate.rules import form_rules

TODAY = date(2026, 6, 1)

# type, name, relevant, required, constraint, constraint_message, calculation
SURVEY = [
    ("integer", "age", "", "yes", ". >= 12 and . <= 55", "Age must be 12 to 55", ""),
    ("select_one yn", "consent", "", "yes", "", "", ""),
    ("select_one ward", "ward", "${consent} = 'yes'", "yes", "", "", ""),
    ("date", "visit_date", "", "yes", ". <= today()", "The visit cannot be in the future", ""),
    ("integer", "children", "${consent} = 'yes'", "yes", ". >= 0 and . <= 15", "0 to 15", ""),
    ("integer", "children_alive", "${children} > 0", "yes", ". <= ${children}",
     "Cannot exceed the number of children", ""),
    ("decimal", "distance_km", "", "", ". >= 0 and . < 300", "0 to 300 km", ""),
    ("integer", "travel_min", "${distance_km} > 0", "", ". > 0", "More than 0", ""),
    ("select_one place", "birth_place", "${children} > 0", "yes", "", "", ""),
    ("select_multiple help", "assistance", "${birth_place} != 'facility'", "", "", "", ""),
    ("text", "assist_other", "selected(${assistance}, 'other')", "yes",
     "string-length(.) >= 3", "Say who, in at least 3 letters", ""),
    ("select_one yn", "anc", "", "yes", "", "", ""),
    ("integer", "anc_visits", "${anc} = 'yes'", "yes", ". >= 1 and . <= 20", "1 to 20", ""),
    ("select_one wg", "wg_see", "", "yes", "", "", ""),
    ("select_one wg", "wg_hear", "", "yes", "", "", ""),
    ("select_one wg", "wg_walk", "", "yes", "", "", ""),
    ("select_one wg", "wg_remember", "", "yes", "", "", ""),
    ("select_one wg", "wg_selfcare", "", "yes", "", "", ""),
    ("select_one wg", "wg_communicate", "", "yes", "", "", ""),
    ("text", "phone", "", "", "regex(., '^0[17][0-9]{8}$')", "A Kenyan phone number", ""),
    ("integer", "household_size", "", "yes", ". >= 1 and . <= 40", "1 to 40", ""),
    ("decimal", "income", "", "", ". >= 0", "Not negative", ""),
    ("select_one yn", "insurance", "", "", "", "", ""),
    ("text", "insurer", "${insurance} = 'yes'", "", "", "", ""),
    ("date", "last_birth", "${children} > 0", "", ". <= ${visit_date}",
     "Before the visit", ""),
    ("integer", "weight_g", "${children} > 0", "", ". >= 400 and . <= 6500",
     "400 to 6500 g", ""),
    ("select_one yn", "referral", "", "", "", "", ""),
    ("text", "notes", "", "", "", "", ""),
    ("calculate", "per_person", "", "", "", "", "round(${income} div ${household_size}, 2)"),
    ("select_one yn", "followup", "", "yes", "", "", ""),
]
CHOICES = {
    "yn": ["yes", "no"],
    "ward": ["magadi", "ewuaso", "kimana", "mosiro", "suswa", "olokurto", "iloodokilani"],
    "place": ["home", "facility", "road", "other"],
    "help": ["relative", "tba", "nurse", "doctor", "other", "none"],
    "wg": ["1", "2", "3", "4"],
}


def form_bytes() -> bytes:
    """The benchmark XLSForm as pyxform's markdown text form."""
    header = "| survey | type | name | label | relevant | required | constraint | " \
             "constraint_message | calculation |"
    lines = [header]
    for row in SURVEY:
        lines.append("| | " + " | ".join([row[0], row[1], row[1], *row[2:]]) + " |")
    lines.append("| choices | list_name | name | label |")
    for lst, names in CHOICES.items():
        lines.extend(f"| | {lst} | {n} | {n} |" for n in names)
    lines.append("| settings | form_id | version |")
    lines.append("| | bench_validate | 1 |")
    return "\n".join(lines).encode()


def synthetic(n: int, seed: int = 7) -> pa.Table:
    """n rows of raw answers that follow the form, with a few in a hundred broken on purpose."""
    rng = np.random.default_rng(seed)

    def pick(values: list[str], p: list[float] | None = None) -> np.ndarray:
        return np.array(values, dtype=object)[rng.choice(len(values), n, p=p)]

    def text(x: np.ndarray) -> np.ndarray:
        return x.astype(str).astype(object)

    def bad(rate: float) -> np.ndarray:
        return rng.random(n) < rate

    def only(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.where(mask, values, "").astype(object)

    cols: dict[str, np.ndarray] = {}
    cols["age"] = text(np.where(bad(0.005), 70, rng.integers(12, 56, n)))
    consent = rng.random(n) < 0.97
    cols["consent"] = np.where(consent, "yes", "no").astype(object)
    ward = pick(CHOICES["ward"])
    cols["ward"] = only(consent, np.where(bad(0.003), "nairobi", ward))
    visit = np.datetime64(TODAY) - rng.integers(0, 500, n).astype("timedelta64[D]")
    visit = np.where(bad(0.002), np.datetime64(TODAY) + np.timedelta64(3, "D"), visit)
    cols["visit_date"] = text(visit.astype("datetime64[D]"))
    children = np.where(consent, rng.integers(0, 9, n), 0)
    cols["children"] = only(consent, text(np.where(bad(0.003), 20, children)))
    has = children > 0
    alive = np.where(bad(0.005), children + 1, children - (rng.random(n) < 0.1))
    cols["children_alive"] = only(has, text(alive))
    dist = np.round(rng.random(n) * 60, 1)
    cols["distance_km"] = text(dist)
    cols["travel_min"] = only(dist > 0, text(rng.integers(10, 300, n)))
    place = pick(CHOICES["place"], [0.3, 0.6, 0.05, 0.05])
    cols["birth_place"] = only(has, place)
    assist_relevant = ~(has & (place == "facility"))
    assistance = pick(["relative", "tba nurse", "other", "doctor", "none"])
    cols["assistance"] = only(assist_relevant, np.where(bad(0.002), "alien", assistance))
    other = assist_relevant & (assistance == "other")
    cols["assist_other"] = only(other, np.where(bad(0.01), "x", "aunt"))
    anc = rng.random(n) < 0.8
    cols["anc"] = np.where(anc, "yes", "no").astype(object)
    cols["anc_visits"] = only(anc, text(rng.integers(1, 13, n)))
    for q in ("wg_see", "wg_hear", "wg_walk", "wg_remember", "wg_selfcare", "wg_communicate"):
        cols[q] = pick(["1", "2", "3", "4", "9"], [0.7, 0.15, 0.08, 0.0698, 0.0002])
    cols["phone"] = pick(["0712345678", "0112345678", "12345", ""], [0.5, 0.2, 0.01, 0.29])
    size = rng.integers(1, 13, n)
    cols["household_size"] = text(size)
    income = rng.integers(0, 20000, n)
    has_income = rng.random(n) < 0.8
    cols["income"] = only(has_income, text(income))
    per = np.round(income / size, 2)
    per_text = np.array([format_number(x) for x in per.tolist()], dtype=object)
    per_text = np.where(bad(0.01), "1", per_text)
    cols["per_person"] = np.where(has_income, per_text, "NaN").astype(object)
    insured = rng.random(n) < 0.4
    cols["insurance"] = np.where(insured, "yes", "no").astype(object)
    cols["insurer"] = only(insured, np.array(["NHIF"] * n, dtype=object))
    last = visit - rng.integers(30, 3000, n).astype("timedelta64[D]")
    last = np.where(bad(0.005), visit + np.timedelta64(10, "D"), last)
    cols["last_birth"] = only(has, text(last.astype("datetime64[D]")))
    cols["weight_g"] = only(has, text(np.where(bad(0.003), 9000, rng.integers(2000, 4500, n))))
    cols["referral"] = pick(["yes", "no", "maybe"], [0.3, 0.698, 0.002])
    cols["notes"] = pick(["", "ok", "follow up"])
    cols["followup"] = pick(["yes", "no"])
    return pa.table({"_id": pa.array(np.arange(1, n + 1), pa.int64()),
                     "_item": pa.nulls(n, pa.string()),
                     **{k: pa.array(v, pa.string()) for k, v in cols.items()}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    args = parser.parse_args()

    parsed = parse_xlsform(form_bytes(), "bench_validate.md")
    rules = list(form_rules(parsed.schema).for_table(None))
    kinds = Counter(r.kind for r in rules)
    print(f"{len(rules)} rules: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))

    data = synthetic(args.rows)
    con = connect()
    con.create_table("raw", data, overwrite=True)
    table = con.table("raw")

    t0 = time.perf_counter()
    findings = con.to_pyarrow(check_table(table, rules, today=TODAY))
    seconds = time.perf_counter() - t0
    rows_per_s = args.rows / seconds
    print(f"compiled: {args.rows:,} rows, {findings.num_rows:,} findings in {seconds:.2f} s")

    sample_n = min(args.sample, args.rows)
    sample = data.slice(0, sample_n).to_pylist()
    t0 = time.perf_counter()
    ref = reference_findings(sample, rules, today=TODAY)
    ref_seconds = time.perf_counter() - t0
    reference_rows_per_s = sample_n / ref_seconds
    scaled = "" if sample_n == args.rows else \
        f" (timed on the first {sample_n:,} rows, scaled to {args.rows:,})"
    print(f"per-row interpreter: {sample_n:,} rows in {ref_seconds:.2f} s{scaled}")

    # the compiled findings on the sample must be the interpreter's, finding for finding
    ids = set(range(1, sample_n + 1))
    compiled_sample = sorted((i, None, r) for i, r in zip(
        findings["_id"].to_pylist(), findings["rule"].to_pylist(), strict=True) if i in ids)
    agree = compiled_sample == sorted(ref)
    print(f"compiled and interpreter agree on the sample: {agree}")

    result = {
        "rows": args.rows,
        "rules": len(rules),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows_per_s, 1),
        "reference_rows_per_s": round(reference_rows_per_s, 1),
        "reference_sample_rows": sample_n,
        "reference_scaled": sample_n != args.rows,
        "speedup": round(rows_per_s / reference_rows_per_s, 1),
        "findings": findings.num_rows,
        "agree_on_sample": agree,
        "target_seconds": 10,
        "target_speedup": 50,
    }
    write_results("validate", result,
                  ["rows", "rules", "seconds", "rows_per_s", "reference_rows_per_s", "speedup",
                   "findings", "agree_on_sample"],
                  "Validation: compiled (DuckDB via Ibis) vs per-row interpreter")
    if not agree:
        raise SystemExit("the compiled checks and the interpreter disagree")


if __name__ == "__main__":
    main()
