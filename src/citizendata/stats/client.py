"""Estimates as Client calls: reference tables, indicators, protected and DP tables.

A mixin of ``Client`` (``self`` is a Client): the raw estimates never leave without
protection (``citizendata.privacy.client``); only owners and managers may see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.errors import BadInput, Where
from citizendata.privacy.client import require_unprotected
from citizendata.projects.estimation import EstimationSpec
from citizendata.sources import read_source

if TYPE_CHECKING:
    from citizendata.privacy import outputs as _outputs
    from citizendata.privacy.outputs import DPRelease
    from citizendata.services import consent, estimation, snapshots, validation
    from citizendata.services import privacy as privacy_svc
    from citizendata.snapshot import open as _open
    from citizendata.stats import indicators as _indicators
    from citizendata.stats.indicators import IndicatorResult
else:  # the statistics stack loads on the first call that needs it
    _outputs = lazy_module("citizendata.privacy.outputs")
    consent = lazy_module("citizendata.services.consent")
    estimation = lazy_module("citizendata.services.estimation")
    privacy_svc = lazy_module("citizendata.services.privacy")
    snapshots = lazy_module("citizendata.services.snapshots")
    validation = lazy_module("citizendata.services.validation")
    _open = lazy_module("citizendata.snapshot.open")
    _indicators = lazy_module("citizendata.stats.indicators")

__all__ = ["EstimationMethods"]


class EstimationMethods:
    """Client methods for estimation (a mixin: ``self`` is a Client)."""

    def add_reference_table(self: Any, slug: str, name: str, source: str | Path | bytes, *,
                            kind: str = "other", note: str = "", replace: bool = False,
                            encoding: str | None = None) -> dict[str, Any]:
        """Store an official table (census margins, a geography, GeoJSON area boundaries).

        A CSV that is not UTF-8 is refused unless ``encoding`` names its encoding.
        """
        data, _ = read_source(source)
        return self._run(estimation.add_reference_table, slug, name, data, kind=kind,
                         source=note, replace=replace, encoding=encoding,
                         max_depth=self.workspace.settings.max_depth)

    def estimation_spec(self: Any, slug: str) -> EstimationSpec:
        """The project's derived variables, weighting and indicators."""
        return self._read(estimation.estimation_spec, slug)

    def reference_tables(self: Any, slug: str) -> list[dict[str, Any]]:
        """The project's reference tables (name, kind, hash, columns, rows)."""
        return self._read(estimation.reference_tables, slug)

    def estimate(self: Any, slug: str, indicator: str, *,
                 disaggregations: Sequence[Sequence[str]] | None = None,
                 variance: str | None = None, replicates: int = 200, seed: int | None = None,
                 today: date | None = None, store: bool = True, purpose: str = "analysis",
                 protect: bool = True) -> IndicatorResult:
        """Estimate a declared indicator for every cell of its disaggregations.

        Uses the submissions the project lets into analysis and whose consent covers
        ``purpose``, weighted to the reference margins when the project declares
        weighting. The table passes the project's disclosure control (threshold,
        dominance, secondary suppression) unless ``protect`` is False, which only a
        role that may see personal data may ask. A protected run is kept unless
        ``store`` is False; an unprotected one never is.

        ``variance`` is ``linearisation`` or a replicate method (``jk1``, ``jkn``, ``brr``,
        ``fay``, ``bootstrap``: re-calibrated per replicate when the form is weighted);
        None uses the form's declared design's (``estimation.design``), linearisation
        when none is declared. Every result says which variance assumption it used
        (``provenance["variance_assumption"]`` and ``provenance["design"]``).
        """
        from citizendata.projects.design import VARIANCE_METHODS

        if variance is not None and variance not in VARIANCE_METHODS:
            raise BadInput("input.invalid", f"unknown variance method {variance!r}",
                           where=Where(field="variance"),
                           fix=f"Use one of {', '.join(VARIANCE_METHODS)}.")
        if variance == "bootstrap" and replicates < 2:
            raise BadInput("input.invalid", f"{replicates} bootstrap replicates are too few",
                           where=Where(field="replicates"), fix="Ask for 200 or more.")
        options: dict[str, Any] = {"variance": variance, "replicates": replicates, "seed": seed,
                                   "today": today}
        if protect:
            result = self._protected(slug, indicator, disaggregations, purpose, **options)
        else:
            self._read(require_unprotected, slug)
            result, _, _ = self._estimate(slug, indicator, disaggregations, purpose, **options)
        # an unprotected table is for its caller's eyes only: never kept for others to read
        if store and protect:
            result.provenance["run"] = self._run(estimation.store_run, slug, result.indicator.form,
                                                 result.to_dict())
        return result

    def survey_weights(self: Any, slug: str, form_id: str, out_dir: str | Path | None = None, *,
                       variance: str | None = None, replicates: int = 200, seed: int | None = None,
                       purpose: str = "analysis", today: date | None = None
                       ) -> tuple[Any, dict[str, Any]]:
        """The design and calibrated weights of a form's submissions, with replicate weights.

        One row per submission in the design: its snapshot row id ``_id`` (to join the
        snapshot), the declared design's columns, ``design_weight``, ``weight`` and, when
        ``variance`` (or the declared design) asks for replicates, ``repw1`` … ``repwR``
        re-calibrated as the estimates' are. The metadata carry type, scale, rscales and
        mse, and the R (``svydesign``/``svrepdesign``) and Stata (``svyset``) commands
        that read them. Only what the snapshot export holds leaves: the caller needs the
        right to export data; no personal field, no answer beyond the design's columns.
        With ``out_dir``: writes replicates.csv, design.json and repw_rscales.txt there.
        """
        import json

        from citizendata.projects.design import VARIANCE_METHODS

        if variance is not None and variance not in VARIANCE_METHODS:
            raise BadInput("input.invalid", f"unknown variance method {variance!r}",
                           where=Where(field="variance"),
                           fix=f"Use one of {', '.join(VARIANCE_METHODS)}.")
        spec = self._read(estimation.estimation_spec, slug)
        refs, _ = self._read(estimation.read_reference_tables, slug)
        statuses = self._read(validation.project_statuses, slug)
        consent_filter = self._read(consent.consent_filter, slug, form_id, purpose)
        self._read(validation.require_analysable, slug, form_id)
        snap = self.open_snapshot(slug, form_id)
        data, meta = _indicators.survey_weights(snap, spec, form_id, statuses=statuses,
                                                references=refs, variance=variance,
                                                replicates=replicates, seed=seed, today=today,
                                                consent=consent_filter)
        rep = meta.get("replicate_weights") or {}
        self._run(_audit_weights, slug, form_id, {
            "rows": len(data), "variance": meta["variance"],
            "replicates": rep.get("replicates", 0), "type": rep.get("type")})
        if out_dir is not None:
            folder = Path(out_dir)
            folder.mkdir(parents=True, exist_ok=True)
            data.to_csv(folder / "replicates.csv", index=False)
            (folder / "design.json").write_text(json.dumps(meta, indent=2, default=str),
                                                encoding="utf-8")
            if meta.get("replicate_weights"):
                (folder / "repw_rscales.txt").write_text(
                    "\n".join(repr(float(x)) for x in meta["replicate_weights"]["rscales"])
                    + "\n", encoding="utf-8")
        return data, meta

    def _estimate(self: Any, slug: str, indicator: str,
                  disaggregations: Sequence[Sequence[str]] | None, purpose: str, **options: Any
                  ) -> tuple[IndicatorResult, EstimationSpec, dict[str, Any]]:
        """The raw estimates (never returned to a caller without protection)."""
        ind = self._read(estimation.indicator_spec, slug, indicator)
        spec = self._read(estimation.estimation_spec, slug)
        refs, hashes = self._read(estimation.read_reference_tables, slug)
        statuses = self._read(validation.project_statuses, slug)
        consent_filter = self._read(consent.consent_filter, slug, ind.form, purpose)
        # nothing approved yet: say so, rather than fail deep in weighting ("no units")
        self._read(validation.require_analysable, slug, ind.form)
        # a request no data could make valid is refused before a snapshot is made or logged
        _indicators.check_request(_open.empty_snapshot(self._read(snapshots.snapshot_schema, slug, ind.form)),
                      spec, ind, disaggregations=disaggregations, references=refs)
        snap = self.open_snapshot(slug, ind.form)
        result = _indicators.estimate_indicator(snap, spec, ind, statuses=statuses, references=refs,
                                    reference_hashes=hashes, disaggregations=disaggregations,
                                    consent=consent_filter, **options)
        return result, spec, refs

    def _fingerprint(self: Any, slug: str, indicator: str, purpose: str,
                     today: date | None = None) -> tuple[int, ...]:
        """Which units an indicator counts (see ``base_fingerprint``)."""
        ind = self._read(estimation.indicator_spec, slug, indicator)
        spec = self._read(estimation.estimation_spec, slug)
        refs, _ = self._read(estimation.read_reference_tables, slug)
        statuses = self._read(validation.project_statuses, slug)
        consent_filter = self._read(consent.consent_filter, slug, ind.form, purpose)
        snap = self.open_snapshot(slug, ind.form, refresh=False)
        return _indicators.base_fingerprint(snap, spec, ind, statuses=statuses, references=refs,
                                consent=consent_filter, today=today)

    def dp_estimate(self: Any, slug: str, indicator: str, *, label: str,
                    by: Sequence[str] | None = None, epsilon: float | None = None,
                    purpose: str = "publication", today: date | None = None) -> DPRelease:
        """A differentially private table of an unweighted proportion or count.

        The spend (ε, δ) is recorded in the project's budget ledger first, and refused
        when the budget would be exceeded; the noise scale is published with the table.
        """
        policy = self.protection_policy(slug)
        if not policy.dp.enabled:
            raise BadInput("input.invalid", f"project {slug!r} does not use differential privacy",
                           where=Where(field="protection.dp.enabled"),
                           fix="Set protection.dp.enabled: true in the project spec first.")
        ind = self._read(estimation.indicator_spec, slug, indicator)
        dims = [list(by)] if by is not None else ind.disaggregations[:1]
        result, spec, refs = self._estimate(slug, indicator, dims, purpose, today=today)
        eps = float(epsilon if epsilon is not None else policy.dp.epsilon)
        _outputs.check_dp_input(result)  # refuse before spending anything
        snap = self.open_snapshot(slug, ind.form, refresh=False)
        codes = _outputs.dimension_codes(spec, snap.categories(), refs, list(result.dims))
        self._run(privacy_svc.spend, slug, label, eps, policy.dp.delta, policy.dp.mechanism,
                  {"indicator": indicator, "dims": result.dims, "purpose": purpose})
        return _outputs.dp_release(result, policy.dp, epsilon=eps, label=label, codes=codes)

    # -- protection --------------------------------------------------------------------------

    def estimate_runs(self: Any, slug: str, *, indicator: str | None = None, limit: int = 20
                      ) -> list[dict[str, Any]]:
        """Stored estimate runs of the project, newest first."""
        return self._read(estimation.estimate_runs, slug, indicator=indicator, limit=limit)

    def estimate_run(self: Any, slug: str, run_id: int) -> dict[str, Any]:
        """One kept (protected) estimate run of the project: id, indicator, who, when, result."""
        return self._read(estimation.estimate_run, slug, run_id)

    def estimate_run_file(self: Any, slug: str, run_id: int, fmt: str = "csv") -> bytes:
        """A kept run's protected table as CSV or Parquet bytes (what its page shows)."""
        from citizendata.stats.runs import run_file

        return run_file(self.estimate_run(slug, run_id)["result"], fmt)

    def area_maps(self: Any, slug: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
        """The maps the release report draws (``release.maps``): GeoJSON boundaries per area
        dimension, and each area's name by its code."""
        maps, labels, _ = self._release_maps(slug, self.project(slug).spec)
        return maps, labels


def _audit_weights(db: Any, actor: Any, slug: str, form_id: str, details: dict[str, Any]) -> None:
    """An export of a form's weights is logged like any data export."""
    from citizendata.auth import Action
    from citizendata.services.access import audit, project_for

    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    audit(db, actor, "weights.export", "form", form_id, project_id=project.id, details=details)
