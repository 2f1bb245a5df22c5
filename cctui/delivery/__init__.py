"""Delivery: the engine that sends macros, its policy, log, explanations and receiver.

No Textual here: the CLI and the TUI are two listeners of the same engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cctui.delivery.engine import Engine, SendResult, load_macro
from cctui.delivery.events import (
    AttemptFinished,
    AttemptStarted,
    RecordDone,
    RetryScheduled,
    RunFinished,
    RunStarted,
    RunSummary,
)
from cctui.delivery.explain import Explanation, explain
from cctui.delivery.worker import delivery_id_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web

__all__ = [
    "AttemptFinished", "AttemptStarted", "Engine", "Explanation", "RecordDone", "RetryScheduled",
    "RunFinished", "RunStarted", "RunSummary", "SendResult", "delivery_id_for", "explain", "load_macro",
    "make_receiver_app", "serve_in_background",
]


def make_receiver_app(*args: Any, **kwargs: Any) -> web.Application:
    """The receiver's aiohttp app (see :mod:`cctui.delivery.receiver`)."""
    from cctui.delivery.receiver import make_receiver_app as make

    return make(*args, **kwargs)


def serve_in_background(*args: Any, **kwargs: Any) -> tuple[str, Callable[[], None]]:
    """Run a receiver in a thread: ``(base_url, stop)`` (see :mod:`cctui.delivery.receiver`)."""
    from cctui.delivery.receiver import serve_in_background as serve

    return serve(*args, **kwargs)
