"""The scenario's XLSForm, written deterministically with openpyxl.

Spanish is the default language and English the second. The Washington Group Short
Set keeps the Group's English wording, order and answer codes; the Spanish labels
are an illustrative working translation: a real survey must use the Group's
published Spanish version. The gender identity and sexual orientation categories
are modelled on the groupings INEGI published from ENDISEG 2021 (cisgender, trans,
non-binary and other identities; lesbian, gay, bisexual and other orientations such
as pansexual and asexual) but are this scenario's own list, not ENDISEG's
questionnaire.

Fields that must never leave the system carry ``personal: yes`` (the meeting place's
GPS point, the free-text account, the name and the phone number); ``deviceid`` is
personal by citizendata's defaults.
"""

from __future__ import annotations

from pathlib import Path

from citizendata.scenarios._kit import xlsform_bytes
from citizendata.scenarios.mexico_lgbtiq.geography import MUNICIPALITIES, STATES

__all__ = [
    "CONSENT_SCOPES",
    "CONTEXTS",
    "FORM_ID",
    "FORM_TITLE",
    "FORM_VERSION",
    "GENDER_IDENTITIES",
    "GROUNDS",
    "ORIENTATIONS",
    "PERSONAL_FIELDS",
    "SEXES",
    "WG_FIELDS",
    "WG_QUESTIONS",
    "build_form",
    "form_bytes",
]

FORM_ID = "mexico_lgbtiq"
FORM_VERSION = "2026.1"
FORM_TITLE = "Discriminación vivida por personas LGBTIQ+"

ES = "label::Español (es)"
EN = "label::English (en)"
_ALIASES = {
    "hint_es": "hint::Español (es)",
    "hint_en": "hint::English (en)",
    "msg_es": "constraint_message::Español (es)",
    "msg_en": "constraint_message::English (en)",
}
SURVEY_HEADER = (
    "type", "name", ES, EN, "hint::Español (es)", "hint::English (en)", "required", "relevant",
    "constraint", "constraint_message::Español (es)", "constraint_message::English (en)",
    "choice_filter", "appearance", "personal",
)
CONSENTED = "${consent} = 'yes'"
DISCRIMINATED = "${discriminated} = 'yes'"

# (name, English wording exactly as the Washington Group publishes it, Spanish working translation)
WG_QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("wg_seeing", "Do you have difficulty seeing, even if wearing glasses?",
     "¿Tiene dificultad para ver, aun si usa lentes?"),
    ("wg_hearing", "Do you have difficulty hearing, even if using a hearing aid?",
     "¿Tiene dificultad para oír, aun si usa aparato auditivo?"),
    ("wg_walking", "Do you have difficulty walking or climbing steps?",
     "¿Tiene dificultad para caminar o subir escalones?"),
    ("wg_cognition", "Do you have difficulty remembering or concentrating?",
     "¿Tiene dificultad para recordar o concentrarse?"),
    ("wg_selfcare", "Do you have difficulty (with self-care such as) washing all over or dressing?",
     "¿Tiene dificultad (con su cuidado personal, como) para bañarse o vestirse?"),
    ("wg_communication",
     "Using your usual (customary) language, do you have difficulty communicating, "
     "for example understanding or being understood?",
     "Usando su lenguaje habitual, ¿tiene dificultad para comunicarse, por ejemplo, para "
     "entender a otras personas o para que le entiendan?"),
)
WG_FIELDS: tuple[str, ...] = tuple(q[0] for q in WG_QUESTIONS)

