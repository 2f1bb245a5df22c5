"""A request that cannot be encoded (a non-ASCII header value) is a permanent request
error: logged once with the header named, never retried as if no response came."""

from __future__ import annotations

import asyncio

import pytest

from cctui.delivery import Engine, prepared
from cctui.delivery.attempt import NOT_SENT_REQUEST

from .conftest import add_items, fast_config, put_macro


@pytest.fixture
def non_ascii_header(monkeypatch):
    """Defence in depth: the macros reject such values when they render; this slips one
    past that check, as a future template path or a bug might."""
    original = prepared.render_request

    def render(*args, **kwargs):
        rendered = original(*args, **kwargs)
        rendered.headers.append(("X-Reporter", "Łukasz Żółć"))
        return rendered

    monkeypatch.setattr(prepared, "render_request", render)


@pytest.mark.parametrize("kind", [None, "shared"])
def test_non_ascii_header_value_is_a_permanent_request_error(store, receiver, non_ascii_header, kind):
    from cctui.delivery.transport import make_transport

    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + "/hook")
    engine = Engine(store, fast_config(), transport=make_transport() if kind else None)

    async def main():
        try:
            return await engine.run("hook", ids)
        finally:
            if engine.transport is not None:
                await engine.transport.aclose()

    summary = asyncio.run(main())
    assert (summary.delivered, summary.failed, summary.attempts) == (0, 2, 2)  # one attempt each
    assert receiver.state.count == 0
    log = list(store.log_iter())
    assert len(log) == 2
    for entry in log:
        assert entry["status_code"] == 0 and entry["ok"] is False and entry["not_sent"] is True
        assert "'X-Reporter'" in entry["error"] and "non-ASCII" in entry["error"]
        assert "Łukasz" not in entry["error"]
        assert entry["explanation"]["title"] == NOT_SENT_REQUEST
        assert "not retried" in entry["explanation"]["action"]
