"""Turning a tag's value into body text for the place it stands: inside a JSON string,
as a JSON value, in a form body, in a header, or as plain text.

These are the filters :mod:`cctui.macros.templating` pipes every ``((tag))`` through
(plus the ones users may call: ``tojson``, ``mrkdwn``, ``oneline``). Each returns text
that is valid for its place whatever the record holds (quotes, newlines, ``</script>``,
lone surrogates), which is what lets a JSON body stay JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import quote, quote_plus

from jinja2 import Undefined

from cctui.errors import RecordRefused, TemplateError
from cctui.macros.budget import check_text_of

# Characters that are valid JSON but break HTML/JS embedding or lone surrogates that
# cannot be encoded as UTF-8: always written as \u escapes.
_UNSAFE_JSON = re.compile("[\u2028\u2029\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_loads(text: str) -> Any:
    """``json.loads`` without Python's extensions (``NaN``, ``Infinity``)."""
    return json.loads(text, parse_constant=_no_constant)


class JsonText(str):
    """Text that already is JSON (what ``tojson`` returns): inserted as-is in value position."""


def to_text(value: Any) -> str:
    """A value as plain text: None is empty, booleans are JSON words, containers are JSON."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        check_text_of(value)
        return _dumps(value)
    return str(value)


def _default(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return str(value)


def _not_json(value: float) -> TemplateError:
    return TemplateError(f"body: a tag renders {value!r}, which is not a JSON number (NaN and infinity are not JSON).")


def _dumps(value: Any, *, strict: bool = False, indent: int | None = None) -> str:
    """JSON text; ``strict`` refuses NaN and infinity (Python would write ``NaN``, not JSON)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=_default, indent=indent, allow_nan=not strict)
    except ValueError as exc:
        if strict and "Out of range float" in str(exc):
            raise TemplateError("body: a tag renders NaN or infinity, which is not JSON.") from None
        raise
    if "</" in text:
        text = text.replace("</", "<\\/")  # so a body pasted into HTML cannot close a <script>
    if _UNSAFE_JSON.search(text):
        text = _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def json_string_content(value: Any) -> str:
    """``value`` as the inside of a JSON string (no surrounding quotes)."""
    return _dumps(to_text(value))[1:-1]


def json_value(value: Any) -> str:
    """``value`` as a JSON literal: numbers, booleans and null stay so, the rest is quoted."""
    if isinstance(value, JsonText):
        return str(value)
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (bool, int, float, list, tuple, dict, str)):
        if isinstance(value, float) and not math.isfinite(value):
            raise _not_json(value)
        check_text_of(value)
        return _dumps(value, strict=True)
    return _dumps(str(value))


def tojson(value: Any, indent: int | None = None) -> JsonText:
    """Replaces jinja's ``tojson``: marks its result so value position inserts it as-is."""
    check_text_of(value)
    return JsonText(_dumps(value, strict=True, indent=indent))


def mrkdwn(value: Any) -> str:
    """Slack mrkdwn escaping: ``&``, ``<``, ``>`` would otherwise start links or entities."""
    return to_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def oneline(value: Any) -> str:
    """Whitespace runs (newlines included) as single spaces: for summaries and subjects."""
    return " ".join(to_text(value).split())


def form_value(value: Any) -> str:
    """``value`` URL-encoded for a form body."""
    return quote_plus(to_text(value), errors="backslashreplace")


def header_text(value: Any) -> str:
    """``value`` as text that a header value can carry, or :class:`RecordRefused` saying
    why not (a line break would end the header, and could start a forged one): the
    record's value is at fault, not the macro, so that record is not sent and the run
    goes on."""
    text = to_text(value)
    if text.isascii() and text.isprintable():
        return text
    for char in text:
        if char in "\r\n":
            raise RecordRefused("a tag's value holds a line break (CR or LF), which would end the header; "
                                "use ((field|oneline)) to join the lines.")
        if char != "\t" and (ord(char) < 32 or ord(char) == 127):
            raise RecordRefused(f"a tag's value holds the control character {char!r}, which a header "
                                "cannot carry.")
        if not char.isascii():
            raise RecordRefused(f"a tag's value holds the non-ASCII character {char!r}, which an HTTP "
                                "header cannot carry (header values must be printable ASCII).")
    return text


#: What :func:`url_value` puts around each tag's encoded value, so the rendered URL path
#: can be checked segment by segment (:mod:`cctui.macros.url_template`); neither can be in
#: an encoded value, and ``macro add`` refuses URL text holding them.
URL_OPEN, URL_CLOSE = "\x04", "\x05"


def url_value(value: Any) -> str:
    """``value`` percent-encoded for a URL path segment or query value (UTF-8; everything
    but the unreserved ``A-Z a-z 0-9 - . _ ~``, so ``/ ? # % &`` and spaces cannot change
    the URL's shape), between the segment markers."""
    return URL_OPEN + quote(to_text(value), safe="", errors="backslashreplace") + URL_CLOSE
