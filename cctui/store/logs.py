"""The delivery log: one JSON line per webhook attempt, in small segment files.

``logs/seg-000001.jsonl``, ``seg-000002.jsonl``, ... each hold up to
``SEGMENT_ENTRIES`` lines, so appending touches only the newest segment (O(1) per entry,
however long the log) and reading newest-first opens older segments only when the reader
keeps asking. A line torn by a crash is skipped when reading and cut by the next append.
Callers hold the data-dir lock around :meth:`DeliveryLog.append`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from cctui.core.clock import iso, parse_iso
from cctui.core.records import shown_value
from cctui.errors import InputError
from cctui.store.files import append_durably, fsync_dir, make_private_dir

SEGMENT_ENTRIES = 5000
SEGMENT = re.compile(r"^seg-(\d{6,})\.jsonl$")
STATUS_CLASS = re.compile(r"^([1-5])xx$")
#: A raw line's delivery id (orjson writes no spaces); ids are plain ``msg_...`` strings.
DELIVERY_ID = re.compile(rb'"delivery_id":"([^"\\]*)"')


class DeliveryLog:
    """Append-many, read-newest-first access to the ``logs/`` segments."""

    def __init__(self, directory: Path, segment_entries: int = SEGMENT_ENTRIES):
        self.directory = directory
        self.segment_entries = segment_entries
        #: segment path -> (size, complete lines, valid bytes) when we last counted it
        self._counts: dict[Path, tuple[int, int, int]] = {}
        self._newest: int | None = None

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := SEGMENT.match(p.name))]
        return [p for _, p in sorted(found)]

    def _segment_path(self, number: int) -> Path:
        return self.directory / f"seg-{number:06d}.jsonl"

    def _newest_number(self) -> int:
        """The newest segment's number (0 if none) without listing the directory each time.

        Another process may have rotated since we looked, so step past any newer files.
        """
        if self._newest is None:
            segments = self.segments()
            match = SEGMENT.match(segments[-1].name) if segments else None
            self._newest = int(match.group(1)) if match else 0
        while self._segment_path(self._newest + 1).exists():
            self._newest += 1
        if self._newest and not self._segment_path(self._newest).exists():
            self._newest = None  # the log was removed under us: list again
            return self._newest_number()
        return self._newest

    def _count(self, path: Path) -> tuple[int, int]:
        """(complete lines, bytes they take) of a segment; cached while its size holds."""
        size = path.stat().st_size
        cached = self._counts.get(path)
        if cached and cached[0] == size:
            return cached[1], cached[2]
        data = path.read_bytes()
        valid = data.rfind(b"\n") + 1
        lines = data.count(b"\n", 0, valid)
        self._counts[path] = (size, lines, valid)
        return lines, valid

    # -- writing ---------------------------------------------------------------------
    def append(self, entries: list[dict[str, Any]]) -> None:
        """Append ``entries`` durably: one write + fsync per segment touched."""
        if not entries:
            return
        if not self.directory.is_dir():
            make_private_dir(self.directory)
            fsync_dir(self.directory.parent)
        number = self._newest_number()
        if number:
            lines, valid = self._count(self._segment_path(number))
        else:
            number, lines, valid = 1, 0, 0
        # every older segment is full, so an entry's position gives it a unique id
        total = (number - 1) * self.segment_entries + lines
        pending = list(entries)
        while pending:
            if lines >= self.segment_entries:
                number, lines, valid = number + 1, 0, 0
            room = self.segment_entries - lines
            chunk, pending = pending[:room], pending[room:]
            encoded = []
            for entry in chunk:
                total += 1
                if not entry.get("id"):
                    entry["id"] = f"att-{total:08d}"
                try:
                    encoded.append(orjson.dumps(entry))
                except TypeError as exc:
                    raise InputError(f"log entry {entry.get('id')}: a value cannot be stored as JSON ({exc}).") from None
            data = b"\n".join(encoded) + b"\n"
            path = self._segment_path(number)
            size = append_durably(path, data, valid_length=valid)
            lines += len(chunk)
            valid = size
            self._newest = number
            self._counts[path] = (size, lines, size)

    # -- reading ---------------------------------------------------------------------
    def count(self) -> int:
        """How many entries the log holds (cached per segment; full segments never change)."""
        return sum(self._count(p)[0] for p in self.segments())

    def iter_newest_first(
        self, *, macro: str | None = None, record_id: str | None = None,
        delivery_id: str | None = None, run_id: str | None = None, status: str | int | None = None,
        trigger: str | None = None, since: str | None = None, until: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries newest first, filtered; segments are read one at a time, lazily.

        A delivery state (``status="retrying"``, ...) is the state of each delivery's
        newest entry in the whole log: a retry run delivers under the same delivery id
        with its own ``run_id`` and ``trigger``, so with ``run_id``, ``trigger``,
        ``since`` or ``until`` the state is judged on every attempt of the delivery and
        the entry yielded is the delivery's newest one that those filters let through."""
        same = {k: v for k, v in (("macro", macro), ("record_id", record_id), ("delivery_id", delivery_id))
                if v is not None}  # the same on every attempt of a delivery
        per_attempt = {k: v for k, v in (("run_id", run_id), ("trigger", trigger)) if v is not None}
        since_at = _bound(since, "since")
        until_at = _bound(until, "until")
        state = str(status).strip().lower() if status is not None else ""
        whole = state in DELIVERY_STATES and bool(per_attempt or since_at or until_at)
        exact = same if whole else {**same, **per_attempt}
        # cheap byte pre-check: an exact-match value must appear in the raw line
        needles = [orjson.dumps(v) for v in exact.values()]
        status_test = None if whole else _status_test(status)
        judged: dict[Any, str] = {}  # whole: each delivery's state, from its newest entry
        shown: set[Any] = set()
        for entry in self._entries(needles, exact):
            key = entry.get("delivery_id") or entry.get("id")
            if whole:
                if judged.setdefault(key, delivery_state(entry)) != state or key in shown:
                    continue
                if any(entry.get(k) != v for k, v in per_attempt.items()):
                    continue
            elif status_test and not status_test(entry):
                continue
            if since_at or until_at:
                started = _normal_time(entry.get("started_at"))
                if started is None or (since_at and started < since_at) or (until_at and started > until_at):
                    continue
            if whole:
                shown.add(key)
            yield entry

    def _entries(self, needles: list[bytes], exact: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Entries newest first whose fields equal ``exact`` (``needles``: its values as
        JSON, which a matching raw line must contain: most lines are never parsed)."""
        for path in reversed(self.segments()):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            for line in reversed(data.split(b"\n")):
                if not line or any(n not in line for n in needles):
                    continue
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # torn by a crash mid-append
                if any(entry.get(k) != v for k, v in exact.items()):
                    continue
                yield entry

    def delivery_states(self, delivery_ids: set[str]) -> dict[str, str]:
        """The state of each of ``delivery_ids`` (its newest entry's, see
        :func:`delivery_state`): a screen showing one run's attempts counts a delivery
        that a later retry run delivered as delivered. Reads newest first and stops once
        every one is found."""
        wanted = set(delivery_ids)
        found: dict[str, str] = {}
        for path in reversed(self.segments()):
            if len(found) == len(wanted):
                break
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            for line in reversed(data.split(b"\n")):
                match = DELIVERY_ID.search(line)
                if match is None:
                    continue
                key = match.group(1).decode("utf-8", "replace")
                if key not in wanted or key in found:
                    continue
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if entry.get("delivery_id") == key:
                    found[key] = delivery_state(entry)
                    if len(found) == len(wanted):
                        break
        return found


#: Delivery states ``status`` accepts besides attempt codes (see docs/delivery.md).
DELIVERY_STATES = ("delivered", "retrying", "failed", "skipped")


def delivery_state(entry: dict[str, Any]) -> str:
    """What a delivery is when ``entry`` is its newest attempt: ``delivered``,
    ``retrying`` (a retry is scheduled, at ``retry_at``), ``failed`` (for good) or
    ``skipped`` (its scheduled retry was dropped unsent, see cctui.delivery.scheduled)."""
    if entry.get("ok"):
        return "delivered"
    if entry.get("skipped"):
        return "skipped"
    return "retrying" if entry.get("retry_at") else "failed"


def _status_test(status: str | int | None) -> Callable[[dict], bool] | None:
    """``"404"``, ``"4xx"``, ``"ok"`` (attempts) or ``"delivered"``, ``"retrying"``,
    ``"failed"``, ``"skipped"`` (deliveries: the newest attempt of each delivery in that state; a 429
    later delivered is not failed), or None, as a predicate on each entry, newest first."""
    if status is None or status == "":
        return None
    text = str(status).strip().lower()
    if text == "ok":
        return lambda e: bool(e.get("ok"))
    if text in DELIVERY_STATES:
        seen: set[Any] = set()

        def newest_in_state(entry: dict[str, Any]) -> bool:
            key = entry.get("delivery_id") or entry.get("id")
            if key in seen:
                return False  # an older attempt of a delivery already judged
            seen.add(key)
            return delivery_state(entry) == text

        return newest_in_state
    if text.isascii() and text.isdigit() and len(text) <= 3:
        code = int(text)
        return lambda e: e.get("status_code") == code
    match = STATUS_CLASS.match(text)
    if match:
        low = int(match.group(1)) * 100
        return lambda e: isinstance(e.get("status_code"), int) and low <= e["status_code"] < low + 100
    raise InputError(f"status {shown_value(status)}: expected a code (404), a class (4xx), 'ok', 'delivered', "
                     "'retrying', 'failed' or 'skipped'.")


def _bound(value: str | None, where: str) -> str | None:
    return iso(parse_iso(value, where=where)) if value else None


def _normal_time(value: Any) -> str | None:
    """Timestamps as ``YYYY-MM-DDTHH:MM:SSZ`` so that string order is time order."""
    if not isinstance(value, str):
        return None
    if len(value) == 20 and value.endswith("Z"):
        return value
    try:
        return iso(parse_iso(value))
    except InputError:
        return None
