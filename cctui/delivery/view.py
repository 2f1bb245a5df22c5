"""A read view of the store for one bulk run: the same answers, far fewer file checks.

Every store read checks two files' ``stat`` to catch other processes' writes; a bulk send
reads the record, the submitter and the revision for each of thousands of records. This
view indexes the run's target records once per store revision and looks at the revision
at most every ``refresh`` seconds, so a 10k-record run costs a few dozen checks, not 40k.
It is used on the event loop thread only.
"""

from __future__ import annotations

import time
from typing import Any


class RunView:
    """Duck-types the parts of :class:`cctui.store.Store` that rendering reads."""

    def __init__(self, store, target: str = "feedback", refresh: float = 0.25) -> None:
        self._store = store
        self._target = target
        self._refresh = refresh
        self._revision: int | None = None
        self._checked = float("-inf")
        self._indexes: dict[str, tuple[int | None, Any]] = {}

    def __getattr__(self, name: str) -> Any:  # schema, macro_get, ...: straight to the store
        return getattr(self._store, name)

    @property
    def revision(self) -> int:
        now = time.monotonic()
        if now - self._checked >= self._refresh:
            self._revision = self._store.revision
            self._checked = now
        return self._revision  # type: ignore[return-value]

    def _rows(self, kind: str) -> dict[str, dict]:
        revision = self.revision
        cached = self._indexes.get(kind)
        if cached is None or cached[0] != revision:
            rows = self._store.users_all() if kind == "users" else self._store.feedback_all()
            cached = self._indexes[kind] = (revision, {row["id"]: row for row in rows})
        return cached[1]

    def record(self, record_id: str) -> dict | None:
        """The run's target record (feedback item or user), as of the latest revision."""
        return self._rows(self._target).get(record_id)

    def feedback_get(self, record_id: str) -> dict | None:
        return self._rows("feedback").get(record_id)

    def user_get(self, user_id: str) -> dict | None:
        return self._rows("users").get(user_id)

    def users_all(self) -> list[dict]:
        return list(self._rows("users").values())
