"""Privacy budget accounting: what releases have spent, and whether a new one still fits.

Pure logic; the spends themselves are stored elsewhere. Spends add up by basic
sequential composition (Dwork & Roth 2014, Theorem 3.16): k releases that are
(εᵢ, δᵢ)-differentially private are together (Σεᵢ, Σδᵢ)-differentially private.
Advanced composition (Dwork, Rothblum & Vadhan 2010; Dwork & Roth 2014, Theorem 3.20)
or zCDP accounting would be tighter for many small releases, but it needs a slack δ′
chosen in advance and gives a total that depends on the number of releases to come;
the basic sum is what a community can check with a pencil, so it is what the project's
budget is held to. See docs/methods/differential-privacy.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from citizendata.errors import Conflict

__all__ = ["Spend", "check_budget", "compose", "remaining_budget"]

# sums of decimal epsilons are not exact in binary (0.1 + 0.2 > 0.3); a request that
# lands exactly on the budget must still be allowed
_TOL = 1e-12


@dataclass(frozen=True)
class Spend:
    """One release's privacy loss: epsilon, delta and a label saying what was released."""

    epsilon: float
    delta: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ValueError(f"epsilon must be a finite number ≥ 0, not {self.epsilon!r}")
        if not (0 <= self.delta < 1):
            raise ValueError(f"delta must be in [0, 1), not {self.delta!r}")


def compose(spends: Sequence[Spend]) -> tuple[float, float]:
    """The total (epsilon, delta) of several releases by basic sequential composition."""
    return (math.fsum(s.epsilon for s in spends), math.fsum(s.delta for s in spends))


def remaining_budget(spent: Sequence[Spend], budget_epsilon: float,
                     budget_delta: float) -> tuple[float, float]:
    """What is left of the budget after the spends (never below zero)."""
    eps, delta = compose(spent)
    return max(budget_epsilon - eps, 0.0), max(budget_delta - delta, 0.0)


def _fits(total: float, budget: float) -> bool:
    return total <= budget + _TOL * max(1.0, abs(budget))


def check_budget(spent: Sequence[Spend], request: Spend, budget_epsilon: float,
                 budget_delta: float) -> tuple[float, float]:
    """The (epsilon, delta) left after the request, or a Conflict if it does not fit."""
    eps, delta = compose(spent)
    left_eps, left_delta = remaining_budget(spent, budget_epsilon, budget_delta)
    new_eps, new_delta = compose([*spent, request])
    if _fits(new_eps, budget_epsilon) and _fits(new_delta, budget_delta):
        return max(budget_epsilon - new_eps, 0.0), max(budget_delta - new_delta, 0.0)
    over = []
    if not _fits(new_eps, budget_epsilon):
        over.append(f"epsilon {request.epsilon:g} requested but only {left_eps:g} of "
                    f"{budget_epsilon:g} is left")
    if not _fits(new_delta, budget_delta):
        over.append(f"delta {request.delta:g} requested but only {left_delta:g} of "
                    f"{budget_delta:g} is left")
    what = f" ({request.label})" if request.label else ""
    raise Conflict(
        "privacy.budget_exceeded",
        f"the release{what} does not fit the privacy budget: " + "; ".join(over),
        fix=(f"Request at most epsilon {left_eps:g} and delta {left_delta:g}, or raise the "
             "budget with the community's agreement (spent budget cannot be given back)."),
        details={"spent": {"epsilon": eps, "delta": delta, "releases": len(spent)},
                 "requested": {"epsilon": request.epsilon, "delta": request.delta,
                               "label": request.label},
                 "budget": {"epsilon": budget_epsilon, "delta": budget_delta},
                 "remaining": {"epsilon": left_eps, "delta": left_delta}},
    )
