"""The case form: FLIP's intake of an attack, as an XLSForm written with openpyxl.

Every source record is a submission of this form: FLIP's own reports arrive through
it, and the other organisations' files are imported into it (``source`` names the
list). The fields are the case fields of ``citizendata.projects.cases.CaseFields``
plus what a press-freedom intake asks: how the report reached the organisation,
the outlet, whether the act is tied to the victim's work, the evidence and the
number of independent sources consulted, and a description. Spanish is the default
language, English the second. The victim's names, the outlet and the description
carry ``personal: yes`` (never leave the system); ``record_id`` is free text but
not personal (``personal: no``); ``deviceid`` is personal by citizendata's defaults.
The ``violation`` choices include two that are not 16.10.1 acts (``threat``,
``other_attack``) and ``victim_role`` has ``other``: FLIP's intake takes every
report, verification decides what is a case.
"""

from __future__ import annotations

from pathlib import Path

from citizendata.scenarios._kit import xlsform_bytes
from citizendata.scenarios.colombia_press_freedom.geography import DEPARTMENTS, MUNICIPALITIES

__all__ = ["CHANNELS", "EVIDENCE", "FORM_ID", "FORM_TITLE", "FORM_VERSION", "LIST_LABELS",
           "PERPETRATOR_LABELS", "PERSONAL_FIELDS", "ROLE_LABELS", "SEX_LABELS",
           "VIOLATION_LABELS", "build_form", "form_bytes"]

FORM_ID = "colombia_press_freedom"
FORM_VERSION = "2026.1"
FORM_TITLE = "Registro de agresiones a periodistas, sindicalistas y personas defensoras"

ES = "label::Español (es)"
EN = "label::English (en)"
SURVEY_HEADER = ("type", "name", ES, EN, "hint::Español (es)", "hint::English (en)", "required",
                 "relevant", "constraint", "constraint_message::Español (es)",
                 "constraint_message::English (en)", "choice_filter", "appearance", "default",
                 "personal")
_ALIASES = {"hint_es": "hint::Español (es)", "hint_en": "hint::English (en)",
            "msg_es": "constraint_message::Español (es)",
            "msg_en": "constraint_message::English (en)"}

# choice name -> (Spanish, English)
LIST_LABELS: dict[str, tuple[str, str]] = {
    "flip": ("FLIP (reporte propio)", "FLIP (own report)"),
    "fiscalia": ("Fiscalía General de la Nación", "Attorney General's Office (Fiscalía)"),
    "defensoria": ("Defensoría del Pueblo", "Ombudsman's Office (Defensoría)"),
    "sindical": ("Departamento de derechos humanos sindical", "Unions' human-rights department"),
    "medios": ("Monitoreo de medios", "Media monitor"),
    "somos": ("Programa de protección de personas defensoras", "HRD protection NGO"),
}
SEX_LABELS: dict[str, tuple[str, str]] = {
    "female": ("Mujer", "Female"), "male": ("Hombre", "Male"),
    "unknown": ("Sin información", "Unknown"),
}
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "journalist": ("Periodista", "Journalist"),
    "media_worker": ("Trabajador/a de medios (camarógrafo, fotógrafo, técnico...)",
                     "Media worker (camera, photo, technical staff...)"),
    "trade_unionist": ("Sindicalista", "Trade unionist"),
    "hr_defender": ("Persona defensora de derechos humanos o líder social",
                    "Human-rights defender or social leader"),
    "other": ("Otra (labor no relacionada)", "Other (work not related)"),
}
VIOLATION_LABELS: dict[str, tuple[str, str]] = {
    "killing": ("Homicidio", "Killing"),
    "kidnapping": ("Secuestro", "Kidnapping"),
    "enforced_disappearance": ("Desaparición forzada", "Enforced disappearance"),
    "arbitrary_detention": ("Detención arbitraria", "Arbitrary detention"),
    "torture": ("Tortura", "Torture"),
    "threat": ("Amenaza", "Threat"),
    "other_attack": ("Otra agresión (obstrucción, estigmatización...)",
                     "Other attack (obstruction, stigmatisation...)"),
}
PERPETRATOR_LABELS: dict[str, tuple[str, str]] = {
    "state_agent": ("Agente del Estado", "State agent"),
    "armed_group": ("Grupo armado ilegal", "Illegal armed group"),
    "criminal_group": ("Grupo criminal", "Criminal group"),
    "private": ("Particular", "Private individual"),
    "unknown": ("Desconocido", "Unknown"),
}
CHANNELS: dict[str, tuple[str, str]] = {
    "victim": ("La víctima o su familia", "The victim or the family"),
    "colleague": ("Colegas o el medio", "Colleagues or the outlet"),
    "correspondent": ("Red de corresponsales de la FLIP", "FLIP's correspondents' network"),
    "media": ("Publicación en medios", "Media report"),
    "authority": ("Una autoridad", "An authority"),
    "organisation": ("Otra organización", "Another organisation"),
}
EVIDENCE: dict[str, tuple[str, str]] = {
    "victim_testimony": ("Testimonio de la víctima", "Victim's testimony"),
    "family_testimony": ("Testimonio de familiares", "Family's testimony"),
    "witness": ("Testigos", "Witnesses"),
    "media_reports": ("Notas de prensa", "Media reports"),
    "official_documents": ("Documentos oficiales (denuncia, acta, necropsia)",
                           "Official documents (complaint, record, autopsy)"),
    "photo_video": ("Fotografías o video", "Photos or video"),
    "organisation": ("Información de otra organización", "Another organisation's information"),
}
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    "radio": ("Radio", "Radio"), "tv": ("Televisión", "Television"),
    "print": ("Prensa escrita", "Print"), "digital": ("Medio digital", "Digital outlet"),
    "community": ("Medio comunitario", "Community media"),
}
PERSONAL_FIELDS: tuple[str, ...] = ("victim_given_names", "victim_surnames", "media_outlet",
                                    "description")
