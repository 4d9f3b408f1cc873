"""Probable duplicate submissions: the Fellegi–Sunter model, fitted and applied with splink.

Two people often report the same incident: the victim's name is spelt differently, the
date is a day off. This module scores every candidate pair of submissions with the
probability that both describe the same thing (Fellegi & Sunter 1969, as implemented by
splink, Linacre et al. 2022) and returns the pairs above a threshold, for a reviewer.

The model: u (how often two unrelated submissions agree by chance) is estimated by
random sampling of pairs with a fixed seed; m (how often two reports of the same
incident agree) by expectation maximisation (EM) on pairs blocked on one field at a
time; the prior λ (the probability that two random submissions are duplicates) by EM
over the candidate pairs with m and u held fixed. Small tables are common, and there EM
may have too few pairs, fail to converge or give nonsense (agreement counting *against*
a match); then the fixed m-probabilities in ``FALLBACK_M`` are used for the comparisons
concerned, and with fewer than 30 candidate pairs the prior λ = 0.2 / (n − 1) (one
submission in ten duplicating another). The method, with its levels and fallbacks, is
described in docs/methods/duplicates.md.

Everything runs in a private in-memory DuckDB connection that is closed afterwards;
nothing is written to disk, nothing is downloaded, and splink's loggers are held at
WARNING so no value from the table reaches a log.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from citizendata.errors import BadInput, Where

__all__ = [
    "FALLBACK_M",
    "METHODS",
    "PRIOR_U",
    "Comparison",
    "DuplicateConfig",
    "empty_result",
    "probable_duplicates",
]

# the comparison methods, each with its levels from most to least similar (null apart)
METHODS: Mapping[str, tuple[str, ...]] = {
    "exact": ("exact", "else"),
    "fuzzy": ("exact", "jaro_winkler>=0.92", "jaro_winkler>=0.80", "else"),
    "date_within": ("exact", "within", "else"),
    "number_within": ("exact", "within", "else"),
}

# m-probabilities used when EM cannot estimate a comparison (documented in
# docs/methods/duplicates.md): duplicates mostly agree, with room for typos and slips
FALLBACK_M: Mapping[str, tuple[float, ...]] = {
    "exact": (0.95, 0.05),
    "fuzzy": (0.70, 0.20, 0.07, 0.03),
    "date_within": (0.65, 0.30, 0.05),
    "number_within": (0.70, 0.25, 0.05),
}

# prior u-probabilities, worth _U_PRIOR_PAIRS sampled pairs: they only matter for tiny
# tables, where the few sampled pairs include the duplicates themselves, and they keep a
# level never seen among random pairs from getting u = 0 (an infinite match weight)
PRIOR_U: Mapping[str, tuple[float, ...]] = {
    "exact": (0.05, 0.95),
    "fuzzy": (0.005, 0.005, 0.04, 0.95),
    "date_within": (0.005, 0.02, 0.975),
    "number_within": (0.02, 0.08, 0.90),
}

_JW_THRESHOLDS = (0.92, 0.80)  # Winkler (1990) style cut-offs for names with a typo
_SEED = 20260301  # fixed, so the same table always gives the same pairs
_U_MAX_PAIRS = 3e5  # enough for stable u at these sizes; splink's default 1e6 logs a warning
_U_PRIOR_PAIRS = 50.0
_EM_MIN_PAIRS = 30  # fewer blocked pairs than this cannot inform EM
_EM_MAX_PAIRS = 2e5  # a sample of blocked pairs is enough for m; EM runs on it each iteration
_EM_MAX_ITERATIONS = 25  # splink's default; not converging by then means the fallback
_EM_CONVERGENCE = 1e-4
_M_FLOOR = 1e-3  # so one disagreeing field never vetoes a pair outright
_PRIOR_MAX_ITERATIONS = 10_000
_PRIOR_MIN_SHARE = 1e-9  # keeps log2 odds finite when no candidate looks like a match
_FALLBACK_DUPLICATE_SHARE = 0.1  # fallback prior: one submission in ten duplicates another
_ALL_PAIRS_MAX_ROWS = 5000
_UID = "unique_id"
_SUBMISSIONS = "__citizendata_submissions"


@dataclass(frozen=True)
class Comparison:
    """How one field is compared between two submissions."""

    field: str
    method: str
    within: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise BadInput("input.invalid", "A comparison needs a field name.",
                           where=Where(field="field"),
                           fix="Give the column name, e.g. field: victim_name.")
        if self.method not in METHODS:
            raise BadInput("input.invalid",
                           f"Unknown comparison method {self.method!r} for field {self.field!r}.",
                           where=Where(field=self.field),
                           fix=f"Use one of: {', '.join(METHODS)}.")
        if self.method in ("date_within", "number_within"):
            ok = (isinstance(self.within, int | float) and not isinstance(self.within, bool)
                  and math.isfinite(self.within) and self.within > 0)
            if not ok:
                unit = "days" if self.method == "date_within" else "the tolerance"
                raise BadInput("input.invalid",
                               f"{self.method} on field {self.field!r} needs 'within' as a "
                               f"positive number, got {self.within!r}.",
                               where=Where(field=self.field),
                               fix=f"Add within: <{unit}>, e.g. within: 3.")
        elif self.within is not None:
            raise BadInput("input.invalid",
                           f"'within' is only used by date_within and number_within, not by "
                           f"{self.method} (field {self.field!r}).",
                           where=Where(field=self.field), fix="Remove 'within'.")


@dataclass(frozen=True)
class DuplicateConfig:
    """Which fields to compare, how to block pairs, and the probability to report from."""

    comparisons: tuple[Comparison, ...]
    blocking: tuple[tuple[str, ...], ...] = ()
    threshold: float = 0.8

    def __post_init__(self) -> None:
        # lists from hand-written code are accepted; the frozen value holds tuples
        object.__setattr__(self, "comparisons", tuple(self.comparisons))
        object.__setattr__(self, "blocking", tuple(tuple(rule) for rule in self.blocking))
        if not self.comparisons or not all(isinstance(c, Comparison) for c in self.comparisons):
            raise BadInput("input.invalid", "At least one comparison is needed.",
                           where=Where(field="comparisons"),
                           fix="List the fields to compare, e.g. "
                               "comparisons: [{field: ward, method: exact}].")
        seen: set[str] = set()
        for c in self.comparisons:
            if c.field in seen:
                raise BadInput("input.invalid", f"Field {c.field!r} is compared twice.",
                               where=Where(field=c.field),
                               fix="Keep one comparison per field.")
            seen.add(c.field)
        for rule in self.blocking:
            if not rule or not all(isinstance(col, str) and col for col in rule):
                raise BadInput("input.invalid",
                               f"A blocking rule must be a non-empty list of column names, "
                               f"got {list(rule)!r}.",
                               where=Where(field="blocking"),
                               fix="Write each rule as a list of columns, e.g. [ward].")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1:
            raise BadInput("input.invalid",
                           f"The threshold must be a probability from 0 to 1, got {t!r}.",
                           where=Where(field="threshold"), fix="Use e.g. threshold: 0.8.")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DuplicateConfig:
        """Read a configuration from a mapping as written in YAML or JSON."""
        if not isinstance(d, Mapping):
            raise BadInput("input.invalid", "The duplicates configuration must be a mapping.",
                           where=Where(field="duplicates"),
                           fix="Write it as keys comparisons, blocking, threshold.")
        _no_unknown_keys(d, {"comparisons", "blocking", "threshold"}, "")
        raw = d.get("comparisons")
        if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise BadInput("input.invalid", "'comparisons' must be a non-empty list.",
                           where=Where(field="comparisons"),
                           fix="List the fields to compare, e.g. "
                               "comparisons: [{field: ward, method: exact}].")
        comparisons = []
        for i, item in enumerate(raw):
            key = f"comparisons[{i}]"
            if not isinstance(item, Mapping):
                raise BadInput("input.invalid", f"{key} must be a mapping.",
                               where=Where(field=key),
                               fix="Write it as {field: <column>, method: <method>}.")
            _no_unknown_keys(item, {"field", "method", "within"}, f"{key}.")
            for required in ("field", "method"):
                if not isinstance(item.get(required), str):
                    raise BadInput("input.invalid", f"{key} has no '{required}'.",
                                   where=Where(field=f"{key}.{required}"),
                                   fix=f"Add {required}: <text>.")
            comparisons.append(Comparison(item["field"], item["method"], item.get("within")))
        blocking: list[tuple[str, ...]] = []
        raw_blocking = d.get("blocking") or []
        if isinstance(raw_blocking, str) or not isinstance(raw_blocking, Sequence):
            raise BadInput("input.invalid", "'blocking' must be a list of rules.",
                           where=Where(field="blocking"),
                           fix="Write e.g. blocking: [[ward], [incident_date]].")
        for rule in raw_blocking:
            # a rule on one column may be written as the bare name
            blocking.append((rule,) if isinstance(rule, str) else tuple(rule))
        threshold = d.get("threshold", 0.8)
        return cls(tuple(comparisons), tuple(blocking), threshold)

    def to_dict(self) -> dict[str, Any]:
        """The mapping that ``from_dict`` reads back to an equal configuration."""
        comparisons: list[dict[str, Any]] = []
        for c in self.comparisons:
            item: dict[str, Any] = {"field": c.field, "method": c.method}
            if c.within is not None:
                item["within"] = c.within
            comparisons.append(item)
        return {"comparisons": comparisons,
                "blocking": [list(rule) for rule in self.blocking],
                "threshold": self.threshold}


def _no_unknown_keys(d: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in d:
        if key not in known:
            raise BadInput("input.invalid", f"Unknown key {prefix}{key!s}.",
                           where=Where(field=f"{prefix}{key!s}"),
                           fix=f"Use only {', '.join(sorted(known))}.")


def empty_result(config: DuplicateConfig) -> pa.Table:
    """An empty table with the columns ``probable_duplicates`` returns."""
    return _result_schema(config).empty_table()


def _result_schema(config: DuplicateConfig) -> pa.Schema:
    return pa.schema(
        [("id_l", pa.int64()), ("id_r", pa.int64()), ("match_probability", pa.float64()),
         ("match_weight", pa.float64())]
        + [(f"gamma_{c.field}", pa.int64()) for c in config.comparisons])


def probable_duplicates(table: pa.Table, config: DuplicateConfig, *,
                        id_column: str = "_id") -> pa.Table:
    """Pairs of submissions that are probably the same, most probable first.

    Returns ``id_l < id_r``, ``match_probability``, ``match_weight`` and one
    ``gamma_<field>`` per comparison (the comparison level, -1 when either is missing),
    for pairs with ``match_probability >= config.threshold``.

    Small tables: where EM cannot estimate a comparison's m-probabilities (too few
    pairs, no convergence, or a result in which agreeing counts against a match), the
    fixed ``FALLBACK_M`` are used; with fewer than 30 candidate pairs the prior is
    0.2 / (n − 1). It never fails on that account. The fitted model (λ, m and u per
    level, and which parts fell back) is in the schema metadata under
    ``citizendata.duplicates``; it holds no value from the table.
    """
    blocking = _check_columns(table, config, id_column)
    if table.num_rows < 2:
        return empty_result(config)
    con = duckdb.connect(":memory:")
    try:
        # parallel sums add floats in a varying order; one thread gives the same bits each run
        con.execute("SET threads = 1")
        with _quiet_splink():
            return _run(con, table, config, id_column, blocking)
    finally:
        con.close()


def _check_columns(table: pa.Table, config: DuplicateConfig,
                   id_column: str) -> tuple[tuple[str, ...], ...]:
    names = set(table.column_names)
    if id_column not in names:
        raise BadInput("input.invalid", f"The table has no id column {id_column!r}.",
                       where=Where(field=id_column),
                       fix="Pass id_column= with the name of the submission id column.")
    id_type = table.schema.field(id_column).type
    if not pa.types.is_integer(id_type):
        raise BadInput("input.invalid", f"The id column {id_column!r} is {id_type}, not integer.",
                       where=Where(field=id_column), fix="Use the integer submission id (_id).")
    ids = table.column(id_column)
    if ids.null_count or len(ids.unique()) != len(ids):
        raise BadInput("input.invalid", f"The id column {id_column!r} has missing or repeated ids.",
                       where=Where(field=id_column), fix="Give every row its own id.")
    for c in config.comparisons:
        if c.field not in names or c.field == id_column:
            raise BadInput("input.invalid", f"Unknown field {c.field!r} in comparisons.",
                           where=Where(field=c.field),
                           fix=f"Use a column of the table: {_some(names - {id_column})}.")
    blocking = config.blocking or tuple(
        (c.field,) for c in config.comparisons if c.method == "exact")
    for rule in blocking:
        for col in rule:
            if col not in names or col == id_column:
                raise BadInput("input.invalid", f"Unknown field {col!r} in blocking.",
                               where=Where(field=col),
                               fix=f"Use a column of the table: {_some(names - {id_column})}.")
    if not blocking and table.num_rows > _ALL_PAIRS_MAX_ROWS:
        raise BadInput("input.invalid",
                       f"Without blocking all {table.num_rows:,} rows would be compared with "
                       f"each other; that is only done up to {_ALL_PAIRS_MAX_ROWS:,} rows.",
                       where=Where(field="blocking"),
                       fix="Add a blocking rule (columns that must be equal, e.g. [ward]) or "
                           "an 'exact' comparison.")
    return blocking


def _some(names: set[str]) -> str:
    shown = sorted(names)[:10]
    return ", ".join(shown) + (" …" if len(names) > 10 else "")


def _handled_by_fallback(record: logging.LogRecord) -> bool:
    # EM's "level not observed" warning names only internal columns (c0, c1 …) and
    # is exactly the case the fallback handles; it would only confuse a reader
    return "not observed in dataset" not in str(record.msg)


@contextmanager
def _quiet_splink() -> Iterator[None]:
    # names of people are in these tables; splink's INFO messages may quote values
    logger = logging.getLogger("splink")
    em_logger = logging.getLogger("splink.internals.expectation_maximisation")
    level = logger.level
    logger.setLevel(logging.WARNING)
    em_logger.addFilter(_handled_by_fallback)
    try:
        yield
    finally:
        em_logger.removeFilter(_handled_by_fallback)
        logger.setLevel(level)


def _run(con: duckdb.DuckDBPyConnection, table: pa.Table, config: DuplicateConfig,
         id_column: str, blocking: tuple[tuple[str, ...], ...]) -> pa.Table:
    # imported here: splink is heavy and only this function needs it
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    # internal column names c0, c1 …: field names may be anything a form allows
    columns: dict[str, str] = {}
    for c in config.comparisons:
        columns.setdefault(c.field, f"c{len(columns)}")
    for rule in blocking:
        for col in rule:
            columns.setdefault(col, f"c{len(columns)}")
    clean = _clean(con, table, config, id_column, columns)
    n = clean.num_rows

    splink_comparisons: list[Any] = []
    for c in config.comparisons:
        col = columns[c.field]
        within = c.within if c.within is not None else 0.0  # set whenever the method uses it
        if c.method == "exact":
            splink_comparisons.append(cl.ExactMatch(col))
        elif c.method == "fuzzy":
            splink_comparisons.append(cl.JaroWinklerAtThresholds(col, list(_JW_THRESHOLDS)))
        elif c.method == "date_within":
            splink_comparisons.append(cl.AbsoluteDateDifferenceAtThresholds(
                col, input_is_string=False, metrics=["day"], thresholds=[within]))
        else:
            splink_comparisons.append(cl.CustomComparison(
                comparison_levels=[cll.NullLevel(col), cll.ExactMatchLevel(col),
                                   cll.AbsoluteDifferenceLevel(col, within),
                                   cll.ElseLevel()],
                output_column_name=col))
    rules: list[Any] = [block_on(*(columns[x] for x in rule)) for rule in blocking] or ["1=1"]
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name=_UID,
        comparisons=splink_comparisons, blocking_rules_to_generate_predictions=rules,
        max_iterations=_EM_MAX_ITERATIONS, em_convergence=_EM_CONVERGENCE,
        # splink 5 keeps the gamma_ columns only together with the compared values
        retain_matching_columns=True, retain_intermediate_calculation_columns=False)

    db_api = DuckDBAPI(con)
    sdf = db_api.register(clean, table_name=_SUBMISSIONS)
    trainer = Linker(sdf, settings, log_level=None)
    trainer.training.estimate_u_using_random_sampling(
        max_pairs=_U_MAX_PAIRS, seed=_SEED, min_count_per_level=None, num_chunks=1)
    model = trainer.misc.save_model_to_json()
    n_pairs = min(_U_MAX_PAIRS, n * (n - 1) / 2)
    u = [_smoothed_u(_levels(model, i, "u_probability"), PRIOR_U[c.method], n_pairs)
         for i, c in enumerate(config.comparisons)]

    m_estimates: list[list[list[float]]] = [[] for _ in config.comparisons]
    for i, c in enumerate(config.comparisons):
        others = [j for j in range(len(config.comparisons)) if j != i]
        if not others or all(m_estimates[j] for j in others):
            continue
        m_by_column = _em_session(con, trainer, block_on, columns[c.field])
        for j in others:
            estimate = m_by_column.get(columns[config.comparisons[j].field])
            if estimate is not None and _valid_m(estimate, u[j]):
                m_estimates[j].append(estimate)

    m: list[list[float]] = []
    sources: list[str] = []
    for i, c in enumerate(config.comparisons):
        if m_estimates[i]:
            levels = [statistics.median(v) for v in zip(*m_estimates[i], strict=True)]
            m.append(_floored(levels, u[i]))
            sources.append("em")
        else:
            m.append(list(FALLBACK_M[c.method]))
            sources.append("fallback")

    # every candidate pair is scored with a provisional prior, which is then re-estimated
    provisional = min(0.5, 2 * _FALLBACK_DUPLICATE_SHARE / (n - 1))
    model["probability_two_random_records_match"] = provisional
    for i in range(len(config.comparisons)):
        for level, m_i, u_i in zip(_non_null_levels(model, i), m[i], u[i], strict=True):
            level["m_probability"] = m_i
            level["u_probability"] = u_i
    scorer = Linker(sdf, model, log_level=None)
    predictions = scorer.inference.predict(warning_mode="never").physical_name

    gamma_cols = [f"gamma_{columns[c.field]}" for c in config.comparisons]
    patterns = con.sql(f"SELECT {', '.join(gamma_cols)}, count(*) FROM {predictions} "
                       f"GROUP BY ALL").fetchall()
    # comparisons on a field every blocking rule requires equal agree in every candidate
    required = [i for i, c in enumerate(config.comparisons)
                if blocking and all(c.field in rule for rule in blocking)]
    log2_required = sum(math.log2(m[i][0] / u[i][0]) for i in required)
    log2_odds = _candidate_log2_odds(patterns, m, u, log2_required)
    prior_source = "em"
    if log2_odds is None:
        log2_odds = math.log2(provisional / (1 - provisional)) + log2_required
        prior_source = "fallback"
    # λ over all pairs: the candidates' prior odds less what blocking guaranteed
    prior_odds = 2.0 ** (log2_odds - log2_required)
    prior = prior_odds / (1 + prior_odds)

    shift = log2_odds - log2_required - math.log2(provisional / (1 - provisional))
    weight = f"(CAST(match_weight AS DOUBLE) + {shift!r})"
    gammas = ", ".join(f'CAST("{g}" AS BIGINT) AS "gamma_{i}"' for i, g in enumerate(gamma_cols))
    rows = con.sql(
        f"SELECT id_l, id_r, 1 / (1 + pow(2, -w)) AS match_probability, w AS match_weight, "
        f"{', '.join(f'gamma_{i}' for i in range(len(gamma_cols)))} FROM ("
        f"SELECT least({_UID}_l, {_UID}_r) AS id_l, greatest({_UID}_l, {_UID}_r) AS id_r, "
        f"{weight} AS w, {gammas} FROM {predictions}) "
        f"WHERE 1 / (1 + pow(2, -w)) >= {float(config.threshold)!r} "
        f"ORDER BY match_probability DESC, id_l, id_r").to_arrow_table()
    fitted_model = {
        "n_rows": n,
        "candidate_pairs": sum(row[-1] for row in patterns),
        "probability_two_random_records_match": prior,
        "prior_source": prior_source,
        "comparisons": [{"field": c.field, "method": c.method, "levels": list(METHODS[c.method]),
                         "m": m[i], "u": u[i], "m_source": sources[i]}
                        for i, c in enumerate(config.comparisons)],
    }
    schema = _result_schema(config).with_metadata(
        {"citizendata.duplicates": json.dumps(fitted_model)})
    return pa.Table.from_arrays([rows.column(k) for k in range(rows.num_columns)], schema=schema)


def _clean(con: duckdb.DuckDBPyConnection, table: pa.Table, config: DuplicateConfig,
           id_column: str, columns: Mapping[str, str]) -> pa.Table:
    """The columns to compare, typed, with '' and unreadable values as null."""
    methods = {c.field: c.method for c in config.comparisons}
    con.register("__citizendata_raw", table)
    select = [f"CAST({_q(id_column)} AS BIGINT) AS {_UID}"]
    for field, col in columns.items():
        text = f"NULLIF(trim(CAST({_q(field)} AS VARCHAR)), '')"
        method = methods.get(field)
        if method == "date_within":
            # strictly YYYY-MM-DD; anything else, 2024-02-30 included, is missing
            expr = f"CAST(try_strptime({text}, '%Y-%m-%d') AS DATE)"
        elif method == "number_within":
            number = f"TRY_CAST({text} AS DOUBLE)"
            expr = f"CASE WHEN isfinite({number}) THEN {number} END"
        else:
            # case and runs of spaces are not evidence either way
            expr = f"NULLIF(lower(regexp_replace({text}, '\\s+', ' ', 'g')), '')"
        select.append(f"{expr} AS {col}")
    out = con.sql(f"SELECT {', '.join(select)} FROM __citizendata_raw").to_arrow_table()
    con.unregister("__citizendata_raw")
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _em_session(con: duckdb.DuckDBPyConnection, trainer: Any, block_on: Any,
                col: str) -> dict[str, list[float]]:
    """m of the other comparisons from EM on pairs that agree exactly on ``col``.

    Keyed by internal column name; empty when EM cannot be run or did not converge.
    """
    from splink.internals.exceptions import EMTrainingException

    rows = con.sql(
        f"SELECT coalesce(sum(k * (k - 1) / 2), 0) FROM (SELECT count(*) AS k FROM "
        f"{_SUBMISSIONS} WHERE {col} IS NOT NULL GROUP BY {col})").fetchall()
    n_pairs = float(rows[0][0])
    if n_pairs < _EM_MIN_PAIRS:
        return {}
    try:
        session = trainer.training.estimate_parameters_using_expectation_maximisation(
            block_on(col), max_pairs=_EM_MAX_PAIRS if n_pairs > _EM_MAX_PAIRS else None)
    except EMTrainingException:
        return {}
    except ValueError as exc:
        # splink refuses an m that EM drove below 1e-300 instead of clamping it
        if "below the minimum allowed value" in str(exc):
            return {}
        raise
    history = getattr(session, "_core_model_settings_history", [])
    if len(history) > _EM_MAX_ITERATIONS:  # the initial values plus one per iteration
        return {}  # did not converge
    m_by_column: dict[str, list[float]] = {}
    for comparison in session.core_model_settings.comparisons:
        levels = [level for level in comparison.comparison_levels if not level.is_null_level]
        m_by_column[comparison.output_column_name] = [
            _as_probability(level.m_probability) for level in levels]
    return m_by_column


def _as_probability(value: Any) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return math.nan
    return p if 0 <= p <= 1 else math.nan


def _levels(model: Mapping[str, Any], i: int, key: str) -> list[float]:
    return [_as_probability(level.get(key)) for level in _non_null_levels(model, i)]


def _non_null_levels(model: Mapping[str, Any], i: int) -> list[dict[str, Any]]:
    return [level for level in model["comparisons"][i]["comparison_levels"]
            if not level.get("is_null_level")]


def _smoothed_u(sampled: Sequence[float], prior: Sequence[float], n_pairs: float) -> list[float]:
    # a level missing from the sample was not observed: it counts as 0, then the prior
    counts = [0.0 if math.isnan(p) else p * n_pairs for p in sampled]
    total = n_pairs + _U_PRIOR_PAIRS
    return [(k + _U_PRIOR_PAIRS * p0) / total for k, p0 in zip(counts, prior, strict=True)]


def _valid_m(m: Sequence[float], u: Sequence[float]) -> bool:
    """EM's m makes sense: probabilities, some agreement favours a match, disagreement not."""
    if any(math.isnan(x) for x in m) or not math.isclose(sum(m), 1.0, abs_tol=1e-3):
        return False
    ratios = [mk / uk for mk, uk in zip(m, u, strict=True)]
    return max(ratios[:-1]) > 1 > ratios[-1]


