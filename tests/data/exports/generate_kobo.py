"""Make the KoboToolbox export fixtures in tests/data/exports/kobo/ with formpack itself.

Run by hand, never in CI (formpack is not a dependency of citizendata, and is not on the
package index). With formpack importable from a checkout of its public repository
(github.com/kobotoolbox/formpack, GPL-3.0) in a separate virtual environment:

    PYTHONPATH=/path/to/formpack/src /path/to/venv/bin/python tests/data/exports/generate_kobo.py

The script writes, for two synthetic forms (our own content and our own invented
submissions, in the JSON shape KoboToolbox keeps them in):

- the XLSForms (``<form>_v1.xlsx``, ``<form>_v2.xlsx``) that citizendata is given;
- ``<form>_submissions.json``: the submissions the exports were made from (the truth
  the tests compare with);
- the exports, made by formpack's ``FormPack.export(...).to_csv / to_xlsx`` with the
  options KoboToolbox's export dialog offers (XML values or labels in each language,
  ``/`` or ``.`` group separator, ``;`` ``,`` or tab, BOM + CRLF, cp1252, XLSX with one
  sheet per repeat), and the copy fields KoboToolbox adds (``_id``, ``_uuid``,
  ``_submission_time``, ``_validation_status``, ``_notes``, ``_status``,
  ``_submitted_by``, ``__version__``, ``_tags``, ``_index``);
- ``manifest.json``: every export file with the formpack options that made it.

Only the generated outputs are checked in; no formpack code is.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import openpyxl
from formpack import FormPack
from formpack.constants import UNTRANSLATED
from formpack.schema.fields import (
    IdCopyField,
    NotesCopyField,
    SubmissionTimeCopyField,
    TagsCopyField,
    ValidationStatusCopyField,
)

OUT = Path(__file__).resolve().parent / "kobo"
LANGS = ["English (en)", "Français (fr)", "Español (es)"]
# KoboToolbox's internal version ids (what `__version__` holds), not the XLSForm version.
KOBO_IDS = {"2026.1": "vUqn6kLgc3XrvbLgSrUAtx", "2026.2": "vKq7bYJsW2nWdAy3tRpU3e"}
# the copy fields KoboToolbox's export task passes to formpack (kpi, import_export_task)
COPY_FIELDS = (IdCopyField, "_uuid", SubmissionTimeCopyField, ValidationStatusCopyField,
               NotesCopyField, "_status", "_submitted_by", "__version__", TagsCopyField)


def q(type_: str, name: str, *labels: str, **extra: Any) -> dict[str, Any]:
    """One survey row in KoboToolbox's asset content shape (labels per language)."""
    row: dict[str, Any] = {"type": type_, "name": name, "$autoname": name}
    if labels:
        row["label"] = list(labels)
    row.update(extra)
    return row


def c(list_name: str, name: str, *labels: str) -> dict[str, Any]:
    return {"list_name": list_name, "name": name, "label": list(labels)}


def end(kind: str) -> dict[str, Any]:
    return {"type": f"end_{kind}"}


WATER_SURVEY_V1 = [
    q("start", "start"), q("end", "end"),
    q("begin_group", "site", "Site", "Site", "Sitio"),
    q("text", "village", "Village name", "Nom du village", "Nombre de la aldea"),
    q("geopoint", "location", "Location", "Position", "Ubicación"),
    q("select_one", "source_type", "Type of source", "Type de source", "Tipo de fuente",
      select_from_list_name="sources"),
    end("group"),
    q("integer", "households", "Households served", "Ménages desservis", "Hogares atendidos"),
    q("select_multiple", "problems", "Problems seen", "Problèmes constatés", "Problemas observados",
      select_from_list_name="problems"),
    q("image", "photo", "Photo of the water point", "Photo du point d'eau", "Foto del punto de agua"),
]
WATER_SURVEY_V2 = [*WATER_SURVEY_V1,
                   q("text", "comment", "Comment", "Commentaire", "Comentario")]
WATER_CHOICES = [
    c("sources", "borehole", "Borehole", "Forage", "Pozo perforado"),
    c("sources", "well", "Protected well", "Puits protégé", "Pozo protegido"),
    c("sources", "tap", "Public tap", "Borne-fontaine", "Grifo público"),
    c("problems", "leak", "Leak", "Fuite", "Fuga"),
    c("problems", "broken_pump", "Broken pump", "Pompe cassée", "Bomba rota"),
    c("problems", "dirty", "Dirty water", "Eau sale", "Agua sucia"),
]

