"""The project's own exceptions.

Every error a user can cause is a :class:`CctuiError` whose message is one sentence naming
the file, line, field or header at fault. The CLI prints it to stderr and exits with
``exit_code``; the TUI shows it as a toast. Anything else is a bug and gets a traceback.
"""

from __future__ import annotations


class CctuiError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 2


class InputError(CctuiError):
    """Bad input: a malformed file, field, query, macro or argument. Nothing was changed."""


class NotFound(CctuiError):
    """A record, user, macro or run that does not exist."""


class StoreBusy(CctuiError):
    """Another cctui process held the data directory's lock for too long."""

    exit_code = 1


class StoreWriteError(CctuiError):
    """A file in the data directory could not be written (a full disk, a read-only
    mount). The message names the file and what the data now holds."""

    exit_code = 1


class QueryError(InputError):
    """A filter query that cannot be parsed; names the bad term."""


class MacroError(InputError):
    """A macro that is invalid; names the key (and line, for headers and body)."""


class TemplateError(MacroError):
    """A body template that fails to render or cannot yield valid JSON."""


class RecordRefused(TemplateError):
    """One record's value cannot go where its tag stands (a URL path segment it would make
    ``..``, a header value with a line break): that record is not sent, the other records
    of the run go on."""


class SecretError(MacroError):
    """A ``${NAME}`` that names an environment variable which is not set."""


class FileProblem(CctuiError):
    """The data directory or one of its files cannot be used: permissions, a read-only
    file system, a directory or a dangling link where a file should be. Nothing was
    changed (exit 2); a failure of the disk itself (full, I/O error) exits 1."""


class DiskFailure(FileProblem):
    """The disk itself failed (full, I/O error): the command ran but could not finish."""

    exit_code = 1


def file_problem(exc: OSError) -> FileProblem:
    """An ``OSError`` from the file system as one sentence naming the file at fault."""
    import errno
    import os

    name = exc.filename if exc.filename is not None else exc.filename2
    where = str(name) if name is not None else "the data directory"
    problem = FileProblem
    code = exc.errno
    if isinstance(exc, PermissionError):
        reason = "permission denied (check the owner and mode of this file and its directory)"
    elif code == errno.EROFS:
        reason = "the file system is read-only"
    elif isinstance(exc, IsADirectoryError):
        reason = "this is a directory, but cctui needs a file here (move it away)"
    elif isinstance(exc, NotADirectoryError):
        reason = "a part of this path is a file, not a directory"
    elif isinstance(exc, FileNotFoundError) and name is not None and (link := _dangling(str(name))):
        reason = f"{link} is a symbolic link to {os.readlink(link)}, which does not exist"
    else:
        reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
        problem = DiskFailure
    return problem(f"{where}: {reason}.")


def _dangling(path: str) -> str | None:
    """``path`` or the first of its parents that is a symbolic link to nothing."""
    import os

    current = os.path.abspath(path)
    while True:
        if os.path.islink(current) and not os.path.exists(current):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
