"""What every command shares: the data directory, config, schema and store, opened lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cctui.config import Config, load_config, resolve_data_dir
from cctui.core.records import Schema

if TYPE_CHECKING:
    from cctui.store import Store


@dataclass
class Context:
    data_dir_option: str | None = None
    debug: bool = False
    theme: str | None = None
    _store: "Store | None" = field(default=None, repr=False)

    @cached_property
    def data_dir(self) -> Path:
        return resolve_data_dir(self.data_dir_option)

    @cached_property
    def config(self) -> Config:
        return load_config()

    @cached_property
    def schema(self) -> Schema:
        return Schema.from_config(self.config.records)

    @property
    def store(self) -> "Store":
        if self._store is None:
            from cctui.store import open_store

            self._store = open_store(self.data_dir, schema=self.schema)
        return self._store
