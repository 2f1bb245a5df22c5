"""Body templates: context-aware escaping, jinja features, and errors that name the spot."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from cctui.errors import TemplateError
from cctui.macros import Macro, render_request
from cctui.macros.templating import compile_body

from .conftest import NASTY, make_record


def render(body: str, fmt: str = "json", **fields) -> str:
    macro = Macro.from_dict({"name": "t", "url": "https://example.test/hook", "body": body,
                             "format": fmt})
    return render_request(macro, make_record(**fields)).body


@pytest.mark.parametrize("value", NASTY)
def test_string_and_value_tags_round_trip_nasty_text(value):
    body = render('{"in": "((title))", "as": ((title)), "mix": "<((title))>"}', title=value)
    data = json.loads(body)
    assert data == {"in": value, "as": value, "mix": f"<{value}>"}


def test_script_close_and_line_separators_are_escaped_in_the_text():
    body = render('{"t": "((title))"}', title="</script>\u2028")
    assert "</" not in body and "\u2028" not in body
    assert json.loads(body)["t"] == "</script>\u2028"


def test_value_position_keeps_json_types():
    body = render('{"votes": ((votes)), "none": ((nothing)), "yes": ((flag)), "t": ((title))}',
                  votes=7, nothing=None, flag=True, title="7")
    assert json.loads(body) == {"votes": 7, "none": None, "yes": True, "t": "7"}


def test_string_position_writes_none_as_empty_and_booleans_as_json_words():
    body = render('{"a": "[((nothing))]", "b": "((flag))", "c": "((votes))"}',
                  nothing=None, flag=False, votes=12)
    assert json.loads(body) == {"a": "[]", "b": "false", "c": "12"}


def test_filters_and_expressions_work_inside_tags():
    body = render('{"u": "((title|upper))", "t": "((title|truncate(10)))", "n": ((votes + 1)),'
                  ' "s": "((title|replace(")", "]")))"}', title="crash (on save) now", votes=4)
    data = json.loads(body)
    assert data == {"u": "CRASH (ON SAVE) NOW", "t": "crash...", "n": 5, "s": "crash (on save] now"}


def test_truncate_never_exceeds_the_length_asked_for():
    data = json.loads(render('{"t": "((title|truncate(150)))", "k": "((title|truncate(150, true)))"}',
                             title="word " * 100))
    assert 140 <= len(data["t"]) <= 150 and data["t"].endswith("...")
    assert len(data["k"]) == 150


def test_blocks_work_for_conditions_and_loops():
    body = render(
        '{"sev": "{% if severity == "High" %}HIGH{% else %}other{% endif %}", '
        '"tags": [{% for t in tags %}"((t))"{% if not loop.last %}, {% endif %}{% endfor %}]}',
        tags=["a", 'b"c', "d\\"],
    )
    assert json.loads(body) == {"sev": "HIGH", "tags": ["a", 'b"c', "d\\"]}


def test_literal_jinja_delimiters_are_left_alone():
    body = render('{"css": "{{ color }} {# note #} }}"}')
    assert json.loads(body) == {"css": "{{ color }} {# note #} }}"}


def test_tojson_inserts_an_object_in_value_position_and_a_string_in_a_string():
    body = render('{"r": ((record|tojson)), "s": "((record|tojson))"}', title="a</b")
    data = json.loads(body)
    assert data["r"]["title"] == "a</b"
    assert json.loads(data["s"])["title"] == "a</b"


def test_submitter_exposes_user_fields_and_prints_as_its_id():
    class Users:
        schema = None

        def user_get(self, user_id):
            return {"id": user_id, "name": "Ada \"Lovelace\"", "email": "ada@example.org"}

    macro = Macro.from_dict({"name": "t", "url": "https://e.test", "body":
                             '{"s": "((submitter))", "n": "((submitter.name))", '
                             '"u": "((submitter|upper))", "e": ((submitter.email))}'})
    data = json.loads(render_request(macro, make_record(), store=Users()).body)
    assert data == {"s": "USR-0001", "n": 'Ada "Lovelace"', "u": "USR-0001", "e": "ada@example.org"}


def test_url_and_now_are_computed(monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", "2026-11-28T22:15:00Z")
    macro = Macro.from_dict({"name": "t", "url": "https://e.test", "body": '{"u": "((url))", "n": "((now))"}'})
    data = json.loads(render_request(macro, make_record(7), config={"base_url": "https://fb.example/i/"}).body)
    assert data == {"u": "https://fb.example/i/BUG-0007", "n": "2026-11-28T22:15:00Z"}
    assert json.loads(render_request(macro, make_record(7)).body)["u"] == ""


def test_unknown_tag_names_the_closest_field():
    with pytest.raises(TemplateError, match=r"unknown tag \(\(titel\)\) \(did you mean \(\(title\)\)\?\)"):
        render('{"t": "((titel))"}')


def test_sandbox_escape_is_refused_when_compiled():
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        compile_body('{"t": "((title.__class__))"}')
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        compile_body('{"t": "((title["__class__"]))"}')


def test_sandbox_escape_through_a_filter_is_refused_when_rendered():
    with pytest.raises(TemplateError, match="sandbox"):
        render('{"t": "((title|attr("__class__")))"}')


@pytest.mark.parametrize("body, where", [
    ('{\n  "a": 1,\n}', "line 3 column 1"),
    ('{\n  "a": "((title))"\n  "b": ((votes))\n}', "line 3 column 3"),
    ('{"a": ((title)) ((votes))}', "line 1 column 17"),
    ('{"a": "unterminated}', "line 1 column 7"),
])
def test_template_that_cannot_be_json_names_its_line_and_column(body, where):
    with pytest.raises(TemplateError, match=f"body {where}: the template cannot render to valid JSON"):
        compile_body(body)


def test_unclosed_tag_and_syntax_errors_name_the_line():
    with pytest.raises(TemplateError, match="line 2 column 9: the tag"):
        compile_body('{\n  "a": "((title"\n}')
    with pytest.raises(TemplateError, match="body line 1: .*filter named 'nosuch'"):
        compile_body('{"a": "((title|nosuch))"}')


def test_structural_blocks_are_checked_when_rendered():
    with pytest.raises(TemplateError, match="rendered body is not valid JSON"):
        render('{"a": [{% for t in tags %}"((t))",{% endfor %}]}', tags=["x"])


def test_form_bodies_encode_every_value():
    body = render("text=New bug ((id)): ((title))\nsev=((severity))&votes=((votes))", fmt="form",
                  title="a=b&c\nd ü")
    assert dict(parse_qsl(body)) == {"text": "New bug BUG-0001: a=b&c\nd ü", "sev": "High", "votes": "3"}


def test_text_bodies_insert_values_raw():
    assert render("Bug ((id)): ((title))\n", fmt="text", title='"raw" \\ text') == 'Bug BUG-0001: "raw" \\ text\n'


def test_compiled_templates_are_cached():
    assert compile_body('{"a": "((title))"}') is compile_body('{"a": "((title))"}')
