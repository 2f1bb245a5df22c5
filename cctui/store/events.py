"""What the store tells its subscribers after a successful commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ChangeEvent:
    """Records that were added (``submit``) or changed (``modify``) in one commit.

    ``records[i]`` is the record after the change, ``before[i]`` before it (None for a
    submit) and ``changed[i]`` the names of the fields whose value changed (for a submit:
    every field; ``modified`` is never listed on its own account). ``target`` says which
    table: ``"feedback"`` or ``"users"``. Events are emitted after the commit is durable,
    on the committing thread, so two writer threads may deliver theirs out of order:
    compare ``revision``.
    """

    kind: Literal["submit", "modify"]
    records: list[dict]
    before: list[dict | None]
    changed: list[set[str]]
    origin: str = "cli"
    by_macro: str | None = None
    target: str = "feedback"
    ids: list[str] = field(default_factory=list)
    #: ``store.revision`` right after the commit (set by the store when it commits): of
    #: two events about one record, the one with the higher revision is the newer.
    revision: int = 0

    def __post_init__(self) -> None:
        if not self.ids:
            object.__setattr__(self, "ids", [r.get("id", "") for r in self.records])


Subscriber = Callable[[ChangeEvent], None]