HOUSEHOLD_SURVEY = [
    q("start", "start"), q("end", "end"),
    q("begin_group", "hh", "Household", "Ménage", "Hogar"),
    q("text", "head", "Head of household", "Chef de ménage", "Jefe de hogar"),
    q("geopoint", "home", "Home location", "Position du logement", "Ubicación de la vivienda"),
    q("begin_repeat", "member", "Member", "Membre", "Miembro"),
    q("text", "name", "Name", "Nom", "Nombre"),
    q("integer", "age", "Age", "Âge", "Edad"),
    q("select_one", "sex", "Sex", "Sexe", "Sexo", select_from_list_name="sex"),
    q("begin_repeat", "illness", "Illness", "Maladie", "Enfermedad"),
    q("text", "illness_name", "Illness name", "Nom de la maladie", "Nombre de la enfermedad"),
    q("integer", "days", "Days ill", "Jours de maladie", "Días de enfermedad"),
    end("repeat"),
    end("repeat"),
    end("group"),
    q("select_one", "water", "Main water source", "Source d'eau principale",
      "Fuente principal de agua", select_from_list_name="sources"),
]
HOUSEHOLD_CHOICES = [
    c("sex", "female", "Female", "Femme", "Mujer"),
    c("sex", "male", "Male", "Homme", "Hombre"),
    *WATER_CHOICES[:3],
]


def kobo_meta(n: int, uuid: str, kobo_id: str, when: str, status: str | None) -> dict[str, Any]:
    """The columns KoboToolbox adds to every stored submission."""
    validation = ({"timestamp": 1772697600, "uid": status, "by_whom": "amina",
                   "label": {"validation_status_approved": "Approved",
                             "validation_status_not_approved": "Not Approved",
                             "validation_status_on_hold": "On Hold"}[status]}
                  if status else {})
    return {"_id": 5100 + n, "_uuid": uuid, "meta/instanceID": f"uuid:{uuid}",
            "formhub/uuid": "3f1c0a9e1b2d4c5e8f7a6b5c4d3e2f10", "__version__": kobo_id,
            "_submission_time": when, "_validation_status": validation, "_notes": [],
            "_status": "submitted_via_web", "_submitted_by": "amina" if n % 2 else None,
            "_tags": ["checked"] if n == 2 else [], "_geolocation": [None, None],
            "_attachments": []}


def water_submissions() -> list[dict[str, Any]]:
    """Six water point visits over two versions, with awkward text and one empty point."""
    v1, v2 = KOBO_IDS["2026.1"], KOBO_IDS["2026.2"]
    rows = [
        ("Kibera; Olympic", "-1.3133 36.7876 1712.4 4.8", "borehole", "120", "leak dirty",
         "kibera_1.jpg", None, v1, "validation_status_approved"),
        ("Mathare \"North\"", "-1.2589 36.8587 1650 10", "tap", "85", "", None, None, v1, None),
        ("Kangemi, Upper", "", "well", "40", "broken_pump", None, None, v1,
         "validation_status_on_hold"),
        ("Ñandutí", "-25.2637 -57.5759 43.2 3.9", "borehole", "007", "dirty leak broken_pump",
         "nanduti.jpg", "Pump handle missing;\nreported to ward office", v2, None),
        ("Saint-Étienne", "45.4397 4.3872 516 5", "tap", "12", "", None, "OK, “clean”", v2,
         "validation_status_not_approved"),
        ("Gikomba", "-1.2833 36.8333 1661.5 7.25", "well", "", "leak", None, "", v2, None),
    ]
    subs = []
    for n, (village, gps, source, hh, problems, photo, comment, kid, status) in enumerate(rows):
        uuid = f"0c1d2e3f-aaaa-4bbb-8ccc-00000000000{n}"
        sub: dict[str, Any] = {
            "start": f"2026-03-0{n + 1}T09:0{n}:00.000+03:00",
            "end": f"2026-03-0{n + 1}T09:1{n}:30.000+03:00",
            "site/village": village, "site/source_type": source,
        }
        if gps:
            sub["site/location"] = gps
            lat, lon, *_ = gps.split()
            geo = [float(lat), float(lon)]
        else:
            geo = [None, None]
        if hh:
            sub["households"] = hh
        if problems:
            sub["problems"] = problems
        if photo:
            sub["photo"] = photo
        if comment is not None:
            sub["comment"] = comment
        sub.update(kobo_meta(n, uuid, kid, f"2026-03-0{n + 1}T07:30:0{n}", status))
        sub["_geolocation"] = geo
        if photo:
            sub["_attachments"] = [{
                "download_url": f"https://kf.kobotoolbox.org/media/original?media_file=amina/"
                                f"attachments/3f1c/{uuid}/{photo}",
                "filename": f"amina/attachments/3f1c/{uuid}/{photo}",
                "mimetype": "image/jpeg", "id": 900 + n, "instance": 5100 + n,
                "xform": 77, "question_xpath": "photo", "media_file_basename": photo}]
        subs.append(sub)
    return subs