# choice name -> (Spanish, English)
CONSENT_SCOPES: dict[str, tuple[str, str]] = {
    "analysis": ("Que la red analice mis respuestas", "My answers may be used for the network's analysis"),
    "publication": ("Que se publiquen en cifras agregadas", "They may be published in aggregate"),
    "nso_sharing": ("Que se compartan con el INEGI (la oficina nacional de estadística)",
                    "They may be shared with INEGI (the national statistical office)"),
}
SEXES: dict[str, tuple[str, str]] = {
    "female": ("Mujer", "Female"),
    "male": ("Hombre", "Male"),
    "intersex": ("Intersexual", "Intersex"),
    "prefer_not_to_say": ("Prefiero no decir", "Prefer not to say"),
}
GENDER_IDENTITIES: dict[str, tuple[str, str]] = {
    "woman": ("Mujer", "Woman"),
    "man": ("Hombre", "Man"),
    "trans_woman": ("Mujer trans", "Trans woman"),
    "trans_man": ("Hombre trans", "Trans man"),
    "non_binary": ("Persona no binaria", "Non-binary"),
    "other": ("Otra identidad (género fluido, agénero, ...)", "Another identity (genderfluid, agender, ...)"),
    "prefer_not_to_say": ("Prefiero no decir", "Prefer not to say"),
}
ORIENTATIONS: dict[str, tuple[str, str]] = {
    "lesbian": ("Lesbiana", "Lesbian"),
    "gay": ("Gay u homosexual", "Gay or homosexual"),
    "bisexual": ("Bisexual", "Bisexual"),
    "pansexual": ("Pansexual", "Pansexual"),
    "asexual": ("Asexual", "Asexual"),
    "heterosexual": ("Heterosexual", "Heterosexual"),
    "other": ("Otra orientación", "Another orientation"),
    "prefer_not_to_say": ("Prefiero no decir", "Prefer not to say"),
}
GROUNDS: dict[str, tuple[str, str]] = {
    "sexual_orientation": ("Orientación sexual", "Sexual orientation"),
    "gender_identity": ("Identidad o expresión de género", "Gender identity or expression"),
    "sex_characteristics": ("Características sexuales (intersexualidad)",
                            "Sex characteristics (intersex)"),
    "ethnicity": ("Origen étnico o ser indígena", "Ethnicity or being indigenous"),
    "disability": ("Discapacidad", "Disability"),
    "age": ("Edad", "Age"),
    "other": ("Otro motivo", "Another ground"),
}
CONTEXTS: dict[str, tuple[str, str]] = {
    "work": ("En el trabajo", "At work"),
    "school": ("En la escuela", "At school"),
    "health": ("En servicios de salud", "In health services"),
    "public_space": ("En la calle o espacios públicos", "In the street or public spaces"),
    "police": ("Con la policía", "With the police"),
    "family": ("En la familia", "In the family"),
    "online": ("En internet o redes sociales", "Online or on social media"),
}
PERSONAL_FIELDS: tuple[str, ...] = (
    "place/gps", "experience/narrative", "contact/contact_name", "contact/contact_phone")


def _q(type_: str, name: str, es: str = "", en: str = "", **kw: str) -> dict[str, str]:
    """One survey row as a column -> value mapping."""
    return {"type": type_, "name": name, ES: es, EN: en, **{_ALIASES.get(k, k): v for k, v in kw.items()}}


def _survey_rows() -> list[dict[str, str]]:
    """The survey sheet, top to bottom."""
    rows = [
        _q("start", "start"), _q("end", "end"), _q("deviceid", "deviceid"),
        _q("select_one yes_no", "consent",
           "La red está preguntando a personas LGBTIQ+ sobre la discriminación que han vivido. "
           "Participar es voluntario, anónimo y puede detenerse en cualquier momento. "
           "¿Acepta participar?",
           "The network is asking LGBTIQ+ people about the discrimination they have experienced. "
           "Taking part is voluntary and anonymous, and you may stop at any time. "
           "Do you agree to take part?", required="yes"),
        _q("select_multiple consent_scope", "consent_scope",
           "¿Para qué podemos usar sus respuestas? Marque todo lo que acepta.",
           "What may we use your answers for? Tick everything you agree to.",
           required="yes", relevant=CONSENTED,
           hint_es="Nunca se publicará ni compartirá nada que permita identificarle.",
           hint_en="Nothing that could identify you will ever be published or shared."),
        _q("note", "end_note", "Gracias. La entrevista termina aquí.",
           "Thank you. The interview ends here.", relevant="${consent} = 'no'"),
        _q("begin_group", "place", "Lugar", "Place", relevant=CONSENTED),
        _q("select_one state", "state", "¿En qué entidad federativa vive?", "Which state do you live in?",
           required="yes"),
        _q("select_one municipality", "municipality", "¿En qué municipio o alcaldía vive?",
           "Which municipality (alcaldía) do you live in?", required="yes",
           choice_filter="state = ${state}"),
        _q("geopoint", "gps", "Registre el lugar de la reunión (opcional)",
           "Record the meeting place (optional)",
           hint_es="El lugar donde se hace la entrevista, nunca el domicilio.",
           hint_en="Where the interview takes place, never the home.", personal="yes"),
        _q("end_group", "place"),
        _q("begin_group", "respondent", "Sobre usted", "About you", relevant=CONSENTED),
        _q("integer", "age", "¿Cuántos años cumplidos tiene?", "How old are you, in completed years?",
           constraint=". >= 18 and . <= 99",
           msg_es="La encuesta es para personas de 18 a 99 años.",
           msg_en="The survey is for people aged 18 to 99."),
        _q("select_one sex", "sex_at_birth", "¿Cuál fue su sexo al nacer?", "What was your sex at birth?",
           required="yes", hint_es="Como usted lo describe.", hint_en="As you describe it."),
        _q("select_one gender_identity", "gender_identity", "¿Cómo se identifica usted?",
           "How do you identify?", required="yes",
           hint_es="Su identidad de género, como usted la define.",
           hint_en="Your gender identity, as you define it."),
        _q("select_one orientation", "sexual_orientation", "¿Cuál es su orientación sexual?",
           "What is your sexual orientation?", required="yes"),
        _q("select_one yes_no", "indigenous", "¿Se considera usted indígena?",
           "Do you consider yourself indigenous?", required="yes"),
        _q("end_group", "respondent"),
        _q("begin_group", "wg", "Preguntas del Grupo de Washington", "Washington Group Short Set",
           relevant=CONSENTED),
        _q("note", "wg_intro",
           "Las siguientes preguntas son sobre dificultades que usted podría tener para hacer "
           "ciertas actividades debido a un PROBLEMA DE SALUD.",
           "The next questions ask about difficulties you may have doing certain activities "
           "because of a HEALTH PROBLEM."),
    ]
    rows += [_q("select_one wg_answer", name, es, en, required="yes") for name, en, es in WG_QUESTIONS]
    rows += [
        _q("end_group", "wg"),
        _q("begin_group", "experience", "Experiencias de discriminación", "Experiences of discrimination",
           relevant=CONSENTED),
        _q("select_one yes_no_pns", "discriminated",
           "En los últimos 12 meses, ¿se ha sentido personalmente discriminada/o/e o acosada/o/e?",
           "In the last 12 months, have you personally felt discriminated against or harassed?",
           required="yes"),
        _q("select_multiple ground", "grounds", "¿Por qué motivo o motivos? Marque todos.",
           "On which ground or grounds? Tick all.", required="yes", relevant=DISCRIMINATED),
        _q("select_multiple context", "contexts", "¿Dónde ocurrió? Marque todos los lugares.",
           "Where did it happen? Tick every place.", required="yes", relevant=DISCRIMINATED),
        _q("select_one yes_no_pns", "reported", "¿Lo denunció ante alguna autoridad?",
           "Did you report it to an authority?", required="yes", relevant=DISCRIMINATED),
        _q("text", "narrative", "Si quiere, cuéntenos lo que pasó (opcional).",
           "If you wish, tell us what happened (optional).", relevant=DISCRIMINATED,
           appearance="multiline", personal="yes"),
        _q("end_group", "experience"),
        _q("begin_group", "contact", "Seguimiento", "Follow-up", relevant=CONSENTED),
        _q("select_one yes_no", "followup", "¿Quiere que la red le contacte para acompañamiento?",
           "Would you like the network to contact you for support?", required="yes"),
        _q("text", "contact_name", "¿Cómo quiere que le llamemos?", "What name should we use?",
           relevant="${followup} = 'yes'", personal="yes"),
        _q("text", "contact_phone", "Teléfono o WhatsApp", "Phone or WhatsApp",
           relevant="${followup} = 'yes'", appearance="numbers", personal="yes",
           constraint="regex(., '^[0-9 +]{8,16}$')",
           msg_es="Escriba solo números, espacios o +.", msg_en="Use digits, spaces or + only."),
        _q("end_group", "contact"),
    ]
    return rows


