"""One writer per data directory: a lock file for other processes, a mutex for threads.

Two in-process locks, so that readers never wait behind a writer's file I/O:

* ``writer`` (held by :class:`DataDirLock` itself, with the lock file) serialises the
  writing threads of this process for the whole transaction, fsyncs included;
* ``mutex`` guards the in-memory tables. Readers hold it for the length of one read; a
  writer holds it only while it changes the tables in memory (and while it rolls a
  failed write back), never while it appends, fsyncs or compacts.

Order: ``writer`` -> lock file -> ``mutex``; never the other way round.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from filelock import FileLock, Timeout

from cctui.errors import StoreBusy

#: Seconds to wait for another cctui process before giving up (``CCTUI_LOCK_TIMEOUT``).
DEFAULT_TIMEOUT = 15.0


def default_timeout() -> float:
    raw = os.environ.get("CCTUI_LOCK_TIMEOUT")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


class DataDirLock:
    """Re-entrant: the outermost ``with`` takes ``.lock``, inner ones only count.

    ``with lock:`` holds the writer lock and the lock file, not ``mutex``: a writer takes
    ``mutex`` on its own, briefly, for its in-memory changes.

    The OS drops the lock when its process dies (even by SIGKILL), so a crashed writer
    never leaves the directory locked.
    """

    def __init__(self, data_dir: Path, timeout: float | None = None):
        self.path = data_dir / ".lock"
        self.timeout = default_timeout() if timeout is None else timeout
        #: The in-memory tables: readers, and a writer's in-memory phase.
        self.mutex = threading.RLock()
        #: One writing thread of this process at a time (held across the file I/O).
        self.writer = threading.RLock()
        # thread_local=False: the writer lock already serialises threads of this process
        self._file = FileLock(str(self.path), timeout=self.timeout, thread_local=False, mode=0o600)
        self._depth = 0

    @property
    def held(self) -> bool:
        """Does some thread of this process hold the lock file (so nothing else can write)?"""
        return self._depth > 0

    def __enter__(self) -> DataDirLock:
        self.writer.acquire()
        if self._depth == 0:
            try:
                self._file.acquire(poll_interval=0.01)
            except Timeout:
                self.writer.release()
                raise StoreBusy(
                    f"{self.path.parent}: another cctui process has held the data directory's "
                    f"lock ({self.path.name}) for over {self.timeout:g} s; try again when it finishes."
                ) from None
            except BaseException:
                self.writer.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._file.release()
        finally:
            self.writer.release()
