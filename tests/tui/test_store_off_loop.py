"""No store read or write on the event loop: a walk through every screen with a store
that notes each call made from the loop's thread (Pilot runs the app on the main thread)."""

from __future__ import annotations

import threading

from cctui.config import load_config
from cctui.store import open_store

#: Everything on the store that touches data (reads wait for the store's mutex, the first
#: one parses the snapshot; writes wait for an fsync).
DATA_CALLS = {
    "feedback_all", "feedback_get", "feedback_count", "feedback_add", "feedback_update",
    "feedback_update_each", "users_all", "user_get", "users_add", "users_update", "macros_all",
    "macro_get", "macro_put", "macro_remove", "macro_update", "run_create", "run_update", "run_get",
    "runs_all", "state_get", "state_set", "log_append", "log_iter", "log_count", "snapshot",
    "first_page", "flush",
}


class LoopWatchingStore:
    """A real store whose data calls are noted when they come from the event loop."""

    def __init__(self, store) -> None:
        self._store = store
        self.on_loop: list[str] = []
        self.off_loop: list[str] = []  # the positive signal: the calls did happen, in threads

    def _note(self, name: str) -> None:
        if threading.current_thread() is threading.main_thread():
            self.on_loop.append(name)
        else:
            self.off_loop.append(name)

    @property
    def revision(self) -> int:
        self._note("revision")
        return self._store.revision

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if name not in DATA_CALLS:
            return attr

        def call(*args, **kwargs):
            self._note(name)
            return attr(*args, **kwargs)

        return call


async def test_a_walk_through_every_screen_reads_nothing_on_the_loop(seeded_dir, config_file, tui, fixed_now):
    from cctui.tui.app import CctuiApp
    from cctui.tui.screens.confirm import ConfirmScreen
    from cctui.tui.screens.detail import DetailScreen
    from cctui.tui.screens.macro_form import MacroFormScreen
    from cctui.tui.screens.macro_picker import MacroPicker

    real = open_store(seeded_dir)
    real.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": "http://127.0.0.1:9/h",
                    "format": "json", "body": '{"id": "((id))"}'})
    store = LoopWatchingStore(real)
    app = CctuiApp(store, load_config(config_file), data_dir="/data/demo")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await tui.loaded(pilot)
            await pilot.press("enter")  # the detail, then an edit (a write)
            await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.record)
            await pilot.press("s")
            await tui.wait_for(pilot, lambda: any("status is now" in n.message for n in app._notifications))
            await pilot.press("escape", "m")  # the bulk picker and its confirmation
            await tui.wait_for(pilot, lambda: isinstance(app.screen, MacroPicker))
            await pilot.press("enter")
            await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            form = await tui.open_new_macro_form(pilot)  # screen 2, a preset, the form's preview
            await tui.wait_for(pilot, lambda: "request for" in str(form.query_one("#preview-request").render()))
            await pilot.press("escape")
            await tui.wait_for(pilot, lambda: not isinstance(app.screen, MacroFormScreen))
            await pilot.press("p")  # pause the macro under the cursor (a write)
            await tui.wait_for(pilot, lambda: any("paused" in n.message for n in app._notifications))
            for key, mode in (("3", "dispatch"), ("4", "logs"), ("1", "feedback")):
                await pilot.press(key)
                await tui.wait_for(pilot, lambda mode=mode: app.current_mode == mode
                                   and not any(w.is_running for w in app.screen.workers), f"screen {key}")
            macro_reads = store.off_loop.count("macros_all")
            await pilot.press("ctrl+p")  # the palette lists the macros, read in a thread
            await tui.wait_for(pilot, lambda: store.off_loop.count("macros_all") > macro_reads,
                               "the palette's read of the macros")
            await pilot.press("escape")
            looks = store.off_loop.count("revision")
            await tui.wait_for(pilot, lambda: store.off_loop.count("revision") > looks + 1,
                               "two looks at the store for other processes' writes")
        assert store.on_loop == []
    finally:
        real.close()
