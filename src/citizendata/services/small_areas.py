"""Small area estimates of a project: the declared entries, and the steps between the
project's own tables and the Fay–Herriot model.

The direct estimates are the indicator's **protected** estimates by area (the project's
weighting, variance and disclosure control: nothing new is estimated here). An area
whose direct cell the disclosure control hides enters the model as an area without a
sample, so its published figure is synthetic (covariates only) and nothing of the
hidden cell leaks into it. The model's estimates are then benchmarked so that the areas
of each group (the wards of a county) add up to the group's direct estimate, and
flagged by the project's reliability rule on their CV. Who may ask: whoever may see
the indicator's estimates (``Action.DATA_EXPORT``); everyone else is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, NotFound, Where
from citizendata.projects.estimation import EstimationSpec, IndicatorSpec
from citizendata.projects.small_areas import NATIONAL, SmallAreaSpec, entry_problem
from citizendata.services.access import audit, project_for, project_spec
from citizendata.stats.variance import ReliabilityRule, reliability_flag

if TYPE_CHECKING:
    from citizendata.stats.indicators import IndicatorResult

__all__ = ["NATIONAL", "TOTAL", "area_groups", "audit_small_areas", "covariate_table",
           "direct_by_area", "fit_small_areas", "group_rows", "small_area_spec",
           "small_area_specs"]

TOTAL = "_T"  # the whole population, as in every estimate table
UNKNOWN = "_U"


def small_area_specs(db: Session, actor: Actor | None, slug: str) -> list[SmallAreaSpec]:
    """The project's declared small area entries, for whoever may see its estimates."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    return list(project_spec(project).small_areas) if project.spec else []


def small_area_spec(db: Session, actor: Actor | None, slug: str, indicator: str,
                    area: str | None = None) -> SmallAreaSpec:
    """The entry for ``indicator`` (and ``area``, when it has several), or a 404 naming those
    declared; an entry whose levels are not the indicator's declared dimensions is refused
    (``input.invalid``, naming the entry), whoever asks."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    full = project_spec(project) if project.spec else None
    specs = list(full.small_areas) if full is not None else []
    found = [(i, s) for i, s in enumerate(specs)
             if s.indicator == indicator and (area is None or s.area == area)]
    if not found or full is None:
        raise NotFound("indicator.unknown", f"project {slug!r} declares no small area "
                       f"estimates of {indicator!r}" + (f" by {area!r}" if area else "")
                       + f"; it has {[s.id for s in specs]}", where=Where(field="indicator"),
                       fix="Declare them under small_areas in the project spec.")
    i, entry = found[0]
    problem = entry_problem(entry, full.estimation)
    if problem:
        raise BadInput("input.invalid", f"small_areas[{i}] ({entry.id}): {problem[1]}",
                       where=Where(field=f"small_areas[{i}].{problem[0]}"),
                       fix="Declare the level among the indicator's disaggregations, or "
                           "change the small_areas entry.")
    return entry


def audit_small_areas(db: Session, actor: Actor | None, slug: str, indicator: str,
                      details: dict[str, Any]) -> None:
    """A small area run is logged as estimate runs are (figures are not: they are outputs)."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    audit(db, actor, "estimate.small_areas", "indicator", indicator, project_id=project.id,
          details=details)


def _one_way(table: pd.DataFrame, dims: list[str], dim: str) -> pd.DataFrame:
    """The rows breaking down ``dim`` alone (every other dimension at its total)."""
    mask = (table[dim] != TOTAL) & (table[dim] != UNKNOWN)
    for o in dims:
        if o != dim:
            mask &= table[o] == TOTAL
    return table[mask]


def direct_by_area(table: pd.DataFrame, dims: list[str], dim: str, scale: float
                   ) -> pd.DataFrame:
    """Direct estimates by area from a protected table, on the model's scale (a proportion
    of 0–1 when the indicator is scaled to percent).

    Columns: area (named ``dim``), direct, direct_var, n, hidden. A hidden
    cell (``conf_status`` not F) keeps its row with no figures.
    """
    rows = _one_way(table, dims, dim) if dim in dims else table.iloc[0:0]
    if dim != NATIONAL and rows.empty:
        raise BadInput("sae.invalid_direct", f"the indicator's estimates have no breakdown by "
                       f"{dim!r}", where=Where(field=dim),
                       fix="Name a dimension of the indicator's declared disaggregations.")
    hidden = (rows["conf_status"].astype(str) != "F").to_numpy()
    value = pd.to_numeric(rows["value"], errors="coerce").to_numpy(float) / scale
    se = pd.to_numeric(rows["se"], errors="coerce").to_numpy(float) / scale
    out = pd.DataFrame({
        dim: rows[dim].astype(str).to_numpy(),
        "direct": np.where(hidden, np.nan, value),
        "direct_var": np.where(hidden, np.nan, se * se),
        "n": np.where(hidden, np.nan, pd.to_numeric(rows["n"], errors="coerce")),
        "hidden": hidden,
    })
    return out.sort_values(dim).reset_index(drop=True)


