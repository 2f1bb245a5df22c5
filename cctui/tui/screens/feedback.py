"""Screen 1: triage. Sidebar of tables, the record table, filter, sort and marks.

The screen owns the view state (section, query, sort, marks). Nothing proportional to the
number of records runs on the event loop:

* a loader thread reads the store, sends the first screenful (a partial sort) so ids show
  at once, then the full view, the counts and the text index; afterwards it watches the
  store's revision and applies what changed (an edit or an addition patches the sorted
  lists, it does not re-sort from scratch), at most once per ``RELOAD_EVERY``;
* a view thread computes section -> filter -> sort; requests coalesce (only the newest
  waiting one runs), and a query that narrows the previous one filters its result.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from textual import events, on
from textual.app import ComposeResult
from textual.actions import SkipAction
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, OptionList

from cctui.core.query import compile_query, fields_in, index_text, narrows
from cctui.errors import CctuiError
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.filter_bar import FilterBar
from cctui.tui.widgets.key_hints import KeyHints
from cctui.tui.widgets.record_table import RecordTable
from cctui.tui.widgets.sidebar import Section, Sidebar
from cctui.tui.widgets.table_model import (
    FEEDBACK_COLUMNS, USER_COLUMNS, Changes, apply_changes, changes_between, first_rows, sort_rows,
)

#: Keys closer together than this are a burst: the filter runs when the burst pauses.
FILTER_DEBOUNCE = 0.15
#: How often the loader asks the store whether its data changed (a counter read).
REVISION_POLL = 0.3
#: During a burst of changes (a run's on_success updates) reload at most this often.
RELOAD_EVERY = 1.0
#: Rows sent ahead of the full sort on the first load (more than any terminal is tall).
FIRST_PAGE = 200


@dataclass
class _Data:
    """One load of the store, with everything derived from it (built in the loader)."""

    version: int
    revision: int | None
    feedback: list[dict]
    users: list[dict]
    known: dict[str, set[str]]
    id_widths: dict[str, int]
    per_type: dict[Any, int]
    categories: list[str]
    #: (target, field, descending) -> that table's records sorted (shared with the views).
    sorted: dict[tuple, list[dict]]


@dataclass(frozen=True)
class _Request:
    generation: int
    section: Section
    text: str
    field: str | None
    descending: bool
    keep_id: str | None
    keep_record: dict | None = None


class FeedbackScreen(Screen):
    """All feedback, each feedback type, users, and saved filters in one table."""

    BINDINGS = [
        # priority: the app runs it while it reads the key, before forwarding the keys
        # typed right after it (which would otherwise go to the table).
        Binding("slash", "focus_filter", "Filter", id="filter", priority=True),
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
        self.section = Section("all", "All feedback")
        self.query_text = ""
        self.sort_field: str | None = "created"
        self.sort_descending = True
        self._data = _Data(0, None, [], [], {"feedback": set(), "users": set()},
                           {"feedback": 8, "users": 8}, {}, [], {})
        self._generation = 0
        self._shown_generation = -1
        self._partial = False
        self._anchor: int | None = None
        self._sidebar_choice: bool | None = None  # None: decided by the terminal width
        self._stop = threading.Event()
        self._view_lock = threading.Lock()
        self._view_wanted = threading.Condition(self._view_lock)
        self._view_request: _Request | None = None
        self._view_busy = False
        # The last result, for a query that narrows it: (view key, query text, rows).
        self._last_view: tuple[tuple, str, list[dict]] | None = None
        self._threads: list[threading.Thread] = []
        self._current_request: _Request | None = None
        self._debounce: Timer | None = None
        self._last_typed = float("-inf")

    # -- what other screens read ---------------------------------------------------------
    @property
    def marked_ids(self) -> frozenset[str]:
        """Ids of the marked records (a snapshot; empty when nothing is marked)."""
        return frozenset(self.marks)

    @property
    def feedback(self) -> list[dict]:
        """Every feedback record as last loaded, in store order (read-only)."""
        return self._data.feedback

    @property
    def users(self) -> list[dict]:
        return self._data.users

    @property
    def view_settled(self) -> bool:
        """True when the table shows the complete result of the current section, filter
        and sort (no partial first page, no newer request in flight)."""
        return self._shown_generation == self._generation and not self._partial

    def categories(self) -> list[str]:
        """Every category present in the data, for the detail screen's cycle key."""
        return self._data.categories

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
        import asyncio

        self._loop = asyncio.get_running_loop()
        header = self.query_one(AppHeader)
        header.screen_title = "Feedback"
        header.data_dir = str(getattr(self.app, "data_dir", "") or "")
        self.table.marks = self.marks
        self.table.sort_field, self.table.sort_descending = self.sort_field, self.sort_descending
        self._update_sort_label()
        self._set_sections()
        self.table.focus()
        self._generation += 1  # the loader's first page and first view answer this one
        self._current_request = _Request(self._generation, self.section, self.query_text,
                                         self.sort_field, self.sort_descending, None)
        for target, name in ((self._watch_store, "cctui-feedback-loader"), (self._run_views, "cctui-feedback-views")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def on_unmount(self) -> None:
        self._stop.set()
        with self._view_lock:
            self._view_wanted.notify_all()

    # -- threads -> the event loop ---------------------------------------------------------
    def _to_loop(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run ``fn(*args)`` on the event loop and wait for it; False once the screen is
        going away (never hangs on a stopped loop)."""
        done = threading.Event()

        def run() -> None:
            try:
                if not self._stop.is_set():
                    fn(*args)
            except Exception as exc:  # a bug: let Textual show it as it shows its own
                self.app._handle_exception(exc)
            finally:
                done.set()

        try:
            self._loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop is closed
            return False
        while not done.wait(0.1):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    # -- loading (loader thread) -------------------------------------------------------------
    def _watch_store(self) -> None:
        store = self.app.store
        try:
            self._first_load(store)
            last_reload = time.monotonic()
            while not self._stop.wait(REVISION_POLL):
                # Even reading the revision waits for the store's lock (a write may be
                # fsyncing): that is why this runs here and not on the event loop.
                revision = getattr(store, "revision", None)
                if revision is None or revision == self._data.revision:
                    continue
                pause = last_reload + RELOAD_EVERY - time.monotonic()
                if pause > 0 and self._stop.wait(pause):
                    return
                self._reload(store, getattr(store, "revision", None))
                last_reload = time.monotonic()
        except Exception as exc:  # pragma: no cover - a bug; show it rather than go quiet
            if not self._stop.is_set():
                self._to_loop(self._raise, exc)

    @staticmethod
    def _raise(exc: Exception) -> None:
        raise exc

    def _first_load(self, store) -> None:
        revision = getattr(store, "revision", None)
        feedback = store.feedback_all()
        request = self._view_request_now()
        if request is not None and request.section.target == "feedback" and not request.text \
                and not request.section.feedback_type and len(feedback) > FIRST_PAGE:
            # A screenful first, sorted right, so ids are on screen before the full sort.
            page = first_rows(feedback, self.app.schema, request.field, request.descending, FIRST_PAGE)
            painted = threading.Event()
            if not self._to_loop(self._show_first_page, request, page, len(feedback), painted):
                return
            painted.wait(0.25)  # let that frame out before the sort takes the GIL
        users = store.users_all()
        self._install(self._derive(1, revision, feedback, users, {}))

    def _reload(self, store, revision: int | None) -> None:
        old = self._data
        feedback, users = store.feedback_all(), store.users_all()
        changes = changes_between(old.feedback, feedback)
        user_changes = changes_between(old.users, users)
        if changes is not None and user_changes is not None and not changes and not user_changes:
            old.revision = revision  # e.g. a run's progress in meta: nothing to redo
            return
        kept: dict[tuple, list[dict]] = {}
        if changes is not None and user_changes is not None:
            schema = self.app.schema
            for key, rows in list(old.sorted.items()):
                target, field, descending = key
                delta = changes if target == "feedback" else user_changes
                kept[key] = apply_changes(rows, delta, schema, field, descending)
        self._install(self._derive(old.version + 1, revision, feedback, users, kept,
                                   old if changes is not None else None, changes))

    def _derive(self, version: int, revision: int | None, feedback: list[dict], users: list[dict],
                sorted_: dict[tuple, list[dict]], old: _Data | None = None,
                changes: Changes | None = None) -> _Data:
        """Counts, field names, id widths and categories: O(changes) after an edit."""
        if old is not None and changes is not None:
            per_type = dict(old.per_type)
            categories = set(old.categories)
            known = {"feedback": set(old.known["feedback"]), "users": fields_in(users)}
            touched = [new for _, new in changes.pairs] + changes.added
            for before, after in changes.pairs:
                per_type[before.get("type")] = per_type.get(before.get("type"), 1) - 1
                per_type[after.get("type")] = per_type.get(after.get("type"), 0) + 1
            for record in changes.added:
                per_type[record.get("type")] = per_type.get(record.get("type"), 0) + 1
            known["feedback"] |= fields_in(touched)
            categories |= {str(r.get("category")) for r in touched if r.get("category")}
            id_width = max([old.id_widths["feedback"], *(len(str(r.get("id", ""))) for r in changes.added)])
        else:
            per_type = {}
            for record in feedback:
                kind = record.get("type")
                per_type[kind] = per_type.get(kind, 0) + 1
            known = {"feedback": fields_in(feedback), "users": fields_in(users)}
            categories = {str(c) for c in {r.get("category") for r in feedback} if c}
            id_width = max(map(len, (str(r.get("id", "")) for r in feedback)), default=8)
        id_widths = {"feedback": id_width,
                     "users": max(map(len, (str(r.get("id", "")) for r in users)), default=8)}
        return _Data(version, revision, feedback, users, known, id_widths, per_type,
                     sorted(categories), sorted_)

    def _install(self, data: _Data) -> None:
        """Make ``data`` current: sort what the current view needs (here, in the thread),
        show it, then index the text for the first search."""
        request = self._view_request_now()
        if request is not None:
            self._sorted_source(data, request.section.target, request.field, request.descending)
        if not self._to_loop(self._loaded, data):
            return
        index_text(data.feedback)

    def _loaded(self, data: _Data) -> None:
        self._data = data
        self._last_view = None
        self._set_sections()
        self.query_one(AppHeader).counts = f"{len(data.feedback):,} feedback · {len(data.users):,} users"
        self.refresh_view()

    def _set_sections(self) -> None:
        data = self._data
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

    # -- the view: section -> filter -> sort (view thread) ------------------------------------
    def _view_request_now(self) -> _Request | None:
        """The request the screen shows or waits for (read from a thread)."""
        with self._view_lock:
            return self._view_request or self._current_request

    def refresh_view(self) -> None:
        """Recompute the rows for the current section, filter and sort."""
        self._generation += 1
        table = self.table
        request = _Request(self._generation, self.section, self.query_text, self.sort_field,
                           self.sort_descending, table.current_id, table.current_record)
        with self._view_lock:
            self._current_request = request
            self._view_request = request  # replaces any older request still waiting
            self._view_wanted.notify()

    def _run_views(self) -> None:
        while True:
            with self._view_lock:
                while self._view_request is None and not self._stop.is_set():
                    self._view_wanted.wait()
                if self._stop.is_set():
                    return
                request, self._view_request = self._view_request, None
            self._compute(request)

    def _compute(self, request: _Request) -> None:
        data = self._data
        target = request.section.target
        try:
            query = compile_query(request.text, self.app.schema, known_fields=data.known[target])
        except CctuiError as exc:
            self._to_loop(self._show_error, request.generation, str(exc))
            return
        source = self._sorted_source(data, target, request.field, request.descending)
        if request.section.feedback_type:
            type_key = (target, request.field, request.descending, request.section.feedback_type)
            typed = data.sorted.get(type_key)
            if typed is None:
                typed = data.sorted[type_key] = [r for r in source if r.get("type") == request.section.feedback_type]
            source = typed
        view_key = (data.version, target, request.section.feedback_type, request.field, request.descending)
        base = source
        last = self._last_view
        if last is not None and last[0] == view_key and narrows(last[1], request.text):
            base = last[2]  # e.g. "cr" -> "crash": only the rows that matched "cr"
        rows = query.filter(base)
        self._last_view = (view_key, request.text, rows)
        index = None
        if request.keep_id is not None:
            # Where the cursor's record is now: a C-speed search by identity, and none at
            # all when the record does not match (the common case for a new filter).
            current = request.keep_record
            if current is not None and query(current):
                try:
                    index = list(map(id, rows)).index(id(current))
                except ValueError:  # replaced by an edit since: look for its id
                    index = next((i for i, r in enumerate(rows) if r.get("id") == request.keep_id), None)
        columns = self._columns_for(data, target)
        self._to_loop(self._show_rows, request.generation, columns, rows, len(source), index, False,
                      request.keep_id)

    def _sorted_source(self, data: _Data, target: str, field: str | None, descending: bool) -> list[dict]:
        key = (target, field, descending)
        cached = data.sorted.get(key)
        if cached is None:
            records = data.users if target == "users" else data.feedback
            cached = data.sorted[key] = sort_rows(records, self.app.schema, field, descending)
        return cached

    @staticmethod
    def _columns_for(data: _Data, target: str) -> tuple:
        id_width = data.id_widths[target]
        columns = USER_COLUMNS if target == "users" else FEEDBACK_COLUMNS
        return tuple(replace(c, width=max(c.width, id_width)) if c.key == "id" else c for c in columns)

    def _show_first_page(self, request: _Request, page: list[dict], total: int, painted: threading.Event) -> None:
        if request.generation != self._generation:
            painted.set()
            return
        self._data.id_widths["feedback"] = max(len(str(r.get("id", ""))) for r in page)
        self._show_rows(request.generation, self._columns_for(self._data, "feedback"), page, total, 0, True)
        self.call_after_refresh(painted.set)

    def _show_error(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._shown_generation = generation
            self.filter_bar.error = message  # the previous rows stay on screen

    def _show_rows(self, generation: int, columns: tuple, rows: list[dict], total: int,
                   index: int | None, partial: bool, searched_id: str | None = None) -> None:
        if generation != self._generation:
            return
        self._shown_generation, self._partial = generation, partial
        table = self.table
        table.placeholder = "No records match the filter." if total else "No records yet: try `cctui seed --count 100`."
        if searched_id is not None and searched_id == table.current_id:
            # Found (or not: then the cursor keeps its row number) off the event loop.
            table.set_rows(rows, columns, cursor=min(table.cursor_row, max(0, len(rows) - 1)) if index is None else index)
        else:
            table.set_rows(rows, columns, keep_id=table.current_id)
        self._update_sort_label()
        bar = self.filter_bar
        bar.error, bar.pending = "", False
        bar.shown, bar.total = (total if partial else len(rows)), total
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
        filter_input = self.query_one("#filter-input", Input)
        if self.focused is filter_input or isinstance(self.focused, Input):
            raise SkipAction()  # a "/" typed into a text box is just a character
        # Focus now, not via call_later: keys typed in the same burst right after "/" are
        # already queued and must land in the box, not on the table.
        self.set_focus(filter_input)

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        # The first key after a pause filters at once; keys typed in a burst wait until it
        # pauses, so half-typed terms ("colour" of "colour:red") do not flash by.
        now = time.monotonic()
        in_burst = now - self._last_typed < FILTER_DEBOUNCE
        self._last_typed = now
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        if in_burst:
            value = event.value
            self._debounce = self.set_timer(FILTER_DEBOUNCE, lambda: self._apply_filter(value))
        else:
            self._apply_filter(event.value)

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
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
