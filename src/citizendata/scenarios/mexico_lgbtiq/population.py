"""The synthetic population the network can reach, and its true rates of discrimination.

Everything is drawn with numpy from one seeded generator, so the same seed always
gives the same population. The population is LGBTIQ+ adults (18+) in eight states.
Group sizes and rates are INVENTED for the scenario: they follow the direction of
published patterns (trans and non-binary people, intersex people, indigenous people
and people with disabilities report more discrimination; young people more than
old) but they are not estimates of anything in Mexico.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios.mexico_lgbtiq.form import CONTEXTS, GROUNDS
from citizendata.scenarios.mexico_lgbtiq.geography import MUNICIPALITIES

__all__ = [
    "AGE_GROUPS",
    "GI_CODES",
    "SO_CODES",
    "WG_DOMAINS",
    "age_group_of",
    "compute_truth",
    "make_population",
]

AGE_GROUPS: tuple[str, ...] = ("18-29", "30-44", "45-59", "60+")
_AGE_BREAKS = np.array([30, 45, 60])
WG_DOMAINS: tuple[str, ...] = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
_WG_SHIFT = np.array([0.25, 0.0, 0.1, 0.2, -0.35, -0.35])
_WG_CUTS = np.array([1.05, 2.05, 2.85])  # some / a lot / cannot do at all

SEX_CODES: tuple[str, ...] = ("female", "male", "intersex")
_SEX_P = np.array([0.50, 0.48, 0.02])
GI_CODES: tuple[str, ...] = ("woman", "man", "trans_woman", "trans_man", "non_binary", "other")
# P(gender identity | sex at birth), rows in SEX_CODES order, columns in GI_CODES order
_GI_GIVEN_SEX = np.array([
    [0.78, 0.00, 0.00, 0.07, 0.12, 0.03],
    [0.00, 0.80, 0.10, 0.00, 0.08, 0.02],
    [0.40, 0.32, 0.00, 0.00, 0.20, 0.08],
])
SO_CODES: tuple[str, ...] = ("lesbian", "gay", "bisexual", "pansexual", "asexual", "heterosexual", "other")
# P(sexual orientation | gender identity); rows 6 and 7 are for intersex women and men
_SO_GIVEN_GI = np.array([
    [0.47, 0.00, 0.39, 0.07, 0.04, 0.00, 0.03],  # cisgender woman
    [0.00, 0.63, 0.27, 0.05, 0.03, 0.00, 0.02],  # cisgender man
    [0.10, 0.04, 0.22, 0.12, 0.04, 0.44, 0.04],  # trans woman
    [0.04, 0.12, 0.24, 0.14, 0.05, 0.37, 0.04],  # trans man
    [0.10, 0.10, 0.30, 0.25, 0.10, 0.05, 0.10],  # non-binary
    [0.08, 0.08, 0.28, 0.24, 0.12, 0.08, 0.12],  # other identity
    [0.10, 0.00, 0.20, 0.10, 0.05, 0.50, 0.05],  # intersex woman
    [0.00, 0.10, 0.20, 0.10, 0.05, 0.50, 0.05],  # intersex man
])
_INDIGENOUS = {"08": 0.06, "09": 0.05, "14": 0.03, "19": 0.03, "20": 0.30, "21": 0.10,
               "30": 0.09, "31": 0.28}

# The invented data-generating model: logit of P(discriminated in the last 12 months).
_INTERCEPT = -0.62
_GI_EFFECT = {"woman": 0.0, "man": 0.05, "trans_woman": 1.35, "trans_man": 1.1,
              "non_binary": 0.85, "other": 0.7}
_SO_EFFECT = {"lesbian": 0.0, "gay": 0.0, "bisexual": -0.15, "pansexual": 0.0, "asexual": -0.2,
              "heterosexual": -0.3, "other": 0.0}
_STATE_EFFECT = {"08": 0.1, "09": 0.1, "14": 0.0, "19": 0.05, "20": 0.1, "21": -0.05,
                 "30": 0.05, "31": -0.05}
_INTERSEX_EFFECT = 0.6
_INDIGENOUS_EFFECT = 0.45
_DISABILITY_EFFECT = 0.5
_AGE_SLOPE = -0.025  # per year above 30
_CONTEXT_P = {"work": 0.35, "school": 0.15, "health": 0.2, "public_space": 0.55, "police": 0.12,
              "family": 0.35, "online": 0.4}
MODEL: dict[str, Any] = {
    "intercept": _INTERCEPT, "gender_identity": _GI_EFFECT, "sexual_orientation": _SO_EFFECT,
    "state": _STATE_EFFECT, "intersex": _INTERSEX_EFFECT, "indigenous": _INDIGENOUS_EFFECT,
    "disability3": _DISABILITY_EFFECT, "age_per_year_above_30": _AGE_SLOPE,
}


def age_group_of(age: np.ndarray | pd.Series) -> np.ndarray:
    """Age group labels (18-29, 30-44, 45-59, 60+) for ages of 18 and over."""
    idx = np.searchsorted(_AGE_BREAKS, np.asarray(age, dtype=int), side="right")
    return np.asarray(AGE_GROUPS, dtype=object)[idx]


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (rows x categories) probability matrix: the category index."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return (u[:, None] >= cum).sum(axis=1)


def _wg_answers(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Six WG answers (1-4) per person from one latent difficulty plus domain noise."""
    latent = rng.standard_normal(age.size) + 0.03 * (age - 35)
    z = 0.75 * latent[:, None] + 0.66 * rng.standard_normal((age.size, 6)) + _WG_SHIFT[None, :]
    return (1 + (z[:, :, None] > _WG_CUTS[None, None, :]).sum(axis=2)).astype(np.int8)