def covariate_table(refs: Mapping[str, pd.DataFrame], spec: SmallAreaSpec) -> pd.DataFrame:
    """The covariate reference table with its area column named as the area dimension."""
    table = refs.get(spec.covariates)
    if table is None:
        raise BadInput("sae.invalid_covariates", f"the covariate table {spec.covariates!r} is "
                       f"not a reference table of the project (it has {sorted(refs)})",
                       where=Where(file=spec.covariates),
                       fix="Add it: citizendata reference add PROJECT NAME FILE.")
    key = spec.key or spec.area
    if key not in table.columns:
        raise BadInput("sae.invalid_covariates", f"the covariate table {spec.covariates!r} has "
                       f"no area column {key!r}", where=Where(file=spec.covariates, column=key),
                       fix="Set small_areas[].key to the column holding the area codes.")
    out = table.copy()
    out[key] = out[key].astype(str)
    if key != spec.area:
        out = out.drop(columns=[spec.area], errors="ignore").rename(columns={key: spec.area})
    wanted = [*spec.columns, *spec.categorical, *([spec.weights] if spec.weights else [])]
    missing = [c for c in wanted if c not in out.columns]
    if missing:
        raise BadInput("sae.invalid_covariates", f"the covariate table {spec.covariates!r} has "
                       f"no column(s) {missing}", where=Where(file=spec.covariates,
                                                              column=missing[0]),
                       fix=f"It has {list(table.columns)}.")
    return out


def area_groups(spec: SmallAreaSpec, estimation: EstimationSpec,
                refs: Mapping[str, pd.DataFrame], areas: list[str]) -> dict[str, str]:
    """Each area's benchmark group: the rollup's parent (e.g. the ward's county), the
    covariate table's column of that name, or one national group."""
    if spec.benchmark in (None, NATIONAL):
        return {a: NATIONAL for a in areas}
    bench = str(spec.benchmark)
    derived = estimation.derived.get(bench)
    pairs: pd.DataFrame | None = None
    if derived is not None and derived.kind == "rollup" and derived.field == spec.area:
        geo = refs.get(str(derived.geography))
        if geo is not None and {spec.area, str(derived.level)} <= set(geo.columns):
            pairs = geo[[spec.area, str(derived.level)]].set_axis([spec.area, bench], axis=1)
    if pairs is None:
        cov = refs.get(spec.covariates)
        if cov is not None and bench in cov.columns:
            pairs = cov[[spec.key or spec.area, bench]].set_axis([spec.area, bench], axis=1)
    if pairs is None:
        raise BadInput("sae.invalid_model", f"cannot tell which {bench!r} each {spec.area!r} "
                       "belongs to", where=Where(field="benchmark"),
                       fix=f"Benchmark to a rollup of {spec.area!r} (estimation.derived), to a "
                           "column of the covariate table, or to 'national'.")
    mapping = dict(zip(pairs[spec.area].astype(str), pairs[bench].astype(str), strict=True))
    lost = [a for a in areas if a not in mapping]
    if lost:
        raise BadInput("sae.invalid_model", f"areas {lost[:10]} have no {bench!r}",
                       where=Where(field="benchmark"))
    return {a: mapping[a] for a in areas}


def group_rows(areas: pd.DataFrame, direct: pd.DataFrame, bench: str) -> list[dict[str, Any]]:
    """One row per benchmark group: its direct estimate (the benchmark) and the
    weighted aggregate of its areas' model estimates (equal to it once benchmarked)."""
    rows = []
    d = direct.set_index(bench) if len(direct) else direct
    for group, g in areas.groupby("group", sort=True):
        w = g["weight"].to_numpy(float)
        agg = float(np.sum(w * g["eblup"].to_numpy(float)) / w.sum()) if w.sum() > 0 else None
        rec = d.loc[str(group)] if str(group) in d.index else None
        value = None if rec is None else _num(rec["direct"])
        var = None if rec is None else _num(rec["direct_var"])
        rows.append({"group": str(group), "direct": value,
                     "se": None if var is None else float(np.sqrt(var)),
                     "cv": None if value in (None, 0) or var is None
                     else float(np.sqrt(var) / abs(value)),
                     "model_aggregate": agg, "areas": len(g),
                     "benchmarked": bool(g["benchmarked"].all())})
    return rows


