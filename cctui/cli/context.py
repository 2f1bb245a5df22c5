"""What every command shares: the data directory, config, schema and store, opened lazily.

Opening the store also attaches automation triggers (``cctui.automation.triggers``): a
command that submits or modifies records (``feedback add/set``, ``import``, ``send``
with ``on_success``) queues the triggered runs, and they run with the delivery engine
when the command finishes, before the process exits. The TUI faces (``cctui``, ``demo``,
``serve``) get a ``ThreadRunner`` instead, so triggered runs start at once on a thread
of their own; a face may swap the runner (``context.triggers.runner = LoopRunner(...)``,
as ``cctui listen`` does, and as the TUI does while it runs: its dispatcher starts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cctui.cli.output import say
from cctui.config import Config, load_config, resolve_data_dir
from cctui.core.records import Schema
from cctui.errors import CctuiError

if TYPE_CHECKING:
    from cctui.automation.triggers import QueuedRunner, ThreadRunner, Triggers
    from cctui.store import Store


#: Commands that show the TUI: their triggered runs must not wait for the process to end.
TUI_FACES = (None, "demo", "serve")


class TriggeredRunsFailed(CctuiError):
    """The command's own work was saved, but a run it triggered had failures."""

    exit_code = 1


@dataclass
class Context:
    data_dir_option: str | None = None
    debug: bool = False
    theme: str | None = None
    _store: Store | None = field(default=None, repr=False)
    #: the store subscriber that fires triggers (None until the store is opened)
    triggers: Triggers | None = field(default=None, repr=False)
    #: the CLI's runner: triggered runs wait here until the command finishes
    runner: QueuedRunner | None = field(default=None, repr=False)
    #: the TUI faces' runner (runs start at once on a thread of their own)
    thread_runner: ThreadRunner | None = field(default=None, repr=False)

    @cached_property
    def data_dir(self) -> Path:
        return resolve_data_dir(self.data_dir_option)

    @cached_property
    def config(self) -> Config:
        return load_config()

    @cached_property
    def schema(self) -> Schema:
        return Schema.from_config(self.config.records)

    @property
    def store(self) -> Store:
        if self._store is None:
            from cctui.store import open_store

            self._store = open_store(self.data_dir, schema=self.schema)
            if self._store.loose_mode is not None:  # once per command: the store opens once
                path = self.data_dir
                _warn(f"warning: the data directory {path} is open to other users (mode "
                      f"{self._store.loose_mode:04o}) and may hold credentials; `chmod 700 {path}` fixes it.")
            self._attach_triggers(self._store)
        return self._store

    def engine(self) -> Any:
        """A delivery engine on this context's store and config."""
        from cctui.delivery import Engine

        return Engine(self.store, config=self.config)

    def _attach_triggers(self, store: Store) -> None:
        from cctui.automation.triggers import QueuedRunner, ThreadRunner, attach

        ctx = click.get_current_context(silent=True)
        root = ctx.find_root() if ctx is not None else None
        self.runner = QueuedRunner(self.engine)
        runner: Any = self.runner
        if root is not None and root.invoked_subcommand in TUI_FACES:
            self.thread_runner = runner = ThreadRunner(self.engine)
        self.triggers = attach(store, runner, schema=self.schema, warn=_warn)
        if root is not None:
            root.call_on_close(self.finish_triggered_runs)

    def finish_triggered_runs(self) -> None:
        """Run every queued triggered run now; report each on stderr.

        Raises TriggeredRunsFailed (exit 1) when some delivery of those runs failed.
        """
        if self.thread_runner is not None:
            self.thread_runner.close(timeout=60)  # let runs in flight finish on quit
        if self.runner is None or not self.runner.pending:
            return
        failures = []
        for name, trigger, summary in self.runner.drain():
            line = describe_run(name, trigger, summary)
            say(f"cctui: {line}", err=True)
            if run_failed(summary):
                failures.append(name)
        if failures:
            unique = sorted(set(failures))
            where = ", ".join(f"`cctui logs --macro {name}`" for name in unique)
            raise TriggeredRunsFailed(
                f"triggered runs of {', '.join(unique)} had failed deliveries (see {where})."
            )


def describe_run(name: str, trigger: str, summary: Any) -> str:
    """``trigger submit ran slack-bugs: 3 sent, 3 delivered, 0 failed, 0 skipped``."""
    if isinstance(summary, Exception):
        return f"{trigger} run of {name} did not start: {summary}"
    counts = ", ".join(
        f"{getattr(summary, key, 0)} {key}" for key in ("sent", "delivered", "failed", "skipped")
    )
    retrying = getattr(summary, "retrying", 0)
    if retrying:  # scheduled for later: run-due, retry or the TUI sends them
        counts += f", {retrying} retrying (next at {getattr(summary, 'next_retry', None)})"
    return f"{trigger} run of {name}: {counts}"


def run_failed(summary: Any) -> bool:
    return isinstance(summary, Exception) or bool(getattr(summary, "failed", 0) or getattr(summary, "not_sent", 0))


def _warn(message: str) -> None:
    say(f"cctui: {message}", err=True)
