"""A bulk run renders each record's body off the TUI's event loop.

A macro body may spend up to the render budget (1 s) on one record. The TUI runs the
delivery engine on its own event loop, so a body rendered there froze every key for that
long, for each such record. Here one record's render is held (a gate the test opens)
while the test presses keys: the UI answers them (screen 2 opens, screen 3 comes back)
while that render is still in progress, and every render ran on a thread other than the
app's. Before the fix the held render blocked the loop, so no key was answered until
the gate timed out. No wall-clock is measured.
"""

from __future__ import annotations

import json
import threading

from cctui.delivery.prepared import RequestFactory
from cctui.macros.model import Macro

#: A body that is expensive for one record only (a nested loop the budget stops).
BODY = ('{"text": "((id))", "extra": "{% if id == "BUG-0003" %}'
        '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endif %}"}')


async def test_slow_render_does_not_block_keys(app_factory, make_hook_receiver, monkeypatch, tui):
    from cctui.tui.screens.macros import MacrosScreen

    base, seen = await make_hook_receiver()
    make, store = app_factory
    store.macro_put(Macro.from_dict({"name": "hook", "url": f"{base}/hook", "body": BODY,
                                     "concurrency": 2}).to_dict())
    bugs = sorted(r["id"] for r in store.feedback_all() if r["type"] == "Bug Report")[:6]
    assert "BUG-0003" in bugs

    app_thread = threading.main_thread()
    threads: list[threading.Thread] = []
    held, gate = threading.Event(), threading.Event()
    real_prepare = RequestFactory.prepare

    def spying_prepare(self, record):
        threads.append(threading.current_thread())
        if record.get("id") == "BUG-0003" and threading.current_thread() is not app_thread:
            held.set()
            gate.wait(10)  # the test opens it once the UI has answered its keys
        elif record.get("id") == "BUG-0003":
            held.set()  # on the app's loop: holding it would only hang this test
            gate.wait(3)
        return real_prepare(self, record)

    monkeypatch.setattr(RequestFactory, "prepare", spying_prepare)

    app = make()
    async with app.run_test(size=(80, 24)) as pilot:
        await tui.loaded(pilot)
        progress = app.dispatcher.start("hook", bugs, trigger="bulk")
        await pilot.press("3")
        await tui.wait_for(pilot, held.is_set, "the expensive record's render to begin")
        answered = []
        await pilot.press("2")
        answered.append(isinstance(app.screen, MacrosScreen))
        await pilot.press("3")
        answered.append(app.current_mode == "dispatch")
        rendering = not gate.is_set() and progress.running
        gate.set()
        await tui.wait_for(pilot, lambda: not progress.running, "the run to finish")

    assert rendering and answered == [True, True], "keys were not answered while a render was in progress"
    assert threads and all(thread is not app_thread for thread in threads), \
        f"bodies rendered on the app's thread: {[t.name for t in threads]}"
    # The expensive record hit the budget and failed with one sentence; the others went out.
    failed = list(store.log_iter(record_id="BUG-0003"))
    assert (progress.delivered, progress.failed) == (5, 1), (failed, [t.name for t in threads])
    failed = [e for e in store.log_iter(record_id="BUG-0003")]
    assert failed and "too expensive" in failed[0]["error"]
    assert sorted(json.loads(s["body"])["text"] for s in seen) == [b for b in bugs if b != "BUG-0003"]
