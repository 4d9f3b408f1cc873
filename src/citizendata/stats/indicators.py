"""Run a declared indicator: frame, weights, numerator and denominator, the cube, and coherence.

``estimate_indicator`` is what ``Client.estimate``, ``citizendata estimate`` and the
API call. It returns one tidy table (one row per estimate, one column per
dimension, ``_T`` for totals) plus the weighting diagnostics, the comparison with
the official benchmark and the provenance of the inputs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats as sps

import citizendata
from citizendata.errors import BadInput, Where
from citizendata.forms.schema import FormSchema
from citizendata.projects.estimation import (
    BenchmarkSpec,
    DesignSpec,
    EstimationSpec,
    IndicatorSpec,
)
from citizendata.snapshot.open import Snapshot
from citizendata.stats.cube import (
    TOTAL,
    CubeRequest,
    EstimateOptions,
    cube_design_sums,
    cube_estimates,
    cube_sums,
)
from citizendata.stats.frame import PSU, ConsentFilter, Frame, analysis_frame
from citizendata.stats.sampling import (
    NONE_DECLARED,
    ResolvedDesign,
    check_design_fields,
    design_columns,
)
from citizendata.stats.variance import z_value
from citizendata.stats.weighting import (
    Replicates,
    add_replicates,
    design_weights,
    reference_margins,
    weigh,
)
from citizendata.stats.weighting import _recalibrator as _recalibrator  # for older callers
from citizendata.validate.expr import choice_labels
from citizendata.validate.expr.compile import compile_number, compile_truthy
from citizendata.validate.expr.parser import Ref, parse

__all__ = ["MAGNITUDE_KINDS", "IndicatorResult", "base_fingerprint", "check_request",
           "coherence", "estimate_indicator", "grouping_sets", "reference_margins",
           "survey_weights", "units_in_base", "weigh"]

# kinds whose cells are sums of respondents' values: the dominance rules apply
MAGNITUDE_KINDS = ("total", "mean", "ratio")


@dataclass
class IndicatorResult:
    """An indicator's estimates and everything needed to judge and reproduce them."""

    indicator: IndicatorSpec
    table: pd.DataFrame
    dims: list[str]
    weighting: dict[str, Any] | None
    coherence: dict[str, Any] | None
    provenance: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # the disclosure-control report once the table has passed the project's rules
    protection: dict[str, Any] | None = None
    # what only those who may see unprotected figures learn of it (primary and secondary
    # cells, the information lost): never serialised with the table
    protection_detail: dict[str, Any] | None = field(default=None, repr=False)
    # magnitude indicators: each cell's largest contributions, for the dominance rules
    # (respondent-level information: used by protection, never serialised)
    contributions: pd.DataFrame | None = field(default=None, repr=False)

    def total(self) -> dict[str, Any]:
        """The headline estimate (every dimension at its total)."""
        t = self.table
        mask = np.ones(len(t), dtype=bool)
        for d in self.dims:
            mask &= (t[d] == TOTAL).to_numpy()
        rows = t[mask]
        return _row(rows.iloc[0]) if len(rows) else {}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the table as a list of rows)."""
        return {
            "indicator": self.indicator.model_dump(mode="json"),
            "dims": self.dims,
            "estimates": [_row(r) for _, r in self.table.iterrows()],
            "total": self.total(),
            "weighting": self.weighting,
            "coherence": self.coherence,
            "provenance": self.provenance,
            "counts": self.counts,
            "protection": self.protection,
            "seconds": round(self.seconds, 3),
        }


def _row(r: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in r.items():
        if isinstance(v, (float, np.floating)):
            out[str(k)] = None if not np.isfinite(v) else float(v)
        elif isinstance(v, np.integer):
            out[str(k)] = int(v)
        elif v is None or v is pd.NA:
            out[str(k)] = None
        else:
            out[str(k)] = v
    return out


def grouping_sets(disaggregations: Sequence[Sequence[str]]) -> tuple[list[str], list[tuple[str, ...]]]:
    """The dimensions and every set of cells the disaggregations need, totals at every level.

    Each disaggregation asks for its full cube: ``[sex, disability]`` gives sex ×
    disability, sex alone, disability alone and the grand total.
    """
    dims = list(dict.fromkeys(d for dis in disaggregations for d in dis))
    sets: dict[tuple[str, ...], None] = {(): None}
    for dis in disaggregations:
        for k in range(len(dis), 0, -1):
            for combo in itertools.combinations(dis, k):
                sets[tuple(d for d in dims if d in combo)] = None
    return dims, sorted(sets, key=lambda s: (-len(s), [dims.index(d) for d in s]))


def _parse(text: str, where: str) -> Any:
    return parse(text, field=where)


def _refs(node: Any) -> set[str]:
    """Field names an expression reads."""
    found: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, Ref) and n.name:
            found.add(n.name)
        for child in getattr(n, "args", ()) or ():
            walk(child)
        for attr in ("left", "right", "arg"):
            if hasattr(n, attr) and not isinstance(getattr(n, attr), (str, int, float)):
                walk(getattr(n, attr))

    walk(node)
    return found


def _measure(ind: IndicatorSpec, frame: Frame, schema: FormSchema, today: date
             ) -> tuple[ir.Table, dict[str, ir.Value]]:
    """The frame with the indicator's numerator ``_y``, denominator ``_z`` and base filter."""
    t = frame.table
    labels = choice_labels(schema)
    base_where = f"estimation.indicators.{ind.id}"
    num = _parse(ind.numerator, f"{base_where}.numerator")
    den = _parse(ind.denominator, f"{base_where}.denominator") if ind.denominator else None
    unknown = sorted((_refs(num) | (_refs(den) if den else set())) - set(t.columns))
    if unknown:
        raise BadInput("expr.unknown_field",
                       f"indicator {ind.id!r} reads {unknown}, which the unit "
                       f"({ind.unit or 'submission'}) and its enclosing levels do not have",
                       where=Where(field=base_where), fix="Correct the ${name}s in the indicator.")

    def blank(names: set[str]) -> ir.BooleanValue:
        cond: ir.BooleanValue = ibis.literal(False)
        for n in sorted(names):
            cond = cond | t[n].isnull() | (t[n].cast("string") == "")
        return cond

    def truthy(node: Any) -> ir.BooleanValue:
        return compile_truthy(node, t, today=today, labels=labels)

    def number(node: Any) -> ir.FloatingValue:
        return compile_number(node, t, today=today, labels=labels)

    if ind.kind in ("proportion", "count"):
        y = ibis.ifelse(truthy(num), 1.0, 0.0)
        base = truthy(den) if den is not None else ibis.literal(True)
        z = ibis.literal(1.0)
        missing = blank(_refs(num))
    elif ind.kind == "ratio":
        assert den is not None
        y, z = number(num), number(den)
        base = ibis.literal(True)
        missing = y.isnull() | z.isnull()
    else:  # mean, total
        y = number(num)
        base = truthy(den) if den is not None else ibis.literal(True)
        z = ibis.literal(1.0)
        missing = y.isnull()
    if ind.missing == "zero" and ind.kind != "ratio":
        y = y.fill_null(0.0) if ind.kind in ("mean", "total") else y
        missing = ibis.literal(False)
    t = t.mutate(_y=y.cast("float64"), _z=z.cast("float64"), _base=base, _missing=missing)
    return t, {"base": t["_base"], "missing": t["_missing"]}


