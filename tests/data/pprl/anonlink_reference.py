"""Make anonlink_dice.csv: Dice coefficients of our encodings as anonlink computes them.

Step 1 (the project's environment) writes pairs of encodings of synthetic Spanish-named
lists; step 2 (a scratch venv with anonlink, never the project's) scores every pair with
anonlink's C++ kernel and writes the reference the test compares against.

    PYTHONPATH=src python tests/data/pprl/anonlink_reference.py pairs
    /tmp/pprl-venv/bin/python tests/data/pprl/anonlink_reference.py score
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent

if sys.argv[1] == "pairs":
    import numpy as np
    import pandas as pd

    from citizendata.integrate.pprl import colombia_schema, encode_clks
    from citizendata.integrate.pprl._synthetic import spanish_lists

    frames, _ = spanish_lists(200, seed=31)
    secret = "reference-secret-for-anonlink-2026"
    a = encode_clks(frames["fiscalia"], colombia_schema(), secret)
    b = encode_clks(frames["flip"], colombia_schema(length=512, hardening=["balance"]), secret)
    rng = np.random.default_rng(5)
    rows = []
    for enc in (a, b):
        i, j = rng.integers(0, len(enc), 60), rng.integers(0, len(enc), 60)
        rows.append(pd.DataFrame({"clk_a": enc.clk.to_numpy()[i], "clk_b": enc.clk.to_numpy()[j]}))
    pd.concat(rows).to_csv(HERE / "anonlink_dice.csv", index=False)
else:
    import base64
    import csv

    from anonlink.similarities import dice_coefficient_accelerated
    from bitarray import bitarray

    def bits(text: str) -> bitarray:
        out = bitarray()
        out.frombytes(base64.b64decode(text))
        return out

    with open(HERE / "anonlink_dice.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        sims, _ = dice_coefficient_accelerated([[bits(r["clk_a"])], [bits(r["clk_b"])]], 0.0)
        r["anonlink_dice"] = repr(float(sims[0])) if len(sims) else "0.0"
    with open(HERE / "anonlink_dice.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["clk_a", "clk_b", "anonlink_dice"])
        w.writeheader()
        w.writerows(rows)
