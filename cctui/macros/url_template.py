"""``((tags))`` in a macro's URL: only in the path and the query, each value
percent-encoded, so a record's data can never choose where a request goes.

``https://acme.atlassian.net/rest/api/2/issue/((jira_key))/comment`` renders per record.
The rules, and why:

* A tag or ``{% %}`` block may stand only after the authority (``scheme://user@host:port``)
  and before any ``#fragment``: the static text before the first tag must reach a ``/``
  or ``?`` after the host. A record's value then cannot pick the host, the port or the
  user-info, i.e. where the request and its Authorization header go. ``macro add``
  checks a URL whose ``://`` is written out; every render checks again once the
  ``${VAR}`` before the first tag are resolved.
* Each tag's value is percent-encoded whole (everything but the RFC 3986 unreserved
  characters ``A-Z a-z 0-9 - . _ ~``): ``/``, ``?``, ``#``, ``%``, ``&``, spaces, CR/LF
  and non-ASCII cannot add a path segment, a query parameter or a fragment.
* Encoding leaves ``.`` alone, so a value that makes a whole path segment ``.`` or
  ``..`` (or empty: ``/issue//comment``, which servers may merge into ``/issue/comment``)
  is refused for that record (:class:`~cctui.errors.RecordRefused`: logged as *not
  sent*, the other records go on).
* ``${VAR}`` references are swapped for placeholders before the tags render and resolved
  after, so a record holding the text ``${TOKEN}`` sends that text (encoded), never the
  variable's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cctui.errors import MacroError, RecordRefused, TemplateError
from cctui.macros.escaping import URL_CLOSE as CLOSE
from cctui.macros.escaping import URL_OPEN as OPEN
from cctui.macros.scanning import scan
from cctui.macros.secrets import SECRET_REF
from cctui.macros.templating import CompiledBody, compile_url_template

#: ``${...}`` placeholders while the tags render (as for header values).
_REF = re.compile(r"\x02(\d+)\x03")
#: ``scheme://authority`` (the authority ends at the first ``/``, ``?`` or ``#``).
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_DOT = re.compile(r"%2e", re.IGNORECASE)

#: The sentence for a tag before the path (``where`` is prefixed).
PLACE = ("key 'url': a ((tag)) or {% %} block may stand only in the path or the query, after the "
         "host (a record's value must never choose where the request and its credentials go)")


def first_tag(url: str) -> int | None:
    """Index of the first ``((tag))`` or ``{% %}`` block in ``url`` (None when it has none)."""
    if "((" not in url and "{%" not in url:
        return None
    segments = scan(url, json_aware=False)
    return next((seg.start for seg in segments if seg.kind != "text"), None)


def tags_in_place(prefix: str) -> bool:
    """Whether tags may follow ``prefix`` (the URL up to its first tag, resolved): it holds
    the whole authority plus the ``/`` or ``?`` that ends it, and no ``#``."""
    origin = _ORIGIN.match(prefix)
    return origin is not None and prefix[origin.end():origin.end() + 1] in ("/", "?") and "#" not in prefix


def misplaced(url: str, start: int) -> bool:
    """Whether ``url``'s first tag (at ``start``) is known to stand before the path now.
    With ``://`` written out the authority is known; a ``${VAR}`` holding ``https://host``
    is checked once it is read (:func:`render_url`)."""
    probe = SECRET_REF.sub("x", url[:start])
    return (not url.startswith("${") or "://" in probe) and not tags_in_place(probe)


def literal_text(url: str) -> str:
    """``url`` without its tags and blocks: the text written as it is sent."""
    return "".join(url[seg.start:seg.end] for seg in scan(url, json_aware=False) if seg.kind == "text")


