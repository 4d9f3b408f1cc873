"""Client methods for population by small area: census coverage and bottom-up estimates.

A mixin of ``Client`` (``self`` is a Client). The inputs (census and dwellings tables,
the census records of the enumerated areas, the enumeration's submissions that
analysis admits, consent withdrawals honoured) are read in one short transaction; the
matching and the estimates run outside it, kept in memory by a digest of the inputs;
the run is audited with counts only. Reading estimates needs ``data.export``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.services import population as population_svc
else:  # pandas and the statistics stack load on the first call that needs them
    population_svc = lazy_module("citizendata.services.population")

__all__ = ["PopulationMethods"]


class PopulationMethods:
    """Population estimates and census undercount by area."""

    def population_estimates(self: Any, slug: str) -> dict[str, Any]:
        """Population with intervals and the implied census undercount by area, by level
        (e.g. district) and in total; census coverage by post-stratum; notes. Protected by
        the project's disclosure control and audited."""
        inputs = self._read(population_svc.population_inputs, slug)
        out = population_svc.estimate(inputs)
        self._run(population_svc.audit_event, slug, {
            "areas": out["inputs"]["areas"], "sampled_areas": out["inputs"]["sampled_areas"],
            "suppressed": out["protection"]["suppressed"], "method": out["method"]})
        return out

    def population_table(self: Any, slug: str) -> pd.DataFrame:
        """The estimates as one flat table (total, levels, areas), as a release carries it."""
        return population_svc.release_table(self.population_estimates(slug))
