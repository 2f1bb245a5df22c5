"""Macros, runs, automation state and scheduled retries: the small ``meta.json`` database.

A mixin of :class:`cctui.store.store.Store`; it relies on the store's ``_writing()``
transaction and ``_reading()`` guard and on the tables opened in ``Store.__init__``.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from cctui.core.clock import iso, now
from cctui.errors import NotFound
from cctui.store.tables import RecordTable


class MetaTables:
    _macros: RecordTable
    _runs: RecordTable
    _state: RecordTable
    _beats: RecordTable
    _retries: RecordTable
    _settled: RecordTable

    if TYPE_CHECKING:  # provided by Store
        def _reading(self) -> AbstractContextManager[None]: ...
        def _writing(self) -> AbstractContextManager[None]: ...

    # -- macros ------------------------------------------------------------------------
    def macros_all(self) -> list[dict]:
        """Every macro (as ``Macro.to_dict()`` stored it), in the order they were added."""
        with self._reading():
            return self._macros.documents()

    def macro_get(self, name: str) -> dict | None:
        with self._reading():
            return self._macros.raw(name)

    def macro_put(self, macro: dict) -> None:
        """Add ``macro``, or replace the macro of the same ``name`` (keeping its place)."""
        name = macro["name"]
        doc = dict(macro)
        with self._writing():
            if self._macros.raw(name) is None:
                self._macros.put(name, doc)
            else:
                self._macros.replace(name, doc)

    def macro_remove(self, name: str) -> bool:
        """Remove a macro; False if there was none by that name."""
        with self._writing():
            if self._macros.raw(name) is None:
                return False
            return bool(self._macros.remove_ids([name]))

    def macro_update(self, name: str, fields: dict) -> dict:
        """Set some fields of a stored macro; NotFound if there is no such macro."""
        with self._writing():
            if self._macros.raw(name) is None:
                raise NotFound(f"macro {name!r}: no macro by that name (see `cctui macro list`).")
            self._macros.update_ids(dict(fields), [name])
            updated = self._macros.raw(name)
            assert updated is not None  # checked above, under the same lock
            return updated

    # -- runs ----------------------------------------------------------------------------
    def run_create(self, run: dict) -> str:
        """Persist a new run; returns its id (``run-20261128-221500-ab12`` unless given)."""
        with self._writing():
            run_id = run.get("id") or ""
            while not run_id or self._runs.raw(run_id) is not None:
                run_id = f"run-{now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
            doc = {"id": run_id, **{k: v for k, v in run.items() if k != "id"}}
            doc.setdefault("created_at", iso())
            self._runs.put(run_id, doc)
            return run_id

    def run_update(self, run_id: str, fields: dict) -> None:
        with self._writing():
            if self._runs.raw(run_id) is None:
                raise NotFound(f"run {run_id!r}: no run by that id.")
            fields = dict(fields)
            beat = self._beats.raw(run_id)
            if beat is not None and fields.get("status", "running") != "running":
                # The run is over: its last heartbeat moves into it, the beat goes.
                fields.setdefault("heartbeat_at", beat.get("at"))
                self._beats.remove_ids([run_id])
            self._runs.update_ids(fields, [run_id])

    def run_beat(self, run_id: str, at: str) -> None:
        """Set a running run's ``heartbeat_at`` (``run_get`` and ``runs_all`` show it).

        Kept in a small table of its own: a run's document holds all its record ids, and
        the journal stores whole documents, so updating the run every few seconds would
        rewrite ~1 MB per beat for a 100k-record run; a beat is a few bytes."""
        with self._writing():
            if self._beats.raw(run_id) is None:
                self._beats.put(run_id, {"at": at})
            else:
                self._beats.update_ids({"at": at}, [run_id])

    def run_settle(self, run_id: str, outcome: str, count: int = 1) -> None:
        """Count ``count`` deliveries that ``run_id`` left *retrying* as ended in
        ``outcome`` since (``delivered``, ``failed``, ``skipped``); ``run_get`` and
        ``runs_all`` show the tally as ``settled``. A run that is not stored is ignored.

        Kept apart from the run, like heartbeats: the run's document holds all its record
        ids, and the run's own close must not overwrite a settlement that came first (a
        ``run-due`` elsewhere may settle a retry before the run that scheduled it ends)."""
        with self._writing():
            if self._runs.raw(run_id) is None:
                return
            doc = self._settled.raw(run_id)
            if doc is None:
                self._settled.put(run_id, {outcome: count})
            else:
                self._settled.update_ids({outcome: int(doc.get(outcome) or 0) + count}, [run_id])

    def _joined(self, run: dict) -> dict:
        settled = self._settled.raw(run["id"])
        if settled is not None:
            run = {**run, "settled": {k: v for k, v in settled.items() if isinstance(v, int)}}
        beat = self._beats.raw(run["id"])
        if beat is None or str(beat.get("at") or "") <= str(run.get("heartbeat_at") or ""):
            return run
        return {**run, "heartbeat_at": beat["at"]}

    def run_get(self, run_id: str) -> dict | None:
        with self._reading():
            run = self._runs.raw(run_id)
            return None if run is None else self._joined(run)

    def runs_all(self) -> list[dict]:
        """Every run, oldest first."""
        with self._reading():
            return [self._joined(run) for run in self._runs.documents()]

    # -- automation state -------------------------------------------------------------------
    def state_get(self, key: str, default: Any = None) -> Any:
        """A value saved with :meth:`state_set` (e.g. a schedule's last run), else ``default``."""
        with self._reading():
            doc = self._state.raw(key)
            return default if doc is None else doc.get("value")

    def state_set(self, key: str, value: Any) -> None:
        with self._writing():
            if self._state.raw(key) is None:
                self._state.put(key, {"value": value})
            else:
                self._state.update_ids({"value": value}, [key])

    # -- scheduled retries (see cctui.delivery.scheduled) -----------------------------------
    def retries_all(self) -> list[dict]:
        """Every scheduled retry (one per delivery id), soonest due first."""
        with self._reading():
            return sorted(self._retries.documents(), key=lambda doc: (doc.get("due") or "", doc["delivery_id"]))

    def runs_and_retries(self) -> tuple[list[dict], list[dict]]:
        """``runs_all()`` and ``retries_all()`` as of one moment (screens derive a run's
        *retrying* from both, see ``cctui.delivery.runs.standing``)."""
        with self._reading():
            return self.runs_all(), self.retries_all()

    def retry_put(self, entries: list[dict]) -> None:
        """Add scheduled retries, replacing any of the same ``delivery_id``: one write."""
        if not entries:
            return
        with self._writing():
            for entry in entries:
                key = entry["delivery_id"]
                doc = dict(entry)
                if self._retries.raw(key) is None:
                    self._retries.put(key, doc)
                else:
                    self._retries.replace(key, doc)

    def retry_remove(self, delivery_ids: list[str]) -> int:
        """Forget scheduled retries (sent, or given up); returns how many there were."""
        with self._writing():
            present = [key for key in delivery_ids if self._retries.raw(key) is not None]
            if present:
                self._retries.remove_ids(present)
            return len(present)
