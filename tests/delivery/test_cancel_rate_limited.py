"""A cancel while workers wait for a rate-limited host's next slot sends nothing more:
each waiting worker used to send one request once its slot came, after the cancel."""

from __future__ import annotations

import asyncio

from cctui.delivery import Engine
from cctui.delivery import events as ev

from .conftest import add_items, fast_config, put_macro


def test_workers_waiting_for_the_rate_limit_send_nothing_after_a_cancel(store, receiver):
    ids = add_items(store, 40)
    # 2 requests a second, 4 workers: at any moment about 3 of them wait for a slot.
    put_macro(store, url=receiver.url + "/hook", concurrency=4, rate_limit=2)
    engine = Engine(store, fast_config())
    at_cancel: list[int] = []

    def cancel_after_three(event) -> None:
        if isinstance(event, ev.AttemptFinished) and receiver.state.count >= 3 and not at_cancel:
            at_cancel.append(receiver.state.count)
            engine.cancel()

    summary = asyncio.run(engine.run("hook", ids, listener=cancel_after_three))
    # A request already on its way when the cancel came may still arrive; no new one.
    assert receiver.state.count - at_cancel[0] <= 1
    assert summary.cancelled and summary.sent == receiver.state.count
    assert summary.not_sent == len(ids) - summary.sent and summary.failed == 0