def household_submissions() -> list[dict[str, Any]]:
    """Four households with members and their illnesses (nested repeats), one with none."""
    kid = KOBO_IDS["2026.1"]
    people = [
        [("Wanjiru", "34", "female", [("malaria", "4"), ("flu", "2")]), ("Otieno", "36", "male", [])],
        [("Akinyi", "71", "female", [("cough; fever", "10")])],
        [],
        [("José", "8", "male", []), ("María", "9", "female", [("measles", "")]),
         ("Ana \"Nana\"", "", "female", [])],
    ]
    subs = []
    for n, members in enumerate(people):
        uuid = f"7e6d5c4b-bbbb-4ccc-8ddd-00000000000{n}"
        sub: dict[str, Any] = {
            "start": f"2026-04-1{n}T08:00:00.000+03:00", "end": f"2026-04-1{n}T08:40:00.000+03:00",
            "hh/head": members[0][0] if members else "Kamau",
            "hh/home": f"-1.{n}2 36.{n}8 1700 5", "water": ["borehole", "tap", "well", "tap"][n],
        }
        if members:
            sub["hh/member"] = []
            for name, age, sex, illnesses in members:
                m: dict[str, Any] = {"hh/member/name": name, "hh/member/sex": sex}
                if age:
                    m["hh/member/age"] = age
                if illnesses:
                    m["hh/member/illness"] = [
                        {"hh/member/illness/illness_name": i,
                         **({"hh/member/illness/days": d} if d else {})} for i, d in illnesses]
                sub["hh/member"].append(m)
        sub.update(kobo_meta(n, uuid, kid, f"2026-04-1{n}T06:00:00", None))
        subs.append(sub)
    return subs


def content(survey: list[dict[str, Any]], choices: list[dict[str, Any]], form_id: str,
            version: str) -> dict[str, Any]:
    return {"survey": copy.deepcopy(survey), "choices": copy.deepcopy(choices),
            "settings": {"id_string": form_id, "version": version, "default_language": LANGS[0]},
            "translations": LANGS, "translated": ["label"]}