def check_url_template(url: str, where: str) -> None:
    """``macro add``'s check of a URL with tags: their place (when the authority is written
    out), no whitespace or control character in the literal text, and a template that
    compiles. Raises :class:`MacroError` / :class:`TemplateError` naming ``where``."""
    try:
        segments = scan(url, json_aware=False)
    except TemplateError as exc:
        raise TemplateError(f"{where}: key 'url': {_without_body(exc)}") from None
    start = next(seg.start for seg in segments if seg.kind != "text")
    if misplaced(url, start):
        raise MacroError(f"{where}: {PLACE}.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in literal_text(url)):
        raise MacroError(f"{where}: key 'url' contains whitespace or a control character.")
    try:
        compile_url(url)
    except TemplateError as exc:
        raise TemplateError(f"{where}: key 'url': {_without_body(exc)}") from None


@lru_cache(maxsize=256)
def url_source(url: str) -> tuple[str, tuple[str, ...], str]:
    """``(source, refs, prefix)``: ``url`` with each ``${...}`` swapped for a placeholder
    (put back after the tags render), the references in order, and the text before the
    first tag (references as written)."""
    refs: list[str] = []

    def swap(match: re.Match[str]) -> str:
        refs.append(match.group(0))
        return f"\x02{len(refs) - 1}\x03"

    start = first_tag(url)
    return SECRET_REF.sub(swap, url), tuple(refs), url if start is None else url[:start]


def compile_url(url: str) -> CompiledBody:
    """The compiled template (cached) of ``url``'s tags (``${...}`` as placeholders)."""
    return compile_url_template(url_source(url)[0])


def render_url(url: str, context: dict[str, Any], resolve: Callable[[str], str], where: str) -> str:
    """``url`` rendered for one record's ``context``: tags encoded, then ``${...}``
    resolved by ``resolve``. Raises :class:`TemplateError` (the template failed),
    :class:`MacroError` (a ``${VAR}`` put a tag before the path) or
    :class:`RecordRefused` (this record's values make a ``.``, ``..`` or empty segment)."""
    source, refs, prefix = url_source(url)
    try:
        text = compile_url(url).render(context)
    except TemplateError as exc:
        exc.args = (f"{where}: url: {_without_body(exc)}",)  # keeps the class (TemplateTooExpensive)
        raise exc.with_traceback(None) from None
    if refs:
        text = _REF.sub(lambda m: resolve(refs[int(m.group(1))]), text)
    # Checked for every url, not only one starting with ${VAR}: a stored macro may not have
    # come through `macro add`. The prefix is short and has no tags: this costs little.
    resolved = SECRET_REF.sub(lambda m: resolve(m.group(0)), prefix) if refs else prefix
    if not tags_in_place(resolved) and "${" not in resolved:  # "${" left: a preview, unset
        if prefix.startswith("${"):
            raise MacroError(f"{where}: {PLACE}; here the value of {prefix.partition('}')[0]}}} ends "
                             "before the host is complete.")
        raise MacroError(f"{where}: {PLACE}.")
    _check_segments(text, where)
    return text.replace(OPEN, "").replace(CLOSE, "")


def _check_segments(text: str, where: str) -> None:
    """Refuse a path segment that a tag's value made empty, ``.`` or ``..``."""
    origin = _ORIGIN.match(text)
    start = origin.end() if origin else 0
    end = min((i for i in (text.find("?", start), text.find("#", start)) if i >= 0), default=len(text))
    path = text[start:end]
    if OPEN not in path:
        return
    for number, segment in enumerate(path.split("/")[1:], start=1):
        if OPEN not in segment:
            continue
        plain = _DOT.sub(".", segment.replace(OPEN, "").replace(CLOSE, ""))
        if plain in (".", ".."):
            raise RecordRefused(f"{where}: url: a tag's value makes path segment {number} {plain!r}, which "
                                "a server reads as a step up or along the path (another resource); this "
                                "record is not sent.")
        if not plain:
            raise RecordRefused(f"{where}: url: a tag's value is empty for this record, which leaves path "
                                f"segment {number} empty ('//' or a trailing '/', which servers may read "
                                "as another path); this record is not sent.")


def _without_body(exc: Any) -> str:
    """Template errors speak of the body; in the url there is one line."""
    return re.sub(r"^body( line \d+)?( column \d+)?: ", "", str(exc))
