"""Regenerate the colombia-press-freedom example files into a directory.

Usage: python examples/colombia-press-freedom/generate.py OUT_DIR [--seed 2016] [--scale 1.0]
       [--format csv|xlsx]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from citizendata.scenarios.colombia_press_freedom import DEFAULT_SEED, FORM_PATH, generate


def main() -> None:
    """Parse the arguments, generate the data and write every file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: about 2,900 events")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv",
                        help="format of the organisations' files")
    args = parser.parse_args()
    data = generate(args.seed, args.scale)
    paths = data.write_files(args.out_dir, args.format)
    form = args.out_dir / "form.xlsx"
    shutil.copyfile(FORM_PATH, form)
    for name, path in sorted({**paths, "form.xlsx": form}.items()):
        print(f"{name:20} {path.stat().st_size:>10,} bytes")
    t = data.truth
    print(f"true victim-events {t['true_total']:,}; documented (on at least one list) "
          f"{t['documented']:,}")


if __name__ == "__main__":
    main()