def _population(spec: EstimationSpec, indicator: IndicatorSpec) -> str | None:
    """Which submissions are in the design: the weighting's ``population``; with a declared
    design also for an unweighted indicator (the design is the form's, whatever the weights)."""
    wspec = spec.weighting.get(indicator.form)
    if wspec is None or not (indicator.weighted or indicator.form in spec.design):
        return None
    return wspec.population


def _design_units(main: Frame, population: str | None, schema: FormSchema, today: date) -> ir.Table:
    """The submissions in the design: every analysed one, or those the weighting's population keeps."""
    t = main.table
    if population:
        node = _parse(population, "estimation.weighting.population")
        t = t.filter(compile_truthy(node, t, today=today, labels=choice_labels(schema)))
    return t


def coherence(estimate: Mapping[str, Any], benchmark: BenchmarkSpec, scale: float,
              level: float = 0.95) -> dict[str, Any]:
    """The estimate against the official figure: difference, its CI and a two-sided z-test.

    The two are taken as independent (different samples); without a benchmark SE the
    benchmark is treated as fixed and the test uses the estimate's SE alone.
    """
    value, se = float(estimate["value"]), float(estimate["se"])
    bse = benchmark.se if benchmark.se is not None else 0.0
    diff = value - benchmark.value
    se_diff = float(np.hypot(se, bse))
    z = z_value(level)
    stat = diff / se_diff if se_diff > 0 else float("nan")
    p = float(2 * sps.norm.sf(abs(stat))) if np.isfinite(stat) else float("nan")
    return {
        "estimate": value, "estimate_se": se, "benchmark": benchmark.value,
        "benchmark_se": benchmark.se, "benchmark_source": benchmark.source,
        "benchmark_year": benchmark.year, "benchmark_area": benchmark.area,
        "difference": diff, "difference_se": se_diff,
        "ci_low": diff - z * se_diff, "ci_high": diff + z * se_diff,
        "z": stat, "p_value": p, "level": level, "scale": scale,
        "significant": bool(np.isfinite(p) and p < 1 - level),
        "assumption": "independent samples" if benchmark.se is not None else
                      "benchmark treated as known (no SE given)",
    }


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _temp(table: ir.Table, df: pd.DataFrame) -> ir.Table:
    """A data frame as a temporary table on the same backend (portable to Spark)."""
    backend = table._find_backend()
    return backend.create_table(f"_cd_{uuid.uuid4().hex[:12]}", df, temp=True)


