"""The inbound listener checks values like every other entry point and takes ids as typed.

(It lives beside the CLI input checks: the same rules for ``feedback set``, import and
``POST /records/{id}``.)
"""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from cctui.automation.listener import make_listener_app
from cctui.core.records import Schema
from cctui.store import open_store

TOKEN = "listen-input-token-91c2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def listener(data_dir):
    store = open_store(data_dir)
    schema = Schema()
    store.feedback_add([schema.feedback({"type": "bug", "title": t}) for t in ("one", "two")])
    app = make_listener_app(store, TOKEN, rate_limit=1000)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    async with aiohttp.ClientSession() as session:
        yield base, session, store
    await runner.cleanup()
    store.close()


@pytest.mark.parametrize(
    "body, named",
    [
        ({"title": ["a"]}, "field 'title': must be text, got a list"),
        ({"description": {"a": 1}}, "field 'description': must be text, got an object"),
        ({"status": True}, "field 'status': must be text, got true/false"),
        ({"votes": -1}, "field 'votes': expected 0 or more"),
    ],
)
async def test_lists_objects_and_negative_votes_are_400_and_change_nothing(listener, body, named):
    base, session, store = listener
    before = store.feedback_get("BUG-0002")
    async with session.post(f"{base}/records/BUG-0002", json=body, headers=AUTH) as response:
        assert response.status == 400
        assert named in (await response.json())["error"]
    assert store.feedback_get("BUG-0002") == before


@pytest.mark.parametrize("typed", ["bug-2", "BUG-2", "bug-0002"])
async def test_a_record_path_takes_the_id_in_any_case_and_padding(listener, typed):
    base, session, store = listener
    async with session.post(f"{base}/records/{typed}", json={"status": "Closed", "votes": 3},
                            headers=AUTH) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["id"] == "BUG-0002"
    record = store.feedback_get("BUG-0002")
    assert record["status"] == "Closed" and record["votes"] == 3
    assert store.feedback_get("BUG-0001")["status"] == "New"


async def test_an_unknown_id_is_still_404(listener):
    base, session, _ = listener
    async with session.post(f"{base}/records/bug-9", json={"status": "Closed"}, headers=AUTH) as response:
        assert response.status == 404
        assert "BUG-0009" in (await response.json())["error"]
