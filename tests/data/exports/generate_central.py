"""Make the ODK Central export fixtures in tests/data/exports/central/ with Central's own code.

Run by hand, never in CI. It needs pyxform (a citizendata dependency), Node.js, and a
checkout of github.com/getodk/central-backend (Apache-2.0) whose ``lib/`` can require its
npm dependencies (ramda, htmlparser2, csv-stringify, csv-parse, entities,
sanitize-filename, archiver, cloneable-readable):

    CENTRAL_BACKEND=/path/to/central-backend python tests/data/exports/generate_central.py

For the same two synthetic forms as the KoboToolbox fixtures (``kobo/*_v*.xlsx``, and
the submissions in ``kobo/*_submissions.json``) it writes:

- ``<form>/<n>.xml``: each submission as the XForm instance ODK Collect would send
  (the same data the tests also send over OpenRosa);
- the exports, made by Central's ``streamBriefcaseCsvs`` (lib/data/briefcase.js, the
  code behind ``GET …/submissions.csv.zip`` and ``…/submissions.csv``) run by
  ``generate_central.js``: the zip with the main CSV and one CSV per repeat
  (``PARENT_KEY``/``KEY``), with and without group paths, with select_multiple split
  into one column per value, and the root-only CSV;
- ``manifest.json``: each export with its options and the Central metadata given.

Only the generated outputs are checked in; no Central code is.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from pyxform.xls2xform import convert

HERE = Path(__file__).resolve().parent
KOBO = HERE / "kobo"
OUT = HERE / "central"
XFORMS = "http://www.w3.org/2002/xforms"
# XLSForm version -> what ODK Central's FormVersion column shows (the form's version string)
REVIEW = [None, "approved", "hasIssues", "rejected", "edited", None]


def xform_of(xlsform: Path) -> str:
    return convert(xlsform=str(xlsform)).xform


def _template(xform: str) -> ET.Element:
    """The primary instance's root element of an XForm (the answer template)."""
    doc = ET.fromstring(xform)
    model = doc.find(f".//{{{XFORMS}}}model")
    assert model is not None
    first = model.find(f"{{{XFORMS}}}instance")
    assert first is not None
    return next(iter(first))


JR_TEMPLATE = "{http://openrosa.org/javarosa}template"


def _fill(tpl: ET.Element, out: ET.Element, values: dict[str, Any], prefix: str) -> None:
    """Copy the template's children into out, in form order, with the submission's values.

    Keys are KoboToolbox's full slash paths, also inside repeat items."""
    repeats = {c.tag.split("}")[-1] for c in tpl if c.attrib.get(JR_TEMPLATE) is not None}
    done: set[str] = set()
    for child in tpl:
        name = child.tag.split("}")[-1]
        path = f"{prefix}/{name}" if prefix else name
        if name in repeats:
            if name not in done:  # pyxform writes the template and a first item: one pass
                done.add(name)
                for item in values.get(path, []):
                    _fill(child, ET.SubElement(out, name), item, path)
        elif len(child):
            _fill(child, ET.SubElement(out, name), values, path)
        else:
            value = values.get(path)
            ET.SubElement(out, name).text = value if isinstance(value, str) else None


def instance_xml(xform: str, sub: dict[str, Any]) -> str:
    """The submission as ODK Collect sends it: the form's instance with the answers."""
    tpl = _template(xform)
    root_name = tpl.tag.split("}")[-1]
    out = ET.Element(root_name, {"id": tpl.attrib["id"], "version": tpl.attrib.get("version", "")})
    if "{http://openrosa.org/xforms}version" in tpl.attrib:
        out.set("xmlns:orx", "http://openrosa.org/xforms")
    values = {k: v for k, v in sub.items() if not k.startswith("_") and not k.startswith("formhub")}
    _fill(tpl, out, values, "")
    return ET.tostring(out, encoding="unicode")


def export(job: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(job, fh, ensure_ascii=False)
    try:
        subprocess.run(["node", str(HERE / "generate_central.js"), fh.name], check=True,
                       env={**os.environ})
    finally:
        os.unlink(fh.name)


def central_rows(form: str, xform: str, subs: list[dict[str, Any]],
                 versions: dict[str, str]) -> list[dict[str, Any]]:
    """The submissions with the metadata Central keeps; instance XML saved beside."""
    (OUT / form).mkdir(parents=True, exist_ok=True)
    rows = []
    for n, sub in enumerate(subs):
        xml = instance_xml(versions[sub["__version__"]], sub)
        (OUT / form / f"{n}.xml").write_text(xml + "\n", encoding="utf-8")
        has_photo = "photo" in sub
        rows.append({
            "xml": xml, "instanceId": sub["meta/instanceID"],
            "createdAt": sub["_submission_time"] + "Z", "reviewState": REVIEW[n % len(REVIEW)],
            "deviceId": f"collect:Xy{n}Pq7Lm2Nb4Vc", "edits": 1 if REVIEW[n % len(REVIEW)] == "edited" else 0,
            "submitter": {"id": 40 + n % 2, "displayName": ["Amina Yusuf", "Juan Pérez"][n % 2]},
            "formVersion": ET.fromstring(xml).attrib.get("version", ""),
            "attachmentsPresent": 1 if has_photo and n % 3 else 0,
            "attachmentsExpected": 1 if has_photo else 0,
        })
    del xform
    return rows


def main() -> None:
    OUT.mkdir(exist_ok=True)
    manifest: list[Any] = []
    water_v1 = xform_of(KOBO / "water_points_v1.xlsx")
    water_v2 = xform_of(KOBO / "water_points_v2.xlsx")
    kobo_ids = {"vUqn6kLgc3XrvbLgSrUAtx": water_v1, "vKq7bYJsW2nWdAy3tRpU3e": water_v2}
    wsubs = json.loads((KOBO / "water_points_submissions.json").read_text(encoding="utf-8"))
    water = central_rows("water_points", water_v2, wsubs, kobo_ids)
    house_x = xform_of(KOBO / "household_v1.xlsx")
    hsubs = json.loads((KOBO / "household_submissions.json").read_text(encoding="utf-8"))
    house = central_rows("household", house_x, hsubs, {"vUqn6kLgc3XrvbLgSrUAtx": house_x})
    jobs = [
        ("water_points.zip", "water_points", water_v2, water, False, True, False),
        ("water_points_split.zip", "water_points", water_v2, water, False, True, True),
        ("water_points.csv", "water_points", water_v2, water, True, True, False),
        ("household.zip", "household", house_x, house, False, True, False),
        ("household_nogroups.zip", "household", house_x, house, False, False, True),
    ]
    for name, form, xform, rows, root_only, group_paths, split in jobs:
        export({"xform": xform, "xmlFormId": form, "out": str(OUT / name), "rootOnly": root_only,
                "groupPaths": group_paths, "splitSelectMultiples": split, "submissions": rows})
        manifest.append({"file": name, "form": form, "rootOnly": root_only,
                         "groupPaths": group_paths, "splitSelectMultiples": split})
    meta = {form: [{k: v for k, v in r.items() if k != "xml"} for r in rows]
            for form, rows in (("water_points", water), ("household", house))}
    (OUT / "manifest.json").write_text(json.dumps({"exports": manifest, "submissions": meta},
                                                  indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


if __name__ == "__main__":
    main()
