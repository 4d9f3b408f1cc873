"""Each organisation's file in its own layout, and writing the scenario to a folder.

The organisations name their columns in Spanish, each its own way, and write dates
in their own format; coded columns (sex, role, violation, perpetrator) already hold
the case form's choice names under the organisation's column name, so the project
spec's ``ListSpec.columns`` and ``date_format`` are all an import needs. A blank
cell is a value the organisation did not record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from citizendata.scenarios.colombia_press_freedom import ColombiaScenario

__all__ = ["LAYOUTS", "file_frame", "write_files"]

# list -> (file column -> case field, date format of the file's date column)
LAYOUTS: dict[str, tuple[dict[str, str], str]] = {
    "flip": ({"consecutivo": "record_id", "nombres": "victim_given_names",
              "apellidos": "victim_surnames", "sexo": "victim_sex", "edad": "victim_age",
              "rol": "victim_role", "violacion": "violation", "fecha_hecho": "event_date",
              "cod_departamento": "department", "cod_municipio": "municipality",
              "presunto_autor": "perpetrator"}, "%Y-%m-%d"),
    "fiscalia": ({"NOTICIA_CRIMINAL": "record_id", "NOMBRES": "victim_given_names",
                  "APELLIDOS": "victim_surnames", "SEXO_VICTIMA": "victim_sex",
                  "EDAD_VICTIMA": "victim_age", "CALIDAD_VICTIMA": "victim_role",
                  "DELITO": "violation", "FECHA_HECHOS": "event_date", "COD_DPTO": "department",
                  "COD_MPIO": "municipality", "PRESUNTO_RESPONSABLE": "perpetrator"}, "%d/%m/%Y"),
    "defensoria": ({"id_caso": "record_id", "nombres_victima": "victim_given_names",
                    "apellidos_victima": "victim_surnames", "sexo": "victim_sex",
                    "edad": "victim_age", "perfil": "victim_role", "conducta": "violation",
                    "fecha_ocurrencia": "event_date", "divipola_depto": "department",
                    "divipola_mpio": "municipality", "actor": "perpetrator"}, "%Y%m%d"),
    "sindical": ({"Radicado": "record_id", "Nombre": "victim_given_names",
                  "Apellidos": "victim_surnames", "Genero": "victim_sex", "Edad": "victim_age",
                  "Tipo_Victima": "victim_role", "Violacion": "violation",
                  "Fecha": "event_date", "Dpto": "department", "Mpio": "municipality",
                  "Presunto_Autor": "perpetrator"}, "%d-%m-%Y"),
    "medios": ({"id_nota": "record_id", "nombre": "victim_given_names",
                "apellido": "victim_surnames", "sexo": "victim_sex", "edad": "victim_age",
                "ocupacion": "victim_role", "hecho": "violation", "fecha": "event_date",
                "depto": "department", "mpio": "municipality", "autor": "perpetrator"},
               "%Y/%m/%d"),
    "somos": ({"ID": "record_id", "Nombres": "victim_given_names", "Apellidos": "victim_surnames",
               "Género": "victim_sex", "Edad": "victim_age", "Tipo de liderazgo": "victim_role",
               "Tipo de agresión": "violation", "Fecha": "event_date",
               "Código departamento": "department", "Código municipio": "municipality",
               "Presunto responsable": "perpetrator"}, "%m/%d/%Y"),
}


def file_frame(records: pd.DataFrame, name: str) -> pd.DataFrame:
    """List ``name``'s file: its records in its own columns and date format, all text."""
    columns, fmt = LAYOUTS[name]
    recs = records[records["source"] == name]
    out = {}
    for col, field in columns.items():
        if field == "event_date":
            out[col] = pd.to_datetime(recs[field], format="%Y-%m-%d").dt.strftime(fmt)
        elif field == "victim_age":
            out[col] = recs[field].astype("string").fillna("")
        else:
            out[col] = recs[field].astype(str)
    return pd.DataFrame(out).reset_index(drop=True)


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def write_files(data: ColombiaScenario, folder: Path,
                fmt: Literal["csv", "xlsx"] = "csv") -> dict[str, Path]:
    """Write each organisation's file (CSV or XLSX), the truth, the backlog and the spec.

    The files hold the synthetic victims' names as the organisations would; they are
    invented and identify nobody.
    """
    from citizendata.scenarios.colombia_press_freedom.project import spec_dict

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in data.files.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, lineterminator="\n")
        elif fmt == "xlsx":
            frame.to_excel(path, index=False, sheet_name=name)
        else:
            raise ValueError(f"fmt is csv or xlsx, not {fmt!r}")
        paths[f"{name}.{fmt}"] = path
    extra = {"truth.json": _json(data.truth), "project.json": _json(spec_dict()),
             "flip_submissions.json": _json(data.submissions)}
    for fname, text in extra.items():
        paths[fname] = out / fname
        paths[fname].write_text(text, encoding="utf-8")
    paths["backlog.csv"] = out / "backlog.csv"
    data.backlog.to_csv(paths["backlog.csv"], index=False, lineterminator="\n")
    paths["events.csv"] = out / "events.csv"
    ev = data.events.assign(event_date=data.events["event_date"].dt.strftime("%Y-%m-%d"))
    ev.to_csv(paths["events.csv"], index=False, lineterminator="\n")
    paths["records.csv"] = out / "records.csv"
    data.records.to_csv(paths["records.csv"], index=False, lineterminator="\n")
    return paths
