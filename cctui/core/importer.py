"""Import feedback from ``.csv``, ``.json`` (a list of objects) or ``.jsonl`` files.

All or nothing: every row is parsed and validated before anything is written, and the
first problem is raised as an :class:`InputError` naming the file and line (and field).
Python's ``csv`` module quietly accepts a quote that is never closed (the rest of the file
becomes one cell), so rows are read in strict mode and checked against the header's width.
Problems with the header itself (a bad or repeated field name, no ``title`` column, no
``type`` column without ``--type``) are reported at the header's line. A cell may be as
large as the file: the ``csv`` module's 128 KiB field limit is raised to the file's size
for the read, so anything cctui exports (a pasted 10 MB log included) imports again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from cctui.core.exporter import restore
from cctui.core.records import FIELD_NAME, Schema
from cctui.errors import InputError

FORMATS = (".csv", ".json", ".jsonl")


def read_rows(path: Path | str, *, need_type: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, raw row)`` from a feedback file, raising on malformed content.

    ``need_type``: no default type was given, so a CSV header must name a ``type`` column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r} (use .csv, .json or .jsonl).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    text = _decode(path, data)
    if suffix == ".csv":
        return _csv_rows(path, text, need_type=need_type)
    if suffix == ".jsonl":
        return _jsonl_rows(path, text)
    return _json_rows(path, text)


def parse_file(
    path: Path | str, schema: Schema | None = None, *, default_type: str | None = None
) -> list[dict[str, Any]]:
    """Every row of ``path`` as a validated new feedback item (no ids yet)."""
    schema = schema or Schema()
    if default_type is not None:
        default_type = schema.type_named(default_type, where="--type").name
    return [
        schema.feedback(raw, where=f"{path}:{line}", default_type=default_type)
        for line, raw in read_rows(path, need_type=default_type is None)
    ]


class ImportTarget(Protocol):
    """The store calls an import makes (:class:`cctui.store.Store`; core does not import it)."""

    schema: Schema

    def feedback_add(self, items: list[dict], *, origin: str = ...) -> list[dict]: ...


def import_file(
    store: ImportTarget, path: Path | str, schema: Schema | None = None, *, default_type: str | None = None
) -> list[dict[str, Any]]:
    """Validate the whole file, then add its items to ``store`` in one write."""
    items = parse_file(path, schema or store.schema, default_type=default_type)
    return store.feedback_add(items, origin="import") if items else []


# -- decoding -----------------------------------------------------------------------------


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"{path}:{line}: invalid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}); "
            "save the file as UTF-8."
        ) from None


# -- CSV ----------------------------------------------------------------------------------


#: The largest field limit the csv module takes everywhere (a C long may be 32 bits).
_MAX_FIELD_LIMIT = 2**31 - 1


def _allow_cells_of(size: int) -> None:
    """Let a cell be as large as the file (never lowering a limit someone else raised)."""
    wanted = min(max(size + 1, csv.field_size_limit()), _MAX_FIELD_LIMIT)
    if wanted > csv.field_size_limit():
        csv.field_size_limit(wanted)


def _csv_rows(path: Path, text: str, *, need_type: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    _allow_cells_of(len(text))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    line = 1  # where the next row starts; a quoted cell may span lines
    rows = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{path}:{line}: malformed CSV ({_csv_reason(exc)}).") from None
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if header is None:
            header = _header(path, start, cells, need_type=need_type)
            continue
        if len(cells) != len(header):
            hint = " (is a quote left open?)" if any("\n" in c for c in cells) else ""
            raise InputError(
                f"{path}:{start}: expected {len(header)} fields as in the header, "
                f"found {len(cells)}{hint}."
            )
        # restore(): a cell cctui's CSV export neutralised ('=...) comes back as it was.
        rows.append((start, {name: restore(cell) for name, cell in zip(header, cells, strict=True) if cell != ""}))
    if header is None:
        raise InputError(f"{path}:1: the CSV file is empty; the first line must name the fields.")
    return iter(rows)


def _csv_reason(exc: csv.Error) -> str:
    message = str(exc)
    if "unexpected end of data" in message:
        return "a quoted field is never closed"
    if "expected after" in message:
        return "text after a closing quote; double a quote inside a quoted field (\"\")"
    return message


def _header(path: Path, line: int, cells: list[str], *, need_type: bool = False) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    seen: set[str] = set()
    for number, (cell, name) in enumerate(zip(cells, names, strict=True), 1):
        if not name:
            raise InputError(f"{path}:{line}: column {number} of the header has no name.")
        if not FIELD_NAME.match(name):
            raise InputError(
                f"{path}:{line}: column {number} of the header, {cell.strip()!r}, is not a valid "
                "field name (lowercase letters, digits and _, starting with a letter)."
            )
        if name in seen:
            raise InputError(f"{path}:{line}: the header names {name!r} twice.")
        seen.add(name)
    if "title" not in seen:
        raise InputError(f"{path}:{line}: the header has no 'title' column (every item needs a title).")
    if need_type and "type" not in seen:
        raise InputError(f"{path}:{line}: the header has no 'type' column; add one or give --type.")
    return names


# -- JSON and JSON Lines --------------------------------------------------------------------


def _json_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSON list of objects; each row is reported at the line where its object starts."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if pos == len(text):
        raise InputError(f"{path}:1: the file is empty; expected a JSON list of objects.")
    if text[pos] != "[":
        try:
            value, _ = decoder.raw_decode(text, pos)
            got = _kind(value)
        except (ValueError, RecursionError):
            got = "invalid JSON"
        raise InputError(f"{path}:{_line(text, pos)}: expected a JSON list of objects, got {got}.")
    rows = []
    pos = _skip_space(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            line = _line(text, pos)
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}).") from None
            except (ValueError, RecursionError) as exc:
                raise InputError(f"{path}:{line}: invalid JSON ({json_limit_reason(exc)}).") from None
            if not isinstance(value, dict):
                raise InputError(f"{path}:{line}: expected an object in the list, got {_kind(value)}.")
            rows.append((line, value))
            pos = _skip_space(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_space(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise InputError(f"{path}:{_line(text, pos)}: invalid JSON (expected ',' or ']').")
    pos = _skip_space(text, pos)
    if pos != len(text):
        raise InputError(f"{path}:{_line(text, pos)}: invalid JSON (extra data after the list).")
    return iter(rows)


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = []
    # split("\n"), not splitlines(): U+2028 may sit unescaped inside a JSON string.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno}).") from None
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({json_limit_reason(exc)}).") from None
        if not isinstance(value, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {_kind(value)}.")
        rows.append((number, value))
    return iter(rows)


def json_limit_reason(exc: BaseException) -> str:
    """Why Python's json refused text that is well-formed JSON: it nests deeper than the
    interpreter's recursion limit, or holds an integer past its 4,300-digit limit."""
    if isinstance(exc, RecursionError):
        return "it nests lists or objects too deeply"
    return "a number has more than 4,300 digits"


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
