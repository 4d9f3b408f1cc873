"""Regenerate the mexico-lgbtiq example files into a directory.

Usage: python examples/mexico-lgbtiq/generate.py OUT_DIR [--n 2000] [--seed 20260628]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from citizendata.scenarios.mexico_lgbtiq import (
    DEFAULT_SEED,
    FORM_PATH,
    generate,
    write_files,
)


def main() -> None:
    """Parse the arguments, generate the data and write every file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=2000, help="number of submissions")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    paths = write_files(generate(args.n, seed=args.seed), args.out_dir)
    form = args.out_dir / "form.xlsx"
    shutil.copyfile(FORM_PATH, form)
    for name, path in sorted({**paths, "form.xlsx": form}.items()):
        print(f"{name:28} {path.stat().st_size:>10,} bytes")


if __name__ == "__main__":
    main()
