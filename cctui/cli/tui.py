"""``cctui`` (the TUI), ``cctui demo`` and ``cctui serve``."""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cctui.cli.context import Context
from cctui.cli.output import say

if TYPE_CHECKING:
    from collections.abc import Callable

DEMO_COUNT = 2000


def open_tui(ctx: Context, *, remember_theme: bool = True) -> None:
    """Run the TUI on ``ctx``'s data directory and config (blocks until quit)."""
    from cctui.tui.app import CctuiApp

    store = ctx.store  # opening it attaches the triggers
    # While the app runs, triggered runs start on its loop through its dispatcher, so they
    # show on screen 3; the context's ThreadRunner takes them again after quit.
    app = CctuiApp(store, ctx.config, theme=ctx.theme, data_dir=ctx.data_dir, schema=ctx.schema,
                   triggers=ctx.triggers, remember_theme=remember_theme)
    app.run()


def register(cli: click.Group) -> None:
    """Add ``demo`` and ``serve`` to the root group."""
    cli.add_command(demo)
    cli.add_command(serve)


#: The demo remembers its receiver's port in its data dir: macros made in one session
#: still reach the receiver in the next.
DEMO_PORT_KEY = "demo.receiver_port"
#: Temporary demo dirs are named so, and hold the demo's pid while it runs.
DEMO_PREFIX = "cctui-demo-"
DEMO_PID_FILE = "demo.pid"


@click.command()
@click.option("--count", default=DEMO_COUNT, show_default=True, help="Feedback items to generate.")
@click.option("--seed", "seed", default=1, show_default=True, help="Random seed (same seed, same data).")
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False),
              help="Keep the demo in this directory (reused next time) instead of a temporary one.")
@click.pass_obj
def demo(ctx: Context, count: int, seed: int, data_dir: str | None) -> None:
    """Start the TUI on demo data, with macros that send to a local receiver.

    Uses a fresh temporary directory, removed when the demo ends (also when its terminal
    is closed or it is sent SIGTERM; one left by a killed demo is removed by the next),
    unless --data-dir is given (here or before `demo`): then items are added only if it
    holds none, and the receiver keeps the port it had there. The receiver runs inside
    this process, so sending works offline; what it receives shows in the log screen.
    Switching theme in the demo does not change your config file.
    """
    from cctui.core.seed import seed_store
    from cctui.macros.samples import sample_macro_dicts

    if data_dir is not None:
        ctx.data_dir_option = data_dir
    temp = None
    if ctx.data_dir_option is None:
        remove_stale_demo_dirs()
        temp = tempfile.TemporaryDirectory(prefix=DEMO_PREFIX)
        Path(temp.name, DEMO_PID_FILE).write_text(str(os.getpid()), encoding="ascii")
        ctx.data_dir_option = temp.name
    stop = None
    try:
        store = ctx.store
        wanted = int(store.state_get(DEMO_PORT_KEY) or 0)
        base_url, stop = _demo_receiver(wanted)
        port = int(base_url.rsplit(":", 1)[1])
        if store.feedback_count() == 0:
            say(f"Generating {count:,} feedback items in {ctx.data_dir} ...", err=True)
            seed_store(store, count, seed, macros=sample_macro_dicts(base_url))
        elif port != wanted:
            for macro in sample_macro_dicts(base_url):  # point the samples at this receiver
                store.macro_put(macro)
        if port != wanted:
            store.state_set(DEMO_PORT_KEY, port)
        open_tui(ctx, remember_theme=False)
    finally:
        if stop is not None:
            stop()
        opened = ctx._store
        if opened is not None:
            opened.close()
        if temp is not None:
            temp.cleanup()


def _demo_receiver(port: int) -> tuple[str, Callable[[], None]]:
    """The demo's receiver on ``port`` if it is free (the one this dir used before), else
    on any free port."""
    from cctui.delivery.receiver import serve_in_background

    if port:
        try:
            return serve_in_background("127.0.0.1", port)
        except OSError:  # taken since (another demo on this dir, another program)
            pass
    return serve_in_background("127.0.0.1", 0)


def remove_stale_demo_dirs(root: Path | None = None) -> list[Path]:
    """Remove this user's temporary demo dirs whose demo is gone (killed with SIGKILL,
    a crash): the pid in the dir's pid file no longer runs. Returns what was removed."""
    import shutil

    from cctui.delivery.recovery import pid_alive

    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(DEMO_PREFIX + "*"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            pid = int((path / DEMO_PID_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):  # not ours, or no pid file: leave it alone
            continue
        if not pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.pass_obj
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the TUI in a web browser (textual-serve). It has NO authentication.

    Anyone who can reach HOST:PORT can use cctui with your data: keep the default
    loopback address, or put it behind something that authenticates.
    """
    from textual_serve.server import Server

    command = [sys.executable, "-m", "cctui", "--data-dir", str(Path(ctx.data_dir).resolve())]
    if ctx.theme:
        command += ["--theme", ctx.theme]
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: serving on {host} without authentication; anyone who can reach it can use cctui.", err=True)
    server = Server(shlex.join(command), host=host, port=port, title="cctui")
    server.serve()
