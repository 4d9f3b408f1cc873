"""Small area estimation: the Fay–Herriot area-level model and the Battese–Harter–Fuller
unit-level model, checked against R's sae package (docs/methods/sae.md)."""

from __future__ import annotations

from citizendata.integrate.sae.benchmark import Benchmark
from citizendata.integrate.sae.bhf import BHFResult, battese_harter_fuller
from citizendata.integrate.sae.diagnostics import direct_vs_model_svg
from citizendata.integrate.sae.fh import FHResult, fay_herriot
from citizendata.integrate.sae.transform import smooth_variances

__all__ = ["BHFResult", "Benchmark", "FHResult", "battese_harter_fuller", "direct_vs_model_svg",
           "fay_herriot", "smooth_variances"]
