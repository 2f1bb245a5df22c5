"""A small fixed data set and helpers to drive the real app under Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cctui.config import load_config
from cctui.store import open_store

NOW = "2026-11-28T12:00:00Z"

TITLES = [
    ("Bug Report", "Crash on save when the file name has emoji 🎉", "New", "Critical", "Editor"),
    ("Bug Report", "Export to CSV drops the last row", "Triaged", "High", "Export"),
    ("Feature Request", "Dark mode for the PDF preview", "New", "Medium", "UI"),
    ("Praise", "Two-factor auth is so much faster now", "Closed", "Low", "Security"),
    ("Discussion", "Should tags be case-sensitive?", "In Progress", "Low", "UI"),
    ("Bug Report", "Sync renders right-to-left text backwards: مرحبا", "Escalated", "High", "Sync"),
    ("Feature Request", "Bulk edit from the keyboard", "Won't Fix", "Medium", "UI"),
    ("Bug Report", "Memory leak in the settings page 设置页", "New", "Medium", "Editor"),
]


def feedback_items(count: int = 24) -> list[dict]:
    """``count`` deterministic items cycling through TITLES, one day apart."""
    items = []
    for i in range(count):
        kind, title, status, severity, category = TITLES[i % len(TITLES)]
        day = 1 + i % 27
        items.append({
            "type": kind, "title": f"{title} #{i + 1}", "status": status, "severity": severity,
            "category": category, "submitter": f"USR-{i % 3 + 1:04d}", "votes": (i * 7) % 23,
            "description": f"Steps and details for item {i + 1}.\nSecond line with \"quotes\".",
            "created": f"2026-11-{day:02d}T09:{i % 60:02d}:00Z",
            "modified": f"2026-11-{day:02d}T10:00:00Z",
        })
    return items


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", NOW)
    return NOW


@pytest.fixture
def seeded_dir(tmp_path, fixed_now) -> Path:
    """A data dir with 24 feedback items and 3 users, fixed dates."""
    data = tmp_path / "tui-data"
    store = open_store(data)
    store.users_add([
        {"name": "Ada Lovelace", "email": "ada@example.com", "role": "tester", "company": "Analytical", "joined": "2026-01-02T00:00:00Z"},
        {"name": "Grace Hopper", "email": "grace@example.com", "role": "admin", "company": "Navy", "joined": "2026-02-03T00:00:00Z"},
        {"name": "Alan Turing", "email": "alan@example.com", "role": "tester", "company": "Bletchley", "joined": "2026-03-04T00:00:00Z"},
    ])
    store.feedback_add([store.schema.feedback(item) for item in feedback_items()], origin="seed")
    store.close()
    return data


@pytest.fixture
def config_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    monkeypatch.setenv("CCTUI_CONFIG", str(path))
    return path


@pytest.fixture
def make_app(seeded_dir, config_file):
    """``make_app(config_text="", theme=None)``: the real app over the fixed data set."""
    stores = []

    def make(config_text: str = "", theme: str | None = None):
        from cctui.tui.app import CctuiApp

        if config_text:
            config_file.write_text(config_text, encoding="utf-8")
        store = open_store(seeded_dir)
        stores.append(store)
        return CctuiApp(store, load_config(config_file), theme=theme, data_dir="/data/demo")

    yield make
    for store in stores:
        store.close()


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    """Let the app run until ``predicate()`` is true (workers finish in threads)."""
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {predicate}")


def table(app):
    return app.screen.query_one("#records")


def status_text(app) -> str:
    return str(app.screen.query_one("#table-status").render())


async def loaded(pilot) -> None:
    """Wait until the feedback table shows its rows and the counts."""
    await wait_for(pilot, lambda: pilot.app.screen.query("#records") and table(pilot.app).rows and " of " in status_text(pilot.app))
    await pilot.pause()


class _Helpers:
    """The helpers above as a fixture (tests/ has no packages, so no relative imports)."""

    wait_for = staticmethod(wait_for)
    table = staticmethod(table)
    status_text = staticmethod(status_text)
    loaded = staticmethod(loaded)
    feedback_items = staticmethod(feedback_items)


@pytest.fixture
def tui() -> _Helpers:
    return _Helpers()
