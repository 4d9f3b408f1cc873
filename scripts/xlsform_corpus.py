"""Compare citizendata with pyxform on a folder of XLSForms (any you have, e.g. a clone of
pyxform's tests/example_xls or an organisation's form library).

    PYTHONPATH=src python scripts/xlsform_corpus.py FOLDER [--media FOLDER]

For each .xlsx/.xls/.xlsm/.md/.csv file below FOLDER: does pyxform convert it, and does
citizendata accept it (with the files in --media as its attachments), refuse it with a
code, or crash. Prints one line per file and the counts; exits 1 if anything crashed or a
form pyxform converts was refused with a code other than form.unsupported,
form.attachment_missing or an expression code (expr.*).
"""

from __future__ import annotations

import argparse
import collections
import sys
import warnings
from pathlib import Path

from pyxform.xls2xform import convert

from citizendata.errors import BadInput
from citizendata.forms.media import check_attachments
from citizendata.forms.xlsform import parse_xlsform

SUFFIXES = {".xlsx", ".xls", ".xlsm", ".md", ".csv"}


def outcome(data: bytes, name: str, media: dict[str, bytes]) -> str:
    """'accepted', 'refused CODE' or 'crash TYPE'."""
    try:
        parsed = parse_xlsform(data, name)
        check_attachments(list(parsed.needs), {**dict(parsed.generated), **media}, name)
    except BadInput as exc:
        return f"refused {exc.code}"
    except Exception as exc:  # this script exists to find these
        return f"crash {type(exc).__name__}"
    return "accepted"


def main() -> int:
    """Run the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--media", type=Path)
    args = ap.parse_args()
    media = {p.name: p.read_bytes() for p in args.media.iterdir()} if args.media else {}
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    bad = 0
    for path in sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in SUFFIXES):
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                convert(xlsform=data, file_type=path.suffix.lower())
                pyx = "converts"
            except Exception:  # pyxform's verdict is all we want from it
                pyx = "refuses"
            ours = outcome(data, path.name, media)
        counts[(pyx, ours)] += 1
        code = ours.split(" ", 1)[-1]
        if ours.startswith("crash") or (pyx == "converts" and ours.startswith("refused") and
                                        code not in ("form.unsupported", "form.attachment_missing")
                                        and not code.startswith("expr.")):
            bad += 1
        print(f"{path.relative_to(args.folder)}\tpyxform {pyx}\t{ours}")
    for (pyx, ours), n in sorted(counts.items()):
        print(f"{n:5d}  pyxform {pyx}, citizendata {ours}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
