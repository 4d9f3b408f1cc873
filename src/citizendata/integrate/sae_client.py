"""Client methods for small area estimates (Fay–Herriot) of a project's indicators.

A mixin of ``Client`` (``self`` is a Client). ``small_area_estimates`` takes a declared
``small_areas`` entry of the project spec: the indicator's protected direct estimates
by area (``Client.estimate``'s, through the project's disclosure control), the
covariate reference table, the Fay–Herriot fit of ``citizendata.integrate.sae``, and
the benchmark to the direct estimates of the coarser level. The same right as
``Client.estimate`` (``data.export``); every run is audited.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.errors import Forbidden, Where
from citizendata.privacy.client import _covered  # the same judgement as _protected's

if TYPE_CHECKING:
    from citizendata.services import estimation
    from citizendata.services import small_areas as sa_svc
else:  # the statistics stack loads on the first call that needs it
    estimation = lazy_module("citizendata.services.estimation")
    sa_svc = lazy_module("citizendata.services.small_areas")
__all__ = ["SmallAreaMethods"]


class SmallAreaMethods:
    """Small area estimates by area level, through the project's disclosure control."""

    def small_area_specs(self: Any, slug: str) -> list[dict[str, Any]]:
        """The project's declared small area entries (indicator, area, covariates, …)."""
        return [s.model_dump(mode="json") | {"id": s.id}
                for s in self._read(sa_svc.small_area_specs, slug)]

    def small_area_estimates(self: Any, slug: str, indicator: str, *, area: str | None = None,
                             purpose: str | None = None) -> dict[str, Any]:
        """Model-based (Fay–Herriot EBLUP) estimates of ``indicator`` for every area.

        The direct estimates are the indicator's protected table by area; a hidden area
        is modelled as one without a sample (synthetic). Areas of each benchmark group
        add up to the group's direct estimate (weighted by ``weights``, default the
        direct estimates' weighted denominators). Returns a JSON-ready dict: ``areas``
        (direct, its SE and CV, EBLUP, MSE, SE, CV, interval, shrinkage ``gamma``,
        standardised residual, reliability ``flag``), ``groups`` (each group's direct
        estimate and the aggregate of its areas), ``model`` (β, σ²ᵤ, diagnostics),
        ``notes`` and ``provenance``. Figures are in the indicator's unit (its scale).
        ``purpose`` (default: the entry's) is the use respondents' consent must cover.
        """
        start = time.perf_counter()
        spec = self._read(sa_svc.small_area_spec, slug, indicator, area)
        ind = self._read(estimation.indicator_spec, slug, indicator)
        est = self._read(estimation.estimation_spec, slug)
        refs, hashes = self._read(estimation.read_reference_tables, slug)
        bench = spec.benchmark if spec.benchmark not in (None, sa_svc.NATIONAL) else None
        dims = [[spec.area], *([[bench]] if bench else [])]
        # only tables cut from the indicator's coordinated pattern, whoever asks: a table
        # outside the declared ones is protected on its own (its cells could be
        # differenced against the declared tables), which no small area result may carry
        # to a report (the spec check says so first; this guards every other way in)
        if not _covered(dims, ind.disaggregations):
            raise Forbidden("privacy.undeclared_table", f"indicator {indicator!r} declares no "
                            f"table {dims}: small area estimates by {spec.area!r}"
                            + (f" benchmarked to {bench!r}" if bench else "") + " need them "
                            "among its disaggregations", where=Where(field="disaggregations"),
                            fix=f"Declare {dims} among the indicator's disaggregations "
                                f"{ind.disaggregations} in the project spec.")
        # Client.estimate's default options: inside a release build's memo the
        # indicator's raw estimates are then computed once for both
        table = self._protected(slug, indicator, dims, purpose or spec.purpose, variance=None,
                                replicates=200, seed=None, today=None)
        if any("protected on its own" in str(n)
               for n in (table.protection or {}).get("notes", [])):
            raise Forbidden("privacy.undeclared_table", f"the table {dims} of {indicator!r} was "
                            "protected on its own, not with the declared tables",
                            where=Where(field="disaggregations"))
        result = sa_svc.fit_small_areas(spec, ind, est, table, refs)
        result["provenance"] = {
            "snapshot": table.provenance.get("snapshot"),
            "covariates": {spec.covariates: hashes.get(spec.covariates)},
            "estimate_provenance": {k: table.provenance.get(k) for k in
                                    ("variance_assumption", "design", "purpose")},
            "spec": spec.model_dump(mode="json"),
        }
        result["protection"] = {"hidden_direct": int(sum(r["hidden_direct"]
                                                         for r in result["areas"])),
                                "rules": (table.protection or {}).get("rules")}
        result["seconds"] = round(time.perf_counter() - start, 3)
        self._run(sa_svc.audit_small_areas, slug, indicator, {
            "area": spec.area, "benchmark": spec.benchmark, "method": spec.method,
            "areas": len(result["areas"]), "covariates": hashes.get(spec.covariates)})
        return result