def _choice_rows() -> list[dict[str, str]]:
    """The choices sheet: list_name, name, labels and the state filter column."""
    def c(list_name: str, name: str, es: str, en: str, **extra: str) -> dict[str, str]:
        return {"list_name": list_name, "name": name, ES: es, EN: en, **extra}

    def lst(list_name: str, items: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
        return [c(list_name, k, es, en) for k, (es, en) in items.items()]

    rows = [c("yes_no", "yes", "Sí", "Yes"), c("yes_no", "no", "No", "No"),
            c("yes_no_pns", "yes", "Sí", "Yes"), c("yes_no_pns", "no", "No", "No"),
            c("yes_no_pns", "prefer_not_to_say", "Prefiero no decir", "Prefer not to say")]
    rows += lst("consent_scope", CONSENT_SCOPES)
    rows += [c("state", k, v, v) for k, v in STATES.items()]
    rows += [c("municipality", m.code, m.label, m.label, state=m.state) for m in MUNICIPALITIES]
    rows += lst("sex", SEXES) + lst("gender_identity", GENDER_IDENTITIES) + lst("orientation", ORIENTATIONS)
    rows += [
        c("wg_answer", "1", "No, ninguna dificultad", "No - no difficulty"),
        c("wg_answer", "2", "Sí, alguna dificultad", "Yes - some difficulty"),
        c("wg_answer", "3", "Sí, mucha dificultad", "Yes - a lot of difficulty"),
        c("wg_answer", "4", "No puede hacerlo en absoluto", "Cannot do at all"),
        c("wg_answer", "7", "No sabe", "Don't know"),
        c("wg_answer", "9", "No responde", "Refused"),
    ]
    rows += lst("ground", GROUNDS) + lst("context", CONTEXTS)
    return rows


def form_bytes() -> bytes:
    """The XLSForm file's bytes (identical on every run)."""
    # the instance name holds no answer: a state and a time say nothing about a person
    return xlsform_bytes(
        SURVEY_HEADER, _survey_rows(), ("list_name", "name", ES, EN, "state"), _choice_rows(),
        {"form_id": FORM_ID, "version": FORM_VERSION, "form_title": FORM_TITLE,
         "default_language": "Español (es)", "instance_name": "concat(${state}, '-', ${start})"})


def build_form(path: Path) -> None:
    """Write the scenario's XLSForm to ``path``."""
    Path(path).write_bytes(form_bytes())