def _num(v: Any) -> float | None:
    x = pd.to_numeric(v, errors="coerce")
    return float(x) if pd.notna(x) else None


def reliability(cv: np.ndarray, rule: ReliabilityRule) -> np.ndarray:
    """The project's reliability flags on model CVs (``min_n`` does not apply to a model)."""
    return reliability_flag(np.full(len(cv), np.inf), cv, rule)


def _inputs(spec: SmallAreaSpec, ind: IndicatorSpec, est: EstimationSpec,
            table: IndicatorResult, refs: Mapping[str, pd.DataFrame]
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str], float]:
    """Direct estimates by area and by benchmark group, covariates, groups and the scale."""
    if spec.transform == "arcsin" and ind.kind != "proportion":
        raise BadInput("sae.invalid_model", f"the arcsine transformation is for proportions; "
                       f"indicator {ind.id!r} is a {ind.kind}", where=Where(field="transform"),
                       fix="Leave transform out for this indicator.")
    scale = float(ind.scale) if ind.kind == "proportion" else 1.0
    direct = direct_by_area(table.table, list(table.dims), spec.area, scale)
    cov = covariate_table(refs, spec)
    known = set(cov[spec.area])
    lacking = sorted(set(direct[spec.area]) - known)
    if lacking:
        raise BadInput("sae.invalid_covariates", f"the covariate table {spec.covariates!r} lacks "
                       f"areas {lacking[:10]} of the direct estimates",
                       where=Where(file=spec.covariates, column=spec.area),
                       fix="Give every area a row of covariates.")
    groups = area_groups(spec, est, refs, sorted(known))
    cov["_group"] = cov[spec.area].map(groups)
    bench = spec.benchmark if spec.benchmark not in (None, NATIONAL) else None
    if bench:
        by_group = direct_by_area(table.table, list(table.dims), bench, scale).rename(
            columns={bench: "group"})
    else:
        total = table.total()
        hidden = total.get("conf_status", "F") != "F" or total.get("value") is None
        se = _num(total.get("se"))
        by_group = pd.DataFrame({"group": [NATIONAL],
                                 "direct": [np.nan if hidden else float(total["value"]) / scale],
                                 "direct_var": [np.nan if hidden or se is None
                                                else (se / scale) ** 2]})
    return direct, by_group, cov, groups, scale


