"""Screen 1: triage. Sidebar of tables, the record table, filter, sort and marks.

The screen owns the view state (section, query, sort, marks). Records are loaded from the
store and each view is computed (section -> filter -> sort) in a thread worker so that
100k records never freeze the screen; a generation number drops results that a newer
keystroke has already superseded.
"""

from __future__ import annotations

from dataclasses import replace

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, OptionList

from cctui.core.query import compile_query, fields_in
from cctui.errors import CctuiError
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.key_hints import KeyHints
from cctui.tui.widgets.filter_bar import FilterBar
from cctui.tui.widgets.record_table import RecordTable
from cctui.tui.widgets.sidebar import Section, Sidebar
from cctui.tui.widgets.table_model import FEEDBACK_COLUMNS, USER_COLUMNS, sort_rows

#: Pause after the last keystroke before the filter runs (Enter runs it at once).
FILTER_DEBOUNCE = 0.15
#: How often the screen asks the store whether its data changed (a counter read).
REVISION_POLL = 0.3


class FeedbackScreen(Screen):
    """All feedback, each feedback type, users, and saved filters in one table."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="filter"),
        Binding("space", "mark", "Mark", id="mark"),
        Binding("shift+down", "mark_range(1)", "Mark range", show=False, id="mark-range-down"),
        Binding("shift+up", "mark_range(-1)", "Mark range up", show=False, id="mark-range-up"),
        Binding("ctrl+a", "mark_all", "Mark all", id="mark-all"),
        Binding("escape", "clear", "Clear marks", id="clear-marks"),
        Binding("m", "run_macro", "Macro", id="run-macro"),
        Binding("s", "sort_next", "Sort", id="sort-column"),
        Binding("S", "sort_flip", "Reverse", show=False, id="sort-direction"),
        Binding("right_square_bracket", "section(1)", "Next table", show=False, id="section-next"),
        Binding("left_square_bracket", "section(-1)", "Previous table", show=False, id="section-prev"),
        Binding("b", "toggle_sidebar", "Sidebar", show=False, id="toggle-sidebar"),
    ]

    #: Below this width the sidebar starts hidden so the table keeps its columns (80x24).
    SIDEBAR_MIN_WIDTH = 100

    DEFAULT_CSS = """
    FeedbackScreen #main { height: 1fr; }
    FeedbackScreen #table-area { width: 1fr; height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.marks: set[str] = set()
        """Ids of the marked records (what ``m`` hands to the bulk run)."""
        self.feedback: list[dict] = []
        self.users: list[dict] = []
        self.section = Section("all", "All feedback")
        self.query_text = ""
        self.sort_field: str | None = "created"
        self.sort_descending = True
        self._known_fields: dict[str, set[str]] = {"feedback": set(), "users": set()}
        self._generation = 0
        self._revision: int | None = None
        self._debounce: Timer | None = None
        self._anchor: int | None = None
        self._sidebar_choice: bool | None = None  # None: decided by the terminal width
        self._id_widths: dict[str, int] = {"feedback": 8, "users": 8}
        # Each target's records sorted once per (field, direction) and data load: a filter
        # keeps order, so typing only filters this list (~20 ms at 100k) and never sorts.
        self._sorted: dict[tuple, list[dict]] = {}

    # -- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="table-area"):
                yield RecordTable(FEEDBACK_COLUMNS, id="records")
                yield FilterBar(id="filter-bar")
        yield KeyHints()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#records", RecordTable)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter-bar", FilterBar)

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.screen_title = "Feedback"
        header.data_dir = str(getattr(self.app, "data_dir", "") or "")
        self.table.marks = self.marks
        self.table.sort_field, self.table.sort_descending = self.sort_field, self.sort_descending
        self._update_sort_label()
        self._set_sections()
        self.table.focus()
        self._load()
        self.set_interval(REVISION_POLL, self._check_revision)

    # -- loading ---------------------------------------------------------------------
    def _check_revision(self) -> None:
        self._load(only_if_changed=True)

    @work(thread=True, exclusive=True, group="load")
    def _load(self, only_if_changed: bool = False) -> None:
        # Even reading the revision waits for the store's lock (a write may be fsyncing),
        # so the check runs here, in a thread, not on the event loop.
        store = self.app.store
        revision = getattr(store, "revision", None)
        if only_if_changed and (revision is None or revision == self._revision):
            return
        feedback = store.feedback_all()
        users = store.users_all()
        id_widths = {
            "feedback": max(map(len, (str(r.get("id", "")) for r in feedback)), default=8),
            "users": max(map(len, (str(r.get("id", "")) for r in users)), default=8),
        }
        known = {"feedback": fields_in(feedback), "users": fields_in(users)}
        self.app.call_from_thread(self._loaded, revision, feedback, users, known, id_widths)

    def _loaded(self, revision: int | None, feedback: list[dict], users: list[dict],
                known: dict[str, set[str]], id_widths: dict[str, int]) -> None:
        self._revision = revision
        self.feedback, self.users = feedback, users
        self._known_fields, self._id_widths = known, id_widths
        self._sorted.clear()
        self._set_sections()
        self.query_one(AppHeader).counts = f"{len(feedback):,} feedback · {len(users):,} users"
        self.refresh_view()

    def _set_sections(self) -> None:
        sections = [Section("all", "All feedback")]
        counts = {"all": len(self.feedback), "users": len(self.users)}
        per_type: dict[str, int] = {}
        for record in self.feedback:
            kind = record.get("type")
            per_type[kind] = per_type.get(kind, 0) + 1
        for ftype in self.app.schema.types:
            key = f"type:{ftype.prefix}"
            sections.append(Section(key, ftype.name, feedback_type=ftype.name))
            counts[key] = per_type.get(ftype.name, 0)
        sections.append(Section("users", "Users", target="users"))
        for name, query in self.app.config.saved_filters.items():
            sections.append(Section(f"filter:{name}", name, query=str(query)))
        self.query_one(Sidebar).set_sections(sections, counts)

    # -- the view: section -> filter -> sort, off the event loop ----------------------
    def refresh_view(self) -> None:
        """Recompute the rows for the current section, filter and sort."""
        self._generation += 1
        self._compute(self._generation, self.section, self.query_text, self.sort_field, self.sort_descending)

    @work(thread=True, exclusive=True, group="view")
    def _compute(self, generation: int, section: Section, text: str, field: str | None, descending: bool) -> None:
        target = section.target
        try:
            query = compile_query(text, self.app.schema, known_fields=self._known_fields[target])
        except CctuiError as exc:
            self.app.call_from_thread(self._show_error, generation, str(exc))
            return
        source = self._sorted_source(target, field, descending)
        if section.feedback_type:
            source = [r for r in source if r.get("type") == section.feedback_type]
        rows = query.filter(source)
        id_width = self._id_widths[target]
        columns = USER_COLUMNS if target == "users" else FEEDBACK_COLUMNS
        columns = tuple(replace(c, width=max(c.width, id_width)) if c.key == "id" else c for c in columns)
        self.app.call_from_thread(self._show_rows, generation, columns, rows, len(source))

    def _sorted_source(self, target: str, field: str | None, descending: bool) -> list[dict]:
        records = self.users if target == "users" else self.feedback
        key = (target, field, descending, id(records))
        cached = self._sorted.get(key)
        if cached is None:
            cached = sort_rows(records, self.app.schema, field, descending)
            self._sorted[key] = cached
        return cached

    def _show_error(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.filter_bar.error = message  # the previous rows stay on screen

    def _show_rows(self, generation: int, columns: tuple, rows: list[dict], total: int) -> None:
        if generation != self._generation:
            return
        table = self.table
        table.placeholder = "No records match the filter." if total else "No records yet: try `cctui seed --count 100`."
        table.set_rows(rows, columns, keep_id=table.current_id)
        self._update_sort_label()
        bar = self.filter_bar
        bar.error, bar.loading = "", False
        bar.shown, bar.total = len(rows), total
        bar.section = self.section.label if self.section.query is None else ""

    # -- sidebar ---------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#sidebar")
    def _section_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        section = self.query_one(Sidebar).section(event.option_id)
        if section is None or section == self.section:
            return
        if section.query is not None:
            self.query_one("#filter-input", Input).value = section.query
            self.query_text = section.query
            section = Section("all", "All feedback") if self.section.target == "users" else self.section
        if section.target != self.section.target:
            self.marks.clear()
            self._marks_changed()
            self.sort_field = "created" if section.target == "feedback" else "joined"
            self.sort_descending = True
            self.table.sort_field, self.table.sort_descending = self.sort_field, True
            self._update_sort_label()
        self.section = section
        self.refresh_view()

    @on(OptionList.OptionSelected, "#sidebar")
    def _section_selected(self) -> None:
        self.table.focus()

    def action_section(self, step: int) -> None:
        sidebar = self.query_one(Sidebar)
        count = sidebar.option_count
        if count:
            current = sidebar.highlighted or 0
            index = current
            for _ in range(count):  # skip the separator line
                index = (index + step) % count
                if not sidebar.get_option_at_index(index).disabled:
                    break
            sidebar.highlighted = index

    def on_resize(self, event: events.Resize) -> None:
        self._layout_sidebar()

    def _layout_sidebar(self) -> None:
        show = self._sidebar_choice
        if show is None:
            show = self.size.width >= self.SIDEBAR_MIN_WIDTH
        self.query_one(Sidebar).display = show

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one(Sidebar)
        self._sidebar_choice = not sidebar.display
        self._layout_sidebar()
        if sidebar.display:
            sidebar.focus()
        else:
            self.table.focus()

    def run_saved_filter(self, name: str) -> None:
        """Show the saved filter ``name`` (from the config's ``[filters]``)."""
        sidebar = self.query_one(Sidebar)
        index = next((i for i, s in enumerate(sidebar.sections) if s.key == f"filter:{name}"), None)
        if index is not None:
            sidebar.highlighted = sidebar.get_option_index(f"filter:{name}")

    # -- filter ----------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter-input", Input).focus()
        self._warm_text_search(self.feedback)

    @work(thread=True, exclusive=True, group="warm")
    def _warm_text_search(self, records: list[dict]) -> None:
        # The filter language caches each record's lower-cased text on first search
        # (~0.3 s at 100k). Doing it when the filter box opens, not at start-up, keeps the
        # first paint fast and the first typed word fast too.
        if records and records is not getattr(self, "_warmed", None):
            self._warmed = records
            compile_query("warm-up").filter(records)

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(FILTER_DEBOUNCE, lambda: self._apply_filter(event.value))

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._apply_filter(event.value)
        self.table.focus()

    def _apply_filter(self, text: str) -> None:
        if text != self.query_text or self.filter_bar.error:
            self.query_text = text
            self.refresh_view()

    # -- sorting ---------------------------------------------------------------------
    def action_sort_next(self) -> None:
        keys = [c.key for c in self.table.columns]
        index = keys.index(self.sort_field) + 1 if self.sort_field in keys else 0
        self.sort_field = keys[index % len(keys)]
        column = self.table.columns[index % len(keys)]
        self.sort_descending = column.kind in ("date", "number")
        self._sort_changed()

    def action_sort_flip(self) -> None:
        self.sort_descending = not self.sort_descending
        self._sort_changed()

    def _sort_changed(self) -> None:
        self.table.sort_field, self.table.sort_descending = self.sort_field, self.sort_descending
        self._update_sort_label()
        self.table.refresh()
        self.refresh_view()

    def _update_sort_label(self) -> None:
        label = next((c.label for c in self.table.columns if c.key == self.sort_field), self.sort_field)
        self.filter_bar.sort_label = f"{label} {'↓' if self.sort_descending else '↑'}" if label else ""

    # -- marks -----------------------------------------------------------------------
    def _marks_changed(self) -> None:
        self.filter_bar.marked = len(self.marks)
        self.table.refresh()

    def action_mark(self) -> None:
        record_id = self.table.current_id
        if record_id is None:
            return
        self.marks.symmetric_difference_update({record_id})
        self._anchor = self.table.cursor_row
        self._marks_changed()
        self.table.action_cursor_down()

    def action_mark_range(self, step: int) -> None:
        """Mark the current row and the one ``step`` away (shift+arrows extend a range)."""
        table = self.table
        if table.current_id is None:
            return
        self.marks.add(table.current_id)
        table.cursor_row += step
        if table.current_id is not None:
            self.marks.add(table.current_id)
        self._marks_changed()

    def action_mark_all(self) -> None:
        """Mark every record that matches the filter, on screen or not."""
        self.marks.update(r["id"] for r in self.table.rows if "id" in r)
        self._marks_changed()
        self.notify(f"{len(self.marks):,} marked.", timeout=2)

    def action_clear(self) -> None:
        focused = self.focused
        if isinstance(focused, Input):
            self.table.focus()
            return
        if self.marks:
            self.marks.clear()
            self._marks_changed()

    def action_run_macro(self) -> None:
        from cctui.tui.screens.bulk import start_bulk

        ids = sorted(self.marks) or ([self.table.current_id] if self.table.current_id else [])
        if not ids:
            self.notify("No record to run a macro on.", severity="warning")
            return
        start_bulk(self.app, ids, target=self.section.target, feedback_type=self.section.feedback_type)

    # -- cursor and opening ----------------------------------------------------------
    @on(RecordTable.CursorMoved, "#records")
    def _cursor_moved(self, event: RecordTable.CursorMoved) -> None:
        if self.section.target == "feedback":
            self.app.current_record_id = event.record_id

    @on(RecordTable.Opened, "#records")
    def _opened(self, event: RecordTable.Opened) -> None:
        if self.section.target == "feedback":
            self.app.open_record(event.record_id)
        else:
            self.notify(f"{event.record_id}: users have no detail view yet.", timeout=3)

    def categories(self) -> list[str]:
        """Every category present in the data, for the detail screen's cycle key."""
        return sorted({str(r.get("category")) for r in self.feedback if r.get("category")})