def write_xlsform(path: Path, survey: list[dict[str, Any]], choices: list[dict[str, Any]],
                  form_id: str, version: str) -> None:
    """The same form as an XLSForm, as a person would write it for citizendata."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", *(f"label::{lang}" for lang in LANGS)])
    for row in survey:
        kind = row["type"].replace("_", " ") if row["type"].startswith(("begin", "end")) else row["type"]
        if "select_from_list_name" in row:
            kind = f"{kind} {row['select_from_list_name']}"
        ws.append([kind, row.get("name", ""), *row.get("label", [""] * len(LANGS))])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", *(f"label::{lang}" for lang in LANGS)])
    for row in choices:
        ch.append([row["list_name"], row["name"], *row["label"]])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "default_language"])
    st.append([form_id.replace("_", " ").title(), form_id, version, LANGS[0]])
    wb.save(path)


def pack(form_id: str, versions: list[tuple[str, dict[str, Any]]]) -> FormPack:
    return FormPack([{"version": KOBO_IDS[v], "content": cont} for v, cont in versions],
                    title=form_id, id_string=form_id)


def write_csv(fp: FormPack, subs: list[dict[str, Any]], name: str, manifest: list[Any], *,
              lang: Any = UNTRANSLATED, group_sep: str = "/", sep: str = ";",
              hierarchy_in_labels: bool = False, newline: str = "\n", bom: bool = False,
              encoding: str = "utf-8") -> None:
    export = fp.export(lang=lang, group_sep=group_sep, hierarchy_in_labels=hierarchy_in_labels,
                       versions=fp.versions.keys(), copy_fields=COPY_FIELDS, force_index=True,
                       include_media_url=True)
    text = newline.join(export.to_csv(copy.deepcopy(subs), sep=sep)) + newline
    data = ("\ufeff" if bom else "") + text
    (OUT / name).write_bytes(data.encode(encoding))
    manifest.append({"file": name, "form": fp.id_string, "lang": lang, "group_sep": group_sep,
                     "sep": sep, "hierarchy_in_labels": hierarchy_in_labels,
                     "newline": newline, "bom": bom, "encoding": encoding})


def write_xlsx(fp: FormPack, subs: list[dict[str, Any]], name: str, manifest: list[Any], *,
               lang: Any = UNTRANSLATED, group_sep: str = "/",
               hierarchy_in_labels: bool = False) -> None:
    export = fp.export(lang=lang, group_sep=group_sep, hierarchy_in_labels=hierarchy_in_labels,
                       versions=fp.versions.keys(), copy_fields=COPY_FIELDS, force_index=True,
                       include_media_url=True)
    export.to_xlsx(str(OUT / name), copy.deepcopy(subs))
    manifest.append({"file": name, "form": fp.id_string, "lang": lang, "group_sep": group_sep,
                     "hierarchy_in_labels": hierarchy_in_labels})


def main() -> None:
    OUT.mkdir(exist_ok=True)
    manifest: list[Any] = []
    water = [("2026.1", content(WATER_SURVEY_V1, WATER_CHOICES, "water_points", "2026.1")),
             ("2026.2", content(WATER_SURVEY_V2, WATER_CHOICES, "water_points", "2026.2"))]
    write_xlsform(OUT / "water_points_v1.xlsx", WATER_SURVEY_V1, WATER_CHOICES, "water_points", "2026.1")
    write_xlsform(OUT / "water_points_v2.xlsx", WATER_SURVEY_V2, WATER_CHOICES, "water_points", "2026.2")
    wsubs = water_submissions()
    (OUT / "water_points_submissions.json").write_text(
        json.dumps(wsubs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    fp = pack("water_points", water)
    write_csv(fp, wsubs, "water_xml_semicolon.csv", manifest, hierarchy_in_labels=True)
    write_csv(fp, wsubs, "water_xml_dot_comma.csv", manifest, group_sep=".", sep=",",
              hierarchy_in_labels=True)
    write_csv(fp, wsubs, "water_xml_tab_bom_crlf.csv", manifest, sep="\t", newline="\r\n", bom=True)
    write_csv(fp, wsubs, "water_labels_en.csv", manifest, lang=LANGS[0])
    write_csv(fp, wsubs, "water_labels_en_hierarchy.csv", manifest, lang=LANGS[0],
              hierarchy_in_labels=True)
    write_csv(fp, wsubs, "water_labels_fr_cp1252.csv", manifest, lang=LANGS[1], sep=",",
              newline="\r\n", encoding="cp1252")
    write_csv(fp, wsubs, "water_labels_es_hierarchy_dot.csv", manifest, lang=LANGS[2],
              group_sep=".", hierarchy_in_labels=True)
    write_xlsx(fp, wsubs, "water_xml.xlsx", manifest, hierarchy_in_labels=True)
    write_xlsx(fp, wsubs, "water_labels_fr.xlsx", manifest, lang=LANGS[1])

    house = [("2026.1", content(HOUSEHOLD_SURVEY, HOUSEHOLD_CHOICES, "household", "2026.1"))]
    write_xlsform(OUT / "household_v1.xlsx", HOUSEHOLD_SURVEY, HOUSEHOLD_CHOICES, "household", "2026.1")
    hsubs = household_submissions()
    (OUT / "household_submissions.json").write_text(
        json.dumps(hsubs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    fp = pack("household", house)
    write_xlsx(fp, hsubs, "household_xml.xlsx", manifest, hierarchy_in_labels=True)
    write_xlsx(fp, hsubs, "household_xml_dot.xlsx", manifest, group_sep=".",
               hierarchy_in_labels=True)
    write_xlsx(fp, hsubs, "household_labels_es.xlsx", manifest, lang=LANGS[2])
    write_xlsx(fp, hsubs, "household_labels_en_hierarchy.xlsx", manifest, lang=LANGS[0],
               hierarchy_in_labels=True)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    print(f"wrote {len(manifest)} exports to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
