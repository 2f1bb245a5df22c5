"""The command line: a thin face on the core.

Each area registers its commands from its own module (``records``, ``macros``,
``delivery``, ``automation``, ``tui``) so that no module grows into a second app.py.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click

from cctui import __version__
from cctui.cli.context import Context
from cctui.cli.output import say
from cctui.errors import CctuiError, file_problem


class UserFacingError(click.ClickException):
    """A :class:`CctuiError` on its way out: one line on stderr and its exit code."""

    def __init__(self, error: CctuiError) -> None:
        super().__init__(str(error))
        # click annotates exit_code as a ClassVar, but reads it from the instance
        self.exit_code = error.exit_code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        say(f"cctui: {self.format_message()}", err=True, file=file)


class RootGroup(click.Group):
    """Turns user errors into clean messages everywhere: the console script and tests alike."""

    # Commands register on first lookup: ``cctui`` alone (the TUI) then never imports the
    # delivery engine's HTTP clients or the templating before its first frame.
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        _register()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CctuiError as exc:
            if ctx.obj is not None and getattr(ctx.obj, "debug", False):
                raise
            raise UserFacingError(exc) from exc
        except BrokenPipeError:
            # The reader of stdout went away (`cctui export logs | head -3`): nothing is
            # wrong with the data directory, and there is no one left to tell.
            stdout_closed()
        except OSError as exc:
            # The data directory or a file in it is unusable (permissions, a read-only
            # disk, a directory where a file belongs, a dangling link): one sentence.
            if ctx.obj is not None and getattr(ctx.obj, "debug", False):
                raise
            raise UserFacingError(file_problem(exc)) from exc


#: Exit status when stdout's reader went away: 128 + SIGPIPE, what a shell reports for
#: `git log | head` (git dies of the signal; Python ignores SIGPIPE, so cctui says it).
PIPE_CLOSED = 141


def stdout_closed() -> None:
    """End quietly with :data:`PIPE_CLOSED` after a write to a closed stdout.

    stdout is pointed at /dev/null first, so the interpreter's last flush of what is
    still buffered neither fails nor prints "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (an in-process test runner)
        pass
    raise SystemExit(PIPE_CLOSED)


@click.group(cls=RootGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, readable=False),  # an unreadable dir: our one sentence
    help="Data directory (default: $CCTUI_DATA_DIR, else the user data dir).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--theme", help="Theme for the TUI (remembered in the config).")
@click.version_option(__version__, prog_name="cctui")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, debug: bool, theme: str | None) -> None:
    """Triage product feedback and push it anywhere with webhook macros.

    Without a command, opens the TUI on the data directory.
    """
    ctx.obj = Context(data_dir_option=data_dir, debug=debug, theme=theme)
    if ctx.invoked_subcommand is None:
        from cctui.cli.tui import open_tui

        open_tui(ctx.obj)


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    from cctui.cli import automation, delivery, macros, records, tui

    for module in (records, macros, delivery, automation, tui):
        module.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="cctui", standalone_mode=False)
        sys.stdout.flush()  # here, where a closed pipe can still end quietly
    except BrokenPipeError:
        stdout_closed()
    except CctuiError as exc:
        if debug:
            raise
        say(f"cctui: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        say("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(result if isinstance(result, int) else 0)
