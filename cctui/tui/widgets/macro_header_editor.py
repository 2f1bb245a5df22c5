"""Rows of ``Name: value`` headers; values of sensitive headers are typed blind."""

from __future__ import annotations

import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input

SENSITIVE_NAMES = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})
SENSITIVE_PART = re.compile(r"token|secret|key|signature|password", re.IGNORECASE)


def is_sensitive(name: str) -> bool:
    """The contract's rule: these headers' values never show in clear."""
    name = name.strip()
    return name.lower() in SENSITIVE_NAMES or bool(SENSITIVE_PART.search(name))


def parse_headers(value: object) -> list[tuple[str, str]]:
    """Headers from a macro dict: a ``Name: value`` text, a list of pairs or a mapping."""
    if isinstance(value, str):
        rows = []
        for line in value.splitlines():
            if line.strip():
                name, _, rest = line.partition(":")
                rows.append((name.strip(), rest.strip()))
        return rows
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items()]
    return [(str(p[0]), str(p[1])) for p in (value if isinstance(value, (list, tuple)) else [])]


class HeaderRow(Horizontal):
    """One header: name and value inputs."""

    DEFAULT_CSS = """
    HeaderRow { height: auto; }
    HeaderRow .header-name { width: 2fr; }
    HeaderRow .header-value { width: 3fr; }
    """

    def __init__(self, name: str = "", value: str = "") -> None:
        super().__init__()
        # not self._name: that is the widget's own name in Textual
        self._header_name, self._header_value = name, value

    def compose(self) -> ComposeResult:
        yield Input(self._header_name, placeholder="Header-Name", classes="header-name")
        masked = is_sensitive(self._header_name)
        yield Input(self._header_value, placeholder="value or ${ENV_VAR}", classes="header-value",
                    password=masked, select_on_focus=not masked)

    @property
    def pair(self) -> tuple[str, str]:
        name, value = self.query(Input)
        return name.value.strip(), value.value.strip()


class MacroHeaderEditor(Vertical):
    """The macro's headers as editable rows (the form binds keys to add and remove)."""

    DEFAULT_CSS = """
    MacroHeaderEditor { height: auto; }
    """

    class Changed(Message):
        """A header was added, removed or edited."""

    def __init__(self, headers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._initial = headers

    def compose(self) -> ComposeResult:
        for name, value in self._initial:
            yield HeaderRow(name, value)

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [row.pair for row in self.query(HeaderRow) if any(row.pair)]

    def as_text(self) -> str:
        """The contract's header format: one ``Name: value`` per line."""
        return "\n".join(f"{name}: {value}" for name, value in self.headers)

    async def add_row(self) -> None:
        """Append an empty row and put the cursor in its name."""
        row = HeaderRow()
        await self.mount(row)
        compact = any(field.compact for field in self.screen.query(Input))
        for field in row.query(Input):
            field.compact = compact  # like the rest of the form (narrow terminals)
        row.query_one(".header-name", Input).focus()
        self.post_message(self.Changed())

    async def remove_row_with_focus(self) -> bool:
        """Remove the row holding the focus; False when the focus is elsewhere."""
        focused = self.screen.focused
        for row in self.query(HeaderRow):
            if focused is not None and focused in list(row.query(Input)):
                await row.remove()
                self.post_message(self.Changed())
                return True
        return False

    @on(Input.Changed, ".header-name")
    def _name_changed(self, event: Input.Changed) -> None:
        # Mask as soon as the name says the value is a secret (Authorization, X-Api-Key...).
        # A masked value is never selected on focus: typing over a selection nobody can
        # see would replace the stored secret without a visible sign. The cursor stays at
        # the end, so a typed key shows as one more dot and backspace takes it back.
        row = event.input.parent
        if isinstance(row, HeaderRow):
            value = row.query_one(".header-value", Input)
            value.password = masked = is_sensitive(event.value)
            value.select_on_focus = not masked

