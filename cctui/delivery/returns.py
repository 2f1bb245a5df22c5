"""``return_values``: response JSON -> record fields, never a secret.

A record field is shown in the TUI, listed and exported in clear, so a value that holds a
secret of the request (a ``${NAME}`` value or a distinctive part of it, a credential
header the server echoed back) is refused. The delivery still counts as delivered: the
receiver accepted it, and sending again would only duplicate it. The log entry names the
refused fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson


def take_return_values(paths: Mapping[str, str], data: Any,
                       mask: Callable[[str], str]) -> tuple[dict, tuple[str, ...]]:
    """``(fields, refused)``: each record field of ``paths`` whose JSON path is found in
    ``data`` (the response body), and the names of those refused because ``mask``
    changes their value (it holds a secret)."""
    fields: dict = {}
    refused: list[str] = []
    for record_field, path in paths.items():
        found, value = json_path(data, path)
        if not found:
            continue
        value = field_value(value)
        if isinstance(value, str) and mask(value) != value:
            refused.append(record_field)
        else:
            fields[record_field] = value
    return fields, tuple(refused)


def field_value(value: Any) -> Any:
    """A value taken from a response, as a record field can hold it: scalars as they are,
    an object or a list as compact JSON text (records hold scalars only, so that export
    and import stay lossless)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def json_path(data: Any, path: str) -> tuple[bool, Any]:
    """Follow ``"data.id"`` or ``"items.0.key"`` into JSON; (found, value)."""
    current = data
    for part in str(path).split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current