def _dimensions(frame: Frame, indicator: IndicatorSpec,
                disaggregations: Sequence[Sequence[str]] | None
                ) -> tuple[list[str], list[tuple[str, ...]]]:
    """The request's dimensions and cell sets, refused if the unit's frame lacks any."""
    dis = [list(d) for d in (disaggregations if disaggregations is not None
                             else indicator.disaggregations)]
    dims, sets = grouping_sets(dis)
    unknown = sorted(set(dims) - set(frame.table.columns))
    if unknown:
        raise BadInput("indicator.unknown_dimension",
                       f"indicator {indicator.id!r}: no dimension(s) {unknown} for the unit "
                       f"{indicator.unit or 'submission'}",
                       where=Where(field=", ".join(unknown)),
                       fix="Use fields of the unit of analysis or an enclosing level, or declare a "
                           "derived variable in estimation.derived.")
    return dims, sets


def check_request(snap: Snapshot, spec: EstimationSpec, indicator: IndicatorSpec, *,
                  disaggregations: Sequence[Sequence[str]] | None = None,
                  references: Mapping[str, pd.DataFrame] | None = None) -> None:
    """Refuse what no data could make valid (a unit, dimension or derived variable the form
    does not have): on ``snapshot.empty_snapshot``, before any data are read."""
    frame = analysis_frame(snap, indicator.unit, derived=spec.derived,
                           references=references or {})
    _dimensions(frame, indicator, disaggregations)
    dspec = spec.design.get(indicator.form)
    if dspec is not None:
        main = frame if indicator.unit is None else analysis_frame(
            snap, None, derived=spec.derived, references=references or {})
        check_design_fields(dspec, main.table.columns, indicator.form)


def units_in_base(snap: Snapshot, spec: EstimationSpec, indicator: IndicatorSpec, *,
                  statuses: Sequence[str] | None = None,
                  references: Mapping[str, pd.DataFrame] | None = None,
                  today: date | None = None,
                  consent: ConsentFilter | None = None) -> tuple[ir.Table, Frame]:
    """The units an indicator counts, with ``_y`` and ``_z``, and the frame they come from.

    The unit's analysis frame (statuses, consent), the numerator and base of the
    definition without the units missing an answer, and the weighting's (or design's)
    ``population`` filter: what ``estimate_indicator`` counts, for callers that need the
    units themselves (the fingerprint, combined estimates).
    """
    today = today or date.today()
    references = references or {}
    schema = FormSchema.from_dict(snap.info.schema_dict)
    frame = analysis_frame(snap, indicator.unit, statuses=statuses, derived=spec.derived,
                           references=references, consent=consent)
    measured, _ = _measure(indicator, frame, schema, today)
    measured = measured.filter(measured["_base"] & ~measured["_missing"])
    population = _population(spec, indicator)
    if population:
        main = frame if indicator.unit is None else analysis_frame(
            snap, None, statuses=statuses, derived=spec.derived, references=references,
            consent=consent)
        design = _design_units(main, population, schema, today).select(PSU).distinct()
        measured = measured.semi_join(design, PSU)
    return measured, frame


