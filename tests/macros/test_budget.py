"""Hostile body templates are refused in one sentence, within the render budget.

Every template here hung or took gigabytes before the budget existed. Each render is
measured with tracemalloc (memory, not time: tests never assert wall-clock speed).
"""

from __future__ import annotations

import json
import math
import tracemalloc

import pytest

from cctui.errors import TemplateError
from cctui.macros import Macro, render_request
from cctui.macros.budget import TemplateTooExpensive

from .conftest import make_record

PEAK_LIMIT = 50 * 1024 * 1024

HOSTILE = {
    "repeat text": "(( 'x'*10**9 ))",
    "huge power": "(( 9**(9**9) ))",
    "nested ranges": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "center filter": "(( title|center(1000000000) ))",
    "center method": "(( title.center(1000000000) ))",
    "ljust method": "(( title.ljust(10**9) ))",
    "rjust method": "(( title.rjust(10**9) ))",
    "zfill method": "(( title.zfill(10**9) ))",
    "brace format width": "(( '{:>999999999}'.format(1) ))",
    "brace format nested width": "(( '{:>{}}'.format(1, 10**9) ))",
    "percent star width": "(( '%*d' % (10**9, 1) ))",
    "percent literal width": "(( '%0999999999d' % 1 ))",
    "format filter": "(( '%*d'|format(10**9, 1) ))",
    "list repeat": "(( [1]*10**9 ))",
    "indent filter": "(( title|indent(10**9) ))",
    "wordwrap wrapstring": "(( title|wordwrap(1, wrapstring='x'*999999) ))",
    "wordwrap long input": "(( ('x'*999999)|wordwrap(1) ))",
    "replace empty": "(( ('x'*2000)|replace('', 'y'*1000) ))",
    "join": "(( (['x'*999999]*1000)|join ))",
    "join method": "(( ('x'*999999).join(['a', 'b', 'c']) ))",
    "to_bytes": "(( (1).to_bytes(10**9, 'big') ))",
    "expandtabs": "(( ('\\t'*1000).expandtabs(10**6) ))",
    "doubling set block": ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set t %}((ns.s))((ns.s))"
                           "{% endset %}{% set ns.s = t %}{% endfor %}((ns.s|length))"),
    "doubling concat": ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                        "{% endfor %}((ns.s|length))"),
    "doubling list": ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}"
                      "{% endfor %}((ns.l|length))"),
    "squaring number": ("{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
                        "{% endfor %}((ns.n > 0))"),
    "macro fan-out": ("{% macro f(n) %}{% if n > 0 %}((f(n-1)))((f(n-1))){% endif %}{% endmacro %}((f(40)))"),
    "quadratic sum": "(( ([[1]*1000]*1000)|sum(start=[])|length ))",
    "append loop": ("{% set l = [] %}{% for i in range(100000) %}{% for j in range(100) %}"
                    "((l.append('x'*1000) or '')){% endfor %}{% endfor %}"),
    "tojson indent": "(( [[1]]|tojson(10**9) ))",
    "round precision": "(( 5|round(10**9, 'floor') ))",
    "batch fill": "(( [1]|batch(10**9, 'x')|list ))",
    "slice count": "(( [1]|slice(10**9)|list ))",
    "body size": "{% for i in range(100000) %}(( 'x'*100 )){% endfor %}",
    "string loop": "{% for a in 'x'*999999 %}{% for b in 'x'*999999 %}{% endfor %}{% endfor %}",
    # Shared parts: three small lists whose text is a billion characters.
    "printed shared list": "(( [['x'*1000]*1000]*1000 ))",
    "string of shared list": "(( ([['x'*1000]*1000]*1000)|string|length ))",
    "concat of shared list": "(( ([['x'*1000]*1000]*1000) ~ '' ))",
    "percent of shared list": "(( '%s' % [[['x'*1000]*1000]*1000] ))",
    "format of shared list": "(( '{}'.format([['x'*1000]*1000]*1000) ))",
    "tojson of shared list": "(( ([['x'*1000]*1000]*1000)|tojson ))",
    "join of shared lists": "(( ([['x'*1000]*1000]*1000)|join ))",
    "upper of shared list": "(( ([['x'*1000]*1000]*1000)|upper ))",
}


