"""Regenerate the kenya-maternal-health example files into a directory.

Usage: python examples/kenya-maternal-health/generate.py OUT_DIR [--n 5000] [--seed 20260301]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from citizendata.scenarios.kenya_maternal_health import (
    DEFAULT_SEED,
    FORM_PATH,
    generate,
    write_files,
)


def main() -> None:
    """Parse the arguments, generate the data and write every file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=5000, help="number of submissions")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    paths = write_files(generate(args.n, seed=args.seed), args.out_dir)
    form = args.out_dir / "form.xlsx"
    shutil.copyfile(FORM_PATH, form)
    for name, path in sorted({**paths, "form.xlsx": form}.items()):
        print(f"{name:28} {path.stat().st_size:>10,} bytes")


if __name__ == "__main__":
    main()
