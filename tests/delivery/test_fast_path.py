"""The per-run request factory, send_once, listener errors and schema-aware loading."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cctui.core.records import FeedbackType, Schema
from cctui.delivery import Engine, SendResult
from cctui.delivery import events as ev
from cctui.delivery.engine import load_macro
from cctui.delivery.prepared import RequestFactory
from cctui.errors import MacroError, TemplateError
from cctui.macros.model import Macro
from cctui.macros.request import render_request

from .conftest import add_items, fast_config, put_macro


def _macro(**keys) -> Macro:
    data = {"name": "hook", "url": "https://hooks.example.com/${HOOK_PATH}?token=${HOOK_TOKEN}",
            "headers": ["Authorization: Bearer ${API_TOKEN}", "X-Team: cc"],
            "body": '{"text": "((id)): ((title))", "votes": ((votes)), "who": "((submitter.name))"}',
            "signing_secret": "${SIGNING}", **keys}
    return Macro.from_dict(data)


ENV = {"HOOK_PATH": "T0/B1/xyz", "HOOK_TOKEN": "tok-123456", "API_TOKEN": "api-secret-9",
       "SIGNING": "sig-secret-42"}


def test_factory_matches_render_request_for_every_record(store):
    """What the run sends for each record is exactly what render_request renders."""
    add_items(store, 5)
    add_items(store, 1, title="api-secret-9 leaked \"quoted\"\n", votes=None)
    macro = _macro()
    factory = RequestFactory(macro, store, None, environ=ENV)
    for record in store.feedback_all():
        prepared = factory.prepare(record)
        rendered = render_request(macro, record, store=store, environ=ENV)
        assert prepared.body == rendered.body.encode()
        assert (prepared.method, prepared.url, prepared.headers) == (rendered.method, rendered.url, rendered.headers)
        assert prepared.secrets >= rendered.secrets
        assert prepared.masked["url"] == rendered.masked()["url"]
        assert prepared.masked["headers"] == rendered.masked()["headers"]
        assert "api-secret-9" not in prepared.masked["body"]
    assert factory._fast is not None  # later records took the fast path


def test_factory_errors_read_like_render_request(store):
    ids = add_items(store, 1)
    record = store.feedback_get(ids[0])
    macro = _macro(body='{"text": "((jira_key))"}')  # a field this record does not have
    factory = RequestFactory(macro, store, None, environ=ENV)
    with pytest.raises(TemplateError) as first:
        factory.prepare(record)
    with pytest.raises(TemplateError) as direct:
        render_request(macro, record, store=store, environ=ENV)
    assert str(first.value) == str(direct.value)
    # A record that has the field renders; one that lacks it still fails the same way.
    assert b"CC-1" in factory.prepare({**record, "jira_key": "CC-1"}).body
    with pytest.raises(TemplateError):
        factory.prepare(record)


def test_empty_body_drops_the_content_type(store):
    """The fixed headers depend on whether the body is empty (Content-Type then)."""
    macro = Macro.from_dict({"name": "hook", "url": "http://127.0.0.1:9/", "format": "text",
                             "body": "((description))"})
    factory = RequestFactory(macro, store, None, environ={})
    full = factory.prepare({"id": "BUG-0001", "description": "hello"})
    empty = factory.prepare({"id": "BUG-0002", "description": ""})
    again = factory.prepare({"id": "BUG-0003", "description": "again"})
    assert any(n.lower() == "content-type" for n, _ in full.headers)
    assert not any(n.lower() == "content-type" for n, _ in empty.headers) and empty.body == b""
    assert again.headers == full.headers and again.body == b"again"


def test_a_listener_that_raises_does_not_stop_the_run(store, receiver, caplog):
    ids = add_items(store, 6)
    put_macro(store, url=receiver.url + "/hook", concurrency=2)
    seen = []

    def listener(event):
        seen.append(event)
        raise RuntimeError("the progress bar broke")

    with caplog.at_level(logging.ERROR, logger="cctui.delivery.engine"):
        summary = asyncio.run(Engine(store, fast_config()).run("hook", ids, listener=listener))
    assert summary.delivered == 6 and summary.failed == 0
    assert len(list(store.log_iter())) == 6
    assert sum(isinstance(e, ev.RecordDone) for e in seen) == 6
    assert len([r for r in caplog.records if "listener" in r.getMessage()]) == 1  # logged once


def test_send_once_sends_one_request_and_logs_nothing(store, receiver):
    ids = add_items(store, 1)
    macro = put_macro(store, url=receiver.url + "/jira", headers=["Authorization: Bearer s3cr3t-value"])
    record = store.feedback_get(ids[0])
    result = asyncio.run(Engine(store, fast_config()).send_once(macro, record))
    assert isinstance(result, SendResult)
    status, headers, body, duration_ms, error, explanation = result
    assert status == 201 and result.ok and error is None
    assert '"key"' in body and headers["content-type"].startswith("application/json")
    assert duration_ms >= 0 and explanation.title.startswith("201")
    assert receiver.state.count == 1
    arrived = receiver.state.received[-1]
    assert arrived.headers.get("webhook-id", "").startswith("test-")
    assert list(store.log_iter()) == [] and store.runs_all() == []


def test_send_once_reports_no_response_without_raising(store, closed_port):
    macro = Macro.from_dict({"name": "hook", "url": f"http://127.0.0.1:{closed_port}/", "body": "{}"})
    result = asyncio.run(Engine(store).send_once(macro, {}))
    assert result.status_code == 0 and not result.ok and "refused" in result.error
    assert result.explanation.title


def test_send_once_does_not_follow_redirects_and_masks_echoed_secrets(store, receiver):
    engine = Engine(store)
    moved = asyncio.run(engine.send_once({"name": "hook", "url": receiver.url + "/status/302", "body": "{}"}))
    assert moved.status_code == 302 and "location" in moved.headers
    echo = asyncio.run(engine.send_once({"name": "hook", "url": receiver.url + "/echo", "body": "{}",
                                         "headers": ["X-Api-Key: k-very-secret"]}))
    assert echo.status_code == 200 and "k-very-secret" not in echo.body


def test_send_once_raises_for_a_broken_template(store):
    with pytest.raises(TemplateError):
        asyncio.run(Engine(store).send_once({"name": "hook", "url": "http://127.0.0.1:9/",
                                             "body": '{"a": "((nope_field))"}'}, {"id": "BUG-0001"}))


def test_load_macro_uses_the_store_schema_for_custom_types(data_dir):
    from cctui.store import open_store

    schema = Schema(types=(FeedbackType("Incident", "INC"), FeedbackType("Bug Report", "BUG")))
    store = open_store(data_dir, schema)
    try:
        data = {"name": "inc", "url": "http://127.0.0.1:9/", "body": "{}", "feedback_type": "INC"}
        with pytest.raises(MacroError):
            Macro.from_dict(data)  # the default schema has no Incident type
        store.macro_put(Macro.from_dict(data, schema=schema).to_dict())
        assert load_macro(store, "inc").feedback_type == "Incident"
    finally:
        store.close()