def base_fingerprint(snap: Snapshot, spec: EstimationSpec, indicator: IndicatorSpec, *,
                     statuses: Sequence[str] | None = None,
                     references: Mapping[str, pd.DataFrame] | None = None,
                     today: date | None = None,
                     consent: ConsentFilter | None = None) -> tuple[int, ...]:
    """Which units an indicator counts, in a few numbers (count, sums of their row ids).

    Two indicators of the same form and unit with the same fingerprint count the same
    units in every cell: their tables are linked, and are protected together. Cheap:
    no weighting and no cube.
    """
    measured, _ = units_in_base(snap, spec, indicator, statuses=statuses,
                                references=references, today=today, consent=consent)
    rid = measured["_id"].cast("float64")
    agg = measured.aggregate(n=measured.count(), s1=rid.sum(), s2=(rid * rid).sum(),
                             lo=rid.min(), hi=rid.max()).to_pandas().iloc[0]
    return tuple(int(0 if pd.isna(v) else v) for v in agg.to_numpy())


def estimate_indicator(snap: Snapshot, spec: EstimationSpec, indicator: IndicatorSpec, *,
                       statuses: Sequence[str] | None = None,
                       references: Mapping[str, pd.DataFrame] | None = None,
                       reference_hashes: Mapping[str, str] | None = None,
                       disaggregations: Sequence[Sequence[str]] | None = None,
                       variance: str | None = None, replicates: int = 200, seed: int | None = None,
                       today: date | None = None,
                       consent: ConsentFilter | None = None) -> IndicatorResult:
    """Estimate one indicator for every cell its disaggregations ask for.

    ``variance`` is linearisation or a replicate method (jk1, jkn, brr, fay,
    bootstrap); None takes the form's declared design's (linearisation when none is
    declared, or the survey's own replicate weights when it ships them). ``consent``
    leaves out submissions whose consent does not cover the use.
    """
    started = time.perf_counter()
    today = today or date.today()
    references = references or {}
    schema = FormSchema.from_dict(snap.info.schema_dict)
    frame = analysis_frame(snap, indicator.unit, statuses=statuses, derived=spec.derived,
                           references=references, consent=consent)
    main = frame if indicator.unit is None else analysis_frame(
        snap, None, statuses=statuses, derived=spec.derived, references=references,
        consent=consent)
    wspec = spec.weighting.get(indicator.form) if indicator.weighted else None
    dspec = spec.design.get(indicator.form)
    units = _design_units(main, _population(spec, indicator), schema, today)
    dims, sets = _dimensions(frame, indicator, disaggregations)
    wts = design_weights(units, indicator, wspec, dspec, references)
    weights, moments, design = wts.table, wts.moments, wts.design
    n_design = len(weights)
    method = variance or (dspec.variance if dspec is not None else "linearisation")
    reps = add_replicates(wts, method, replicates, seed, wspec, references)
    weights = wts.table
    measured, _ = _measure(indicator, frame, schema, today)
    counts = _counts(measured)
    measured = measured.filter(measured["_base"] & ~measured["_missing"])
    measured = measured.select(*dict.fromkeys([PSU, *dims, "_y", "_z"]))
    measured = measured.mutate(**{d: measured[d].cast("string") for d in dims})
    wt = _temp(measured, weights)
    joined = measured.join(wt, PSU)
    req = CubeRequest(dims=dims, sets=sets, unit_is_psu=indicator.unit is None,
                      psu_level=frame.psu_level, weighted=wspec is not None,
                      replicates=reps.count, design=design is not None and not reps.count,
                      d_column="_dq" if moments is not None else "_d")
    unit_sums = None
    if req.design:
        sums, unit_sums = cube_design_sums(joined, req, moments)
    else:
        sums = cube_sums(joined, req, moments)
    if sums.empty or float(sums["n"].sum()) == 0:
        raise BadInput("indicator.empty", f"indicator {indicator.id!r}: no unit is in its base",
                       where=Where(field=indicator.id),
                       fix="Approve submissions, or check the denominator and the unit.")
    rel = spec.reliability
    weighted = wspec is not None or (design is not None and design.has_weights
                                      and indicator.weighted)
    opt = EstimateOptions(kind=indicator.kind, n_design=n_design, level=spec.level, ci=indicator.ci,
                          weighted=weighted, unit_is_psu=indicator.unit is None,
                          min_n=rel.min_n, caution_cv=rel.caution_cv,
                          unreliable_cv=rel.unreliable_cv, replicates=reps.count,
                          # no design declared: normal quantiles, as before designs could be
                          df=_design_df(design, method),
                          replicate_variance=reps.rule, design=wts.variance())
    table = cube_estimates(sums, dims, opt, moments, unit_sums)
    if reps.count and reps.label:
        table["variance_method"] = reps.label
    for c in ("value", "se", "ci_low", "ci_high"):
        table[c] = table[c] * indicator.scale
    table.insert(0, "indicator", indicator.id)
    table.insert(1, "series", indicator.series or "")
    table.insert(2, "unit_measure", indicator.unit_of_measure)
    table = _order(table, dims)
    result = IndicatorResult(indicator=indicator, table=table, dims=dims, weighting=wts.weighting,
                             coherence=None, provenance={}, counts={**counts, "design": n_design})
    if indicator.kind in MAGNITUDE_KINDS:
        from citizendata.privacy.contributions import cell_contributions

        units_c = joined.select(PSU, *dims, _c=joined["_y"] * joined["_w"]).to_pandas()
        result.contributions = cell_contributions(units_c, dims, sets, psu=PSU)
    if indicator.benchmark is not None and result.total():
        result.coherence = coherence(result.total(), indicator.benchmark, indicator.scale,
                                     spec.level)
    result.provenance = {
        "snapshot": {name: t.sha256 for name, t in snap.info.tables.items()},
        "snapshot_created_at": snap.info.created_at.isoformat(),
        "references": dict(reference_hashes or {}),
        "estimation_spec_sha256": _hash(spec.model_dump(mode="json")),
        "indicator_sha256": _hash(indicator.model_dump(mode="json")),
        "citizendata_version": citizendata.__version__,
        "variance": method, "replicates": reps.count, "seed": seed,
        "design": design.describe() if design is not None else NONE_DECLARED,
        **_assumption(design, wspec is not None, reps),
        "df": opt.df,
        **({"replicate_weights": reps.meta} if reps.meta else {}),
        "statuses": list(statuses) if statuses is not None else None,
        "consent": None if consent is None else {
            "scope": consent.scope, "field": consent.field, "withdrawn": len(consent.excluded)},
    }
    result.seconds = time.perf_counter() - started
    return result


