"""Weights of an estimate: the declared design's, calibrated to official margins and totals,
and replicate weights re-calibrated per replicate.

``design_weights`` reads the form's declared design (checked against the submissions)
and calibrates its design weights to the weighting's reference margins and numeric
totals (``weigh``); ``add_replicates`` adds replicate weight columns ``_r{r}`` (JK1,
JKn, BRR, Fay, bootstrap, or a survey's own), each re-calibrated when the form is
weighted. The tables here feed the cube (``citizendata.stats.cube``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from citizendata.errors import BadInput, CitizenDataError, Where
from citizendata.projects.estimation import DesignSpec, IndicatorSpec, WeightingSpec
from citizendata.stats.cube import DESIGN_UNIT, CalibrationMoments, DesignVariance
from citizendata.stats.frame import PSU
from citizendata.stats.sampling import (
    ResolvedDesign,
    check_design_fields,
    design_columns,
    replicate_columns,
    replicate_metadata,
    replicate_weights,
    resolve_design,
)

__all__ = ["Replicates", "Weights", "add_replicates", "calibration_sample", "calibration_variables",
           "design_weights", "reference_margins", "weigh"]


def reference_margins(spec: WeightingSpec, reference: pd.DataFrame) -> list[Any]:
    """The weighting's margins from its reference table (filtered on the table's own names,
    then renamed), then its numeric totals (a number, or the sum of a reference column)."""
    from citizendata.stats.calibrate import NumericTotal, margins_from_table

    ref = reference.copy()
    for col, keep in spec.filter.items():
        if col not in ref.columns:
            raise BadInput("calibration.invalid", f"the reference table has no column {col!r} to filter on",
                           where=Where(column=col), fix=f"It has {list(ref.columns)}.")
        ref = ref[ref[col].astype(str).isin([str(k) for k in keep])]
    ref = ref.rename(columns={v: k for k, v in spec.rename.items()})
    missing = sorted({v for m in spec.margins for v in m}
                     | {t for t in spec.totals.values() if isinstance(t, str)})
    missing = [c for c in missing if c not in ref.columns]
    if missing:
        raise BadInput("calibration.invalid", f"the reference table has no column(s) {missing}",
                       where=Where(column=", ".join(missing)),
                       fix=f"It has {list(ref.columns)}; map names with 'rename'.")
    out: list[Any] = []
    if spec.margins:
        if spec.total not in ref.columns:
            raise BadInput("calibration.invalid", f"the reference table has no count column "
                           f"{spec.total!r}", where=Where(column=spec.total),
                           fix="Set 'total' to its count column.")
        out += margins_from_table(ref, [m if len(m) > 1 else m[0] for m in spec.margins],
                                  total=spec.total)
    for var, total in spec.totals.items():
        if isinstance(total, str):
            values = pd.to_numeric(ref[total], errors="coerce")
            if values.isna().any():
                raise BadInput("calibration.invalid", f"column {total!r} of the reference table "
                               f"has {int(values.isna().sum())} empty or non-numeric cells",
                               where=Where(column=total), fix="Give a number in every row.")
            total = float(values.sum())
        out.append(NumericTotal(var, float(total)))
    return out


def calibration_variables(spec: WeightingSpec) -> tuple[list[str], list[str]]:
    """The submission's categorical and numeric calibration variables (with the variance column)."""
    cats = sorted({v for m in spec.margins for v in m})
    nums = list(dict.fromkeys([*spec.totals, *([spec.variance] if spec.variance else [])]))
    return cats, [v for v in nums if v not in cats]


def calibration_sample(units: pd.DataFrame, spec: WeightingSpec) -> pd.DataFrame:
    """The calibration variables as calibrate() reads them: categories as text, numbers as floats."""
    cats, nums = calibration_variables(spec)
    sample = _as_text(units, cats)
    for v in nums:
        sample[v] = pd.to_numeric(units[v], errors="coerce").to_numpy(float)
    return sample


