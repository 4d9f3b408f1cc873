"""The scenario's XLSForm, written deterministically with openpyxl.

The Washington Group Short Set questions keep the Group's English wording, order and
answer categories. The Swahili labels are an illustrative working translation: a
real survey must use a professionally translated and tested version.
"""

from __future__ import annotations

from pathlib import Path

from citizendata.scenarios._kit import stable_xlsx_bytes, xlsform_bytes
from citizendata.scenarios.kenya_maternal_health.geography import COUNTIES, RANCHES, WARDS

__all__ = [
    "FORM_ID",
    "FORM_TITLE",
    "FORM_VERSION",
    "WG_FIELDS",
    "WG_QUESTIONS",
    "build_form",
    "form_bytes",
    "stable_xlsx_bytes",
    "value_paths",
]

FORM_ID = "kenya_maternal_health"
FORM_VERSION = "2026.1"
FORM_TITLE = "Maternal health in pastoralist group ranches"

EN = "label::English (en)"
SW = "label::Swahili (sw)"

# (name, English wording exactly as the Washington Group publishes it, Swahili working translation)
WG_QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("wg_seeing", "Do you have difficulty seeing, even if wearing glasses?",
     "Je, una shida ya kuona, hata ukivaa miwani?"),
    ("wg_hearing", "Do you have difficulty hearing, even if using a hearing aid?",
     "Je, una shida ya kusikia, hata ukitumia kifaa cha kusaidia kusikia?"),
    ("wg_walking", "Do you have difficulty walking or climbing steps?",
     "Je, una shida ya kutembea au kupanda ngazi?"),
    ("wg_cognition", "Do you have difficulty remembering or concentrating?",
     "Je, una shida ya kukumbuka au kuzingatia?"),
    ("wg_selfcare", "Do you have difficulty (with self-care such as) washing all over or dressing?",
     "Je, una shida (ya kujihudumia kama vile) kuoga mwili mzima au kuvaa nguo?"),
    ("wg_communication",
     "Using your usual (customary) language, do you have difficulty communicating, "
     "for example understanding or being understood?",
     "Ukitumia lugha yako ya kawaida, je, una shida ya kuwasiliana, kwa mfano kuelewa "
     "au kueleweka?"),
)
WG_FIELDS: tuple[str, ...] = tuple(q[0] for q in WG_QUESTIONS)

SURVEY_HEADER = (
    "type", "name", EN, SW, "hint::English (en)", "hint::Swahili (sw)", "required", "relevant", "constraint",
    "constraint_message::English (en)", "constraint_message::Swahili (sw)", "choice_filter",
    "repeat_count", "calculation", "appearance",
)
CONSENTED = "${consent} = 'yes'"
_ALIASES = {
    "hint": "hint::English (en)",
    "hint_sw": "hint::Swahili (sw)",
    "msg_en": "constraint_message::English (en)",
    "msg_sw": "constraint_message::Swahili (sw)",
}


def _q(type_: str, name: str, en: str = "", sw: str = "", **kw: str) -> dict[str, str]:
    """One survey row as a column -> value mapping."""
    return {"type": type_, "name": name, EN: en, SW: sw, **{_ALIASES.get(k, k): v for k, v in kw.items()}}


