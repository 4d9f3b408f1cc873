"""The Fellegi–Sunter model of the linkage, built, trained and applied with splink on DuckDB.

u (agreement among unrelated pairs) by random sampling of pairs with the caller's seed;
m (agreement among pairs of the same victim-event) by EM on two blocking passes, as
splink recommends: pairs with the same names and event year (which trains date, place,
sex, age, role and violation; the year keeps out most of a victim's *other* events) and
pairs with the same date and municipality (which trains the names, sex, age, role and
violation); a comparison's m is the mean over the passes that trained it, each pass run
on a fresh linker. The prior λ is then estimated by EM over the candidate pairs with m
and u fixed (the share of candidates that match, which is one number and always
converges) and spread over all pairs. Everything runs in a private in-memory DuckDB
connection with one thread (so a seed gives the same bits every run), and splink's
loggers are held at ERROR so no value reaches a log. docs/methods/linkage.md has the
details.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import duckdb
import numpy as np
import pandas as pd

__all__ = ["BLOCKING", "COMPARISONS", "FittedModel", "blocking_rules", "fit_and_predict",
           "private_duckdb"]

_JW = "jaro_winkler_similarity"
_U_MAX_PAIRS = 5e5
_U_FLOOR_PAIRS = 0.5  # a level never seen among sampled pairs counts as half a pair
_M_FLOOR = 5e-3  # a level never seen among matches keeps a small m: lists err in any field
_EM_MAX_ITERATIONS = 25
_EM_CONVERGENCE = 1e-4
_PRIOR_ITERATIONS = 10_000
_TABLE = "__citizendata_linkage"
# EM passes: same names (trains date, place, sex, age, role, violation) and same date and
# municipality (trains the names, sex, age, role, violation)
_EM_PASSES = (("given", "surn", "year"), ("event_date", "municipality"))


def _levels(name: str, null_sql: str, levels: list[tuple[str, str]]) -> dict[str, Any]:
    return {"name": name, "null": null_sql, "levels": levels}


def _comparisons(tolerance: int) -> list[dict[str, Any]]:
    """Each comparison: its null condition, then (label, SQL) from closest to furthest."""
    date_diff = "abs(date_diff('day', event_date_l, event_date_r))"
    date_levels = [("exact", "event_date_l = event_date_r")]
    if tolerance >= 4:
        date_levels.append((f"within {tolerance / 4:g} days", f"{date_diff} <= {tolerance / 4}"))
    if tolerance >= 1:
        date_levels.append((f"within {tolerance} days", f"{date_diff} <= {tolerance}"))
    # given names written in the surnames' column and the other way round
    swapped = ("(g1_l = s1_key_r AND s1_key_l = g1_r) OR "
               f"({_JW}(given_l, surn_r) >= 0.92 AND {_JW}(surn_l, given_r) >= 0.92)")
    return [
        _levels("given_names", "given_l IS NULL OR given_r IS NULL", [
            ("exact", "given_l = given_r"),
            ("same first name or nickname", "list_has_any(g1_canon_l, g1_canon_r)"),
            ("swapped with surnames", swapped),
            ("jaro-winkler >= 0.92", f"{_JW}(given_l, given_r) >= 0.92"),
            ("a given name in common", "list_has_any(canon_l, canon_r)"),
            ("jaro-winkler >= 0.80", f"{_JW}(given_l, given_r) >= 0.80"),
        ]),
        _levels("surnames", "surn_l IS NULL OR surn_r IS NULL", [
            ("both surnames", "s1_key_l = s1_key_r AND s2_key_l = s2_key_r"),
            ("first surname, second missing or close",
             f"s1_key_l = s1_key_r AND (s2_key_l IS NULL OR s2_key_r IS NULL "
             f"OR {_JW}(s2_key_l, s2_key_r) >= 0.88)"),
            ("surnames in the other order", "s1_key_l = s2_key_r OR s2_key_l = s1_key_r"),
            ("swapped with given names", swapped),
            ("jaro-winkler >= 0.92", f"{_JW}(surn_l, surn_r) >= 0.92"),
            ("first surname jaro-winkler >= 0.88", f"{_JW}(s1_key_l, s1_key_r) >= 0.88"),
        ]),
        _levels("sex", "sex_l IS NULL OR sex_r IS NULL", [("exact", "sex_l = sex_r")]),
        _levels("age", "age_l IS NULL OR age_r IS NULL", [
            ("exact", "age_l = age_r"), ("within 1 year", "abs(age_l - age_r) <= 1"),
            ("within 3 years", "abs(age_l - age_r) <= 3")]),
        _levels("role", "role_l IS NULL OR role_r IS NULL", [("exact", "role_l = role_r")]),
        _levels("violation", "violation_l IS NULL OR violation_r IS NULL",
                [("exact", "violation_l = violation_r")]),
        _levels("event_date", "event_date_l IS NULL OR event_date_r IS NULL", date_levels),
        _levels("place", "department_l IS NULL OR department_r IS NULL", [
            ("same municipality", "municipality_l = municipality_r"),
            ("same department, a municipality missing",
             "department_l = department_r AND (municipality_l IS NULL OR "
             "municipality_r IS NULL)"),
            ("same department", "department_l = department_r")]),
    ]


COMPARISONS = tuple(c["name"] for c in _comparisons(30))


def blocking_rules(tolerance: int) -> dict[str, str]:
    """The blocking rules (name -> SQL on l. and r.); a pair is a candidate if any holds.

    Their recall on test data is in docs/methods/linkage.md (``blocking_recall``).
    """
    window = max(tolerance, 1)
    return {
        "surname sound + year": "l.ph_s1 = r.ph_s1 AND l.year = r.year",
        "first-name sound + department": "l.ph_g1 = r.ph_g1 AND l.department = r.department",
        "date window + municipality":
            f"l.municipality = r.municipality AND "
            f"abs(date_diff('day', l.event_date, r.event_date)) <= {window}",
        "names swapped": "l.ph_s1 = r.ph_g1 AND l.ph_g1 = r.ph_s1",
        "surname sound + first-name sound": "l.ph_s1 = r.ph_s1 AND l.ph_g1 = r.ph_g1",
    }


BLOCKING = tuple(blocking_rules(30))


@dataclass(frozen=True)
class FittedModel:
    """The trained model: prior λ over all pairs, and per comparison its levels' m and u."""

    prior: float
    comparisons: list[dict[str, Any]]
    blocking: dict[str, str]
    candidate_pairs: int
    records: int
    seed: int
    date_tolerance_days: int


