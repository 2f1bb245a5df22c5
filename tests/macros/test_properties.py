"""Property tests: whatever text a record holds, a JSON body parses and every value
inserted round-trips exactly, in string position and in value position."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from cctui.macros import Macro, render_request

from .conftest import make_record

TEXT_FIELDS = ("title", "description", "steps", "status", "severity", "category", "submitter", "extra")
# Every code point, surrogates included (a broken import can hold them), for every field.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)

JSON_BODY = Macro.from_dict({
    "name": "props", "url": "https://example.test/hook", "body": "{\n" + ",\n".join(
        f'  "s_{f}": "((({f}))", "v_{f}": (({f})), "m_{f}": "<<((({f}))>> ((id))"'
        for f in TEXT_FIELDS) + ',\n  "votes": ((votes)), "votes_s": "((votes))"\n}',
})
FORM_BODY = Macro.from_dict({
    "name": "props-form", "url": "https://example.test/hook", "format": "form",
    "body": "\n".join(f"{f}=(({f}))" for f in TEXT_FIELDS),
})


@settings(max_examples=150, deadline=None)
@given(values=st.fixed_dictionaries({f: ANY_TEXT for f in TEXT_FIELDS}),
       votes=st.integers(min_value=-10**12, max_value=10**12))
def test_json_body_parses_and_values_round_trip(values, votes):
    record = make_record(votes=votes, **values)
    body = render_request(JSON_BODY, record).body
    body.encode("utf-8")  # always sendable: no lone surrogates left raw
    data = json.loads(body)
    for field, value in values.items():
        assert data[f"s_{field}"] == f"({value}"
        assert data[f"v_{field}"] == value
        assert data[f"m_{field}"] == f"<<({value}>> BUG-0001"
    assert data["votes"] == votes and data["votes_s"] == str(votes)


@settings(max_examples=100, deadline=None)
@given(values=st.fixed_dictionaries({f: st.text(max_size=100) for f in TEXT_FIELDS}))
def test_form_body_round_trips(values):
    body = render_request(FORM_BODY, make_record(**values)).body
    assert dict(parse_qsl(body, keep_blank_values=True)) == values
