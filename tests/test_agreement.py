"""Validator agreement: Cohen's and Fleiss' kappa against published examples and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.validate.agreement import cohen_kappa, fleiss_counts, fleiss_kappa

# Fleiss' kappa, worked example (10 subjects, 14 raters, 5 categories) as printed in
# Wikipedia's "Fleiss' kappa" article: P̄ = 0.378, P̄e = 0.213, κ = 0.210.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_cohen_published_example() -> None:
    # Wikipedia, "Cohen's kappa": 50 grant proposals, both yes 20, A yes B no 5,
    # A no B yes 10, both no 15: p_o = 0.7, p_e = 0.5, κ = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    k = cohen_kappa(a, b)
    assert (round(k.observed, 3), round(k.expected, 3), round(k.kappa, 3)) == (0.7, 0.5, 0.4)
    assert k.ci_low < 0.4 < k.ci_high and k.n_subjects == 50


def test_fleiss_published_example() -> None:
    k = fleiss_kappa(FLEISS_EXAMPLE)
    assert (round(k.observed, 3), round(k.expected, 3), round(k.kappa, 3)) == \
        (0.378, 0.213, 0.210)
    assert k.n_subjects == 10 and k.n_raters == 14


def test_fleiss_from_decisions_in_long_form() -> None:
    decisions = [(s, c) for s, row in enumerate(FLEISS_EXAMPLE)
                 for c, n in enumerate(row) for _ in range(n)]
    assert fleiss_kappa(fleiss_counts(decisions)).kappa == pytest.approx(
        fleiss_kappa(FLEISS_EXAMPLE).kappa)


def test_cohen_standard_error_matches_simulation() -> None:
    rng = np.random.default_rng(7)
    joint = np.array([[0.40, 0.10], [0.15, 0.35]])
    n, estimates, ses = 200, [], []
    for _ in range(600):
        cells = rng.choice(4, size=n, p=joint.ravel())
        a, b = (cells // 2).tolist(), (cells % 2).tolist()
        k = cohen_kappa(a, b)
        estimates.append(k.kappa)
        ses.append(k.se)
    assert float(np.mean(ses)) == pytest.approx(float(np.std(estimates)), rel=0.1)


def test_fleiss_standard_error_under_no_agreement_matches_simulation() -> None:
    rng = np.random.default_rng(11)
    p = np.array([0.5, 0.3, 0.2])
    estimates, ses = [], []
    for _ in range(600):
        counts = rng.multinomial(4, p, size=60)  # 60 submissions, 4 independent validators
        k = fleiss_kappa(counts)
        estimates.append(k.kappa)
        ses.append(k.se)
    assert abs(float(np.mean(estimates))) < 0.02
    assert float(np.mean(ses)) == pytest.approx(float(np.std(estimates)), rel=0.1)


@given(st.lists(st.sampled_from(["approve", "reject", "has_issues"]), min_size=2, max_size=60)
       .filter(lambda v: len(set(v)) > 1))
def test_perfect_agreement_is_one_and_kappa_is_symmetric(labels: list[str]) -> None:
    assert cohen_kappa(labels, labels).kappa == pytest.approx(1.0)
    shifted = labels[1:] + labels[:1]
    assert cohen_kappa(labels, shifted).kappa == pytest.approx(
        cohen_kappa(shifted, labels).kappa)


def test_bad_input_is_coded() -> None:
    with pytest.raises(BadInput):
        cohen_kappa(["a", "b"], ["a"])
    with pytest.raises(BadInput):
        cohen_kappa(["a", "a"], ["a", "a"])
    with pytest.raises(BadInput):
        fleiss_kappa([[1, 1], [2, 1]])  # not the same number of validators everywhere
