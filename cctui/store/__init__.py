"""The store: the only code that touches files in the data directory.

``open_store(data_dir, schema)`` returns a :class:`Store`; see ``docs/ARCHITECTURE.md``
("Store") for the API and ``store.py`` for how it stays fast and crash-safe.
"""

from __future__ import annotations

import os
from pathlib import Path

from cctui.core.records import Schema
from cctui.errors import FileProblem, file_problem
from cctui.store.events import ChangeEvent
from cctui.store.journal import StoreCorrupt
from cctui.store.store import Store

__all__ = ["ChangeEvent", "Store", "StoreCorrupt", "open_store"]


def open_store(data_dir: Path, schema: Schema | None = None, *, lock_timeout: float | None = None) -> Store:
    """Open (creating if needed) the store in ``data_dir``.

    ``lock_timeout``: seconds to wait for another cctui process before raising
    ``StoreBusy`` (default ``$CCTUI_LOCK_TIMEOUT`` or 15).
    """
    data_dir = Path(data_dir)
    _check_entries(data_dir)
    return Store(data_dir, schema, lock_timeout=lock_timeout)


def _check_entries(data_dir: Path) -> None:
    """Refuse, naming it, a dangling symbolic link or a directory where the store keeps a
    file: read as "no file", either would show an empty data set or fail mid-write."""
    try:
        entries = list(os.scandir(data_dir))
    except FileNotFoundError:
        return  # a new data directory: Store creates it
    except OSError as exc:
        raise file_problem(exc) from None
    for entry in entries:
        if entry.is_symlink() and not os.path.exists(entry.path):
            raise FileProblem(f"{entry.path}: it is a symbolic link to {os.readlink(entry.path)}, "
                              "which does not exist.")
        if entry.name in _FILES and entry.is_dir():
            raise FileProblem(f"{entry.path}: this is a directory, but cctui keeps a file here "
                              "(move it away).")


#: Files of the store (the ``logs`` directory aside).
_FILES = frozenset({".lock", "records.json", "records.journal", "records.head.json", "meta.json",
                    "meta.journal"})
