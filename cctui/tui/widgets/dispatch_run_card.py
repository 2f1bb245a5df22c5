"""One run on the dispatch panel: progress bar, counts, pace, status codes, failures."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from cctui.tui.run_progress import RunProgress

STATE_STYLE = {
    "running": "bold cyan", "done": "bold green", "cancelled": "bold yellow",
    "error": "bold red", "interrupted": "bold yellow", "live": "bold cyan",
}
#: What a state means, said on the card where the word alone is not enough.
STATE_NOTE = {
    "live": "sending in another process (its counts show when it ends)",
    "interrupted": "stopped mid-run: r (or `cctui retry`) sends what is left",
}


def code_style(code: int) -> str:
    """Colour of a status code: green 2xx, yellow 3xx/429, red 4xx/5xx/none."""
    if 200 <= code < 300:
        return "green"
    if code == 429 or 300 <= code < 400:
        return "yellow"
    return "red"


def clock_text(seconds: float | None) -> str:
    """``0:02:31``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def bar(done: int, total: int, width: int) -> Text:
    """A plain progress bar (ASCII-safe blocks, readable in 16 colours)."""
    width = max(4, width)
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    text = Text("█" * filled, style="green")
    text.append("░" * (width - filled), style="dim")
    return text


def render_run(run: RunProgress, width: int = 78, *, failures: int = 3) -> Text:
    """Everything the panel says about ``run`` as styled text ``width`` cells wide."""
    out = Text()
    out.append(f"{run.macro}", style="bold")
    out.append(f" · {run.trigger}")
    if run.run_id:
        out.append(f" · {run.run_id}", style="dim")
    out.append("  ")
    out.append(run.state, style=STATE_STYLE.get(run.state, "bold"))
    if run.persisted and run.state not in STATE_NOTE:
        out.append("  (earlier)", style="dim")
    out.append("\n")
    if run.state in STATE_NOTE:
        out.append(STATE_NOTE[run.state] + "\n", style="italic")
    total = max(run.total, run.done)
    percent = 100 * run.done / total if total else (100 if not run.running else 0)
    label = f" {run.done:,}/{total:,} {percent:3.0f}%"
    out.append_text(bar(run.done, total, width - len(label) - 1))
    out.append(label + "\n")
    for name, value, style in (
        ("sent", run.sent, ""), ("delivered", run.delivered, "green"),
        ("failed", run.failed, "red" if run.failed else ""),
        ("retrying", run.retrying + run.scheduled, "yellow" if run.retrying + run.scheduled else ""),
        ("skipped", run.skipped, "dim"),
        *((("not sent", run.not_sent, "yellow"),) if run.not_sent else ()),
    ):
        out.append(f"{name} ")
        out.append(f"{value:,}", style=style or "bold")
        out.append("  ")
    out.append("\n")
    if run.scheduled:
        when = run.next_retry or "later"
        text = (f"1 retry scheduled at {when}" if run.scheduled == 1
                else f"{run.scheduled:,} retries scheduled, next at {when}")
        out.append(text + "\n", style="yellow")
    out.append(f"rate {run.rate():,.1f} req/s · elapsed {clock_text(run.elapsed())}"
               f" · ETA {clock_text(run.eta())}\n")
    if run.error:
        out.append(f"{run.error}\n", style="red")
    if run.codes:
        out.append_text(code_chart(run, width))
    shown = list(run.failures)[:failures]
    if shown:
        out.append("latest failed attempts\n", style="bold")
        for note in shown:
            line = Text("  ")
            line.append(f"{note.record_id:<10} ")
            line.append(f"{note.status_code or '---':>3}", style=code_style(note.status_code))
            line.append(f"  {note.explanation or note.error or ''}")
            line.truncate(width, overflow="ellipsis")
            out.append_text(line)
            out.append("\n")
    out.rstrip()
    return out


def code_chart(run: RunProgress, width: int) -> Text:
    """Status codes seen so far as one horizontal bar each, scaled to the biggest."""
    out = Text()
    biggest = max(run.codes.values())
    span = max(4, width - 18)
    for code, count in sorted(run.codes.items()):
        out.append(f"  {code or '---':>3} ", style=code_style(code))
        length = max(1, round(span * count / biggest))
        out.append("▇" * length, style=code_style(code))
        out.append(f" {count:,}\n")
    return out


class DispatchRunCard(Widget, can_focus=True):
    """A focusable card for one run; the dispatch screen's keys act on the focused one."""

    DEFAULT_CSS = """
    DispatchRunCard { height: auto; border: round $panel; padding: 0 1; }
    DispatchRunCard:focus { border: round $accent; }
    """

    def __init__(self, run: RunProgress, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run

    def _text(self, width: int) -> Text:
        return render_run(self.run, max(20, width or 78), failures=3 if self.has_focus else 1)

    def render(self) -> Text:
        return self._text(self.content_region.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Measured at the width the layout offers, not at the last region's (which is
        # stale, or zero, before the first layout): else the card keeps a wrong height.
        return len(self._text(width).wrap(self.app.console, max(20, width or 78)))

    def on_focus(self) -> None:
        self.refresh(layout=True)

    def on_blur(self) -> None:
        self.refresh(layout=True)
