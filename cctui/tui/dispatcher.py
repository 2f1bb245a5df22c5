"""The TUI's side of the delivery engine (placeholder; owned by TUI part 2).

The app creates one ``Dispatcher`` lazily (``app.dispatcher``); screens ask it to start,
cancel and retry runs and listen to its events.
"""

from __future__ import annotations


class Dispatcher:
    def __init__(self, app) -> None:
        self.app = app