def _join(flags: np.ndarray, codes: tuple[str, ...]) -> np.ndarray:
    """Rows of a boolean matrix as space-separated choice lists (select_multiple answers)."""
    out = np.full(len(flags), "", dtype=object)
    for j, code in enumerate(codes):
        out = np.where(flags[:, j], np.where(out == "", code, out + " " + code), out)
    return out


def make_population(rng: np.random.Generator, size: int) -> pd.DataFrame:
    """One row per person, with the true answers and the true discrimination experience."""
    w = np.array([m.weight for m in MUNICIPALITIES])
    muni = rng.choice(len(MUNICIPALITIES), size=size, p=w / w.sum())
    pop = pd.DataFrame({
        "person_id": np.arange(1, size + 1),
        "state": np.array([m.state for m in MUNICIPALITIES], dtype=object)[muni],
        "municipality": np.array([m.code for m in MUNICIPALITIES], dtype=object)[muni],
    })
    pop["lat"] = np.array([m.lat for m in MUNICIPALITIES])[muni] + 0.02 * rng.standard_normal(size)
    pop["lon"] = np.array([m.lon for m in MUNICIPALITIES])[muni] + 0.02 * rng.standard_normal(size)
    ages = np.arange(18, 90)
    age_w = np.exp(-0.055 * (ages - 18))
    age = rng.choice(ages, size=size, p=age_w / age_w.sum())
    pop["age"] = age
    pop["age_group"] = age_group_of(age)
    sex = rng.choice(len(SEX_CODES), size=size, p=_SEX_P)
    gi = _categorical(rng, _GI_GIVEN_SEX[sex])
    so_row = np.where((sex == 2) & (gi <= 1), 6 + gi, gi)
    so = _categorical(rng, _SO_GIVEN_GI[so_row])
    pop["sex_at_birth"] = np.asarray(SEX_CODES, dtype=object)[sex]
    pop["gender_identity"] = np.asarray(GI_CODES, dtype=object)[gi]
    pop["sexual_orientation"] = np.asarray(SO_CODES, dtype=object)[so]
    pop["trans_or_nonbinary"] = gi >= 2
    p_ind = pop["state"].map(_INDIGENOUS).to_numpy(dtype=float)
    pop["indigenous"] = np.where(rng.random(size) < p_ind, "yes", "no").astype(object)
    wg = _wg_answers(rng, age)
    for j, d in enumerate(WG_DOMAINS):
        pop[f"wg_{d}"] = wg[:, j]
    disabled = np.asarray((wg >= 3).any(axis=1), dtype=bool)
    pop["disability3"] = disabled
    pop["disability"] = np.where(disabled, "with_disability", "without_disability").astype(object)
    indigenous = pop["indigenous"].to_numpy() == "yes"
    intersex = sex == 2
    logit = (_INTERCEPT + pop["gender_identity"].map(_GI_EFFECT).to_numpy(dtype=float)
             + pop["sexual_orientation"].map(_SO_EFFECT).to_numpy(dtype=float)
             + pop["state"].map(_STATE_EFFECT).to_numpy(dtype=float)
             + _INTERSEX_EFFECT * intersex + _INDIGENOUS_EFFECT * indigenous
             + _DISABILITY_EFFECT * disabled + _AGE_SLOPE * (age - 30))
    pop["p_discriminated"] = 1.0 / (1.0 + np.exp(-logit))
    discriminated = rng.random(size) < pop["p_discriminated"].to_numpy()
    pop["discriminated"] = discriminated
    _experience(rng, pop, discriminated, gi, so, intersex, indigenous, disabled, age)
    return pop