def weigh(units: pd.DataFrame, spec: WeightingSpec, reference: pd.DataFrame, *,
          design_weights: np.ndarray | None = None
          ) -> tuple[pd.DataFrame, CalibrationMoments, dict[str, Any]]:
    """Calibrate the submissions to the reference margins and totals.

    ``design_weights`` are the declared design's (None: N/n for every unit). Returns
    per-submission design and calibrated weights, the moments the variance needs
    (with the model matrix), and the diagnostics. With a working-model variance q the
    table's ``_dq`` is d/q: the GREG regression the residuals come from is weighted so.
    """
    from citizendata.stats.calibrate import Margin, calibrate

    margins = reference_margins(spec, reference)
    sample = calibration_sample(units, spec)
    cal = calibrate(sample, margins, method=spec.method, bounds=spec.bounds, trim=spec.trim,
                    design_weights=design_weights, population_size=spec.population_size,
                    variance=spec.variance)
    w, d = np.asarray(cal.weights, float), np.asarray(cal.design_weights, float)
    dq = d / np.asarray(cal.q, float) if cal.q is not None else d
    weights = pd.DataFrame({PSU: units[PSU].to_numpy(), "_w": w, "_d": d, "_dq": dq})
    columns: list[tuple[str, str | None]] = []
    blocks = []
    for i, margin in enumerate(margins):
        key = f"_cal_{i}"
        if isinstance(margin, Margin):
            weights[key] = sample[list(margin.variables)].astype(str).agg("|".join, axis=1).to_numpy()
            cats = ["|".join(c) for c in margin.totals]
            columns += [(key, c) for c in cats]
            blocks.append((weights[key].to_numpy()[:, None] == np.array(cats, dtype=object)[None, :])
                          .astype(float))
        else:  # a numeric total: the model's column is the value itself
            weights[key] = sample[margin.variable].to_numpy(float)
            columns.append((key, None))
            blocks.append(weights[key].to_numpy(float)[:, None])
    if spec.population_size is not None:
        weights["_cal_n"] = 1.0
        columns.append(("_cal_n", None))
        blocks.append(np.ones((len(weights), 1)))
    X = np.hstack(blocks)
    moments = CalibrationMoments.from_arrays(X, dq, w, columns)
    moments.X = X
    return weights, moments, cal.to_dict()


@dataclass
class Weights:
    """Per-submission weights of an estimate, with what the variance needs of them."""

    table: pd.DataFrame  # PSU, _w, _d (and the design unit, calibration categories)
    sample: pd.DataFrame  # the submissions in the design, with their design columns
    moments: CalibrationMoments | None = None
    weighting: dict[str, Any] | None = None
    design: ResolvedDesign | None = None

    def variance(self) -> DesignVariance | None:
        """The declared design's variance of unit totals, with the units' calibration sums."""
        if self.design is None:
            return None
        wx = None
        if self.moments is not None and self.moments.X is not None:
            from citizendata.survey.linear import group_sums

            w = self.table["_w"].to_numpy(float)
            wx = group_sums(self.moments.X * w[:, None], self.design.unit, self.design.n_units)
        return DesignVariance(n_units=self.design.n_units, variance=self.design.variance,
                              df=self.design.df, wx=wx, takes_present=True)


def design_weights(units: ir.Table, indicator: IndicatorSpec, wspec: WeightingSpec | None,
                   dspec: DesignSpec | None, references: Mapping[str, pd.DataFrame]) -> Weights:
    """Design weights from the declaration (checked against the data), then calibrated."""
    margin_vars = [v for vs in calibration_variables(wspec) for v in vs] if wspec else []
    dcols = design_columns(dspec) if dspec is not None else []
    if dspec is not None:
        check_design_fields(dspec, units.columns, indicator.form)
        dcols += replicate_columns(dspec, units.columns)
    ref = None
    if wspec is not None:
        absent = [v for v in margin_vars if v not in units.columns]
        if absent:
            raise BadInput("calibration.invalid", f"the calibration variables {absent} are not "
                           "fields of the submission or derived variables",
                           where=Where(field=", ".join(absent)),
                           fix="Calibrate on variables of the sampled unit (e.g. ward, age group).")
        ref = references.get(wspec.reference)
        if ref is None:
            raise BadInput("calibration.invalid", f"the project has no reference table "
                           f"{wspec.reference!r}", where=Where(field="weighting.reference"),
                           fix="Add it with Client.add_reference_table (or citizendata reference add).")
    sample = units.select(*dict.fromkeys([PSU, *margin_vars, *dcols])).to_pandas()
    dropped = 0
    if wspec is not None and wspec.missing == "drop":
        _, nums = calibration_variables(wspec)
        complete = sample[margin_vars].notna().all(axis=1).to_numpy().copy()
        for v in nums:
            complete &= np.isfinite(pd.to_numeric(sample[v], errors="coerce").to_numpy(float))
        dropped = int((~complete).sum())
        sample = sample[complete].reset_index(drop=True)
    if len(sample) == 0:
        raise BadInput("indicator.empty", f"indicator {indicator.id!r} has no submissions to "
                       "estimate from", where=Where(field=indicator.id),
                       fix="Approve submissions first, or check the weighting population.")
    design = None
    if dspec is not None:
        design = resolve_design(sample, dspec, source=f"estimation.design.{indicator.form}")
    out = Weights(table=pd.DataFrame(), sample=sample, design=design)
    if wspec is not None and ref is not None:
        d = design.weights if design is not None and design.has_weights else None
        out.table, out.moments, out.weighting = weigh(sample, wspec, ref, design_weights=d)
        out.weighting["units_dropped_missing"] = dropped
        out.weighting["reference"] = wspec.reference
    else:
        dw = design.weights if design is not None and indicator.weighted else np.ones(len(sample))
        out.table = pd.DataFrame({PSU: sample[PSU].to_numpy(), "_w": dw, "_d": dw})
    if design is not None:
        out.table[DESIGN_UNIT] = design.unit
    return out


