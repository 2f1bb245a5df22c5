"""A one-line footer of key hints, drawn as text.

Textual's Footer composes a widget per key and recomposes on every focus change (a large
share of a cold start); one rendered line does the same job for a keyboard-first app.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

#: Always at the right end, whatever the width: the two ways to find everything else.
_TAIL = ((" ? ", "help "), (" ^p ", "palette "))
#: The same while a text box has the focus, where ``?`` is just a character.
_TAIL_TYPING = ((" f1 ", "help "), (" ^p ", "palette "))


class KeyHints(Widget):
    """``⏎ Open  / Filter  space Mark ...   ? help  ^p palette`` for the screen's bindings.

    The screen's own keys come first; the app-wide ones (``1``-``4``, ``ctrl+q``) are
    left out since they never change (``?`` lists them). A hint that does not fit is
    dropped whole rather than cut mid-word.
    """

    DEFAULT_CSS = """
    KeyHints { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def render(self) -> Content:
        parts: list[Content] = []
        seen: set[str] = set()
        app = self.app
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen or active.node is app:
                continue
            seen.add(binding.action)
            key = app.get_key_display(binding)
            parts.append(Content.assemble((f" {key} ", "bold $footer-key-foreground"), (binding.description, "$text")))
        typing = _is_text_box(self.screen.focused)
        tail = Content.assemble(*((text, "bold $footer-key-foreground" if i % 2 == 0 else "$text")
                                  for pair in (_TAIL_TYPING if typing else _TAIL)
                                  for i, text in enumerate(pair)))
        room = self.size.width - tail.cell_length - 1
        line = Content("")
        for part in parts:
            candidate = part if not line.cell_length else Content(" ").join([line, part])
            if candidate.cell_length > room:
                break
            line = candidate
        return Content.assemble(line, " " * max(1, room - line.cell_length + 1), tail)


def _is_text_box(widget: object) -> bool:
    # By name: importing TextArea here would slow every start-up for one hint.
    return any(cls.__name__ in ("Input", "TextArea") for cls in type(widget).__mro__)
