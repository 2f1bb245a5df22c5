"""Export feedback and the delivery log as CSV, JSON (one array) or JSON Lines.

CSV cells that a spreadsheet would run as a formula are neutralised (:func:`neutralise`);
JSON and JSON Lines hold the values as they are.

Output goes to a stream (stdout) or to a file written atomically (temp file, fsync,
``os.replace``), so a reader never sees half an export. Log entries are masked by the
delivery engine already; the CLI masks them again (``cctui.macros.secrets.mask_log_entry``)
before they reach :func:`export_logs`, as defence in depth.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from cctui.core.records import FEEDBACK_FIELDS
from cctui.errors import InputError

FORMATS = ("csv", "json", "jsonl")

#: Columns of a log export, in the contract's order; extra keys follow.
LOG_FIELDS = (
    "id", "delivery_id", "run_id", "macro", "record_id", "trigger", "attempt", "method", "url",
    "status_code", "ok", "error", "duration_ms", "started_at", "request_headers",
    "response_body",
)


def write_records(
    records: Iterable[dict[str, Any]], fmt: str, out: IO[str], *, columns: Iterable[str] = ()
) -> int:
    """Write ``records`` to the text stream ``out``; returns how many were written.

    ``columns`` orders the CSV header; fields not named there follow, sorted.
    """
    if fmt not in FORMATS:
        raise InputError(f"--format: unknown format {fmt!r} (use csv, json or jsonl).")
    if fmt == "csv":
        return _write_csv(list(records), out, tuple(columns))
    count = 0
    if fmt == "json":
        out.write("[")
        for count, record in enumerate(records, 1):
            out.write(("\n" if count == 1 else ",\n") + _json(record))
        out.write("\n]\n" if count else "]\n")
        return count
    for record in records:
        out.write(_json(record) + "\n")
        count += 1
    return count


def export_feedback(records: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Feedback items, core fields first."""
    return write_records(records, fmt, out, columns=FEEDBACK_FIELDS)


def export_logs(entries: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Delivery log entries (newest first, as the store yields them), contract columns first."""
    return write_records(entries, fmt, out, columns=LOG_FIELDS)


@contextmanager
def atomic_output(path: Path | str) -> Iterator[IO[str]]:
    """A text stream whose content replaces ``path`` only when the block succeeds."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"-o {path}: the directory {directory} does not exist.")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def _json(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


#: What a spreadsheet reads as the start of a formula (or of a DDE payload) in a cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet will not run: a leading ``=``, ``+``, ``-``,
    ``@``, tab or CR gets a ``'`` in front (OWASP's CSV injection advice), so a title
    such as ``=HYPERLINK(...)`` shows as text. A value that already starts with ``'``
    before one of them gets one more, so :func:`restore` (``cctui import``) gives back
    exactly what was exported."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def restore(cell: str) -> str:
    """A CSV cell as :func:`neutralise` found it (drops the ``'`` it added)."""
    return cell[1:] if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_START) else cell


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)  # a number (-5, 1e-3) is no formula
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return neutralise(str(value))


def _write_csv(records: list[dict[str, Any]], out: IO[str], columns: tuple[str, ...]) -> int:
    present: set[str] = set()
    for record in records:
        present.update(record)
    # The named columns always appear (a stable shape for spreadsheets); extras follow.
    header = list(columns) + sorted(present - set(columns))
    # csv quotes a cell holding a character of the line terminator: with "\r\n" a bare CR
    # in a cell is quoted too (with "\n" alone it split the row); lines still end in "\n".
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def emit(row: list[str]) -> None:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        out.write(buffer.getvalue()[:-2] + "\n")

    emit([neutralise(name) for name in header])
    for record in records:
        emit([_cell(record.get(name)) for name in header])
    return len(records)
