"""The store: the only code that touches files in the data directory.

``open_store(data_dir, schema)`` returns a :class:`Store`; see ``docs/ARCHITECTURE.md``
("Store") for the API and ``store.py`` for how it stays fast and crash-safe.
"""

from __future__ import annotations

from pathlib import Path

from cctui.core.records import Schema
from cctui.store.events import ChangeEvent
from cctui.store.journal import StoreCorrupt
from cctui.store.store import Store

__all__ = ["ChangeEvent", "Store", "StoreCorrupt", "open_store"]


def open_store(data_dir: Path, schema: Schema | None = None, *, lock_timeout: float | None = None) -> Store:
    """Open (creating if needed) the store in ``data_dir``.

    ``lock_timeout``: seconds to wait for another cctui process before raising
    ``StoreBusy`` (default ``$CCTUI_LOCK_TIMEOUT`` or 15).
    """
    return Store(Path(data_dir), schema, lock_timeout=lock_timeout)
