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
from citizendata.projects.small_areas import SmallAreaSpec
from citizendata.services.access import audit, project_for, project_spec
from citizendata.stats.variance import ReliabilityRule, reliability_flag

if TYPE_CHECKING:
    from citizendata.stats.indicators import IndicatorResult

__all__ = ["NATIONAL", "TOTAL", "area_groups", "audit_small_areas", "covariate_table",
           "direct_by_area", "fit_small_areas", "group_rows", "small_area_spec",
           "small_area_specs"]

TOTAL = "_T"  # the whole population, as in every estimate table
UNKNOWN = "_U"
NATIONAL = "national"  # the benchmark level of the whole population


def small_area_specs(db: Session, actor: Actor | None, slug: str) -> list[SmallAreaSpec]:
    """The project's declared small area entries, for whoever may see its estimates."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    return list(project_spec(project).small_areas) if project.spec else []


def small_area_spec(db: Session, actor: Actor | None, slug: str, indicator: str,
                    area: str | None = None) -> SmallAreaSpec:
    """The entry for ``indicator`` (and ``area``, when it has several), or a 404 naming those
    declared."""
    specs = small_area_specs(db, actor, slug)
    found = [s for s in specs if s.indicator == indicator and (area is None or s.area == area)]
    if not found:
        raise NotFound("indicator.unknown", f"project {slug!r} declares no small area "
                       f"estimates of {indicator!r}" + (f" by {area!r}" if area else "")
                       + f"; it has {[s.id for s in specs]}", where=Where(field="indicator"),
                       fix="Declare them under small_areas in the project spec.")
    return found[0]


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


def _benchmark(spec: SmallAreaSpec, direct: pd.DataFrame, by_group: pd.DataFrame,
               cov: pd.DataFrame, notes: list[str]) -> Any:
    """The library's benchmark (per group), or None with a note saying why not."""
    from citizendata.integrate.sae.benchmark import Benchmark

    if spec.benchmark is None:
        return None
    targets = {str(g): float(v) for g, v in zip(by_group["group"], by_group["direct"],
                                                 strict=True) if np.isfinite(v)}
    missing = sorted(set(cov["_group"]) - set(targets))
    weights = str(spec.weights)
    w = pd.to_numeric(cov.set_index(spec.area)[weights], errors="coerce").reindex(
        cov[spec.area])
    unweighted = sorted(cov.loc[~np.isfinite(w.to_numpy(float)), spec.area].astype(str))
    if missing or unweighted:
        why = (f"no published direct estimate of {missing}" if missing else
               f"no weight for areas {unweighted[:10]} (set small_areas[].weights to a "
               "population column of the covariate table)")
        notes.append(f"not benchmarked: {why}; the estimates are the model's")
        return None
    return Benchmark(value=targets, weights=weights, by="_group", method=spec.benchmark_method)


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
    # the arcsine scale's variance is 1/(4 n): n is the effective sample size, so the
    # design effect of the weighting and clustering is kept
    if spec.smooth_variances:
        _smooth(sample, spec, ind, notes)
    p = sample["direct"].clip(1e-6, 1 - 1e-6)
    sample["n_eff"] = p * (1 - p) / sample["direct_var"]
    bench = _benchmark(spec, sample, by_group, cov, notes)
    fit = fay_herriot(sample.drop(columns=["hidden"]), area=spec.area, estimate="direct",
                      variance="direct_var", covariates=cov, columns=spec.columns,
                      categorical=spec.categorical, method=spec.method,
                      transform=spec.transform,
                      sample_size="n_eff" if spec.transform else None, benchmark=bench,
                      bootstrap=spec.bootstrap, seed=spec.seed, level=spec.level)
    notes.extend(str(n) for n in fit.notes)
    return _result(spec, ind, est, fit, direct, by_group, cov, groups, scale, bench, notes)


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
            groups: Mapping[str, str], scale: float, bench: Any, notes: list[str]
            ) -> dict[str, Any]:
    rel = est.reliability
    rule = ReliabilityRule(rel.min_n, rel.caution_cv, rel.unreliable_cv)
    if spec.weights:
        weights = pd.to_numeric(cov.set_index(spec.area)[spec.weights], errors="coerce")
    else:
        weights = pd.Series(1.0, index=cov[spec.area])  # equal weights: one group mean
    areas = _area_rows(spec, fit, direct, groups, weights, scale, rule)
    areas["benchmarked"] = bench is not None
    grp = areas.rename(columns={"estimate": "eblup"})
    grp = grp.assign(eblup=grp["eblup"] / scale, weight=grp["weight"].fillna(0.0))
    group_list = group_rows(grp, by_group.rename(columns={"group": spec.benchmark or NATIONAL}),
                            spec.benchmark or NATIONAL)
    for g in group_list:
        for k in ("direct", "se", "model_aggregate"):
            g[k] = None if g[k] is None else g[k] * scale
    if spec.benchmark is not None and len(group_list) < 10:
        notes.append(f"{len(group_list)} {spec.benchmark} group(s): too few for an area-level "
                     f"model at that level, so the {spec.benchmark} figures are the direct "
                     f"estimates (the benchmark) and the {spec.area} estimates are benchmarked "
                     "to them; the model aggregate is the weighted mean of its areas' "
                     "estimates")
    beta = {str(k): _json(v) for k, v in dict(fit.beta).items()}
    records = [{k: _json(v) for k, v in r.items()} for r in areas.to_dict("records")]
    return {
        "indicator": ind.id, "name": ind.name, "area": spec.area, "unit": ind.unit_of_measure,
        "scale": scale, "method": spec.method, "transform": spec.transform,
        "benchmark": spec.benchmark, "benchmark_method": spec.benchmark_method if bench else None,
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
