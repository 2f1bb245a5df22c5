"""Loading a store into the record table and computing its views, off the event loop.

Nothing proportional to the number of records runs on the event loop:

* a load worker (a Textual thread worker) sends the first screenful straight from
  ``store.first_page()`` (a small head file, no full read) when it can, else reads the
  store and sends a partial sort, so ids show at once; then the full view, the counts and
  the text index. When the app's ``store_changed`` signal says the data moved, a reload
  worker applies what changed (an edit or an addition patches the sorted lists, it does
  not re-sort from scratch), at most once per ``RELOAD_EVERY``;
* a view worker per request computes section -> filter -> sort; a newer request cancels
  the waiting ones (only the newest runs), and a query that narrows the previous one
  filters its result.

Results are posted to the screen as messages (:class:`TableLoader.Loaded`, ...), which
hands them to :meth:`TableLoader.accept` on the event loop, which calls the
:class:`TableView`'s methods; a result for a request that a newer one has replaced is
dropped before it gets there.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message
from textual.timer import Timer
from textual.worker import get_current_worker

from cctui.core.query import Columns, compile_query, fields_in, index_text, narrows
from cctui.errors import CctuiError
from cctui.tui.widgets.table_model import (
    FEEDBACK_COLUMNS,
    USER_COLUMNS,
    Changes,
    apply_changes,
    changes_between,
    first_rows,
    sort_rows,
)

if TYPE_CHECKING:
    from cctui.store import Store
    from cctui.tui.screens.feedback import FeedbackScreen
    from cctui.tui.widgets.sidebar import Section

#: During a burst of changes (a run's on_success updates) reload at most this often.
RELOAD_EVERY = 1.0
#: Rows sent ahead of the full sort on the first load (more than any terminal is tall).
FIRST_PAGE = 200
#: From this many records on, the first load is moved out of the cycle collector's way.
FREEZE_AT = 20_000
#: How many sort orders keep their filter columns (see :meth:`TableData.columns_of`).
COLUMNS_KEPT = 4
#: Columns built in the loader, before the first filter asks for them (the rest are built
#: on first use, a few milliseconds each).
PREPARED_FIELDS = {"feedback": ("status", "severity", "type", "category", "votes", "created"),
                   "users": ("role", "company")}


@dataclass
class TableData:
    """One load of the store, with everything derived from it (built in the loader)."""

    version: int
    revision: int | None
    feedback: list[dict]
    users: list[dict]
    known: dict[str, set[str]]
    id_widths: dict[str, int]
    per_type: dict[Any, int]
    categories: list[str]
    #: (target, field, descending) -> that table's records sorted (shared with the views);
    #: (target, field, descending, type) -> only that feedback type.
    sorted: dict[tuple, list[dict]]
    #: The same keys -> those rows as columns, for the filter (built on first use); the
    #: :data:`COLUMNS_KEPT` most recently used, oldest first.
    columns: dict[tuple, Columns] = field(default_factory=dict)
    _columns_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def empty(cls) -> TableData:
        return cls(0, None, [], [], {"feedback": set(), "users": set()}, {"feedback": 8, "users": 8}, {}, [], {})

    def columns_of(self, key: tuple) -> Columns:
        """The sorted rows under ``key`` as columns (``key`` must be in :attr:`sorted`).

        Each :class:`Columns` holds lists as long as the table (its text column a copy of
        every title and description), and each sort order and type tab has its own, so
        only the most recently used few are kept (the loader and view threads share them).
        """
        with self._columns_lock:
            columns = self.columns.pop(key, None)
            if columns is None or columns.rows is not self.sorted[key]:
                columns = Columns(self.sorted[key])
            self.columns[key] = columns
            while len(self.columns) > COLUMNS_KEPT:
                del self.columns[next(iter(self.columns))]
        return columns


@dataclass(frozen=True)
class ViewRequest:
    """What the table should show: a section, filtered by ``text``, sorted by ``field``."""

    generation: int
    section: Section
    text: str
    field: str | None
    descending: bool
    #: The record under the cursor when the request was made: the view finds its new row.
    keep_id: str | None
    keep_record: dict | None = None


@dataclass(frozen=True)
class View:
    """A computed view, ready to paint."""

    generation: int
    columns: tuple
    rows: list[dict]
    #: Records in the section before filtering.
    total: int
    #: Where the cursor's record is in ``rows`` (None: not found, or not searched).
    index: int | None
    #: True for the first screenful sent ahead of the full sort.
    partial: bool
    #: The id that ``index`` was searched for (None when nothing was searched).
    searched_id: str | None = None


class TableView(Protocol):
    """What the loader calls on the event loop (the feedback screen)."""

    def data_loaded(self, data: TableData) -> None: ...

    def show_view(self, view: View) -> None: ...

    def show_view_error(self, message: str) -> None: ...


class TableLoader:
    """The loading and view workers of one screen, and the data they share.

    The work runs in Textual thread workers owned by the screen (so they are cancelled
    with it); results come back as messages the screen hands to :meth:`accept`.
    """

    class Loaded(Message):
        """A load (or a reload after a change) is ready to install."""

        def __init__(self, data: TableData) -> None:
            super().__init__()
            self.data = data

    class ViewReady(Message):
        """A computed view; ``painted`` is set once a first page has been drawn."""

        def __init__(self, view: View, painted: threading.Event | None = None) -> None:
            super().__init__()
            self.view = view
            self.painted = painted

    class ViewFailed(Message):
        """The request ``generation``'s filter does not compile."""

        def __init__(self, generation: int, message: str) -> None:
            super().__init__()
            self.generation = generation
            self.message = message

    class LoadFailed(Message):
        """The store could not be read (e.g. a damaged records file)."""

        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

    def __init__(self, screen: FeedbackScreen, view: TableView) -> None:
        self._screen = screen
        self._view = view
        self.data = TableData.empty()
        """The current load (replaced on the event loop; read-only everywhere)."""
        self.generation = 0
        """The newest request's number; results for older ones are dropped."""
        self._shown_generation = -1
        self._partial = False
        self._current: ViewRequest | None = None
        # One view at a time (a newer request cancels the waiting ones), one load at a time.
        self._view_lock = threading.Lock()
        self._load_lock = threading.Lock()
        # The last result, for a query that narrows it: (view key, query text, positions).
        self._last_view: tuple[tuple, str, list[int]] | None = None
        self._loaded = False  # the first load is installed
        self._wanted_revision = -1  # the newest revision the store announced
        self._reload_timer: Timer | None = None
        self._last_reload = float("-inf")

    @property
    def settled(self) -> bool:
        """True when the newest request's complete result is shown (no partial first page,
        no newer request in flight)."""
        return self._shown_generation == self.generation and not self._partial

    # -- the screen's side (event loop) ----------------------------------------------------
    def start(self, section: Section, text: str, field: str | None, descending: bool) -> None:
        """Start loading; the first page and the first view answer this request."""
        self.generation += 1
        self._current = ViewRequest(self.generation, section, text, field, descending, None)
        self._screen.run_worker(self._first_load, thread=True, group="table-load",
                                name="table-first-load", exclusive=True)

    def store_changed(self, revision: int) -> None:
        """The store is at ``revision`` now: reload, at most once per ``RELOAD_EVERY``."""
        self._wanted_revision = max(self._wanted_revision, revision)
        if not self._loaded or self._reload_timer is not None:
            return  # the first load (or a reload already planned) will see it
        if self.data.revision is not None and revision <= self.data.revision:
            return
        pause = self._last_reload + RELOAD_EVERY - time.monotonic()
        if pause <= 0:
            self._start_reload()
        else:  # a burst of changes (a run's on_success updates): one reload for all of them
            self._reload_timer = self._screen.set_timer(pause, self._start_reload, name="table-reload")

    def _start_reload(self) -> None:
        self._reload_timer = None
        self._last_reload = time.monotonic()
        self._screen.run_worker(self._reload, thread=True, group="table-load", name="table-reload")

    def request(self, section: Section, text: str, field: str | None, descending: bool,
                keep_id: str | None, keep_record: dict | None) -> None:
        """Compute a new view; it replaces any older request still waiting."""
        self.generation += 1
        request = ViewRequest(self.generation, section, text, field, descending, keep_id, keep_record)
        self._current = request
        self._screen.run_worker(partial(self._run_view, request), thread=True, group="table-view",
                                name="table-view", exclusive=True)

    def accept(self, message: Message) -> None:
        """Hand a result message of this loader back to it (the screen's handlers do)."""
        match message:
            case TableLoader.Loaded(data=data):
                self.data = data
                self._last_view = None
                self._loaded = True
                self._view.data_loaded(data)
                if data.revision is not None and self._wanted_revision > data.revision:
                    self.store_changed(self._wanted_revision)  # changed while it loaded
            case TableLoader.ViewReady(view=view, painted=painted):
                if view.generation == self.generation:
                    self._shown_generation, self._partial = view.generation, view.partial
                    self._view.show_view(view)
                if painted is not None:
                    self._screen.call_after_refresh(painted.set)
            case TableLoader.ViewFailed(generation=generation, message=text):
                if generation == self.generation:
                    self._shown_generation = generation
                    self._view.show_view_error(text)
            case TableLoader.LoadFailed(message=text):
                self._screen.app.notify(text, title="Cannot load records", severity="error", timeout=60)

    # -- workers -> the event loop ---------------------------------------------------------
    def _post(self, message: Message) -> bool:
        """Send a result to the screen unless this worker was cancelled (the screen went
        away, or a newer request replaced it); True if it was sent."""
        if get_current_worker().is_cancelled:
            return False
        return self._screen.post_message(message)

    def _send_first_page(self, view: View) -> None:
        """Show a first page and give its frame a moment to get out before the full read
        or sort takes the GIL."""
        painted = threading.Event()
        if self._post(self.ViewReady(view, painted)):
            painted.wait(0.25)

    # -- loading (a thread worker) -----------------------------------------------------------
    def _first_load(self) -> None:
        store = self._screen.app.store
        with self._load_lock:
            try:
                shown = self._head_first(store)
                revision = store.revision
                feedback = store.feedback_all()
                request = self._current
                if not shown and request is not None and request.section.target == "feedback" \
                        and not request.text and not request.section.feedback_type and len(feedback) > FIRST_PAGE:
                    # A screenful first, sorted right, so ids are on screen before the full sort.
                    page = first_rows(feedback, self._screen.app.schema, request.field, request.descending,
                                      FIRST_PAGE)
                    id_width = max(len(str(r.get("id", ""))) for r in page)
                    self._send_first_page(View(request.generation, _columns_for("feedback", id_width), page,
                                               len(feedback), 0, True))
                users = store.users_all()
                self._install(self._derive(1, revision, feedback, users, {}))
            except CctuiError as exc:  # e.g. a damaged records file: say so, keep the app up
                self._post(self.LoadFailed(str(exc)))

    def _head_first(self, store: Store) -> bool:
        """Paint the first screenful from ``store.first_page()`` (the small head file plus
        the journal) before the store's full read, which parses the whole snapshot while
        holding the GIL. Only for the default view (all feedback, newest first,
        no filter); True if a page was shown."""
        request = self._current
        if request is None or request.section.target != "feedback" \
                or request.section.feedback_type or request.section.query is not None \
                or request.text or request.field != "created" or not request.descending:
            return False
        answer = store.first_page(FIRST_PAGE)
        if answer is None or not answer[0]:
            return False
        page, counts = answer
        id_width = max(len(str(r.get("id", ""))) for r in page)
        self._send_first_page(View(request.generation, _columns_for("feedback", id_width), page,
                                   counts["feedback"], 0, True))
        return True

    def _reload(self) -> None:
        store = self._screen.app.store
        with self._load_lock:
            try:
                revision = store.revision
                feedback, users = store.feedback_all(), store.users_all()
            except CctuiError as exc:
                self._post(self.LoadFailed(str(exc)))
                return
            old = self.data
            changes = changes_between(old.feedback, feedback)
            user_changes = changes_between(old.users, users)
            if changes is not None and user_changes is not None and not changes and not user_changes:
                old.revision = revision  # e.g. a run's progress in meta: nothing to redo
                return
            kept: dict[tuple, list[dict]] = {}
            if changes is not None and user_changes is not None:
                schema = self._screen.app.schema
                for key, rows in list(old.sorted.items()):
                    if len(key) != 3:  # one feedback type's rows: taken again from the full list
                        continue
                    target, field, descending = key
                    delta = changes if target == "feedback" else user_changes
                    kept[key] = apply_changes(rows, delta, schema, field, descending)
            self._install(self._derive(old.version + 1, revision, feedback, users, kept,
                                       old if changes is not None else None, changes))

    @staticmethod
    def _derive(version: int, revision: int | None, feedback: list[dict], users: list[dict],
                sorted_: dict[tuple, list[dict]], old: TableData | None = None,
                changes: Changes | None = None) -> TableData:
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
        return TableData(version, revision, feedback, users, known, id_widths, per_type,
                         sorted(categories), sorted_)

    def _install(self, data: TableData) -> None:
        """Make ``data`` current: sort what the current view needs (here, in the thread),
        show it, then index the text for the first search."""
        request = self._current
        if request is not None:
            self._sorted_source(data, request.section.target, request.field, request.descending)
        if not self._post(self.Loaded(data)):
            return
        index_text(data.feedback)
        if request is not None:  # the current table as columns, ready for the first filter
            target = request.section.target
            key = (target, request.field, request.descending)
            data.columns_of(key).prepare(PREPARED_FIELDS[target], text=target == "feedback")
        if len(data.feedback) + len(data.users) >= FREEZE_AT:
            freeze_once()

    # -- the view: section -> filter -> sort (a thread worker) --------------------------------
    def _run_view(self, request: ViewRequest) -> None:
        with self._view_lock:
            # A newer request cancelled this one while it waited: only the newest runs.
            if not get_current_worker().is_cancelled:
                self._compute(request)

    def _compute(self, request: ViewRequest) -> None:
        data = self.data
        target = request.section.target
        try:
            query = compile_query(request.text, self._screen.app.schema, known_fields=data.known[target])
        except CctuiError as exc:
            self._post(self.ViewFailed(request.generation, str(exc)))
            return
        key: tuple = (target, request.field, request.descending)
        source = self._sorted_source(data, target, request.field, request.descending)
        if request.section.feedback_type:
            key = (*key, request.section.feedback_type)
            if key not in data.sorted:
                data.sorted[key] = [r for r in source if r.get("type") == request.section.feedback_type]
            source = data.sorted[key]
        view_key = (data.version, *key)
        within = None
        last = self._last_view
        if last is not None and last[0] == view_key and narrows(last[1], request.text):
            within = last[2]  # e.g. "cr" -> "crash": only the rows that matched "cr"
        if query.is_empty:
            positions, rows = None, source
        else:
            positions = query.select(data.columns_of(key), within)
            rows = list(map(source.__getitem__, positions))
        self._last_view = (view_key, request.text, positions) if positions is not None else None
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
        columns = _columns_for(target, data.id_widths[target])
        self._post(self.ViewReady(View(request.generation, columns, rows, len(source), index, False,
                                       request.keep_id)))

    def _sorted_source(self, data: TableData, target: str, field: str | None, descending: bool) -> list[dict]:
        key = (target, field, descending)
        cached = data.sorted.get(key)
        if cached is None:
            records = data.users if target == "users" else data.feedback
            cached = data.sorted[key] = sort_rows(records, self._screen.app.schema, field, descending)
        return cached


_freeze_lock = threading.Lock()
_frozen = False


def freeze_once() -> bool:
    """Move everything alive now out of the cycle collector's view, once per process.

    Why: every full collection walks each tracked object, and 100k record dicts make that
    a visible pause several times a minute while typing. Records hold no cycles (refcounting
    frees them) and a reload keeps the unchanged dicts (an edit replaces only its own), so
    freezing after the first big load covers nearly all of them. ``gc.collect()`` first, so
    no garbage is frozen; never again, since each freeze would pin whatever cyclic garbage
    exists by then for the life of the process. True when this call froze.
    """
    global _frozen
    with _freeze_lock:
        if _frozen:
            return False
        _frozen = True
        gc.collect()
        gc.freeze()
        return True


def _columns_for(target: str, id_width: int) -> tuple:
    columns = USER_COLUMNS if target == "users" else FEEDBACK_COLUMNS
    return tuple(replace(c, width=max(c.width, id_width)) if c.key == "id" else c for c in columns)
