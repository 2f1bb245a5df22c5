"""Loading a store into the record table and computing its views, off the event loop.

Nothing proportional to the number of records runs on the event loop:

* a loader thread sends the first screenful straight from ``store.first_page()`` (a small
  head file, no full read) when it can, else reads the store and sends a partial sort, so
  ids show at once; then the full view, the counts and the text index; afterwards it watches the
  store's revision and applies what changed (an edit or an addition patches the sorted
  lists, it does not re-sort from scratch), at most once per ``RELOAD_EVERY``;
* a view thread computes section -> filter -> sort; requests coalesce (only the newest
  waiting one runs), and a query that narrows the previous one filters its result.

Results reach the screen on the event loop through :class:`TableView`'s methods; a result
for a request that a newer one has replaced is dropped before it gets there.
"""

from __future__ import annotations

from functools import partial

import gc
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Protocol

from cctui.core.query import Columns, compile_query, fields_in, index_text, narrows
from cctui.errors import CctuiError
from cctui.tui.widgets.table_model import (
    FEEDBACK_COLUMNS, USER_COLUMNS, Changes, apply_changes, changes_between, first_rows, sort_rows,
)

if TYPE_CHECKING:
    from textual.screen import Screen

    from cctui.tui.widgets.sidebar import Section

#: How often the loader asks the store whether its data changed (a counter read).
REVISION_POLL = 0.3
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
    def empty(cls) -> "TableData":
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
    section: "Section"
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
    """The loader and view threads of one screen, and the data they share."""

    def __init__(self, screen: "Screen", view: TableView) -> None:
        self._screen = screen
        self._view = view
        self.data = TableData.empty()
        """The current load (replaced on the event loop; read-only everywhere)."""
        self.generation = 0
        """The newest request's number; results for older ones are dropped."""
        self._shown_generation = -1
        self._partial = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._waiting: ViewRequest | None = None
        self._current: ViewRequest | None = None
        # The last result, for a query that narrows it: (view key, query text, positions).
        self._last_view: tuple[tuple, str, list[int]] | None = None
        self._threads: list[threading.Thread] = []

    @property
    def settled(self) -> bool:
        """True when the newest request's complete result is shown (no partial first page,
        no newer request in flight)."""
        return self._shown_generation == self.generation and not self._partial

    # -- the screen's side (event loop) ----------------------------------------------------
    def start(self, section: "Section", text: str, field: str | None, descending: bool) -> None:
        """Start loading; the first page and the first view answer this request."""
        import asyncio

        self._loop = asyncio.get_running_loop()
        self.generation += 1
        self._current = ViewRequest(self.generation, section, text, field, descending, None)
        for target, name in ((self._watch_store, "cctui-feedback-loader"), (self._run_views, "cctui-feedback-views")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._wanted.notify_all()

    def request(self, section: "Section", text: str, field: str | None, descending: bool,
                keep_id: str | None, keep_record: dict | None) -> None:
        """Compute a new view; it replaces any older request still waiting."""
        self.generation += 1
        request = ViewRequest(self.generation, section, text, field, descending, keep_id, keep_record)
        with self._lock:
            self._current = request
            self._waiting = request
            self._wanted.notify()

    def _install_data(self, data: TableData) -> None:
        self.data = data
        self._last_view = None
        self._view.data_loaded(data)

    def _deliver(self, view: View) -> None:
        if view.generation != self.generation:
            return
        self._shown_generation, self._partial = view.generation, view.partial
        self._view.show_view(view)

    def _deliver_error(self, generation: int, message: str) -> None:
        if generation == self.generation:
            self._shown_generation = generation
            self._view.show_view_error(message)

    def _deliver_first_page(self, view: View, painted: threading.Event) -> None:
        if view.generation != self.generation:
            painted.set()
            return
        self._deliver(view)
        self._screen.call_after_refresh(painted.set)

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
                self._screen.app._handle_exception(exc)
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
        store = self._screen.app.store
        try:
            self._first_load(store)
            last_reload = time.monotonic()
            while not self._stop.wait(REVISION_POLL):
                # Even reading the revision waits for the store's lock (a write may be
                # fsyncing): that is why this runs here and not on the event loop.
                revision = store.revision
                if revision == self.data.revision:
                    continue
                pause = last_reload + RELOAD_EVERY - time.monotonic()
                if pause > 0 and self._stop.wait(pause):
                    return
                self._reload(store, store.revision)
                last_reload = time.monotonic()
        except CctuiError as exc:  # e.g. a damaged records file: say so, keep the app up
            if not self._stop.is_set():
                self._to_loop(partial(self._screen.app.notify, str(exc), title="Cannot load records",
                                      severity="error", timeout=60))
        except Exception as exc:  # pragma: no cover - a bug; show it rather than go quiet
            if not self._stop.is_set():
                self._to_loop(self._raise, exc)

    @staticmethod
    def _raise(exc: Exception) -> None:
        raise exc

    def _request_now(self) -> ViewRequest | None:
        """The request the screen shows or waits for (read from a thread)."""
        with self._lock:
            return self._waiting or self._current

    def _first_load(self, store) -> None:
        shown = self._head_first(store)
        revision = store.revision
        feedback = store.feedback_all()
        request = self._request_now()
        if not shown and request is not None and request.section.target == "feedback" and not request.text \
                and not request.section.feedback_type and len(feedback) > FIRST_PAGE:
            # A screenful first, sorted right, so ids are on screen before the full sort.
            page = first_rows(feedback, self._screen.app.schema, request.field, request.descending, FIRST_PAGE)
            id_width = max(len(str(r.get("id", ""))) for r in page)
            view = View(request.generation, _columns_for("feedback", id_width), page, len(feedback), 0, True)
            painted = threading.Event()
            if not self._to_loop(self._deliver_first_page, view, painted):
                return
            painted.wait(0.25)  # let that frame out before the sort takes the GIL
        users = store.users_all()
        self._install(self._derive(1, revision, feedback, users, {}))

    def _head_first(self, store) -> bool:
        """Paint the first screenful from ``store.first_page()`` (the small head file plus
        the journal) before the store's full read, which parses the whole snapshot while
        holding the GIL. Only for the default view (all feedback, newest first,
        no filter); True if a page was shown."""
        request = self._request_now()
        if request is None or request.section.target != "feedback" \
                or request.section.feedback_type or request.section.query is not None \
                or request.text or request.field != "created" or not request.descending:
            return False
        answer = store.first_page(FIRST_PAGE)
        if answer is None or not answer[0]:
            return False
        page, counts = answer
        id_width = max(len(str(r.get("id", ""))) for r in page)
        view = View(request.generation, _columns_for("feedback", id_width), page, counts["feedback"], 0, True)
        painted = threading.Event()
        if not self._to_loop(self._deliver_first_page, view, painted):
            return False
        painted.wait(0.25)  # let that frame out before the full read takes the GIL
        return True

    def _reload(self, store, revision: int | None) -> None:
        old = self.data
        feedback, users = store.feedback_all(), store.users_all()
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
        request = self._request_now()
        if request is not None:
            self._sorted_source(data, request.section.target, request.field, request.descending)
        if not self._to_loop(self._install_data, data):
            return
        index_text(data.feedback)
        if request is not None:  # the current table as columns, ready for the first filter
            target = request.section.target
            key = (target, request.field, request.descending)
            data.columns_of(key).prepare(PREPARED_FIELDS[target], text=target == "feedback")
        if len(data.feedback) + len(data.users) >= FREEZE_AT:
            freeze_once()

    # -- the view: section -> filter -> sort (view thread) ------------------------------------
    def _run_views(self) -> None:
        while True:
            with self._lock:
                while self._waiting is None and not self._stop.is_set():
                    self._wanted.wait()
                if self._stop.is_set():
                    return
                request, self._waiting = self._waiting, None
            self._compute(request)

    def _compute(self, request: ViewRequest) -> None:
        data = self.data
        target = request.section.target
        try:
            query = compile_query(request.text, self._screen.app.schema, known_fields=data.known[target])
        except CctuiError as exc:
            self._to_loop(self._deliver_error, request.generation, str(exc))
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
        self._to_loop(self._deliver, View(request.generation, columns, rows, len(source), index, False,
                                          request.keep_id))

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