def _benchmark(spec: SmallAreaSpec, by_group: pd.DataFrame, cov: pd.DataFrame,
               rule: ReliabilityRule, label: str, notes: list[str]
               ) -> tuple[Any, dict[str, float]]:
    """The library's benchmark (per group), or None with a note saying why not, and the
    groups left out of it.

    A group whose direct estimate fails the project's reliability rule (CV above the
    caution level, or too few units) is not a benchmark: scaling its areas to it would
    carry its sampling noise into every one of them while the MSE treats it as fixed. Its
    areas keep the model's estimates (the returned targets of those groups are filled in
    from the unbenchmarked fit), and a note names it.
    """
    from citizendata.integrate.sae.benchmark import Benchmark

    if spec.benchmark is None:
        return None, {}
    value = by_group["direct"].to_numpy(float)
    var = by_group["direct_var"].to_numpy(float)
    n = (pd.to_numeric(by_group["n"], errors="coerce").to_numpy(float) if "n" in by_group
         else np.full(len(by_group), np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.sqrt(var) / np.abs(value)
    flag = reliability_flag(np.where(np.isfinite(n), n, np.inf), cv, rule)
    targets: dict[str, float] = {}
    weak: dict[str, float] = {}
    for g, v, c, f in zip(by_group["group"].astype(str), value, cv, flag, strict=True):
        if not np.isfinite(v):
            continue
        if f:
            weak[g] = float(c)
        else:
            targets[g] = float(v)
    missing = sorted(set(cov["_group"]) - set(targets) - set(weak))
    weights = str(spec.weights)
    w = pd.to_numeric(cov.set_index(spec.area)[weights], errors="coerce").reindex(
        cov[spec.area])
    unweighted = sorted(cov.loc[~np.isfinite(w.to_numpy(float)), spec.area].astype(str))
    if missing or unweighted:
        why = (f"no published direct estimate of {missing}" if missing else
               f"no weight for areas {unweighted[:10]} (set small_areas[].weights to a "
               "population column of the covariate table)")
        notes.append(f"not benchmarked: {why}; the estimates are the model's")
        return None, {}
    if weak:
        names = ", ".join(f"{g} (direct CV {100 * c:.1f}%)" for g, c in sorted(weak.items()))
        notes.append(f"not benchmarked to {label} {names}: the direct estimate fails the "
                     f"project's reliability rule (CV above {100 * rule.caution_cv:.0f}%), "
                     "so its areas keep the model's estimates")
    if not targets:
        return None, weak
    return Benchmark(value=targets, weights=weights, by="_group",
                     method=spec.benchmark_method), weak


def _smooth(sample: pd.DataFrame, spec: SmallAreaSpec, ind: IndicatorSpec,
            notes: list[str]) -> None:
    """Sampling variances from a generalised variance function, in place; with too few
    areas to fit one, the direct variances stay and a note says so."""
    from citizendata.integrate.sae import smooth_variances

    try:
        sample["direct_var"] = smooth_variances(
            sample, estimate="direct", variance="direct_var", sample_size="n", area=spec.area,
            proportion=ind.kind == "proportion").to_numpy()
    except BadInput as exc:
        notes.append(f"sampling variances not smoothed ({exc.message}): the direct "
                     "variances are used")
        return
    notes.append("sampling variances smoothed by a generalised variance function "
                 "(log variance on log n and log p(1-p))")


def _positive_variances(sample: pd.DataFrame, spec: SmallAreaSpec) -> None:
    """Refuse areas whose sampling variance is zero (a proportion of 0 or 1 estimated
    without smoothing): the model would take their direct estimate as exact."""
    v = sample["direct_var"].to_numpy(float)
    bad = ~(np.isfinite(v) & (v > 0))
    if bad.any():
        names = sample.loc[bad, spec.area].astype(str).tolist()
        raise BadInput("sae.invalid_direct", f"{spec.area} {', '.join(names[:10])}: the direct "
                       "estimate has a sampling variance of zero (a proportion of 0 or 1, or a "
                       "single unit), which the model would take as exact",
                       where=Where(field=spec.area),
                       fix="Set smooth_variances: true in the small_areas entry: a generalised "
                           "variance function then gives these areas a variance from the "
                           "others'." if not spec.smooth_variances else
                           "Too few areas had a positive variance to fit the variance "
                           "function; merge or drop these areas.")


def _effective_n(sample: pd.DataFrame, spec: SmallAreaSpec, notes: list[str]) -> None:
    """Effective sample sizes for the arcsine scale (its variance is 1/(4 n_eff)), in place.

    n_eff = p(1-p)/v = n/deff keeps each area's design effect. At a proportion of 0 or 1,
    p(1-p) is 0 and that formula would give n_eff = 0 (an infinite variance, the area's
    own sample ignored): those areas take n/deff with the median design effect of the
    areas strictly between 0 and 1.
    """
    p = sample["direct"].to_numpy(float)
    v = sample["direct_var"].to_numpy(float)
    n = pd.to_numeric(sample["n"], errors="coerce").to_numpy(float)
    inner = (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / v
        deff_i = n * v / (p * (1 - p))
    edge = ~inner
    if edge.any():
        ok = inner & np.isfinite(deff_i) & (deff_i > 0)
        deff = float(np.median(deff_i[ok])) if ok.any() else 1.0
        n_eff[edge] = n[edge] / deff
        names = ", ".join(sample.loc[edge, spec.area].astype(str).tolist()[:10])
        notes.append(f"{spec.area} {names}: a direct proportion of 0 or 1; its effective "
                     f"sample size is n / {deff:.2f}, the median design effect of the other "
                     f"{spec.area}s" + ("" if ok.any() else " (none: 1 assumed)"))
    sample["n_eff"] = n_eff


def _label(est: EstimationSpec, dim: str | None) -> str:
    """A dimension as the report names it: a roll-up's level (county for county_of_ward)."""
    if dim is None:
        return NATIONAL
    derived = est.derived.get(dim)
    if derived is not None and derived.kind == "rollup" and derived.level:
        return str(derived.level)
    return dim


def _without_weak(fit: Any, spec: SmallAreaSpec, sample: pd.DataFrame, cov: pd.DataFrame,
                  bench: Any, weak: Mapping[str, float], run: Any) -> Any:
    """The benchmarked fit, with the areas of the ``weak`` groups as the model left them.

    ``fit`` is the unbenchmarked fit; the groups kept are benchmarked in a second fit
    (the same model: benchmarking only adjusts its estimates), whose ``weak`` groups get
    their own model aggregate as target, and then take ``fit``'s rows (estimate, MSE,
    interval) unchanged.
    """
    from citizendata.integrate.sae.benchmark import Benchmark

    a0 = fit.areas.assign(area=fit.areas["area"].astype(str)).set_index("area")
    group = cov.set_index(spec.area)["_group"].astype(str)
    w = pd.to_numeric(cov.set_index(spec.area)[str(spec.weights)], errors="coerce")
    g = a0.index.map(group)
    wi = a0.index.map(w).to_numpy(float)
    agg = (pd.Series(wi * a0["eblup"].to_numpy(float), index=g).groupby(level=0).sum()
           / pd.Series(wi, index=g).groupby(level=0).sum())
    value = {**dict(bench.value), **{k: float(agg[k]) for k in weak}}
    both = run(Benchmark(value=value, weights=bench.weights, by=bench.by, method=bench.method))
    a = both.areas.assign(area=both.areas["area"].astype(str)).set_index("area")
    keep = [i for i in a.index if group.get(i) in weak]
    cols = [c for c in a0.columns if c in a.columns]
    a.loc[keep, cols] = a0.loc[keep, cols]
    for c in ("eblup", "mse"):
        if f"{c}_unbenchmarked" in a.columns:
            a.loc[keep, f"{c}_unbenchmarked"] = a0.loc[keep, c]
    both.areas = a.reset_index()
    return both


def fit_small_areas(spec: SmallAreaSpec, ind: IndicatorSpec, est: EstimationSpec,
                    table: IndicatorResult, refs: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Direct by area -> Fay–Herriot (REML default) -> benchmark -> reliability flags."""
    from citizendata.integrate.sae import fay_herriot

    direct, by_group, cov, groups, scale = _inputs(spec, ind, est, table, refs)
    notes: list[str] = []
    hidden = direct[direct["hidden"]][spec.area].tolist()
    if hidden:
        notes.append(f"{len(hidden)} area(s) whose direct estimate the disclosure control "
                     "hides are modelled as areas without a sample: their estimates are "
                     "synthetic (covariates only)")
    sample = direct[~direct["hidden"]].copy()
    if spec.smooth_variances:
        _smooth(sample, spec, ind, notes)
    _positive_variances(sample, spec)
    if spec.transform:
        # the arcsine scale's variance is 1/(4 n): n is the effective sample size, so the
        # design effect of the weighting and clustering is kept
        _effective_n(sample, spec, notes)
    rel = est.reliability
    rule = ReliabilityRule(rel.min_n, rel.caution_cv, rel.unreliable_cv)
    bench, weak = _benchmark(spec, by_group, cov, rule, _label(est, spec.benchmark), notes)

    def run(b: Any) -> Any:
        return fay_herriot(sample.drop(columns=["hidden"]), area=spec.area, estimate="direct",
                           variance="direct_var", covariates=cov, columns=spec.columns,
                           categorical=spec.categorical, method=spec.method,
                           transform=spec.transform,
                           sample_size="n_eff" if spec.transform else None, benchmark=b,
                           bootstrap=spec.bootstrap, seed=spec.seed, level=spec.level)

    if bench is not None and weak:
        fit = _without_weak(run(None), spec, sample, cov, bench, weak, run)
    else:
        fit = run(bench)
    notes.extend(str(n) for n in fit.notes)
    return _result(spec, ind, est, fit, direct, by_group, cov, groups, scale, bench, weak,
                   notes)


def _json(v: Any) -> Any:
    """A float for JSON: None for NaN or infinity."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        return x if np.isfinite(x) else None
    return v


def _area_rows(spec: SmallAreaSpec, fit: Any, direct: pd.DataFrame, groups: Mapping[str, str],
               weights: pd.Series, scale: float, rule: ReliabilityRule) -> pd.DataFrame:
    """The model's areas in the indicator's unit, with the direct estimates as published."""
    a = fit.areas.rename(columns={"area": spec.area}).copy()
    a[spec.area] = a[spec.area].astype(str)
    d = direct.set_index(spec.area)
    a["hidden_direct"] = a[spec.area].map(d["hidden"]).fillna(False).astype(bool)
    a["n"] = a[spec.area].map(d["n"])
    a["group"] = a[spec.area].map(groups)
    a["weight"] = a[spec.area].map(weights)
    se = np.sqrt(a["mse"].to_numpy(float))
    a["flag"] = reliability(a["cv"].to_numpy(float), rule)
    # the direct figures as published (not the smoothed variances the model used)
    dvar = a[spec.area].map(d["direct_var"]).to_numpy(float)
    dval = a[spec.area].map(d["direct"]).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv_direct = np.sqrt(dvar) / np.abs(dval)
    out = pd.DataFrame({
        "area": a[spec.area], "group": a["group"],
        "direct": dval * scale, "direct_se": np.sqrt(dvar) * scale,
        "cv_direct": cv_direct, "n": a["n"], "hidden_direct": a["hidden_direct"],
        # the direct estimate's CV as the model took it (after GVF smoothing, if asked)
        "cv_direct_model": a["cv_direct"],
        "estimate": a["eblup"] * scale, "se": se * scale, "cv": a["cv"],
        "lower": a["lower"] * scale, "upper": a["upper"] * scale, "gamma": a["gamma"],
        "residual": a["residual"], "in_sample": a["in_sample"].astype(bool),
        "weight": a["weight"], "flag": a["flag"]})
    hidden = out["hidden_direct"].to_numpy()
    for c in ("direct", "direct_se", "cv_direct", "cv_direct_model", "n"):
        out.loc[hidden, c] = np.nan
    return out.sort_values("area").reset_index(drop=True)


def _plain(obj: Any) -> Any:
    """Nested diagnostics as JSON-ready values."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return _json(obj)


def _result(spec: SmallAreaSpec, ind: IndicatorSpec, est: EstimationSpec, fit: Any,
            direct: pd.DataFrame, by_group: pd.DataFrame, cov: pd.DataFrame,
            groups: Mapping[str, str], scale: float, bench: Any, weak: Mapping[str, float],
            notes: list[str]) -> dict[str, Any]:
    rel = est.reliability
    rule = ReliabilityRule(rel.min_n, rel.caution_cv, rel.unreliable_cv)
    if spec.weights:
        weights = pd.to_numeric(cov.set_index(spec.area)[spec.weights], errors="coerce")
    else:
        weights = pd.Series(1.0, index=cov[spec.area])  # equal weights: one group mean
    areas = _area_rows(spec, fit, direct, groups, weights, scale, rule)
    areas["benchmarked"] = (bench is not None) & ~areas["group"].astype(str).isin(set(weak))
    grp = areas.rename(columns={"estimate": "eblup"})
    grp = grp.assign(eblup=grp["eblup"] / scale, weight=grp["weight"].fillna(0.0))
    group_list = group_rows(grp, by_group.rename(columns={"group": spec.benchmark or NATIONAL}),
                            spec.benchmark or NATIONAL)
    for g in group_list:
        for k in ("direct", "se", "model_aggregate"):
            g[k] = None if g[k] is None else g[k] * scale
    area_label, bench_label = _label(est, spec.area), _label(est, spec.benchmark)
    if spec.benchmark is not None and len(group_list) < 10:
        notes.append(f"{len(group_list)} {bench_label} group(s): too few for an area-level "
                     f"model at that level, so the {bench_label} figures are the direct "
                     f"estimates (the benchmark) and the {area_label} estimates are benchmarked "
                     "to them where they are reliable; the model aggregate is the weighted "
                     "mean of its areas' estimates")
    beta = {str(k): _json(v) for k, v in dict(fit.beta).items()}
    records = [{k: _json(v) for k, v in r.items()} for r in areas.to_dict("records")]
    return {
        "indicator": ind.id, "name": ind.name, "area": spec.area, "unit": ind.unit_of_measure,
        "scale": scale, "method": spec.method, "transform": spec.transform,
        "benchmark": spec.benchmark, "area_label": area_label,
        "benchmark_label": bench_label if spec.benchmark else None, "benchmark_method": spec.benchmark_method if bench else None,
        "covariates": list(spec.columns) + list(spec.categorical),
        "model": {"beta": beta, "sigma2_u": _json(fit.sigma2_u),
                  "beta_se": {str(k): _json(v) for k, v in dict(fit.beta_se).items()},
                  "converged": bool(fit.converged), "mse_method": fit.mse_method,
                  "diagnostics": _plain(fit.diagnostics),
                  "areas_in_sample": int(areas["in_sample"].sum()),
                  "areas_out_of_sample": int((~areas["in_sample"]).sum())},
        "areas": records, "groups": [{k: _json(v) for k, v in g.items()} for g in group_list],
        "notes": notes,
    }