def _survey_rows() -> list[dict[str, str]]:
    """The survey sheet, top to bottom."""
    rows = [
        _q("start", "start"), _q("end", "end"), _q("deviceid", "deviceid"),
        _q("select_one yes_no", "consent",
           "We are asking women in this group ranch about where their recent births took place. "
           "Taking part is voluntary and you may stop at any time. Do you agree to take part?",
           "Tunawauliza wanawake katika ranchi hii kuhusu mahali walipojifungua hivi karibuni. "
           "Kushiriki ni kwa hiari na unaweza kuacha wakati wowote. Je, unakubali kushiriki?",
           required="yes"),
        _q("note", "end_note", "Thank you. The interview ends here.",
           "Asante. Mahojiano yanaishia hapa.", relevant="${consent} = 'no'"),
        _q("begin_group", "location", "Location", "Mahali", relevant=CONSENTED),
        _q("select_one county", "county", "County", "Kaunti", required="yes"),
        _q("select_one ward", "ward", "Ward", "Wadi", required="yes", choice_filter="county = ${county}"),
        _q("select_one ranch", "group_ranch", "Group ranch", "Ranchi ya kikundi", required="yes",
           choice_filter="ward = ${ward}"),
        _q("geopoint", "gps", "Record the location of the household", "Rekodi mahali pa kaya"),
        _q("end_group", "location"),
        _q("begin_group", "respondent", "About you", "Kukuhusu", relevant=CONSENTED),
        _q("integer", "age", "How old are you, in completed years?", "Una umri wa miaka mingapi?",
           constraint=". >= 15 and . <= 49",
           msg_en="Age must be between 15 and 49 years.",
           msg_sw="Umri lazima uwe kati ya miaka 15 na 49."),
        _q("select_one sex", "sex", "What is your sex?", "Jinsia yako ni ipi?",
           hint="As the respondent describes herself or themself; do not assume.",
           hint_sw="Kama mhojiwa anavyojieleza; usikisie."),
        _q("select_one ethnicity", "ethnicity", "Which community do you belong to?",
           "Wewe ni wa jamii gani?",
           hint="Self-identified; read the options only if asked.",
           hint_sw="Kwa kujitambulisha; soma chaguo ikiwa tu ameomba."),
        _q("end_group", "respondent"),
        _q("begin_group", "wg", "Washington Group Short Set", "Maswali ya Washington Group",
           relevant=CONSENTED),
        _q("note", "wg_intro",
           "The next questions ask about difficulties you may have doing certain activities "
           "because of a HEALTH PROBLEM.",
           "Maswali yanayofuata yanauliza kuhusu shida unazoweza kuwa nazo katika kufanya "
           "shughuli fulani kwa sababu ya TATIZO LA AFYA."),
    ]
    rows += [_q("select_one wg_answer", name, en, sw, required="yes") for name, en, sw in WG_QUESTIONS]
    rows += [
        _q("end_group", "wg"),
        _q("integer", "births_count", "How many children have you given birth to in the last two years?",
           "Umejifungua watoto wangapi katika miaka miwili iliyopita?", required="yes",
           relevant=CONSENTED, constraint=". >= 0 and . <= 10",
           msg_en="Enter a number from 0 to 10.",
           msg_sw="Andika nambari kati ya 0 na 10."),
        _q("begin_repeat", "births", "Birth", "Kuzaliwa",
           relevant=f"{CONSENTED} and ${{births_count}} > 0", repeat_count="${births_count}"),
        _q("select_one place", "place", "Where did you give birth?", "Ulijifungulia wapi?",
           required="yes"),
        _q("text", "place_other", "Where else?", "Mahali pengine gani?",
           relevant="${place} = 'other'"),
        _q("select_multiple attendant", "attendants", "Who helped you during the delivery?",
           "Nani alikusaidia wakati wa kujifungua?", required="yes",
           hint="Select everyone who helped.", hint_sw="Chagua kila aliyesaidia.",
           constraint="not(selected(., 'none') and count-selected(.) > 1)",
           msg_en="'No one' cannot be chosen with another answer.",
           msg_sw="'Hakuna' haiwezi kuchaguliwa pamoja na jibu lingine."),
        _q("calculate", "skilled",
           calculation="if(selected(${attendants}, 'doctor') or selected(${attendants}, 'nurse_midwife'), 1, 0)"),
        _q("integer", "travel_minutes",
           "How many minutes does it take to get from your home to the nearest maternity ward?",
           "Inachukua dakika ngapi kutoka nyumbani kwako hadi wodi ya wazazi iliyo karibu zaidi?",
           constraint=". >= 0 and . <= 1440",
           msg_en="Enter minutes from 0 to 1440 (one day).",
           msg_sw="Andika dakika kati ya 0 na 1440."),
        _q("decimal", "distance_km", "How far is it, in kilometres?", "Ni umbali wa kilomita ngapi?",
           constraint=". >= 0 and . <= 300",
           msg_en="Enter kilometres from 0 to 300.",
           msg_sw="Andika kilomita kati ya 0 na 300."),
        _q("select_one child_sex", "child_sex", "Is the child a boy or a girl?",
           "Mtoto ni mvulana au msichana?", required="yes"),
        _q("end_repeat", "births"),
    ]
    return rows


