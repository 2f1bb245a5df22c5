"""``records.head.json``: the newest feedback and the counts, readable without the snapshot.

Parsing a big ``records.json`` is most of opening a store (and holds the GIL), so the
TUI's first screenful should not wait for it. Whenever the records snapshot is written, a small side
file is written next to it (atomically, after the snapshot)::

    {"seq": N, "snapshot": [inode, size, mtime_ns], "limit": 200,
     "feedback_count": F, "users_count": U, "counts_by_type": {type: n},
     "ids": {"feedback": {prefix: [max, dense]}, "users": {...}},
     "recent": {id: doc, ...}}   # the ``limit`` newest by ``created``, in store order

:func:`first_page` trusts it only while the snapshot on disk is the one it describes (same
signature, and the seq at the start of the snapshot file matches), then replays the journal
onto it. Whenever anything is uncertain it returns None and the caller loads the store
normally: the head is an optimisation, never a source of truth. ``ids`` says per id prefix
the highest number and whether the ids are exactly ``PREFIX-0001 .. PREFIX-max``, which is
how a journal entry for a record outside the page is known to be an edit or an addition.
"""

from __future__ import annotations

import heapq
import os
import re
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from cctui.core.records import RECORD_ID, format_id
from cctui.store.files import Signature, atomic_write

HEAD_LIMIT = 200
_SEQ = re.compile(rb'^\{"_cctui":\{"seq":(\d+)')
_created = itemgetter("created")


def head_path(snapshot_path: Path) -> Path:
    return snapshot_path.with_name(snapshot_path.stem + ".head.json")


def _id_ranges(docs: dict[str, Any]) -> dict[str, list]:
    """prefix -> [max number, dense] for the ids of one table."""
    numbers: dict[str, list[int]] = {}  # prefix -> [max, count, canonical]
    odd: set[str] = set()
    for doc_id in docs:
        match = RECORD_ID.match(doc_id)
        if not match:
            odd.add("")
            continue
        prefix, number = match.group(1), int(match.group(2))
        entry = numbers.setdefault(prefix, [0, 0])
        entry[1] += 1
        if number > entry[0]:
            entry[0] = number
        if number < 1 or format_id(prefix, number) != doc_id:
            odd.add(prefix)
    ranges: dict[str, list] = {p: [mx, count == mx and p not in odd] for p, (mx, count) in numbers.items()}
    if odd:
        ranges[""] = [0, False]  # ids of no known shape: additions can't be told from edits
    return ranges


def build_head(seq: int, tables: dict[str, dict[str, Any]], sig: Signature, limit: int = HEAD_LIMIT) -> dict | None:
    """The head for a snapshot of ``tables`` at ``seq`` (None when there is no useful page)."""
    if sig is None:
        return None
    feedback = tables.get("feedback", {})
    users = tables.get("users", {})
    try:
        top = heapq.nlargest(limit, feedback.values(), key=_created)
        if any(not isinstance(doc.get("created"), str) for doc in top):
            return None
    except (KeyError, TypeError):  # a record without a date: the table's own sort decides
        return None
    chosen = {id(doc) for doc in top}
    recent = {doc_id: doc for doc_id, doc in feedback.items() if id(doc) in chosen}
    by_type: dict[str, int] = {}
    for doc in feedback.values():
        kind = doc.get("type")
        if isinstance(kind, str):
            by_type[kind] = by_type.get(kind, 0) + 1
    return {
        "seq": seq, "snapshot": list(sig), "limit": limit,
        "feedback_count": len(feedback), "users_count": len(users), "counts_by_type": by_type,
        "ids": {"feedback": _id_ranges(feedback), "users": _id_ranges(users)},
        "recent": recent,
    }


def write_head(snapshot_path: Path, seq: int, tables: dict[str, dict[str, Any]], sig: Signature) -> None:
    """Write (or remove, when there is no page) the head of the snapshot just written.
    Best effort: a failure leaves no head or a stale one, which :func:`first_page` ignores."""
    path = head_path(snapshot_path)
    try:
        head = build_head(seq, tables, sig)
        if head is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, orjson.dumps(head))
    except (OSError, TypeError):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _snapshot_seq(snapshot_path: Path) -> tuple[Signature, int | None]:
    try:
        with open(snapshot_path, "rb") as handle:
            start = handle.read(64)
            st = os.fstat(handle.fileno())
    except OSError:
        return None, None
    match = _SEQ.match(start)
    return (st.st_ino, st.st_size, st.st_mtime_ns), int(match.group(1)) if match else None


class _Uncertain(Exception):
    pass


