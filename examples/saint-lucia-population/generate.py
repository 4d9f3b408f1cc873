"""Regenerate the saint-lucia-population example files into a directory.

Usage: python examples/saint-lucia-population/generate.py OUT_DIR [--seed 2022] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from citizendata.scenarios.saint_lucia_population import DEFAULT_SEED, FORM_PATH, generate


def main() -> None:
    """Parse the arguments, generate the data and write every file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: about 170,000 people")
    args = parser.parse_args()
    data = generate(args.seed, args.scale)
    paths = data.write_files(args.out_dir)
    form = args.out_dir / "enumeration.xlsx"
    shutil.copyfile(FORM_PATH, form)
    for name, path in sorted({**paths, "enumeration.xlsx": form}.items()):
        print(f"{name:24} {path.stat().st_size:>10,} bytes")
    t = data.truth_summary["total"]
    print(f"true population {t['population']:,}; census {t['census']:,} "
          f"(undercount {t['undercount']:.1%}); {len(data.submissions):,} enumerated dwellings")


if __name__ == "__main__":
    main()
