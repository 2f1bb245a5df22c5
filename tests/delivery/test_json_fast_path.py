"""The render fast path: templates proven to always render JSON skip the per-body parse,
so the proof must hold for any template it accepts and any record values."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from cctui.errors import TemplateError
from cctui.macros.templating import compile_body

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
names = st.sampled_from(["a", "b", "c"])
tag = st.builds(lambda name, form: form.format(name), names,
                st.sampled_from(["(({}))", "((- {} -))", "(({}|oneline))", "(({}|tojson))", "(( {} ))",
                                 "(({}|default('x')))", "(({}|string))"]))
literal = st.text(alphabet=st.sampled_from(list('ab \\"()\n{}[]:,é\u2028')), max_size=6)
string_piece = st.one_of(tag, literal.map(lambda t: json.dumps(t)[1:-1]), literal)
json_string = st.lists(string_piece, max_size=4).map(lambda parts: '"' + "".join(parts) + '"')
member_value = st.one_of(tag, json_string, st.just("1"), st.just("null"), st.just("[((a)), \"((b))\"]"))
template = st.one_of(
    st.lists(st.tuples(literal.map(json.dumps), member_value), max_size=4).map(
        lambda members: "{" + ", ".join(f"{k}: {v}" for k, v in members) + "}"),
    st.lists(st.one_of(tag, literal, st.just('"'), st.just("{%raw%}(({%endraw%}")), max_size=6).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(template, values, values, values)
def test_templates_proven_json_always_render_json(source, a, b, c):
    try:
        body = compile_body(source, "json")
    except TemplateError:
        return
    context = {"a": a, "b": b, "c": c}
    try:
        text = body.render(context)
    except TemplateError:
        return  # the same error with or without the fast path (render raises first)
    if body.always_json:
        json.loads(text)
        assert text == body.template.render(context)  # the direct render changes nothing


def test_the_benchmark_and_preset_shapes_take_the_fast_path():
    assert compile_body('{"text": "New bug ((id)): ((title))", "severity": "((severity))", '
                        '"votes": ((votes))}').always_json
    assert compile_body('{"blocks": [((items|tojson))], "n": "((n|oneline))"}').always_json
    assert not compile_body('{% if a %}{"a": 1}{% else %}{"a": 2}{% endif %}').always_json
    assert compile_body('(( a ))').always_json  # a bare value is JSON too
    assert not compile_body("").always_json
    assert not compile_body("a=((a))", "form").always_json