def _existed(table: str, doc_id: str, ranges: dict[str, dict[str, list]]) -> bool:
    """Was ``doc_id`` in the snapshot's ``table``? (raises _Uncertain if it can't tell)"""
    match = RECORD_ID.match(doc_id)
    spans = ranges.get(table, {})
    if not match or "" in spans:
        raise _Uncertain
    prefix, number = match.group(1), int(match.group(2))
    span = spans.get(prefix)
    if span is None:
        return False  # no id with this prefix at all
    highest, dense = span
    if number > highest:
        return False
    if dense and number >= 1 and format_id(prefix, number) == doc_id:
        return True
    raise _Uncertain


def first_page(snapshot_path: Path, journal_path: Path, limit: int = HEAD_LIMIT) -> tuple[list[dict], dict] | None:
    """``(rows, counts)``: the ``limit`` newest feedback items (``created`` descending, ties
    in store order, as the table sorts them) and ``{"feedback": F, "users": U, "by_type":
    {...} or None}``, from the head file and the journal only; None if unsure."""
    try:
        head = orjson.loads(head_path(snapshot_path).read_bytes())
        sig, seq = _snapshot_seq(snapshot_path)
        if sig is None or list(sig) != head["snapshot"] or seq != head["seq"] or limit > head["limit"]:
            return None
        try:
            with open(journal_path, "rb") as handle:
                journal = handle.read()
        except FileNotFoundError:
            journal = b""
        result = _replay(head, journal, limit)
        if _snapshot_seq(snapshot_path)[0] != sig:
            return None  # compacted while we read the journal
        return result
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, _Uncertain):
        return None


def _replay(head: dict, journal: bytes, limit: int) -> tuple[list[dict], dict] | None:
    recent: dict[str, dict] = head["recent"]
    ranges = head["ids"]
    if len(recent) < min(limit, head["feedback_count"]):
        return None
    page_ids = set(recent)
    boundary = min(map(_created, recent.values())) if recent else ""
    candidates = dict(recent)  # store order: the page's, then additions
    moved_in: set[str] = set()  # existing records from outside the page (store position unknown)
    exists: dict[tuple[str, str], bool] = {}
    counts = {"feedback": head["feedback_count"], "users": head["users_count"]}
    by_type: dict[str, int] | None = dict(head["counts_by_type"])
    original_created = {doc_id: doc["created"] for doc_id, doc in recent.items()}

    def had(table: str, doc_id: str) -> bool:
        key = (table, doc_id)
        if key not in exists:
            exists[key] = (table == "feedback" and doc_id in page_ids) or _existed(table, doc_id, ranges)
        return exists[key]

    def count_type(kind: Any, delta: int) -> None:
        if by_type is not None and isinstance(kind, str):
            by_type[kind] = by_type.get(kind, 0) + delta

    position = 0
    while True:
        end = journal.find(b"\n", position)
        if end < 0:
            break  # nothing, or a torn last append (ignored, as the storage does)
        try:
            entry = orjson.loads(journal[position:end])
            seq, ops = int(entry["seq"]), entry["ops"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        position = end + 1
        if seq <= head["seq"]:
            continue
        for table, puts, removed in ops:
            if table not in ("feedback", "users"):
                continue
            for doc_id in removed:
                if had(table, doc_id):
                    counts[table] -= 1
                    if table == "feedback":
                        old = candidates.get(doc_id)
                        if old is None:
                            by_type = None  # its type is not known here
                        else:
                            count_type(old.get("type"), -1)
                exists[(table, doc_id)] = False
                if table == "feedback":
                    candidates.pop(doc_id, None)
                    original_created.pop(doc_id, None)  # if it comes back, it comes back last
            for doc_id, doc in puts.items():
                existed = had(table, doc_id)
                if not existed:
                    counts[table] += 1
                exists[(table, doc_id)] = True
                if table != "feedback":
                    continue
                old = candidates.get(doc_id)
                if existed and old is None:
                    by_type = None
                    moved_in.add(doc_id)
                elif old is not None:
                    count_type(old.get("type"), -1)
                    count_type(doc.get("type"), +1)
                else:
                    count_type(doc.get("type"), +1)
                candidates[doc_id] = doc
    by_id = candidates.get
    docs = list(candidates.values())
    if any(not isinstance(doc.get("created"), str) for doc in docs):
        return None
    top = heapq.nlargest(limit, docs, key=_created)
    if len(top) < min(limit, counts["feedback"]):
        return None  # page records left it: the ones that move up are not in the head
    for doc in top:
        doc_id = doc.get("id")
        if not isinstance(doc_id, str) or by_id(doc_id) is not doc:
            return None  # a record whose "id" field is not its key: don't guess
        created = doc["created"]
        if created > boundary and doc_id not in moved_in:
            continue
        if original_created.get(doc_id) == created and doc_id in page_ids:
            continue
        if created > boundary:  # moved in from outside the page: fine unless its place in a tie matters
            if any(other is not doc and other["created"] == created for other in top):
                return None
            continue
        return None  # at the boundary or below: a record outside the head may rank above it
    return top, {**counts, "by_type": by_type}
