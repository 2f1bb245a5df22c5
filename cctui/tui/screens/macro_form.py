"""The macro form: every key of a macro, a live masked preview, save and test send.

The form edits a plain macro dict; the core's ``Macro.from_dict`` is the one judge of
validity, so the errors shown here are the same sentences the CLI prints.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.validation import ValidationResult, Validator
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from cctui.errors import CctuiError
from cctui.tui.screens.confirm import ConfirmScreen
from cctui.tui.screens.tag_picker import TagPicker
from cctui.tui.widgets.key_hints import KeyHints
from cctui.tui.widgets.macro_fields import fields_to_text, form_to_dict, text_to_fields
from cctui.tui.widgets.macro_header_editor import MacroHeaderEditor, parse_headers
from cctui.tui.widgets.macro_preview import MacroPreview

if TYPE_CHECKING:
    from textual import getters

    from cctui.tui.app import CctuiApp

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORMATS = ("json", "form", "text")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def json_language_available() -> bool:
    """True when TextArea can highlight JSON; a missing or broken grammar is not fatal."""
    try:
        from textual._tree_sitter import get_language

        return get_language("json") is not None
    except Exception:  # native extensions can fail to load in many ways
        return False


class UrlValidator(Validator):
    """http(s) URL with a host; ``${VAR}`` counts as text (its value is read at send time)."""

    def validate(self, value: str) -> ValidationResult:
        from cctui.errors import TemplateError
        from cctui.macros.url_template import first_tag, literal_text, misplaced

        text = value.strip()
        try:
            start = first_tag(text)
        except TemplateError as exc:  # a tag left open: say so (the save would refuse it too)
            return self.failure(str(exc).removeprefix("body: "))
        if start is not None:
            if misplaced(text, start):
                return self.failure("a ((tag)) may stand only in the path or the query, after the host")
            text = literal_text(text)  # spaces inside ((tags)) and {% %} blocks are the template's
        probe = VARIABLE.sub("x", text)
        if not probe:
            return self.failure("url is empty")
        if not re.match(r"^https?://[^/\s]+", probe):
            return self.failure("url must start with http:// or https:// and name a host")
        if re.search(r"\s", probe):
            return self.failure("url contains a space")
        return self.success()


#: Below this many columns the preview goes under the form and fields lose their borders.
NARROW = 100


class MacroFormScreen(Screen):
    """Edit one macro. ctrl+s save, ctrl+t tag, ctrl+o test send, ctrl+n/ctrl+r header row.

    Wide terminals show the form and the preview side by side; narrow ones (80x24) stack
    them in one scrolling column with borderless fields, and f2 jumps to the preview.
    """

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    DEFAULT_CSS = """
    MacroFormScreen #form-layout { layout: horizontal; height: 1fr; }
    MacroFormScreen #form { width: 1fr; min-width: 38; padding: 0 1; }
    MacroFormScreen MacroPreview { width: 1fr; }
    MacroFormScreen.-narrow #form-layout { layout: vertical; overflow-y: auto; }
    MacroFormScreen.-narrow #form { width: 100%; height: auto; overflow-y: hidden; }
    MacroFormScreen.-narrow MacroPreview { width: 100%; height: auto; overflow-y: hidden;
        border-left: none; border-top: solid $panel; }
    MacroFormScreen.-narrow Label { margin-top: 0; }
    MacroFormScreen.-narrow .row > * { margin-right: 1; }
    MacroFormScreen.-narrow #f-body { height: 8; }
    MacroFormScreen.-narrow .fieldmap { height: 3; }
    MacroFormScreen Label { margin-top: 1; text-style: bold; }
    MacroFormScreen .row { height: auto; }
    MacroFormScreen .row > * { width: 1fr; }
    MacroFormScreen #f-body { height: 12; }
    MacroFormScreen .fieldmap { height: 4; }
    MacroFormScreen #url-hint { color: $text-muted; }
    /* Textual's "$foreground 40%" line numbers round to the surface's colour in 16 colours. */
    MacroFormScreen TextArea .text-area--gutter { color: $text-muted; }
    MacroFormScreen #url-hint.-invalid { color: $error; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form-save"),
        Binding("ctrl+t", "insert_tag", "Insert tag", id="form-tag"),
        Binding("ctrl+o", "test_send", "Test send", id="form-test-send"),
        Binding("ctrl+n", "add_header", "Add header", id="form-add-header"),
        Binding("ctrl+r", "remove_header", "Remove header", id="form-remove-header"),
        Binding("f2", "show_preview", "Preview", id="form-preview"),
        Binding("escape", "leave", "Back", id="form-back"),
    ]

    def __init__(self, macro: dict, *, is_new: bool = False, record_id: str | None = None) -> None:
        super().__init__()
        self.macro = dict(macro)
        self.is_new = is_new
        self.record_id = record_id
        self._saved_form: dict | None = None
        self._preview_timer: Timer | None = None

    # -- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        m = self.macro
        with Container(id="form-layout"):
            with VerticalScroll(id="form"):
                yield Static(f"[b]{'New macro' if self.is_new else 'Macro ' + m.get('name', '')}[/b]"
                             "  ctrl+s save · esc back", id="form-title")
                yield Label("Name · target (records it runs on)")
                with Horizontal(classes="row"):
                    yield Input(m.get("name", ""), placeholder="name", id="f-name")
                    yield Select([(t, t) for t in ("feedback", "users")], value=m.get("target", "feedback"),
                                 allow_blank=False, id="f-target")
                yield Label("Method · feedback type (optional)")
                with Horizontal(classes="row"):
                    yield Select([(x, x) for x in METHODS], value=m.get("method", "POST"),
                                 allow_blank=False, id="f-method")
                    yield Input(m.get("feedback_type") or "", placeholder="feedback type (optional)",
                                id="f-feedback_type")
                yield Label("URL")
                yield Input(m.get("url", ""), placeholder="https://… (${VAR} reads the environment)",
                            validators=[UrlValidator()], id="f-url")
                yield Static("", id="url-hint")
                yield Label("Headers  (ctrl+n add · ctrl+r remove)")
                yield MacroHeaderEditor(parse_headers(m.get("headers", "")), id="f-headers")
                yield Label("Body  (ctrl+t insert a tag)")
                yield Select([(x, x) for x in FORMATS], value=m.get("format", "json"),
                             allow_blank=False, id="f-format")
                yield self._body_editor(m.get("body", ""))
                yield Checkbox("once per record", m.get("once_per_record", False), id="f-once_per_record")
                yield Label("Timeout (s) · concurrency · rate limit (requests/s)")
                with Horizontal(classes="row"):
                    yield Input(str(m.get("timeout", 15)), placeholder="timeout s", id="f-timeout")
                    yield Input(str(m.get("concurrency", 8)), placeholder="concurrency", id="f-concurrency")
                    yield Input(str(m.get("rate_limit") or ""), placeholder="rate/s", id="f-rate_limit")
                yield Label("Return values  (record field = response path, one a line)")
                yield TextArea(fields_to_text(m.get("return_values")), id="f-return_values", classes="fieldmap")
                yield Label("On success  (field = value, one a line)")
                yield TextArea(fields_to_text(m.get("on_success")), id="f-on_success", classes="fieldmap")
                trigger = m.get("trigger") or {}
                yield Label("Trigger")
                with Horizontal(classes="row"):
                    yield Input(", ".join(trigger.get("on", [])), placeholder="on: submit, modify", id="f-trigger_on")
                    yield Input(trigger.get("filter", ""), placeholder="filter", id="f-trigger_filter")
                schedule = m.get("schedule") or {}
                yield Label("Schedule")
                with Horizontal(classes="row"):
                    yield Input(schedule.get("cron") or schedule.get("every") or "",
                                placeholder="cron or hourly/daily/weekly/monthly", id="f-schedule_when")
                    yield Input(schedule.get("filter", ""), placeholder="filter", id="f-schedule_filter")
                with Horizontal(classes="row"):
                    yield Input(str(schedule.get("start", "")), placeholder="start date", id="f-schedule_start")
                    yield Input(str(schedule.get("end", "")), placeholder="end date", id="f-schedule_end")
            yield MacroPreview(record_id=self.record_id)
        yield KeyHints()

    def _body_editor(self, body: str) -> TextArea:
        # tab moves to the next field, as everywhere in the form (JSON needs no tab characters)
        editor = TextArea(body, id="f-body", show_line_numbers=True, tab_behavior="focus")
        if json_language_available():
            try:
                editor.language = "json"
            except Exception:  # highlighting is a nicety; plain text still edits fine
                pass
        return editor

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            for field in self.query("Input, Select, Checkbox, TextArea"):
                if isinstance(field, (Input, Select, Checkbox, TextArea)):
                    field.compact = narrow

    def action_show_preview(self) -> None:
        """Bring the preview into view and put the cursor in its record box."""
        preview = self.query_one(MacroPreview)
        preview.scroll_visible(top=True, animate=False)
        preview.query_one("#preview-record", Input).focus(scroll_visible=False)

    def on_mount(self) -> None:
        self.query_one("#f-name", Input).focus()
        url = self.query_one("#f-url", Input)
        self._show_url_hint(url.value, url.validate(url.value))
        self.call_after_refresh(self._remember_saved)
        self.call_after_refresh(self.update_preview)

    def _remember_saved(self) -> None:
        self._saved_form = self.form_dict()

    # -- reading the form -----------------------------------------------------------
    def form_dict(self) -> dict:
        """The macro as the form says it now (not yet validated)."""
        def value(wid: str) -> Any:
            field = self.query_one(f"#f-{wid}")
            assert isinstance(field, (Input, Select, Checkbox)), wid
            return field.value

        text = lambda wid: self.query_one(f"#f-{wid}", TextArea).text  # noqa: E731
        return form_to_dict(
            self.macro,
            name=value("name").strip(), target=value("target"), method=value("method"),
            feedback_type=value("feedback_type").strip(), url=value("url").strip(),
            headers=self.query_one(MacroHeaderEditor).as_text(), format=value("format"),
            body=text("body"), once_per_record=value("once_per_record"),
            timeout=value("timeout"), concurrency=value("concurrency"), rate_limit=value("rate_limit"),
            return_values=text_to_fields(text("return_values")), on_success=text_to_fields(text("on_success")),
            trigger_on=value("trigger_on"), trigger_filter=value("trigger_filter"),
            schedule_when=value("schedule_when"), schedule_filter=value("schedule_filter"),
            schedule_start=value("schedule_start"), schedule_end=value("schedule_end"),
        )

    @property
    def dirty(self) -> bool:
        return self._saved_form is not None and self.form_dict() != self._saved_form

    # -- live preview (debounced) ---------------------------------------------------
    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(MacroHeaderEditor.Changed)
    def _changed(self, event: Any) -> None:
        if getattr(event, "input", None) is not None and event.input.id == "f-url":
            self._show_url_hint(event.value, event.validation_result)
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(0.3, self.update_preview)

    def _show_url_hint(self, url: str, result: ValidationResult | None) -> None:
        import os

        hint = self.query_one("#url-hint", Static)
        if result is not None and not result.is_valid:
            hint.update(" · ".join(result.failure_descriptions))
            hint.add_class("-invalid")
            return
        hint.remove_class("-invalid")
        names = VARIABLE.findall(url)
        hint.update(" · ".join(f"${{{n}}} {'set' if n in os.environ else 'NOT SET'}" for n in names))

    def update_preview(self) -> None:
        """Render the form's macro against the preview record (masked)."""
        self.query_one(MacroPreview).render_form(self.form_dict())

    # -- keys -----------------------------------------------------------------------
    def action_insert_tag(self) -> None:
        from cctui.macros import available_tags

        preview = self.query_one(MacroPreview)
        tags = available_tags(self.app.schema, preview.record)

        def picked(tag: str | None) -> None:
            if tag:
                body = self.query_one("#f-body", TextArea)
                body.insert(f"(({tag}))")
                body.focus()

        self.app.push_screen(TagPicker(list(tags)), picked)

    async def action_add_header(self) -> None:
        await self.query_one(MacroHeaderEditor).add_row()

    async def action_remove_header(self) -> None:
        if not await self.query_one(MacroHeaderEditor).remove_row_with_focus():
            self.notify("Put the cursor in a header row to remove it.", severity="warning")

    @work(exclusive=True, group="macro-save")
    async def action_save(self) -> None:
        from cctui.macros import Macro
        from cctui.macros.request import check_cost_before_save

        form = self.form_dict()
        try:
            macro = Macro.from_dict(form, where=f"macro {form.get('name') or '(new)'}",
                                    schema=self.app.schema)
        except CctuiError as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=8)
            return
        store = self.app.store
        old_name = self.macro.get("name")
        if (self.is_new or macro.name != old_name) and \
                await asyncio.to_thread(store.macro_get, macro.name) is not None:
            self.notify(f"name: a macro called {macro.name} exists already.", title="Not saved",
                        severity="error")
            return
        try:  # the check `macro add` runs; it may spend a whole render budget, so in a thread
            await asyncio.to_thread(check_cost_before_save, macro, store, config=self.app.config)
        except CctuiError as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=8)
            return
        await asyncio.to_thread(store.macro_put, macro.to_dict())
        if not self.is_new and old_name and old_name != macro.name:
            await asyncio.to_thread(store.macro_remove, old_name)
        self.macro, self.is_new = macro.to_dict(), False
        self._saved_form = self.form_dict()
        self.notify(f"Saved {macro.name}.")

    @work(exclusive=True, group="macro-test")
    async def action_test_send(self) -> None:
        preview = self.query_one(MacroPreview)
        preview.show_answer_pending()
        try:
            result = await self.app.dispatcher.test_send(self.form_dict(), preview.record)
        except CctuiError as exc:
            preview.show_answer_error(str(exc))
            return
        preview.show_answer(result)

    def action_leave(self) -> None:
        if not self.dirty:
            self.dismiss()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss()

        self.app.push_screen(ConfirmScreen("Leave without saving? Your changes to this macro will be lost.",
                                         yes="Leave", no="Stay"), answered)