def _assumption(design: ResolvedDesign | None, calibrated: bool, reps: Replicates
                ) -> dict[str, Any]:
    """What an estimate carries about its variance: the sentence (English), its code and
    params (:mod:`citizendata.survey.assumption`, for pages to say it in their language)."""
    from citizendata.survey.assumption import VarianceAssumption

    a = (design.variance_assumption(calibrated) if design is not None
         else VarianceAssumption("none_declared", {"calibrated": calibrated}))
    if reps.count:
        a = a.with_params(replicates=reps.label.split("(")[0], n_replicates=reps.count)
        if design is not None and design.replicate_columns:
            # the survey's own replicate weights carry the design (R's svrepdesign)
            a = a.with_code("replicates").with_params(own_replicates=True)
    return {"variance_assumption": a.text(), "variance_assumption_code": a.code,
            "variance_assumption_params": dict(a.params)}


def survey_weights(snap: Snapshot, spec: EstimationSpec, form_id: str, *,
                   statuses: Sequence[str] | None = None,
                   references: Mapping[str, pd.DataFrame] | None = None,
                   variance: str | None = None, replicates: int = 200, seed: int | None = None,
                   today: date | None = None, consent: ConsentFilter | None = None
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The weights an estimate of the form uses, one row per submission in the design.

    Columns: ``_id`` (the snapshot's row id of the submission), the declared design's
    columns (strata, PSU, SSU, fpc), ``design_weight``, ``weight`` (calibrated when the
    form is weighted) and, with replicate variance, ``repw1`` … ``repwR`` (re-calibrated
    like the estimates'). The metadata say what R's ``svydesign``/``svrepdesign`` and
    Stata's ``svyset`` need (type, scale, rscales, mse) and which assumption holds.
    """
    today = today or date.today()
    references = references or {}
    schema = FormSchema.from_dict(snap.info.schema_dict)
    main = analysis_frame(snap, None, statuses=statuses, derived=spec.derived,
                          references=references, consent=consent)
    wspec, dspec = spec.weighting.get(form_id), spec.design.get(form_id)
    units = _design_units(main, wspec.population if wspec else None, schema, today)
    probe = IndicatorSpec(id="weights", form=form_id, kind="count", numerator="1")
    wts = design_weights(units, probe, wspec, dspec, references)
    method = variance or (dspec.variance if dspec is not None else "linearisation")
    reps = add_replicates(wts, method, replicates, seed, wspec, references)
    t = wts.table
    cols = {"_id": t[PSU].to_numpy()}
    for c in (design_columns(dspec) if dspec is not None else []):
        if c in wts.sample.columns and c not in cols:
            cols[c] = wts.sample[c].to_numpy()
    cols["design_weight"] = t["_d"].to_numpy(float)
    cols["weight"] = t["_w"].to_numpy(float)
    out = pd.DataFrame(cols)
    if reps.count:
        rep = t[[f"_r{r}" for r in range(reps.count)]].to_numpy(float)
        out = pd.concat([out, pd.DataFrame(rep, columns=[f"repw{r + 1}" for r in range(reps.count)])],
                        axis=1)
    design = wts.design
    meta: dict[str, Any] = {
        "form": form_id, "rows": len(out), "weight_column": "weight",
        "design_weight_column": "design_weight", "id_column": "_id",
        "design": design.describe() if design is not None else NONE_DECLARED,
        "variance": method,
        **_assumption(design, wspec is not None, reps),
        "calibrated": wspec is not None,
        "replicate_weights": reps.meta,
    }
    meta.update(_svy_commands(dspec))
    return out, meta


def _svy_commands(dspec: DesignSpec | None) -> dict[str, str]:
    """R and Stata commands declaring the exported (linearised) design."""
    d = dspec or DesignSpec()
    ids = "~" + "+".join([c for c in (d.psu, d.ssu) if c] or ["1"])
    args = [f"ids = {ids}", "weights = ~weight"]
    if d.strata:
        args.append(f"strata = ~{d.strata}")
    if isinstance(d.fpc, str):
        args.append("fpc = ~" + "+".join(c for c in (d.fpc, d.fpc2) if isinstance(c, str)))
    if d.nest:
        args.append("nest = TRUE")
    opts = [f"strata({d.strata})"] if d.strata else []
    if isinstance(d.fpc, str):
        opts.append(f"fpc({d.fpc})")
    stata = "svyset " + (d.psu or "_n") + " [pweight=weight]" + (f", {' '.join(opts)}"
                                                                 if opts else "")
    return {"r_linearised": f'd <- read.csv("replicates.csv"); des <- svydesign({", ".join(args)}, '
                            'data = d)',
            "stata_linearised": stata}


def _design_df(design: ResolvedDesign | None, method: str) -> float | None:
    """The design's degrees of freedom (None: no design declared, normal quantiles).

    As R: a stratum taken whole has no JKn replicates, so the rank of the replicate weights
    (R's degf) leaves its PSUs out; linearised, R counts them.
    """
    if design is None:
        return None
    survey = design.survey
    if method == "jkn" and survey.fpc1 is not None and survey.certainty_strata.any():
        return float(max(survey.df_without_certainty, 1))
    return design.df


def _counts(measured: ir.Table) -> dict[str, int]:
    """Units in the frame, in the base, and left out of the base for a missing answer."""
    agg = measured.aggregate(
        units=measured.count(),
        base=measured["_base"].cast("int64").sum(),
        missing=(measured["_base"] & measured["_missing"]).cast("int64").sum(),
    ).to_pandas().iloc[0]
    return {k: int(0 if pd.isna(v) else v) for k, v in agg.items()}


def _order(table: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Totals first, then cells in a stable order."""
    if not dims:
        return table.reset_index(drop=True)
    depth = sum((table[d] != TOTAL).astype(int) for d in dims)
    keyed = table.assign(_depth=depth)
    return keyed.sort_values(["_depth", *dims], kind="stable").drop(columns="_depth") \
        .reset_index(drop=True)
