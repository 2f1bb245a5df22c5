"""What rendering reads from the records: :class:`RecordSource`.

A :class:`cctui.store.Store` is one; so is the delivery engine's per-run view
(:class:`cctui.delivery.view.RunView`), which answers the same calls from an index kept
current off the event loop. Macros name only this protocol, not the store or the engine.
"""

from __future__ import annotations

from typing import Protocol

from cctui.core.records import Schema


class RecordSource(Protocol):
    @property
    def schema(self) -> Schema: ...

    @property
    def revision(self) -> int:
        """Grows when the records change (for caches keyed on it)."""
        ...

    def feedback_get(self, record_id: str) -> dict | None: ...

    def user_get(self, user_id: str) -> dict | None: ...

    def feedback_all(self) -> list[dict]: ...

    def users_all(self) -> list[dict]: ...

    def macros_all(self) -> list[dict]: ...
