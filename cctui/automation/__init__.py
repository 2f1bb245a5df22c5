"""Automation: macros that run without a key press.

* :mod:`~cctui.automation.triggers`: ``attach(store, runner)`` runs macros when records
  are submitted or modified and match their ``[trigger]`` filter.
* :mod:`~cctui.automation.schedules`: ``run_due(store, runner)`` runs ``[schedule]``
  macros once per period; ``next_run`` and ``describe_schedule`` for screens.
* :mod:`~cctui.automation.listener`: ``make_listener_app(store, token)``, the inbound
  HTTP listener (aiohttp) behind ``cctui listen``.

Nothing here imports Textual.
"""

from importlib import import_module
from typing import Any

#: Each public name -> the submodule that defines it. They load on first use: the store
#: attaches ``triggers`` whenever the CLI opens it, and ``schedules`` (croniter, dateutil)
#: would otherwise be imported by every command and before the TUI's first frame.
_EXPORTS = {
    **dict.fromkeys(("DueRun", "Schedule", "describe_schedule", "next_run", "run_due"), "schedules"),
    **dict.fromkeys(("LoopRunner", "QueuedRunner", "Triggers", "attach", "describe_trigger",
                     "matching_ids", "trigger_kinds"), "triggers"),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def make_listener_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`cctui.automation.listener.make_listener_app` (aiohttp loads lazily)."""
    from cctui.automation.listener import make_listener_app as make

    return make(*args, **kwargs)


__all__ = [
    "DueRun", "LoopRunner", "QueuedRunner", "Schedule", "Triggers", "attach",
    "describe_schedule", "describe_trigger", "make_listener_app", "matching_ids",
    "next_run", "run_due", "trigger_kinds",
]