def _experience(rng: np.random.Generator, pop: pd.DataFrame, discriminated: np.ndarray,
                gi: np.ndarray, so: np.ndarray, intersex: np.ndarray, indigenous: np.ndarray,
                disabled: np.ndarray, age: np.ndarray) -> None:
    """Grounds, places and reporting of the discrimination, for those who experienced it."""
    size = len(pop)
    trans = gi >= 2
    hetero = so == SO_CODES.index("heterosexual")
    p_ground = np.column_stack([
        np.where(hetero, 0.10, np.where(trans, 0.45, 0.85)),  # sexual orientation
        np.where(trans, 0.90, 0.25),  # gender identity or expression
        np.where(intersex, 0.55, 0.0),  # sex characteristics
        np.where(indigenous, 0.45, 0.03),  # ethnicity
        np.where(disabled, 0.40, 0.02),  # disability
        np.where((age < 25) | (age >= 60), 0.12, 0.05),  # age
        np.full(size, 0.06),  # other
    ])
    grounds = rng.random((size, len(GROUNDS))) < p_ground
    none = ~grounds.any(axis=1)
    grounds[none, 0] = ~trans[none]  # everyone discriminated names at least one ground
    grounds[none, 1] = trans[none]
    grounds &= discriminated[:, None]
    pop["grounds"] = _join(grounds, tuple(GROUNDS))
    pop["ground_sogi"] = grounds[:, 0] | grounds[:, 1]
    p_ctx = np.tile(np.array(list(_CONTEXT_P.values())), (size, 1))
    p_ctx[:, 1] = np.where(age < 25, 0.35, 0.08)  # school
    p_ctx[:, 2] += 0.2 * trans  # health services
    p_ctx[:, 4] += 0.1 * (gi == GI_CODES.index("trans_woman"))  # police
    ctx = rng.random(p_ctx.shape) < p_ctx
    ctx[~ctx.any(axis=1), 3] = True
    ctx &= discriminated[:, None]
    pop["contexts"] = _join(ctx, tuple(CONTEXTS))
    pop["reported"] = np.where(discriminated, np.where(rng.random(size) < 0.14, "yes", "no"),
                               "").astype(object)


def _rate(df: pd.DataFrame, col: str, by: str | list[str] | None) -> Any:
    """Proportion of people with ``col`` true, overall or by one or more columns."""
    if by is None:
        return float(df[col].mean())
    g = df.groupby(by, sort=True)[col].mean()
    return {(k if isinstance(k, str) else "|".join(map(str, k))): float(v) for k, v in g.items()}


def _share(df: pd.DataFrame, col: str) -> dict[str, float]:
    return {str(k): float(v) for k, v in df[col].value_counts(normalize=True).sort_index().items()}


def compute_truth(pop: pd.DataFrame, *, seed: int, selection: np.ndarray | None = None
                  ) -> dict[str, Any]:
    """The true proportions discriminated against, overall and by group, in the population.

    ``selection`` (relative inclusion probabilities) adds ``expected_sample``: what an
    unweighted estimate from the sample converges to, which differs a little from the
    population value because the network reaches some people more easily.
    """
    sogi = pop.assign(sogi=pop["discriminated"] & pop["ground_sogi"])
    out: dict[str, Any] = {
        "indicator": "VC_VOV_GDSD",
        "sdg": ["10.3.1", "16.b.1"],
        "definition": "Proportion of the population reporting having personally felt "
                      "discriminated against or harassed in the previous 12 months on the basis "
                      "of a ground of discrimination prohibited under international human rights law",
        "population": "LGBTIQ+ adults the (fictional) network can reach in eight states; invented",
        "unit": "proportion",
        "seed": seed,
        "people": len(pop),
        "overall": _rate(pop, "discriminated", None),
        "sogi_overall": _rate(sogi, "sogi", None),
    }
    for key in ("gender_identity", "sexual_orientation", "state", "indigenous", "disability",
                "age_group", "sex_at_birth"):
        out[f"by_{key}"] = _rate(pop, "discriminated", key)
    out["sogi_by_gender_identity"] = _rate(sogi, "sogi", "gender_identity")
    out["by_gender_identity_sexual_orientation"] = _rate(
        pop, "discriminated", ["gender_identity", "sexual_orientation"])
    out["by_indigenous_state"] = _rate(pop, "discriminated", ["indigenous", "state"])
    out["shares"] = {k: _share(pop, k) for k in ("gender_identity", "sexual_orientation",
                                                 "sex_at_birth", "indigenous", "disability",
                                                 "age_group", "state")}
    out["model"] = MODEL
    if selection is not None:
        w = np.asarray(selection, dtype=float)
        y = pop["discriminated"].to_numpy(dtype=float)
        out["expected_sample"] = float((w * y).sum() / w.sum())
    return out