def _macro(body: str, fmt: str = "text") -> Macro:
    return Macro.from_dict({"name": "t", "url": "https://example.test/hook", "body": body, "format": fmt})


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_template_is_refused_in_one_sentence_within_the_memory_budget(body):
    tracemalloc.start()
    try:
        with pytest.raises(TemplateTooExpensive) as caught:
            render_request(_macro(body), make_record())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith("macro t: template too expensive: ") and message.endswith(".")
    assert "\n" not in message
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.0f} MB"


def test_the_deadline_names_the_budget():
    with pytest.raises(TemplateTooExpensive, match=r"did not finish rendering within 1 s"):
        render_request(_macro(HOSTILE["nested ranges"]), make_record())


@pytest.mark.parametrize("body, expected", [
    ("{% for x in range(3) %}((x)),{% endfor %}", "0,1,2,"),
    ("((title ~ '!' ~ votes))", "Crash on save!3"),
    ("((['a', 'b']|join('-')))|((range(4)|sum))|(([1, 2]|sum(start=10)))", "a-b|6|13"),
    ("(('%05d|%s'|format(42, 'x')))|(('{:>4}'.format(7)))", "00042|x|   7"),
    ("((title|center(17)))|((title|wordwrap(5)|length > 0))|((3 ** 4))|(('ab' * 3))", "  Crash on save  |true|81|ababab"),
    ("{% for x in [[1, [2]]] recursive %}{% if x is iterable %}((loop(x))){% else %}((x)){% endif %}{% endfor %}",
     "12"),
    ("{% for x in range(3) %}((loop.length)){% endfor %}", "333"),
    ("{% set l = [] %}((l.append(1) or ''))((l|length))|((title.replace('save', 'load')))", "1|Crash on load"),
    ("{% macro f(n) %}{% if n > 0 %}((n))((f(n - 1))){% endif %}{% endmacro %}((f(3)))", "321"),
])
def test_ordinary_templates_render_as_before(body, expected):
    assert render_request(_macro(body), make_record()).body == expected


def test_a_json_body_holding_shared_lists_is_refused_too():
    with pytest.raises(TemplateTooExpensive, match="the text of a list or dict would pass"):
        render_request(_macro('{"a": (( [["x"*1000]*1000]*1000 ))}', "json"), make_record())


def test_a_list_that_holds_itself_still_prints():
    body = render_request(_macro("{% set l = [1] %}((l.append(l) or ''))((l|string))"), make_record()).body
    assert body == "[1, [...]]"


def test_a_body_of_a_few_hundred_kilobytes_still_renders():
    body = render_request(_macro("((description))"), make_record(description="é" * 300_000)).body
    assert len(body) == 300_000


def test_recursive_macro_is_one_sentence():
    with pytest.raises(TemplateError) as caught:
        render_request(_macro("{% macro f() %}((f())){% endmacro %}((f()))"), make_record())
    assert str(caught.value) == "macro t: body: a macro or loop calls itself too deeply (endless recursion?)."


@pytest.mark.parametrize("fmt, body", [("text", "(( 1e309 ))"), ("json", '{"a": ((1e309))}')])
def test_an_infinite_literal_is_refused_when_the_macro_is_made(fmt, body):
    with pytest.raises(TemplateError) as caught:
        _macro(body, fmt)
    assert "body line 1: a number in the template is too large for a float" in str(caught.value)


@pytest.mark.parametrize("body, fields", [
    ('{"a": ((votes))}', {"votes": math.nan}),
    ('{"a": ((votes))}', {"votes": math.inf}),
    ('{"a": ((1e308 * 10))}', {}),
    ('{"a": ((votes|tojson))}', {"votes": -math.inf}),
    ('{"a": (([votes]))}', {"votes": math.nan}),
    ('{% if true %}{"a": ((votes))}{% endif %}', {"votes": math.nan}),
])
def test_a_json_body_that_would_render_nan_or_infinity_is_refused(body, fields):
    with pytest.raises(TemplateError, match="not (a )?JSON"):
        render_request(_macro(body, "json"), make_record(**fields))


@pytest.mark.parametrize("body", ['{"a": NaN}', '{"a": Infinity}',
                                  '{% if true %}{"a": -Infinity}{% endif %}'])
def test_nan_written_in_a_json_template_is_not_json(body):
    with pytest.raises(TemplateError, match="is not JSON"):
        render_request(_macro(body, "json"), make_record())


def test_nan_inside_a_json_string_is_just_text():
    body = render_request(_macro('{"a": "((votes))"}', "json"), make_record(votes=math.nan)).body
    assert json.loads(body) == {"a": "nan"}
