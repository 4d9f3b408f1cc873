"""Which lists record which events: the true capture model.

For event *i* and list *l*::

    logit P(i on l) = a_l + region_l[r_i] + year_l[y_i] + violation_l[v_i] + role_l[k_i]
                      + b_l * visibility_i + referral

``visibility`` is one standard-normal latent value per event shared by every list
(heterogeneity: public cases are on many lists, obscure ones on none), and every
list sees remote regions less (Orinoquía, Amazonía, the rural Pacific). Both make
the lists positively dependent, so the independence model underestimates. On top of
that, two explicit dependences: the Defensoría refers its cases to the Fiscalía
(``fiscalia`` gains ``REFERRAL`` on the logit when ``defensoria`` has the case), and
FLIP reads the media monitor's sources (``flip`` gains it when ``medios`` has it).
Lists are drawn in ``ORDER`` so the referring list comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from citizendata.scenarios.colombia_press_freedom.population import ROLES, VIOLATIONS, YEARS

__all__ = ["LISTS", "MODEL", "ORDER", "REFERRAL", "ListModel", "capture", "capture_probabilities",
           "model_table"]

LISTS: tuple[str, ...] = ("flip", "fiscalia", "defensoria", "sindical", "medios", "somos")
ORDER: tuple[str, ...] = ("defensoria", "medios", "fiscalia", "flip", "sindical", "somos")
# list -> the list whose capture raises its logit (referrals, shared sources)
REFERRAL: dict[str, tuple[str, float]] = {"fiscalia": ("defensoria", 1.4),
                                          "flip": ("medios", 1.2)}
_REGION_ALL = {"andina": 0.0, "caribe": -0.35, "pacifica": -0.6, "orinoquia": -0.9,
               "amazonia": -1.3}


def _region(f: float) -> dict[str, float]:
    return {k: v * f for k, v in _REGION_ALL.items()}


def _trend(per_year: float, last: float = 0.0) -> dict[int, float]:
    """A linear trend over the years, centred on 2020, and a lag in the last year."""
    return {y: per_year * (y - 2020) + (last if y == YEARS[-1] else 0.0) for y in YEARS}


@dataclass(frozen=True)
class ListModel:
    """One list's capture logit: intercept, visibility loading and additive effects."""

    a: float
    b: float
    region: dict[str, float]
    year: dict[int, float]
    violation: dict[str, float]
    role: dict[str, float]


MODEL: dict[str, ListModel] = {
    "flip": ListModel(a=-2.6, b=0.7, region=_region(0.8), year=_trend(0.0),
        violation={"killing": 0.9, "kidnapping": 0.6, "enforced_disappearance": 0.0,
            "arbitrary_detention": 0.2, "torture": -0.3},
        role={"journalist": 3.2, "media_worker": 2.7, "trade_unionist": -2.5,
            "hr_defender": -1.8}),
    "fiscalia": ListModel(a=-1.1, b=0.8, region=_region(0.6), year=_trend(0.08, -0.5),
        violation={"killing": 1.3, "kidnapping": 0.3, "enforced_disappearance": -0.6,
            "arbitrary_detention": -1.6, "torture": -1.0},
        role={"journalist": 0.3, "media_worker": 0.0, "trade_unionist": 0.1,
            "hr_defender": 0.2}),
    "defensoria": ListModel(a=-1.2, b=0.9, region=_region(0.7), year=_trend(0.0),
        violation={"killing": 0.5, "kidnapping": 0.0, "enforced_disappearance": 0.3,
            "arbitrary_detention": 0.4, "torture": 0.2},
        role={"journalist": -0.3, "media_worker": -0.4, "trade_unionist": -0.2,
            "hr_defender": 0.3}),
    "sindical": ListModel(a=0.5, b=0.6, region=_region(0.5), year=_trend(0.0),
        violation={"killing": 0.8, "kidnapping": 0.2, "enforced_disappearance": 0.0,
            "arbitrary_detention": 0.1, "torture": -0.2},
        role={"journalist": -4.5, "media_worker": -4.5, "trade_unionist": 1.2,
            "hr_defender": -3.8}),
    "medios": ListModel(a=-1.5, b=1.2, region=_region(1.3), year=_trend(0.0),
        violation={"killing": 0.8, "kidnapping": 0.6, "enforced_disappearance": -0.3,
            "arbitrary_detention": -0.8, "torture": -0.6},
        role={"journalist": 1.6, "media_worker": 0.9, "trade_unionist": -0.2,
            "hr_defender": 0.0}),
    "somos": ListModel(a=-0.7, b=0.9, region=_region(0.9), year=_trend(0.1, -0.3),
        violation={"killing": 1.0, "kidnapping": -0.1, "enforced_disappearance": -0.4,
            "arbitrary_detention": -0.6, "torture": -0.6},
        role={"journalist": -1.4, "media_worker": -2.0, "trade_unionist": 0.0,
            "hr_defender": 0.7}),
}


