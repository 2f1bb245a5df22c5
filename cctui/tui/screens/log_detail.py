"""One attempt in full: what was asked, what came back, and what to do about it."""

from __future__ import annotations

import shlex
from typing import Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from cctui.tui.clip import clip
from cctui.tui.widgets.key_hints import KeyHints
from cctui.tui.widgets.log_table import status_colour
from cctui.tui.widgets.macro_request_view import header_pairs, shown_body


def curl_command(method: str, url: str, headers: list[tuple[str, str]] | list[list[str]], body: str) -> str:
    """A copy-pasteable ``curl`` that repeats a request (shell-quoted, one option a line)."""
    parts = [f"curl -X {shlex.quote(method)} {shlex.quote(url)}"]
    for name, value in headers:
        parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if body:
        parts.append(f"--data-raw {shlex.quote(body)}")
    return " \\\n  ".join(parts)


def explanation_of(entry: dict) -> dict[str, str]:
    """``{"title", "meaning", "action"}`` from the log entry, else from the core's explainer."""
    stored = entry.get("explanation")
    if isinstance(stored, dict) and stored.get("title"):
        return {k: str(stored.get(k) or "") for k in ("title", "meaning", "action")}
    try:
        from cctui.delivery import explain

        result = explain(int(entry.get("status_code") or 0), entry.get("response_body") or "",
                         entry.get("response_headers"), entry.get("error"))
        return {k: str(getattr(result, k, "") or "") for k in ("title", "meaning", "action")}
    except Exception:  # an explanation is a help, never a reason to fail the screen
        title = stored if isinstance(stored, str) else (entry.get("error") or "")
        return {"title": str(title), "meaning": "", "action": ""}


def detail_text(entry: dict) -> Text:
    """The whole detail view as one styled text (masked: the log never holds secrets)."""
    code = int(entry.get("status_code") or 0)
    out = Text()
    out.append(f"{code or 'no response'}", style=f"bold {status_colour(entry)}")
    out.append(f"  {entry.get('macro', '')} → {entry.get('record_id', '')}", style="bold")
    out.append(f"  trigger {entry.get('trigger', '')} · attempt {entry.get('attempt', '')}"
               f" · {float(entry.get('duration_ms') or 0):.0f} ms · {entry.get('started_at', '')}\n")
    why = explanation_of(entry)
    if why["title"]:
        out.append(f"\n{why['title']}\n", style=f"bold {status_colour(entry)}")
    if why["meaning"]:
        out.append(f"{why['meaning']}\n")
    if why["action"]:
        out.append("What to do: ", style="bold")
        out.append(f"{why['action']}\n")
    if entry.get("error"):
        out.append(f"Error: {entry['error']}\n", style="red")
    out.append("\nRequest\n", style="bold underline")
    out.append(f"{entry.get('method', '')} {entry.get('url', '')}\n")
    for name, value in header_pairs(entry.get("request_headers")):
        out.append(f"{name}: ", style="cyan")
        out.append(f"{value}\n")
    out.append(f"\n{shown_body(str(entry.get('request_body') or ''))}\n")
    out.append("\nResponse\n", style="bold underline")
    for name, value in header_pairs(entry.get("response_headers")):
        out.append(f"{name}: ", style="cyan")
        out.append(f"{value}\n")
    body = str(entry.get("response_body") or "")
    out.append(f"\n{shown_body(body) if body else '(empty body)'}\n")
    return out


class LogActions(Protocol):
    """What the detail view asks its log screen to do."""

    def retry_entries(self, entries: list[dict]) -> None: ...
    def copy_curl(self, entry: dict, *, reveal: bool = False) -> None: ...
    def jump_to_record(self, record_id: str) -> None: ...


class LogDetailScreen(Screen):
    """Full detail of one attempt, with the keys to act on it."""

    DEFAULT_CSS = """
    LogDetailScreen #log-detail-body { padding: 0 1; }
    LogDetailScreen #log-detail-curl { padding: 0 1; border: round $panel; height: auto; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="log-detail-back"),
        Binding("r", "retry", "Retry", id="log-detail-retry"),
        Binding("c", "curl(False)", "Copy curl", id="log-detail-curl"),
        Binding("C", "curl(True)", "Curl with secrets", id="log-detail-curl-secrets"),
        Binding("o,g", "record", "Open record", id="log-detail-record"),
    ]

    def __init__(self, entry: dict, actions: LogActions) -> None:
        super().__init__()
        self.entry = entry
        self.actions = actions

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(detail_text(self.entry), id="log-detail-body")
            yield Static("", id="log-detail-curl", markup=False)
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one("#log-detail-curl").display = False
        self.query_one(VerticalScroll).focus()

    def show_curl(self, text: str) -> None:
        """Show the command that was just copied, so it works without OSC 52 too."""
        curl = self.query_one("#log-detail-curl", Static)
        curl.update(clip(text))  # the clipboard got all of it
        curl.display = True
        self.call_after_refresh(curl.scroll_visible, animate=False)  # it sits below the body

    def action_retry(self) -> None:
        self.actions.retry_entries([self.entry])

    def action_curl(self, reveal: bool) -> None:
        self.actions.copy_curl(self.entry, reveal=reveal)

    def action_record(self) -> None:
        self.actions.jump_to_record(str(self.entry.get("record_id", "")))

