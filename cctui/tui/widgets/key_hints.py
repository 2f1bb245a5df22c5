"""A one-line footer of key hints, drawn as text.

Textual's Footer composes a widget per key and recomposes on every focus change (~130 ms
of a cold start here); one rendered line does the same job for a keyboard-first app.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget


class KeyHints(Widget):
    """``⏎ Open  / Filter  space Mark ...  ^p palette`` for the screen's shown bindings."""

    DEFAULT_CSS = """
    KeyHints { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def render(self) -> Content:
        parts: list[Content] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            parts.append(Content.assemble((f" {key} ", "bold $footer-key-foreground"), (binding.description, "$text")))
        palette = Content.assemble((" ^p ", "bold $footer-key-foreground"), ("palette ", "$text"))
        line = Content(" ").join(parts)
        room = self.size.width - palette.cell_length - 1
        if line.cell_length > room:
            line = line.truncate(max(0, room))
        return Content.assemble(line, " " * max(1, room - line.cell_length + 1), palette)
