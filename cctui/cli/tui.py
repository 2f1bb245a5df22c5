"""``cctui`` (the TUI), ``cctui demo`` and ``cctui serve``."""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

import click

from cctui.cli.context import Context

DEMO_COUNT = 2000


def open_tui(ctx: Context) -> None:
    """Run the TUI on ``ctx``'s data directory and config (blocks until quit)."""
    from cctui.tui.app import CctuiApp

    store = ctx.store  # opening it attaches the triggers
    # While the app runs, triggered runs start on its loop through its dispatcher, so they
    # show on screen 3; the context's ThreadRunner takes them again after quit.
    app = CctuiApp(store, ctx.config, theme=ctx.theme, data_dir=ctx.data_dir, schema=ctx.schema,
                   triggers=ctx.triggers)
    app.run()


def register(cli: click.Group) -> None:
    """Add ``demo`` and ``serve`` to the root group."""
    cli.add_command(demo)
    cli.add_command(serve)


@click.command()
@click.option("--count", default=DEMO_COUNT, show_default=True, help="Feedback items to generate.")
@click.option("--seed", "seed", default=1, show_default=True, help="Random seed (same seed, same data).")
@click.pass_obj
def demo(ctx: Context, count: int, seed: int) -> None:
    """Start the TUI on demo data, with macros that send to a local receiver.

    Uses a fresh temporary directory unless --data-dir is given (then items are added
    only if it holds none). The receiver runs inside this process, so sending works
    offline; what it receives shows in the log screen.
    """
    from cctui.core.seed import seed_store
    from cctui.delivery.receiver import serve_in_background
    from cctui.macros.samples import sample_macro_dicts

    temp = None
    if ctx.data_dir_option is None:
        temp = tempfile.TemporaryDirectory(prefix="cctui-demo-")
        ctx.data_dir_option = temp.name
    base_url, stop = serve_in_background("127.0.0.1", 0)
    try:
        store = ctx.store
        if store.feedback_count() == 0:
            click.echo(f"Generating {count:,} feedback items in {ctx.data_dir} ...", err=True)
            seed_store(store, count, seed, macros=sample_macro_dicts(base_url))
        else:
            for macro in sample_macro_dicts(base_url):  # point the samples at this run's receiver
                store.macro_put(macro)
        open_tui(ctx)
    finally:
        stop()
        opened = ctx._store
        if opened is not None:
            opened.close()
        if temp is not None:
            temp.cleanup()


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
        click.echo(f"warning: serving on {host} without authentication; anyone who can reach it can use cctui.", err=True)
    server = Server(shlex.join(command), host=host, port=port, title="cctui")
    server.serve()