def _choice_rows() -> list[dict[str, str]]:
    """The choices sheet: list_name, name, labels and filter columns."""
    def c(list_name: str, name: str, en: str, sw: str, **extra: str) -> dict[str, str]:
        return {"list_name": list_name, "name": name, EN: en, SW: sw, **extra}

    rows = [c("yes_no", "yes", "Yes", "Ndiyo"), c("yes_no", "no", "No", "Hapana")]
    rows += [c("county", k, v, v) for k, v in COUNTIES.items()]
    rows += [c("ward", w.name, w.label, w.label, county=w.county) for w in WARDS]
    rows += [c("ranch", r.name, r.label, r.label, ward=r.ward) for r in RANCHES]
    rows += [
        c("sex", "female", "Female", "Mwanamke"), c("sex", "male", "Male", "Mwanamume"),
        c("sex", "intersex", "Intersex", "Jinsia mbili"),
        c("sex", "prefer_not_to_say", "Prefer not to say", "Sipendi kusema"),
        c("ethnicity", "maasai", "Maasai", "Mmaasai"), c("ethnicity", "samburu", "Samburu", "Msamburu"),
        c("ethnicity", "turkana", "Turkana", "Mturkana"), c("ethnicity", "rendille", "Rendille", "Mrendille"),
        c("ethnicity", "other_indigenous", "Other indigenous community", "Jamii nyingine ya asili"),
        c("ethnicity", "not_indigenous", "Not indigenous", "Si wa jamii ya asili"),
        c("ethnicity", "prefer_not_to_say", "Prefer not to say", "Sipendi kusema"),
        c("wg_answer", "1", "No - no difficulty", "Hapana - sina shida"),
        c("wg_answer", "2", "Yes - some difficulty", "Ndiyo - shida kiasi"),
        c("wg_answer", "3", "Yes - a lot of difficulty", "Ndiyo - shida kubwa"),
        c("wg_answer", "4", "Cannot do at all", "Siwezi kabisa"),
        c("wg_answer", "7", "Don't know", "Sijui"),
        c("wg_answer", "9", "Refused", "Amekataa kujibu"),
        c("place", "home", "Home", "Nyumbani"),
        c("place", "facility_public", "Health facility - public", "Kituo cha afya - cha umma"),
        c("place", "facility_private", "Health facility - private", "Kituo cha afya - cha binafsi"),
        c("place", "on_the_way", "On the way", "Njiani"),
        c("place", "other", "Other", "Pengine"),
        c("attendant", "doctor", "Doctor", "Daktari"),
        c("attendant", "nurse_midwife", "Nurse / midwife", "Muuguzi / mkunga"),
        c("attendant", "tba", "Traditional birth attendant", "Mkunga wa jadi"),
        c("attendant", "relative_friend", "Relative / friend", "Jamaa / rafiki"),
        c("attendant", "none", "No one", "Hakuna"),
        c("attendant", "other", "Other", "Mwingine"),
        c("child_sex", "female", "Girl", "Msichana"), c("child_sex", "male", "Boy", "Mvulana"),
    ]
    return rows


def form_bytes() -> bytes:
    """The XLSForm file's bytes (identical on every run)."""
    return xlsform_bytes(
        SURVEY_HEADER, _survey_rows(), ("list_name", "name", EN, SW, "county", "ward"),
        _choice_rows(),
        {"form_id": FORM_ID, "version": FORM_VERSION, "form_title": FORM_TITLE,
         "default_language": "English (en)", "instance_name": "concat(${ward}, '-', ${start})"})


def build_form(path: Path) -> None:
    """Write the scenario's XLSForm to ``path``."""
    Path(path).write_bytes(form_bytes())


def value_paths() -> tuple[list[str], list[str]]:
    """Paths of the value-holding fields, in form order: main table and ``births`` repeat.

    Notes are left out (they hold no value); meta/instanceID and meta/instanceName,
    which pyxform adds, close the main list.
    """
    main: list[str] = []
    repeat: list[str] = []
    stack: list[str] = []
    in_repeat = False
    for r in _survey_rows():
        t, name = r["type"], r["name"]
        if t in ("begin_group", "begin_repeat"):
            stack.append(name)
            in_repeat = in_repeat or t == "begin_repeat"
        elif t in ("end_group", "end_repeat"):
            stack.pop()
            in_repeat = in_repeat and t != "end_repeat"
        elif t != "note":
            path = "/".join([*stack, name])
            (repeat if in_repeat else main).append(path)
    return [*main, "meta/instanceID", "meta/instanceName"], repeat