@contextmanager
def private_duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection whose spill files go to a private directory.

    DuckDB spills to ``.tmp`` in the working directory by default; the tables hold
    victims' names, so spills go to a fresh 0700 temporary directory removed on exit.
    """
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="citizendata-linkage-")  # mkdtemp makes it 0700
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET temp_directory = ?", [folder])
        yield con
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _quiet_splink() -> Iterator[None]:
    # victims' names are in these tables; splink's INFO messages may quote values
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _splink_comparisons(specs: list[dict[str, Any]]) -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    out = []
    for spec in specs:
        levels: list[Any] = [
            cll.CustomLevel(spec["null"], "null").configure(is_null_level=True)]
        levels += [cll.CustomLevel(sql, label) for label, sql in spec["levels"]]
        levels.append(cll.ElseLevel())
        out.append(cl.CustomComparison(comparison_levels=levels,
                                       output_column_name="c_" + spec["name"]))
    return out


def fit_and_predict(clean: pd.DataFrame, *, tolerance: int,
                    seed: int) -> tuple[pd.DataFrame, FittedModel]:
    """Candidate pairs scored by the trained model, and the model."""
    with private_duckdb() as con:
        # parallel sums add floats in varying order; one thread gives the same bits each run
        con.execute("SET threads = 1")
        with _quiet_splink():
            return _run(con, clean, tolerance, seed)


def _run(con: duckdb.DuckDBPyConnection, clean: pd.DataFrame, tolerance: int,
         seed: int) -> tuple[pd.DataFrame, FittedModel]:
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    specs = _comparisons(tolerance)
    rules = blocking_rules(tolerance)
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        comparisons=_splink_comparisons(specs),
        # splink accepts SQL text as a rule; its type hints name only the rule objects
        blocking_rules_to_generate_predictions=cast(Any, list(rules.values())),
        max_iterations=_EM_MAX_ITERATIONS, em_convergence=_EM_CONVERGENCE,
        retain_matching_columns=True, retain_intermediate_calculation_columns=False,
        probability_two_random_records_match=0.5)
    db_api = DuckDBAPI(con)
    sdf = db_api.register(clean, table_name=_TABLE)
    linker = Linker(sdf, settings, log_level=None)
    n = len(clean)
    all_pairs = n * (n - 1) / 2
    u_pairs = min(_U_MAX_PAIRS, all_pairs)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=u_pairs, seed=seed, min_count_per_level=None, num_chunks=1)
    model = linker.misc.save_model_to_json()
    # each EM pass on a fresh linker: splink 5's EM session drops the comparisons its
    # blocking rule uses from the linker it runs on, so passes cannot share one
    passes = [_em_pass(Linker, sdf, model, block_on(*cols)) for cols in _EM_PASSES]
    model["probability_two_random_records_match"] = 0.5  # scores are then log2 Bayes factors
    sources: dict[str, str] = {}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        trained = [p[name] for p in passes if name in p]
        m = ([sum(v) / len(v) for v in zip(*trained, strict=True)] if trained
             else _fallback_m(len(levels)))
        for level, m_k in zip(levels, m, strict=True):
            u = _probability(level.get("u_probability"))
            level["u_probability"] = max(u, _U_FLOOR_PAIRS / u_pairs)
            level["m_probability"] = max(m_k, _M_FLOOR)
        sources[name] = "em" if trained else "fallback"
    scorer = Linker(sdf, model, log_level=None, validate_settings=False)
    predictions = scorer.inference.predict(warning_mode="never").physical_name
    gammas = ", ".join(f'CAST("gamma_c_{s["name"]}" AS INTEGER) AS "gamma_{s["name"]}"'
                       for s in specs)
    pairs = con.sql(
        f"SELECT least(unique_id_l, unique_id_r) AS left_key, "
        f"greatest(unique_id_l, unique_id_r) AS right_key, "
        f"CAST(match_weight AS DOUBLE) AS match_weight, {gammas} FROM {predictions}"
    ).df()
    # the model was scored with λ = 1/2, so match_weight is the log2 Bayes factor
    bf = pairs["match_weight"].to_numpy(dtype=float)
    prior = _prior(bf, all_pairs)
    w = bf + math.log2(prior / (1 - prior))
    pairs["match_weight"] = w
    pairs["match_probability"] = 1 / (1 + np.exp2(-w))
    pairs = pairs.sort_values(["match_probability", "left_key", "right_key"],
                              ascending=[False, True, True], kind="stable")
    order = ["left_key", "right_key", "match_probability", "match_weight"]
    pairs = pairs[order + [c for c in pairs.columns if c not in order]].reset_index(drop=True)
    fitted = FittedModel(prior=prior, comparisons=_summary(model, specs, sources), blocking=rules,
                         candidate_pairs=len(pairs), records=n, seed=seed,
                         date_tolerance_days=tolerance)
    return pairs, fitted


def _em(linker: Any, rule: Any) -> dict[str, list[float]] | None:
    """m of the comparisons one EM pass trains, by comparison name.

    {} when there are too few pairs, None when an m underflowed to 0.
    """
    from splink.internals.exceptions import EMTrainingException

    try:
        session = linker.training.estimate_parameters_using_expectation_maximisation(rule)
    except EMTrainingException:
        return {}  # too few pairs in this pass: the other pass, or the fallback, stand in
    except ValueError as exc:
        # splink refuses an m that EM drove below 1e-300 instead of clamping it
        if "below the minimum allowed value" not in str(exc):
            raise
        return None
    out: dict[str, list[float]] = {}
    for comparison in session.core_model_settings.comparisons:
        levels = [lv for lv in comparison.comparison_levels if not lv.is_null_level]
        out[comparison.output_column_name] = [_probability(lv.m_probability) for lv in levels]
    return out


def _em_pass(linker_class: Any, sdf: Any, model: dict[str, Any],
             rule: Any) -> dict[str, list[float]]:
    """One EM pass; when splink stops it (an m underflowing to 0 on a level no match
    reaches), it runs again with fewer iterations, so the estimate stops short of that."""
    iterations = _EM_MAX_ITERATIONS
    while iterations >= 2:
        settings = copy.deepcopy(model)
        settings["max_iterations"] = iterations
        # validated once, on the first linker: the SQL is the same
        out = _em(linker_class(sdf, settings, log_level=None, validate_settings=False), rule)
        if out is not None:
            return out
        iterations //= 2
    return {}


def _fallback_m(n_levels: int) -> list[float]:
    """m when no EM pass could train a comparison: mostly the closest level, some slips."""
    raw = [0.5 ** k for k in range(n_levels - 1)] + [0.05]
    total = sum(raw)
    return [x / total for x in raw]


def _probability(value: Any) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return 0.0
    return p if 0 <= p <= 1 else 0.0


def _prior(log2_bf: np.ndarray, all_pairs: float) -> float:
    """λ over all pairs: EM for the share of candidates that match, spread over all pairs."""
    if log2_bf.size == 0 or all_pairs <= 0:
        return 1e-9
    share = 0.5
    bf = np.clip(log2_bf, -1000, 1000)
    for _ in range(_PRIOR_ITERATIONS):
        new = float(np.mean(1 / (1 + np.exp2(-(math.log2(share / (1 - share)) + bf)))))
        new = min(max(new, 1e-12), 1 - 1e-12)
        if abs(new - share) <= 1e-12 + 1e-9 * share:
            share = new
            break
        share = new
    matches = share * log2_bf.size
    return min(max(matches / all_pairs, 1e-12), 0.5)


def _summary(model: dict[str, Any], specs: list[dict[str, Any]],
             sources: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for spec, comparison in zip(specs, model["comparisons"], strict=True):
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        labels = [label for label, _ in spec["levels"]] + ["else"]
        out.append({"name": spec["name"],
                    "m_source": sources[comparison["output_column_name"]], "levels": [
            {"label": label, "gamma": len(labels) - 1 - i, "m": lv["m_probability"],
             "u": lv["u_probability"],
             "bayes_factor": lv["m_probability"] / lv["u_probability"]}
            for i, (label, lv) in enumerate(zip(labels, levels, strict=True))]})
    return out