@dataclass
class Replicates:
    """Replicate weight columns added to the weights table, and their variance rule."""

    count: int = 0
    rule: Any = None  # (theta_r (k, R), theta (k,)) -> variances; None: the plain bootstrap
    label: str = ""
    meta: dict[str, Any] | None = None


def add_replicates(wts: Weights, method: str, replicates: int, seed: int | None,
                   wspec: WeightingSpec | None, references: Mapping[str, pd.DataFrame]
                   ) -> Replicates:
    """Replicate weights (re-calibrated per replicate when the form is weighted) as ``_r{r}``."""
    design, weights = wts.design, wts.table
    own = design is not None and bool(design.replicate_columns)
    if method == "linearisation" and not own:
        return Replicates()
    recal = None
    if wspec is not None:
        recal = _recalibrator(wts.sample, wspec, references[wspec.reference])
    base = weights["_d"].to_numpy(float) if wspec is not None else weights["_w"].to_numpy(float)
    if design is None and method == "bootstrap":
        # no declared design: today's Rao-Wu bootstrap over submissions
        from citizendata.stats.variance import bootstrap_weights
        from citizendata.survey.replicates import Replicates as Rep

        seed = 0 if seed is None else seed
        reps = bootstrap_weights(base, replicates=replicates, seed=seed, recalibrate=recal)
        _add_columns(wts, reps)
        R = reps.shape[1]
        # the variance stays today's (about the replicates' mean, 1/(R-1)); the metadata
        # says so for an export
        meta = replicate_metadata(Rep(reps, "bootstrap", 1.0 / (R - 1), np.ones(R), False,
                                      notes={"seed": seed, "recalibrated": recal is not None}))
        return Replicates(R, None, f"bootstrap({R})", meta)
    rep = replicate_weights(design, wts.sample, "own" if own else method, base, replicates, seed)
    if wspec is not None and recal is not None:
        rep = _recalibrate(rep, wts.sample, wspec, references[wspec.reference], recal)
    W = np.asarray(rep.weights, dtype=float)
    _add_columns(wts, W)
    meta = replicate_metadata(rep)
    return Replicates(W.shape[1], rep.variance, f"{meta['type']}({W.shape[1]})", meta)


def _recalibrate(rep: Any, sample: pd.DataFrame, spec: WeightingSpec, reference: pd.DataFrame,
                 recal: Any) -> Any:
    """Every replicate calibrated to the margins: all at once for plain raking or linear
    calibration to categorical margins, else (or when that fails) one replicate at a time."""
    from citizendata.survey.replicates import recalibrate, recalibrate_margins

    plain = (spec.method in ("raking", "linear") and spec.bounds is None and spec.trim is None
             and not spec.totals and spec.population_size is None)
    if plain:
        try:
            return recalibrate_margins(rep, calibration_sample(sample, spec),
                                       reference_margins(spec, reference), method=spec.method)
        except CitizenDataError:
            pass  # a replicate lost a category: per replicate, keeping that one's weights
    return recalibrate(rep, recal)


def _add_columns(wts: Weights, reps: np.ndarray) -> None:
    """The replicate weights as columns _r0, _r1, … of the weights table (one concat)."""
    extra = pd.DataFrame(reps, columns=[f"_r{r}" for r in range(reps.shape[1])],
                         index=wts.table.index)
    wts.table = pd.concat([wts.table, extra], axis=1)


def _recalibrator(units: pd.DataFrame, spec: WeightingSpec, reference: pd.DataFrame) -> Any:
    """A function re-calibrating bootstrap replicate weights to the same margins."""
    from citizendata.stats.variance import recalibrator

    run = recalibrator(calibration_sample(units, spec), reference_margins(spec, reference),
                       method=spec.method, bounds=spec.bounds, trim=spec.trim,
                       population_size=spec.population_size, variance=spec.variance)

    def go(w: np.ndarray) -> np.ndarray:
        try:
            return run(w)
        except CitizenDataError:
            # a replicate that lost a whole category cannot be re-calibrated: keep its weights
            return w

    return go


def _as_text(units: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The calibration variables as text (None where missing), as margins compare them."""
    return units[list(columns)].astype(object).map(lambda x: None if pd.isna(x) else str(x))
