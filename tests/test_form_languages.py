"""A form's languages, read from its XForm: names, codes and the default one."""

from __future__ import annotations

from citizendata.forms.languages import FormLanguage, form_languages, split_language
from citizendata.forms.xlsform import parse_xlsform
from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from xlsform_builders import make_xlsform


def test_the_kenya_form_is_in_english_by_default_and_in_swahili() -> None:
    form = parse_xlsform(FORM_PATH.read_bytes(), FORM_PATH.name)
    assert form_languages(form.xform_xml) == [
        FormLanguage("English (en)", "English", "en", default=True),
        FormLanguage("Swahili (sw)", "Swahili", "sw", default=False)]
    assert form_languages(form.xform_xml.encode())[1].to_dict() == {
        "lang": "Swahili (sw)", "name": "Swahili", "code": "sw", "default": False}


def test_a_form_with_plain_labels_has_no_languages_to_choose() -> None:
    plain = make_xlsform([{"type": "select_one yn", "name": "q", "label": "Any cough?"}],
                         [{"list_name": "yn", "name": "yes", "label": "Yes"}],
                         {"form_id": "plain", "version": "1"})
    assert form_languages(parse_xlsform(plain, "plain.xlsx").xform_xml) == []


def test_plain_and_named_labels_together_list_the_unnamed_language_first() -> None:
    mixed = make_xlsform([{"type": "integer", "name": "age", "label": "Age",
                           "label::Kiswahili": "Umri"}], [], {"form_id": "m", "version": "1"})
    langs = form_languages(parse_xlsform(mixed, "m.xlsx").xform_xml)
    assert [(x.name, x.code, x.default) for x in langs] == [
        ("default", None, True), ("Kiswahili", None, False)]


def test_the_default_is_the_marked_one_else_the_first() -> None:
    xml = """<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
      <h:head><model><itext>
        <translation lang="Français (fr)"/><translation lang="Maa" default="true()"/>
        <translation lang="Português (pt-BR)"/>
      </itext><instance><data id="x"/></instance></model></h:head><h:body/></h:html>"""
    assert [(x.name, x.code, x.default) for x in form_languages(xml)] == [
        ("Français", "fr", False), ("Maa", None, True), ("Português", "pt-BR", False)]
    assert form_languages(xml.replace(' default="true()"', ""))[0].default
    assert form_languages("<h:html xmlns:h='http://www.w3.org/1999/xhtml'/>") == []


def test_names_without_a_code_stay_whole() -> None:
    assert split_language("English (en)") == ("English", "en")
    assert split_language("  Swahili   (sw) ") == ("Swahili", "sw")
    assert split_language("Maa") == ("Maa", None)
    assert split_language("Samburu (Loikop)") == ("Samburu (Loikop)", None)
    assert split_language("(sw)") == ("(sw)", None)
