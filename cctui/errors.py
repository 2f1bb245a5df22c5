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


class QueryError(InputError):
    """A filter query that cannot be parsed; names the bad term."""


class MacroError(InputError):
    """A macro that is invalid; names the key (and line, for headers and body)."""


class TemplateError(MacroError):
    """A body template that fails to render or cannot yield valid JSON."""


class SecretError(MacroError):
    """A ``${NAME}`` that names an environment variable which is not set."""
