"""Tags for fields some records lack: known fields render empty, typos stay errors."""

from __future__ import annotations

import json

import pytest

from cctui.core.records import Schema
from cctui.errors import InputError, TemplateError
from cctui.macros import Macro, check_tags, render_request
from cctui.macros.request import known_fields

BODY = ('{"s": "((jira_key))", "v": ((jira_key)), '
        '"d": "((jira_key|default(\'-\', true)))", "t": "((title))"}')


@pytest.fixture
def store(data_dir):
    from cctui.store import open_store

    s = open_store(data_dir)
    s.feedback_add([{"type": "Bug Report", "title": "has it", "jira_key": "CC-1"},
                    {"type": "Bug Report", "title": "lacks it"}])
    yield s
    s.close()


def _macro(body: str = BODY, **keys) -> Macro:
    return Macro.from_dict({"name": "m", "url": "https://e.test/hook", "body": body, **keys})


def test_a_field_present_on_some_records_renders_empty_on_the_others(store):
    has, lacks = store.feedback_all()
    assert json.loads(render_request(_macro(), has, store=store).body) == {
        "s": "CC-1", "v": "CC-1", "d": "CC-1", "t": "has it"}
    assert json.loads(render_request(_macro(), lacks, store=store).body) == {
        "s": "", "v": None, "d": "-", "t": "lacks it"}


def test_a_typo_is_still_an_unknown_tag_with_its_line_and_a_suggestion(store):
    macro = _macro('{\n  "a": "((title))",\n  "b": "((jira_kye))"\n}')
    with pytest.raises(TemplateError) as caught:
        render_request(macro, store.feedback_all()[1], store=store)
    assert str(caught.value) == ("macro m: body line 3: unknown tag ((jira_kye)) "
                                 "(did you mean ((jira_key))?).")


def test_fields_written_by_a_macro_and_configured_extras_are_known(data_dir):
    from cctui.store import open_store

    store = open_store(data_dir, schema=Schema.from_config({"extra_fields": ["team"]}))
    try:
        store.feedback_add([{"type": "Bug Report", "title": "x"}])
        store.macro_put(_macro("", name="writer", return_values={"salesforce_id": "id"}).to_dict())
        record = store.feedback_all()[0]
        body = '{"a": "((team))", "b": ((salesforce_id))}'
        assert json.loads(render_request(_macro(body), record, store=store).body) == {"a": "", "b": None}
        assert {"team", "salesforce_id"} <= known_fields(store)
    finally:
        store.close()


def test_an_explicit_known_fields_set_is_used_as_given(store):
    lacks = store.feedback_all()[1]
    macro = _macro('{"a": "((platform))"}')
    assert render_request(macro, lacks, known_fields={"platform"}).body == '{"a": ""}'
    with pytest.raises(TemplateError, match=r"unknown tag \(\(platform\)\)"):
        render_request(macro, lacks, store=store)


def test_known_fields_are_read_once_per_store_revision(store, monkeypatch):
    records = store.feedback_all()
    reads = []
    real = store.feedback_all
    monkeypatch.setattr(store, "feedback_all", lambda: reads.append(1) or real())
    macro = _macro()
    for _ in range(50):
        for record in records:
            render_request(macro, record, store=store)
    assert len(reads) <= 1
    store.feedback_add([{"type": "Bug Report", "title": "new", "platform": "ios"}])
    render_request(_macro('{"p": "((platform))"}'), records[0], store=store)
    assert len(reads) == 2  # the store changed and a name was not known yet: read again


def test_macro_add_then_preview_a_record_without_the_field(run_cli, tmp_path):
    assert run_cli("feedback", "add", "--type", "bug", "--title", "one", "--field", "jira_key=CC-7")[0] == 0
    assert run_cli("feedback", "add", "--type", "bug", "--title", "two")[0] == 0
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nurl = "https://e.test"\nbody = """'
                    '{"k": "((jira_key))", "d": "((jira_key|default(\'-\', true)))"}"""\n')
    assert run_cli("macro", "add", str(path))[0] == 0
    code, out, err = run_cli("macro", "preview", "m", "--item", "BUG-0002", "--json")
    assert code == 0, err
    assert json.loads(json.loads(out)["body"]) == {"k": "", "d": "-"}


def test_check_tags_error_names_the_line():
    with pytest.raises(TemplateError, match=r"^f\.toml: body line 2: unknown tag \(\(titel\)\) .*\.$"):
        check_tags(_macro('{"a": 1,\n"b": "((titel))"}'), where="f.toml")


def test_schema_from_config_reads_extra_fields():
    assert Schema.from_config({"extra_fields": ["jira_key", "team"]}).extra_fields == {"jira_key", "team"}
    assert Schema.from_config({}).extra_fields == frozenset()
    for bad in ("jira_key", ["Bad Name"], [1], 3):
        with pytest.raises(InputError, match=r"config \[records\] extra_fields"):
            Schema.from_config({"extra_fields": bad})
