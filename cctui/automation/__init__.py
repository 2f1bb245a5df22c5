"""Automation: macros that run without a key press.

* :mod:`~cctui.automation.triggers`: ``attach(store, runner)`` runs macros when records
  are submitted or modified and match their ``[trigger]`` filter.
* :mod:`~cctui.automation.schedules`: ``run_due(store, runner)`` runs ``[schedule]``
  macros once per period; ``next_run`` and ``describe_schedule`` for screens.
* :mod:`~cctui.automation.listener`: ``make_listener_app(store, token)``, the inbound
  HTTP listener (aiohttp) behind ``cctui listen``.

Nothing here imports Textual.
"""

from cctui.automation.schedules import (
    DueRun,
    Schedule,
    describe_schedule,
    next_run,
    run_due,
)
from cctui.automation.triggers import (
    LoopRunner,
    QueuedRunner,
    Triggers,
    attach,
    describe_trigger,
    matching_ids,
    trigger_kinds,
)


def make_listener_app(*args, **kwargs):
    """See :func:`cctui.automation.listener.make_listener_app` (aiohttp loads lazily)."""
    from cctui.automation.listener import make_listener_app as make

    return make(*args, **kwargs)


__all__ = [
    "DueRun", "LoopRunner", "QueuedRunner", "Schedule", "Triggers", "attach",
    "describe_schedule", "describe_trigger", "make_listener_app", "matching_ids",
    "next_run", "run_due", "trigger_kinds",
]
