"""Screen 1: triage. Sidebar of tables, the record table, filter, sort and marks.

The screen owns the view state (section, query, sort, marks) and turns keys into requests;
:class:`~cctui.tui.widgets.table_loader.TableLoader` loads the store and computes each
view in threads (nothing proportional to the number of records runs on the event loop)
and hands the result back here to paint.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, OptionList

from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.filter_bar import FilterBar
from cctui.tui.widgets.held_keys import HeldKeys
from cctui.tui.widgets.key_hints import KeyHints
from cctui.tui.widgets.record_table import RecordTable
from cctui.tui.widgets.sidebar import Section, Sidebar
from cctui.tui.widgets.table_loader import TableData, TableLoader, View
from cctui.tui.widgets.table_model import FEEDBACK_COLUMNS

if TYPE_CHECKING:
    from textual import getters
    from textual.message import Message

    from cctui.tui.app import CctuiApp

#: Keys closer together than this are a burst: the filter runs when the burst pauses.
FILTER_DEBOUNCE = 0.15


class FeedbackScreen(Screen):
    """All feedback, each feedback type, users, and saved filters in one table."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    BINDINGS = [
        # priority: the app runs it while it reads the key, before forwarding the keys
        # typed right after it (which would otherwise go to the table).
        Binding("slash", "focus_filter", "Filter", id="filter", priority=True),
        # Enter in the filter box, for the same reason: the keys typed right after it (a
        # quick "type:bug⏎ " + space) must reach the table, not the box it is leaving.
        Binding("enter", "submit_filter", "Apply filter", show=False, id="filter-submit", priority=True),
        Binding("space", "mark", "Mark", id="mark"),
        Binding("shift+down", "mark_range(1)", "Mark range", show=False, id="mark-range-down"),
        Binding("shift+up", "mark_range(-1)", "Mark range up", show=False, id="mark-range-up"),
        Binding("ctrl+a", "mark_all", "Mark all", id="mark-all"),
        Binding("escape", "clear", "Clear marks", id="clear-marks"),
        # The same key in the filter box, where it leaves the box (check_action picks one,
        # so the key hints say what esc does where the focus is).
        Binding("escape", "leave_filter", "Back to table", id="filter-leave"),
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
        self.section = Section("all", "All feedback")
        self.query_text = ""
        self.sort_field: str | None = "created"
        self.sort_descending = True
        self._loader = TableLoader(self, self)
        self._anchor: int | None = None
        self._sidebar_choice: bool | None = None  # None: decided by the terminal width
        self._debounce: Timer | None = None
        self._last_typed = float("-inf")
        self._top_generation = -1  # the view of this request goes to its first row
        # Which filter text each view request was for and the text of the rows on screen;
        # for the current burst of keys: the filter before it, the text its first key
        # filtered at once, and whether Enter or a pause has ended it (see show_view_error).
        self._request_texts: dict[int, str] = {}
        self._shown_text = ""
        self._burst_base = ""
        self._first_key_text: str | None = None
        self._burst_done = True
        self._keep_error_generation = -1
        self._submitted_text: str | None = None  # what Enter filtered by, until it is answered
        self._held = HeldKeys(self, lambda: self.table)  # typed after Enter, for the filter's rows
        self._submit_waiting = False  # Enter was pressed; the box has yet to pass its text

    # -- what other screens read ---------------------------------------------------------
    @property
    def marked_ids(self) -> frozenset[str]:
        """Ids of the marked records (a snapshot; empty when nothing is marked)."""
        return frozenset(self.marks)

    @property
    def feedback(self) -> list[dict]:
        """Every feedback record as last loaded, in store order (read-only)."""
        return self._loader.data.feedback

    @property
    def users(self) -> list[dict]:
        return self._loader.data.users

    @property
    def view_settled(self) -> bool:
        """True when the table shows the complete result of the current section, filter
        and sort (no partial first page, no newer request in flight)."""
        return self._loader.settled

    def categories(self) -> list[str]:
        """Every category present in the data, for the detail screen's cycle key."""
        return self._loader.data.categories

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
        header.data_dir = str(self.app.data_dir or "")
        self.table.marks = self.marks
        self.table.sort_field, self.table.sort_descending = self.sort_field, self.sort_descending
        self._update_sort_label()
        self._set_sections()
        self.table.focus()
        self._loader.start(self.section, self.query_text, self.sort_field, self.sort_descending)
        self.app.store_changed.subscribe(self, self._loader.store_changed)

    # The loader's workers post their results here; it applies them (event loop).
    @on(TableLoader.Loaded)
    @on(TableLoader.ViewReady)
    @on(TableLoader.ViewFailed)
    @on(TableLoader.LoadFailed)
    def _loader_result(self, message: Message) -> None:
        self._loader.accept(message)

    # -- results from the loader (event loop) ---------------------------------------------
    def data_loaded(self, data: TableData) -> None:
        self._set_sections()
        self.query_one(AppHeader).counts = f"{len(data.feedback):,} feedback · {len(data.users):,} users"
        self.refresh_view()

    def _set_sections(self) -> None:
        data = self._loader.data
        sections = [Section("all", "All feedback")]
        counts = {"all": len(data.feedback), "users": len(data.users)}
        for ftype in self.app.schema.types:
            key = f"type:{ftype.prefix}"
            sections.append(Section(key, ftype.name, feedback_type=ftype.name))
            counts[key] = data.per_type.get(ftype.name, 0)
        sections.append(Section("users", "Users", target="users"))
        for name, query in self.app.config.saved_filters.items():
            sections.append(Section(f"filter:{name}", name, query=str(query)))
        self.query_one(Sidebar).set_sections(sections, counts)

    def refresh_view(self) -> None:
        """Recompute the rows for the current section, filter and sort."""
        self._request(self.query_text)

    def _request(self, text: str) -> int:
        table = self.table
        self._loader.request(self.section, text, self.sort_field, self.sort_descending,
                             table.current_id, table.current_record)
        generation = self._loader.generation
        self._request_texts = {g: t for g, t in self._request_texts.items() if g > generation - 8}
        self._request_texts[generation] = text
        return generation

    def show_view_error(self, message: str) -> None:
        self.filter_bar.error = message  # the previous rows stay on screen ...
        if not self._submit_waiting:  # else an earlier request's: Enter's own is to come
            self._held.drop(message)
        if self._submitted_text is not None and self._submitted_text == self.query_text:
            # Enter on a bad filter: back to the box (as on screen 4), or the keys typed to
            # fix it would run table commands (and, in an opened record, edit it).
            self._submitted_text = None
            if isinstance(self.focused, RecordTable):
                self.query_one("#filter-input", Input).focus()
        first = self._first_key_text
        if first is not None and self._shown_text == first != self._burst_base and self.query_text != first:
            # ... unless they are those of the first key of the burst that ended rejected
            # (it filters at once): then the rows from before the burst come back, so the
            # count under the rejected filter is not that of a half-typed one.
            self._keep_error_generation = self._request(self._burst_base)

    def show_view(self, view: View) -> None:
        rows, total = view.rows, view.total
        table = self.table
        table.placeholder = "No records match the filter." if total else "No records yet: try `cctui seed --count 100`."
        # The cursor's record was found (or not) off the event loop. When it is gone, or the
        # cursor moved while the view was computed, the cursor keeps its row number: finding
        # a record again here would scan up to 100k rows on the event loop.
        index = view.index
        if view.generation >= self._top_generation >= 0 and not view.partial:
            index, self._top_generation = 0, -1  # after a sort: the top of the new order
        elif index is None or view.searched_id != table.current_id:
            index = min(table.cursor_row, max(0, len(rows) - 1))
        table.set_rows(rows, view.columns, cursor=index)
        self._update_sort_label()
        self._shown_text = self._request_texts.get(view.generation, self._shown_text)
        if self._shown_text == self._submitted_text:
            self._submitted_text = None  # answered: a later error is not this Enter's
        bar = self.filter_bar
        if view.generation != self._keep_error_generation:
            bar.error = ""
        bar.pending = False
        bar.shown, bar.total = (total if view.partial else len(rows)), total
        bar.section = self.section.label if self.section.query is None else ""
        if self._loader.settled and not self._submit_waiting:
            self._held.replay()  # the keys typed after Enter, on the filter's rows

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
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """In a text box ``esc`` leaves the box (not: clear marks) and ``/`` is a character."""
        typing = isinstance(self.focused, Input)
        if action in ("clear", "focus_filter"):
            return not typing
        if action == "leave_filter":
            return typing
        if action == "submit_filter":
            return typing and self.focused is not None and self.focused.id == "filter-input"
        return True

    def action_submit_filter(self) -> None:
        """Enter in the filter box: move the focus to the table at once (not through the
        Input's Submitted message, which arrives after the keys already queued behind it),
        holding the keys typed next until the filter's rows are on screen (type-ahead)."""
        filter_input = self.query_one("#filter-input", Input)
        self._held.hold()
        self._submit_waiting = True
        self.set_focus(self.table)
        # The app reads a burst (a paste, a fast typist) ahead of the box: characters typed
        # before this Enter may still wait in the box's queue. Filter by the text once
        # they are in, from that queue.
        filter_input.call_later(lambda: self._submit_filter(filter_input.value))

    def action_leave_filter(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        filter_input = self.query_one("#filter-input", Input)
        if self.focused is filter_input or isinstance(self.focused, Input):
            raise SkipAction()  # a "/" typed into a text box is just a character
        if self.table.holding:
            raise SkipAction()  # typed after Enter: the table holds it, in order with the rest
        # Focus now, not via call_later: keys typed in the same burst right after "/" are
        # already queued and must land in the box, not on the table.
        self.set_focus(filter_input)

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value != event.input.value or (event.value == self.query_text and not event.input.has_focus):
            # A burst (a paste) reaches the screen behind the box: a change the box has
            # already moved past, or one that Enter has already filtered by, is old news
            # (else "t" of "type:bug⏎" would filter again after Enter).
            return
        # The first key after a pause filters at once; keys typed in a burst wait until it
        # pauses, so half-typed terms ("colour" of "colour:red") do not flash by.
        now = time.monotonic()
        in_burst = now - self._last_typed < FILTER_DEBOUNCE
        self._last_typed = now
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        if not in_burst or self._burst_done:  # a new burst: remember what was there before it
            if not self.filter_bar.error:
                self._burst_base = self.query_text
            self._first_key_text = None if in_burst else event.value
            self._burst_done = False
        if in_burst:
            value = event.value
            self._debounce = self.set_timer(FILTER_DEBOUNCE, lambda: self._end_burst(value))
        else:
            self._apply_filter(event.value)

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._held.hold()  # Enter normally comes through action_submit_filter
        self._submit_filter(event.value)
        self.table.focus()

    def _submit_filter(self, text: str) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self._submit_waiting = False
        self._apply_filter(text)
        self._burst_done = True
        self._submitted_text = text
        if self._loader.settled:  # nothing to wait for: these rows are the filter's
            self._held.replay()

    def _end_burst(self, text: str) -> None:
        self._apply_filter(text)
        self._burst_done = True

    def _apply_filter(self, text: str) -> None:
        if text != self.query_text or self.filter_bar.error:
            self.query_text = text
            self.refresh_view()

    # -- sorting ---------------------------------------------------------------------
    def action_sort_next(self) -> None:
        # Only columns on screen: at 80 columns some are dropped, and sorting by a column
        # nobody can see looks like a shuffle.
        columns = self.table.visible_columns or self.table.columns
        keys = [c.key for c in columns]
        index = keys.index(self.sort_field) + 1 if self.sort_field in keys else 0
        column = columns[index % len(keys)]
        self.sort_field = column.key
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
        self._top_generation = self._loader.generation  # a new order starts at its top

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
        if self.marks:
            self.marks.clear()
            self._marks_changed()

    def action_run_macro(self) -> None:
        from cctui.tui.screens.bulk import start_bulk

        ids = sorted(self.marks) or ([self.table.current_id] if self.table.current_id else [])
        if not ids:
            self.notify("No record to run a macro on.", severity="warning")
            return
        start_bulk(self.app, ids, target=self.section.target, feedback_type=self.section.feedback_type,
                   hidden=self.marked_not_shown())

    def marked_not_shown(self) -> int:
        """How many marked records the current filter and table do not show."""
        if not self.marks:
            return 0
        rows = self.table.rows
        if len(rows) == len(self.feedback if self.section.target == "feedback" else self.users):
            return 0  # every record is shown: no set of 100k ids to build
        shown = {r.get("id") for r in rows}
        return sum(1 for record_id in self.marks if record_id not in shown)

    # -- cursor and opening ----------------------------------------------------------
    @on(RecordTable.CursorMoved, "#records")
    def _cursor_moved(self, event: RecordTable.CursorMoved) -> None:
        if self.section.target == "feedback":
            self.app.current_record_id = event.record_id

    @on(RecordTable.Opened, "#records")
    def _opened(self, event: RecordTable.Opened) -> None:
        if event.record_id is None:
            return
        if self.section.target == "feedback":
            self.app.open_record(event.record_id)
        else:  # a user: read-only (nothing in the TUI edits users)
            from cctui.tui.screens.user_detail import UserDetailScreen

            self.app.push_screen(UserDetailScreen(event.record_id))
