"""TinyDB tables keyed by our own ids, whose writes cost O(changed documents).

Stock TinyDB rebuilds the whole table dict on every write (``Table._update_table``
converts every key twice) and hands the storage the entire database: 100k records means
100k dict operations and a 45 MB file per edit. :class:`RecordTable` keeps TinyDB's public
Table API (``insert_multiple``, ``update(..., doc_ids=...)``, ``remove``, ``get``) but
runs the updater on the live table through :class:`_TrackedTable`, which notes the
documents touched and hands only those to :class:`~cctui.store.journal.JournaledStorage`.

Documents are copied on write: a dict handed out by a read is never mutated later, so
``ChangeEvent.before`` and a screen's cached list stay valid snapshots.
"""

from __future__ import annotations

from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import Any, NoReturn

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from cctui.store.journal import JournaledStorage

_MISSING: Any = object()


class _TrackedTable:
    """The mapping TinyDB's updaters see: the live table, with every touch recorded."""

    def __init__(self, raw: dict[str, dict]):
        self.raw = raw
        #: doc_id -> the document before this update (``_MISSING`` if it did not exist).
        self.originals: dict[str, Any] = {}

    def _touch(self, doc_id: str) -> None:
        if doc_id not in self.originals:
            self.originals[doc_id] = self.raw.get(doc_id, _MISSING)

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self.raw

    def __getitem__(self, doc_id: object) -> dict:
        key = str(doc_id)
        doc = self.raw[key]
        if key not in self.originals:
            # copy on first access: updaters mutate what they get in place
            self.originals[key] = doc
            doc = self.raw[key] = dict(doc)
        return doc

    def __setitem__(self, doc_id: object, doc: dict) -> None:
        key = str(doc_id)
        self._touch(key)
        self.raw[key] = doc

    def __delitem__(self, doc_id: object) -> None:
        key = str(doc_id)
        self._touch(key)
        del self.raw[key]

    def pop(self, doc_id: object, *default: Any) -> Any:
        key = str(doc_id)
        if key not in self.raw:
            if default:
                return default[0]
            raise KeyError(doc_id)
        self._touch(key)
        return self.raw.pop(key)

    def clear(self) -> None:
        for key in list(self.raw):
            self._touch(key)
        self.raw.clear()

    def keys(self) -> KeysView[str]:
        return self.raw.keys()

    def items(self) -> ItemsView[str, dict]:
        return self.raw.items()

    def values(self) -> ValuesView[dict]:
        return self.raw.values()

    def get(self, doc_id: object, default: Any = None) -> Any:
        return self.raw.get(str(doc_id), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def changes(self) -> tuple[dict[str, dict], set[str]]:
        """Documents written (that really differ from before) and ids removed."""
        puts: dict[str, dict] = {}
        removed: set[str] = set()
        for key, original in self.originals.items():
            if key not in self.raw:
                if original is not _MISSING:
                    removed.add(key)
            elif self.raw[key] is original:
                continue
            elif original is not _MISSING and self.raw[key] == original:
                self.raw[key] = original  # untouched in substance: keep the old object
            else:
                puts[key] = self.raw[key]
        return puts, removed

    def revert(self) -> None:
        for key, original in self.originals.items():
            if original is _MISSING:
                self.raw.pop(key, None)
            else:
                self.raw[key] = original


class RecordTable(Table):
    """A TinyDB table whose doc ids are our record ids (``BUG-0042``, a macro name, ...)."""

    document_id_class = str  # type: ignore[assignment]  # TinyDB annotates int; any hashable works

    def __init__(self, storage: Storage, name: str,
                 cache_size: int = Table.default_query_cache_capacity, persist_empty: bool = False) -> None:
        super().__init__(storage, name, cache_size, persist_empty)
        assert isinstance(storage, JournaledStorage), "open CctuiDB with storage=JournaledStorage"
        #: the storage, as the type it always is here (TinyDB annotates a Storage)
        self.journaled: JournaledStorage = storage

    def documents(self) -> list[dict]:
        """Every document as a plain dict, in insertion order (no per-document copies)."""
        return list(self.journaled.table(self.name).values())

    def raw(self, doc_id: str) -> dict | None:
        """One document as stored (read-only), without wrapping it in a Document."""
        return self.journaled.tables.get(self.name, {}).get(doc_id)

    def stored(self, doc_id: str) -> dict:
        """A document known to be there (read-only); KeyError if it is not."""
        return self.journaled.tables[self.name][doc_id]

    def ids(self) -> KeysView[str]:
        """A live view of the ids in this table."""
        return self.journaled.table(self.name).keys()

    # TinyDB's annotations say doc ids are ints; this table keys documents by our string
    # ids (``document_id_class = str``), which TinyDB handles as any hashable. These
    # helpers are the one place that bridges the two, so callers stay typed.
    def put(self, doc_id: str, doc: dict) -> None:
        """Insert ``doc`` under ``doc_id`` (which must be new)."""
        self.insert(Document(doc, _tinydb_id(doc_id)))

    def put_many(self, docs: list[tuple[str, dict]]) -> None:
        """Insert several new documents in one staged change."""
        self.insert_multiple([Document(doc, _tinydb_id(doc_id)) for doc_id, doc in docs])

    def replace(self, doc_id: str, doc: dict) -> None:
        """Make the stored document under ``doc_id`` equal ``doc`` (keeping its place)."""

        def swap(stored: MutableMapping) -> None:
            stored.clear()
            stored.update(doc)

        self.update(swap, doc_ids=[_tinydb_id(doc_id)])

    def update_ids(self, fields: Mapping | Callable[[MutableMapping], None], doc_ids: Iterable[str]) -> None:
        """Set ``fields`` (or apply the function) on each of ``doc_ids``."""
        self.update(fields, doc_ids=[_tinydb_id(doc_id) for doc_id in doc_ids])

    def remove_ids(self, doc_ids: Iterable[str]) -> int:
        """Remove ``doc_ids``; how many were removed."""
        return len(self.remove(doc_ids=[_tinydb_id(doc_id) for doc_id in doc_ids]))

    def _get_next_id(self) -> NoReturn:  # pragma: no cover - we always insert Documents with our ids
        raise RuntimeError("RecordTable needs explicit ids: insert Document(doc, doc_id=ID).")

    def _update_table(self, updater: Callable[[dict], None]) -> None:
        tracked = _TrackedTable(self.journaled.table(self.name))
        try:
            updater(tracked)  # type: ignore[arg-type]
        except BaseException:
            tracked.revert()
            raise
        puts, removed = tracked.changes()
        self.journaled.stage(self.name, puts, removed)
        self.clear_cache()


def _tinydb_id(doc_id: str) -> int:
    """``doc_id`` as TinyDB's annotations want it (see :meth:`RecordTable.put`)."""
    return doc_id  # type: ignore[return-value]  # a str: TinyDB keys by any hashable


class CctuiDB(TinyDB):
    """TinyDB with our table class; open it with ``storage=JournaledStorage``."""

    table_class = RecordTable

    def table(self, name: str, **kwargs: Any) -> RecordTable:  # narrow the return type
        table = super().table(name, **kwargs)
        assert isinstance(table, RecordTable)  # table_class above
        return table

    @property
    def journaled(self) -> JournaledStorage:
        """The storage, as the type it always is here (TinyDB annotates a Storage)."""
        storage = self.storage
        assert isinstance(storage, JournaledStorage), "open CctuiDB with storage=JournaledStorage"
        return storage