def _floored(m: Sequence[float], u: Sequence[float]) -> list[float]:
    """m floored, and made so that a closer level never counts less than a looser one."""
    out = [max(x, _M_FLOOR) for x in m]
    # EM leaves m near 0 on a level no duplicate reached (say, no exact name among them)
    for k in range(len(out) - 2, -1, -1):
        out[k] = max(out[k], u[k] * out[k + 1] / u[k + 1])
    total = sum(out)
    return [x / total for x in out]


def _candidate_log2_odds(patterns: Sequence[tuple[Any, ...]], m: Sequence[Sequence[float]],
                         u: Sequence[Sequence[float]], log2_required: float) -> float | None:
    """log2 prior odds of a match among candidate pairs, by EM with m and u held fixed.

    ``patterns`` are (gamma, …, count) rows. The share of matches is the one unknown, so
    EM is the fixed point λ = mean posterior, which always converges. None when there
    are too few candidates to say.
    """
    total = sum(row[-1] for row in patterns)
    if total < _EM_MIN_PAIRS:
        return None
    log2_bf = []
    for row in patterns:
        bf = -log2_required  # the guaranteed agreement tells nothing among candidates
        for i, gamma in enumerate(row[:-1]):
            if gamma is not None and gamma >= 0:
                bf += math.log2(m[i][len(m[i]) - 1 - gamma] / u[i][len(u[i]) - 1 - gamma])
        log2_bf.append(bf)
    share = 0.5
    for _ in range(_PRIOR_MAX_ITERATIONS):
        log2_odds = math.log2(share / (1 - share))
        posterior = sum(row[-1] * _probability(log2_odds + bf)
                        for row, bf in zip(patterns, log2_bf, strict=True))
        new_share = min(max(posterior / total, _PRIOR_MIN_SHARE), 1 - _PRIOR_MIN_SHARE)
        if abs(new_share - share) <= 1e-12 + 1e-9 * share:
            share = new_share
            break
        share = new_share
    return math.log2(share / (1 - share))


def _probability(log2_odds: float) -> float:
    if log2_odds < -1000:
        return 0.0
    return 1.0 if log2_odds > 1000 else 1 / (1 + 2.0 ** -log2_odds)
