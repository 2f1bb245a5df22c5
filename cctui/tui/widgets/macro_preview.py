"""The macro form's right-hand pane: the request rendered for one record, masked.

Shows the core's validation error (with line and column) when the macro does not
render, the target's limit warnings when it does, and the answer of a test send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from cctui.errors import CctuiError
from cctui.tui.widgets.macro_request_view import render_macro, request_text, shown_body

if TYPE_CHECKING:
    from textual import getters

    from cctui.delivery.engine import SendResult
    from cctui.tui.app import CctuiApp


class SendAnswer(Static, can_focus=True):
    """The answer of a test send: focusable, so the keyboard reaches it below the fold."""

    DEFAULT_CSS = "SendAnswer:focus { border: round $accent; }"


class MacroPreview(VerticalScroll):
    """Preview of the request for the record named in its record box."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    DEFAULT_CSS = """
    MacroPreview { border-left: solid $panel; padding: 0 1; }
    MacroPreview #preview-record { width: 100%; }
    MacroPreview #preview-problems { color: $error; }
    MacroPreview #preview-warnings { color: $warning; }
    MacroPreview #preview-answer { border: round $panel; height: auto; display: none; }
    MacroPreview #preview-answer.-shown { display: block; }
    """

    def __init__(self, record_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._record_id = record_id
        self.record: dict | None = None
        self._last_form: dict | None = None

    def compose(self) -> ComposeResult:
        yield Static("[b]Preview[/b] for record:")
        yield Input(placeholder="record id, e.g. BUG-0001", id="preview-record")
        yield Static("", id="preview-problems", markup=False)
        yield Static("", id="preview-warnings", markup=False)
        yield Static("", id="preview-request", markup=False)
        yield SendAnswer("", id="preview-answer")

    def on_mount(self) -> None:
        record_id = self._record_id or self.app.current_record_id
        box = self.query_one("#preview-record", Input)
        with box.prevent(Input.Changed):
            box.value = record_id or ""

    def _pick_record(self, target: str, wanted: str) -> dict | None:
        store = self.app.store
        if wanted:
            found = (store.user_get if target == "users" else store.feedback_get)(wanted)
            if found is None:
                raise CctuiError(f"preview record: {wanted} does not exist.")
            return found
        records = store.users_all() if target == "users" else store.feedback_all()
        return records[0] if records else None

    def render_form(self, form: dict) -> None:
        """Render ``form`` (a macro dict) for the chosen record and show the outcome.

        The render runs in a thread: a hostile body may use its whole render budget
        (about a second) before it is refused, and typing must not freeze meanwhile.
        """
        self._last_form = form
        wanted = self.query_one("#preview-record", Input).value.strip().upper()
        self._render_preview(form, wanted)

    @work(thread=True, exclusive=True, group="macro-preview")
    def _render_preview(self, form: dict, wanted: str) -> None:
        try:
            record = self._pick_record(form.get("target", "feedback"), wanted)
            rendered = render_macro(self.app, form, record, missing_secrets="placeholder",
                                    engine_headers=True)
            outcome: tuple = (record, rendered, None)
        except CctuiError as exc:
            outcome = (None, None, str(exc))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Rendered(*outcome))

    class Rendered(Message, bubble=False):
        """A render for the preview: the record and request, or the problem to show."""

        def __init__(self, record: dict | None, rendered: Any, problem: str | None) -> None:
            super().__init__()
            self.record, self.rendered, self.problem = record, rendered, problem

    @on(Rendered)
    def _rendered(self, message: Rendered) -> None:
        self._show(message.record, message.rendered, message.problem)

    def _show(self, record: dict | None, rendered: Any, problem: str | None) -> None:
        problems = self.query_one("#preview-problems", Static)
        warnings = self.query_one("#preview-warnings", Static)
        request = self.query_one("#preview-request", Static)
        if problem is not None:
            problems.update(problem)
            warnings.update("")
            request.update("")
            return
        self.record = record
        problems.update("")
        unset = [f"${{{name}}} is not set: this request cannot be sent until it is."
                 for name in rendered.missing_secrets]
        warnings.update("\n".join(f"⚠ {w}" for w in [*unset, *rendered.warnings]))
        label = (self.record or {}).get("id", "(no record)")
        request.update(f"── request for {label} (secrets masked) ──\n{request_text(rendered.masked())}")

    @on(Input.Changed, "#preview-record")
    def _record_changed(self, event: Input.Changed) -> None:
        event.stop()  # the form's own change handler would mark it dirty
        if self._last_form is not None:
            self.render_form(self._last_form)

    # -- test send ------------------------------------------------------------------
    def _answer(self) -> Static:
        answer = self.query_one("#preview-answer", Static)
        answer.add_class("-shown")
        # At 80x24 the form and this pane share one scrolling column: bring it up.
        self.call_after_refresh(answer.scroll_visible, animate=False)
        return answer

    def show_answer_pending(self) -> None:
        self._answer().update("Sending once…")

    def show_answer_error(self, message: str) -> None:
        self._answer().update(Text(f"Not sent: {message}", style="red"))

    def show_answer(self, result: SendResult) -> None:
        """Status, explanation and body of one test send (headers and body already masked)."""
        code = result.status_code
        style = "green" if 200 <= code < 300 else ("yellow" if code == 429 or 300 <= code < 400 else "red")
        out = Text()
        out.append(f"Test send: {code or 'no response'}", style=f"bold {style}")
        out.append(f" in {result.duration_ms} ms\n")
        explanation = result.explanation
        out.append(f"{explanation.title}\n", style=style)
        if not result.ok and explanation.action:
            out.append(f"What to do: {explanation.action}\n")
        if result.error:
            out.append(f"{result.error}\n", style="red")
        body = result.body
        out.append(shown_body(body) if body else "(empty body)")
        self._answer().update(out)