_PRESS = "${victim_role} = 'journalist' or ${victim_role} = 'media_worker'"


def _q(type_: str, name: str, es: str = "", en: str = "", **kw: str) -> dict[str, str]:
    """One survey row as a column -> value mapping."""
    return {"type": type_, "name": name, ES: es, EN: en,
            **{_ALIASES.get(k, k): v for k, v in kw.items()}}


def _survey_rows() -> list[dict[str, str]]:
    """The survey sheet, top to bottom (flat: the case fields are top-level names)."""
    return [
        _q("start", "start"), _q("end", "end"), _q("deviceid", "deviceid"),
        _q("select_one list", "source", "Fuente del registro", "Source of the record",
           required="yes", default="flip"),
        _q("text", "record_id", "Número del caso en la fuente", "The source's case number",
           required="yes", personal="no"),
        _q("select_one channel", "report_channel", "¿Cómo llegó el reporte?",
           "How did the report reach us?", relevant="${source} = 'flip'"),
        _q("text", "victim_given_names", "Nombres de la víctima", "Victim's given names",
           required="yes", personal="yes"),
        _q("text", "victim_surnames", "Apellidos de la víctima", "Victim's surnames",
           hint_es="Los dos apellidos, como aparecen en el documento.",
           hint_en="Both surnames, as on the identity document.", personal="yes"),
        _q("select_one sex", "victim_sex", "Sexo", "Sex"),
        _q("integer", "victim_age", "Edad", "Age", constraint=". >= 12 and . <= 100",
           msg_es="La edad va de 12 a 100 años.", msg_en="Age is from 12 to 100."),
        _q("select_one role", "victim_role", "Labor de la víctima", "The victim's work",
           required="yes"),
        _q("text", "media_outlet", "Medio para el que trabaja", "Outlet the victim works for",
           relevant=_PRESS, personal="yes"),
        _q("select_one media_type", "media_type", "Tipo de medio", "Type of outlet",
           relevant=_PRESS),
        _q("select_one violation", "violation", "Hecho", "Act", required="yes"),
        _q("date", "event_date", "Fecha del hecho", "Date of the act", required="yes",
           constraint=". >= date('2016-01-01') and . <= today()",
           msg_es="Entre el 1 de enero de 2016 y hoy.", msg_en="Between 1 January 2016 and today."),
        _q("select_one department", "department", "Departamento", "Department", required="yes"),
        _q("select_one municipality", "municipality", "Municipio", "Municipality",
           choice_filter="department = ${department}"),
        _q("select_one perpetrator", "perpetrator", "Presunto responsable", "Alleged perpetrator"),
        _q("select_one yes_no_unknown", "linked_to_work",
           "¿El hecho está relacionado con su labor (periodística, sindical o de defensa)?",
           "Is the act related to the victim's work (journalism, union or defence)?",
           required="yes"),
        _q("select_multiple evidence", "evidence", "Evidencia y fuentes consultadas",
           "Evidence and sources consulted", required="yes"),
        _q("integer", "independent_sources", "Número de fuentes independientes que confirman",
           "Number of independent sources that confirm it", constraint=". >= 0 and . <= 20",
           msg_es="Entre 0 y 20.", msg_en="Between 0 and 20."),
        _q("text", "description", "Descripción del hecho", "Description of the act",
           appearance="multiline", personal="yes"),
    ]


def _choice_rows() -> list[dict[str, str]]:
    """The choices sheet; municipalities carry their department for the filter."""
    def lst(list_name: str, items: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
        return [{"list_name": list_name, "name": k, ES: es, EN: en} for k, (es, en) in items.items()]

    rows = lst("list", LIST_LABELS) + lst("channel", CHANNELS) + lst("sex", SEX_LABELS)
    rows += lst("role", ROLE_LABELS) + lst("media_type", MEDIA_TYPES)
    rows += lst("violation", VIOLATION_LABELS)
    rows += [{"list_name": "department", "name": d.code, ES: d.name, EN: d.name}
             for d in DEPARTMENTS]
    rows += [{"list_name": "municipality", "name": m.code, ES: m.name, EN: m.name,
              "department": m.department} for m in MUNICIPALITIES]
    rows += lst("perpetrator", PERPETRATOR_LABELS)
    rows += lst("yes_no_unknown", {"yes": ("Sí", "Yes"), "no": ("No", "No"),
                                   "unknown": ("No se sabe todavía", "Not known yet")})
    rows += lst("evidence", EVIDENCE)
    return rows


def form_bytes() -> bytes:
    """The XLSForm file's bytes (identical on every run)."""
    # the instance name holds no name: the act and its date say nothing about who
    return xlsform_bytes(
        SURVEY_HEADER, _survey_rows(), ("list_name", "name", ES, EN, "department"),
        _choice_rows(),
        {"form_id": FORM_ID, "version": FORM_VERSION, "form_title": FORM_TITLE,
         "default_language": "Español (es)",
         "instance_name": "concat(${source}, '-', ${record_id})"})


def build_form(path: Path) -> None:
    """Write the case form to ``path``."""
    Path(path).write_bytes(form_bytes())
