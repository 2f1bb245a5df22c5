"""The inbound listener over real HTTP on 127.0.0.1, backed by a real store in a tmp dir."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from cctui.automation.listener import inbound_events, make_listener_app
from cctui.core.records import Schema
from cctui.errors import InputError
from cctui.store import open_store

TOKEN = "listen-test-token-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(data_dir):
    store = open_store(data_dir)
    schema = Schema()
    store.feedback_add([
        schema.feedback({"type": "bug", "title": "Crash on save", "jira_key": "CC-12"}),
        schema.feedback({"type": "idea", "title": "Dark mode"}),
    ])
    yield store
    store.close()


async def serve(app: web.Application):
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", runner


@pytest.fixture
async def listener(store):
    """(base_url, store, events) with a listener that records what changed."""
    events = []
    store.subscribe(events.append)
    printed: list[str] = []
    base, runner = await serve(make_listener_app(store, TOKEN, max_body=4096, rate_limit=1000,
                                                 echo=printed.append))
    async with aiohttp.ClientSession() as session:
        yield base, session, store, events, printed
    await runner.cleanup()


async def test_requests_without_or_with_a_wrong_token_are_401(listener):
    base, session, store, events, _ = listener
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": "Bearer "}):
        async with session.post(f"{base}/records/BUG-0001", json={"status": "Closed"},
                                headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert store.feedback_get("BUG-0001")["status"] == "New"
    assert events == []


async def test_the_right_token_updates_the_record_as_a_modify(listener):
    base, session, store, events, printed = listener
    async with session.post(f"{base}/records/BUG-0001", json={"status": "closed", "votes": "3"},
                            headers=AUTH) as response:
        assert response.status == 200
        body = await response.json()
    assert body["id"] == "BUG-0001" and body["status"] == "Closed" and body["votes"] == 3
    assert store.feedback_get("BUG-0001")["status"] == "Closed"
    [event] = events
    assert (event.kind, event.origin, event.ids) == ("modify", "listener", ["BUG-0001"])
    inbound = inbound_events(store)
    assert inbound[-1]["path"] == "/records/BUG-0001" and inbound[-1]["status"] == 200
    assert "BUG-0001" in printed[-1] and TOKEN not in "".join(printed) + str(inbound)


async def test_unknown_record_is_404(listener):
    base, session, *_ = listener
    async with session.post(f"{base}/records/BUG-0999", json={"status": "Closed"}, headers=AUTH) as r:
        assert r.status == 404
        assert "BUG-0999" in (await r.json())["error"]


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"[1, 2]", "must be a JSON object"),
        (b"not json", "not valid JSON"),
        (b"{}", "sets no fields"),
        (b'{"id": "BUG-0002"}', "'id' is read-only"),
        (b'{"created": "2026-01-01"}', "read-only"),
        (b'{"colour": "red"}', "'colour' is not a field of BUG-0001"),
        (b'{"status": "Sleeping"}', "unknown status 'Sleeping'"),
    ],
)
async def test_bad_bodies_are_400_and_change_nothing(listener, payload, words):
    base, session, store, events, _ = listener
    async with session.post(f"{base}/records/BUG-0001", data=payload,
                            headers={**AUTH, "Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert words in (await r.json())["error"]
    assert store.feedback_get("BUG-0001")["status"] == "New"
    assert events == []


async def test_existing_extra_fields_and_macro_written_fields_are_known(listener):
    base, session, store, *_ = listener
    store.macro_put({"name": "to-jira", "return_values": {"jira_key": "key"}})
    async with session.post(f"{base}/records/IDEA-0001", json={"jira_key": "CC-99"}, headers=AUTH) as r:
        assert r.status == 200
    async with session.post(f"{base}/records/BUG-0001", json={"jira_key": "CC-13"}, headers=AUTH) as r:
        assert r.status == 200
    assert store.feedback_get("IDEA-0001")["jira_key"] == "CC-99"


async def test_an_oversize_body_is_413(listener):
    base, session, store, *_ = listener
    big = {"description": "x" * 5000}
    async with session.post(f"{base}/records/BUG-0001", json=big, headers=AUTH) as r:
        assert r.status == 413

    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(10):
            yield b"x" * 1000

    async with session.post(f"{base}/records/BUG-0001", data=chunks(), headers=AUTH) as r:
        assert r.status == 413
    assert store.feedback_get("BUG-0001")["description"] == ""


def jira_payload(key: str, status: str) -> dict:
    return {"webhookEvent": "jira:issue_updated",
            "issue": {"key": key, "fields": {"status": {"name": status}, "summary": "Crash"}}}


async def test_jira_status_is_mapped_onto_the_record(listener):
    base, session, store, events, _ = listener
    async with session.post(f"{base}/hooks/jira", json=jira_payload("CC-12", "Done"), headers=AUTH) as r:
        assert r.status == 200
        assert (await r.json())["updated"] == ["BUG-0001"]
    assert store.feedback_get("BUG-0001")["status"] == "Closed"
    assert events[-1].origin == "listener" and events[-1].kind == "modify"
    # the same status again changes nothing and fires nothing
    async with session.post(f"{base}/hooks/jira", json=jira_payload("CC-12", "Done"), headers=AUTH) as r:
        assert r.status == 200
    assert len(events) == 1
    # unmapped status and unknown issue are answered but ignored
    for payload in (jira_payload("CC-12", "In Review"), jira_payload("CC-404", "Done")):
        async with session.post(f"{base}/hooks/jira", json=payload, headers=AUTH) as r:
            assert r.status == 200
    async with session.post(f"{base}/hooks/jira", json={"issue": {}}, headers=AUTH) as r:
        assert r.status == 400
    assert len(events) == 1


async def test_a_configured_jira_map_and_the_rate_limit(store):
    app = make_listener_app(store, TOKEN, jira_status_map={"Shipped": "Closed", "Reopened": "new"},
                            rate_limit=1)
    base, runner = await serve(app)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/hooks/jira", json=jira_payload("CC-12", "shipped"),
                                    headers=AUTH) as r:
                assert r.status == 200
            assert store.feedback_get("BUG-0001")["status"] == "Closed"
            statuses = []
            for _ in range(5):
                async with session.post(f"{base}/hooks/jira", json=jira_payload("CC-12", "Reopened"),
                                        headers=AUTH) as r:
                    statuses.append(r.status)
            assert 429 in statuses
    finally:
        await runner.cleanup()


def test_a_map_to_an_unknown_status_or_an_empty_token_is_refused(store):
    with pytest.raises(InputError, match="jira_status_map"):
        make_listener_app(store, TOKEN, jira_status_map={"Done": "Finished"})
    with pytest.raises(InputError, match="CCTUI_LISTEN_TOKEN"):
        make_listener_app(store, "")


def test_the_inbound_log_keeps_the_newest_events(store, monkeypatch):
    from cctui.automation import listener as module

    monkeypatch.setattr(module, "INBOUND_KEEP", 3)
    for n in range(5):
        with store.batch():
            module.append_inbound(store, {"path": f"/records/BUG-{n}"})
    assert [e["path"] for e in inbound_events(store)] == [f"/records/BUG-{n}" for n in (2, 3, 4)]


async def test_refused_requests_are_logged_without_the_token(listener):
    base, session, store, _, printed = listener
    async with session.post(f"{base}/hooks/jira", json={}, headers={"Authorization": "Bearer guess"}) as r:
        assert r.status == 401
    assert inbound_events(store)[-1]["status"] == 401
    assert "guess" not in str(inbound_events(store)) + "".join(printed)
