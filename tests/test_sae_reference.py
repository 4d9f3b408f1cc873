"""Fay–Herriot fits of R sae's `milk` example against sae's printed results (tests/data/sae)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.integrate.sae import fay_herriot

DATA = Path(__file__).parent / "data" / "sae"


@pytest.fixture(scope="module")
def milk() -> pd.DataFrame:
    return pd.read_csv(DATA / "milk.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(DATA / "milk_reference.csv")


# REML/ML: R sae's print; FH method: samplics' own output (README), hence the 2e-6
@pytest.mark.parametrize(("method", "atol"), [("reml", 5e-8), ("ml", 5e-8), ("fh", 2e-6)])
def test_milk_eblup_and_mse(milk: pd.DataFrame, ref: pd.DataFrame, method: str,
                            atol: float) -> None:
    r = fay_herriot(milk, area="SmallArea", estimate="yi", se="SD", columns=["MajorArea"],
                    categorical=["MajorArea"], method=method)
    assert r.converged and not r.notes
    np.testing.assert_allclose(r.areas["eblup"], ref[f"eblup_{method}"], rtol=0, atol=atol)
    # MSEs are printed to 9 decimals (7 significant digits)
    np.testing.assert_allclose(r.areas["mse"], ref[f"mse_{method}"], rtol=0, atol=5e-10)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_milk_coefficients(milk: pd.DataFrame, method: str) -> None:
    coef = pd.read_csv(DATA / "milk_coefficients.csv").query("method == @method")
    r = fay_herriot(milk, area="SmallArea", estimate="yi", variance=None, se="SD",
                    columns=["MajorArea"], categorical=["MajorArea"], method=method.lower())
    assert list(r.beta) == coef["term"].tolist()
    np.testing.assert_allclose(list(r.beta.values()), coef["beta"], rtol=0, atol=5e-8)
    np.testing.assert_allclose(list(r.beta_se.values()), coef["std_error"], rtol=0, atol=5e-9)


def test_milk_sigma2_and_json(milk: pd.DataFrame) -> None:
    r = fay_herriot(milk.assign(v=milk["SD"] ** 2), area="SmallArea", estimate="yi",
                    variance="v", columns=["MajorArea"], categorical=["MajorArea"])
    # not printed by sae; the EBLUPs above pin it to about 1e-6
    assert r.sigma2_u == pytest.approx(0.018550, abs=1e-6)
    d = r.to_dict()
    assert list(d) == ["method", "beta", "sigma2_u", "areas"]
    assert d["method"] == "REML" and "(Intercept)" in d["beta"]
    assert list(d["areas"][0]) == ["area", "direct", "eblup", "mse", "gamma"]
    assert len(d["areas"]) == 43