def _logit(events: pd.DataFrame, name: str, on: dict[str, np.ndarray] | None = None
           ) -> np.ndarray:
    """The capture logit of every event on list ``name`` (with referrals when ``on``)."""
    m = MODEL[name]
    eta = np.full(len(events), m.a)
    for effects, col in ((m.region, "region"), (m.year, "year"), (m.violation, "violation"),
                         (m.role, "victim_role")):
        eta += events[col].map(effects).to_numpy(dtype=float)
    eta += m.b * events["visibility"].to_numpy()
    if on is not None and name in REFERRAL:
        src, gain = REFERRAL[name]
        eta += gain * on[src]
    return eta


def capture_probabilities(events: pd.DataFrame, on: dict[str, np.ndarray] | None = None
                          ) -> pd.DataFrame:
    """Each list's capture probability per event (given the referring lists' captures)."""
    out = {name: 1.0 / (1.0 + np.exp(-_logit(events, name, on))) for name in ORDER}
    return pd.DataFrame(out, index=events.index)[list(LISTS)]


def capture(rng: np.random.Generator, events: pd.DataFrame) -> pd.DataFrame:
    """0/1 capture of every event by every list (columns in ``LISTS`` order)."""
    for m in MODEL.values():  # every category has an effect (a gap would give NaN)
        assert set(VIOLATIONS) <= set(m.violation) and set(ROLES) <= set(m.role)
    on: dict[str, np.ndarray] = {}
    u = rng.random((len(events), len(ORDER)))
    for k, name in enumerate(ORDER):
        p = 1.0 / (1.0 + np.exp(-_logit(events, name, on)))
        on[name] = (u[:, k] < p).astype(np.int8)
    return pd.DataFrame({name: on[name] for name in LISTS}, index=events.index)


def model_table() -> str:
    """The capture model's logit parameters as a Markdown table, one column per list."""
    rows: list[tuple[str, list[float]]] = [("intercept a", [MODEL[n].a for n in LISTS]),
                                           ("visibility loading b", [MODEL[n].b for n in LISTS])]
    rows += [(f"region {r}", [MODEL[n].region[r] for n in LISTS]) for r in _REGION_ALL]
    slope = [MODEL[n].year[2021] - MODEL[n].year[2020] for n in LISTS]
    rows.append(("per year (from 2020)", slope))
    rows.append(("extra in 2024 (backlog)", [MODEL[n].year[YEARS[-1]] - s * (YEARS[-1] - 2020)
                                             for n, s in zip(LISTS, slope, strict=True)]))
    rows += [(f"violation {v}", [MODEL[n].violation[v] for n in LISTS]) for v in VIOLATIONS]
    rows += [(f"role {r}", [MODEL[n].role[r] for n in LISTS]) for r in ROLES]
    lines = ["| logit term | " + " | ".join(LISTS) + " |", "|---" * (len(LISTS) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(f"{v:+.2f}" for v in vals) + " |" for label, vals in rows]
    return "\n".join(lines) + "\n"
