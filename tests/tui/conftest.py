"""A small fixed data set and helpers to drive the real app under Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from cctui.config import Config, load_config
from cctui.core.seed import seed_store
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


@pytest.fixture(autouse=True)
def truecolor_terminal(monkeypatch):
    """The app's console as a truecolor terminal, whatever $TERM the tests run under: the
    app styles 16-colour terminals differently (CctuiApp.CSS), and snapshots must not
    depend on the machine. Tests of 16 colours set "standard" themselves."""
    import textual.constants

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")


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


@pytest.fixture
async def make_hook_receiver():
    """``await make_hook_receiver(token=None) -> (base_url, seen)``: webhooks on 127.0.0.1
    that remember each request (path, auth, body). ``/hooks/gone...`` answers 404
    ``no_service`` (a deleted Slack hook); with a ``token`` every other path wants
    ``Bearer <token>`` (403 ``invalid_token`` otherwise); else 200 ``ok``."""
    runners = []

    async def make(token: str | None = None):
        seen: list[dict] = []

        async def hook(request: web.Request) -> web.Response:
            seen.append({"path": request.path, "auth": request.headers.get("Authorization"),
                         "body": await request.text()})
            if request.path.startswith("/hooks/gone"):
                return web.Response(status=404, text="no_service")
            if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
                return web.Response(status=403, text="invalid_token")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}", seen

    yield make
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def app_factory(tmp_path, monkeypatch):
    """``(make, store)``: the real app over 120 seeded items and no macros (part-2 tests
    build their own), clock fixed."""
    monkeypatch.setenv("CCTUI_NOW", NOW)
    store = open_store(tmp_path / "data")
    seed_store(store, 120, seed=7)

    def make():
        from cctui.tui.app import CctuiApp

        return CctuiApp(store, Config(tmp_path / "config.toml"))

    yield make, store
    store.close()


async def wait_for(pilot, predicate, what: str | None = None, timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` is true (workers finish in threads); fails
    naming ``what`` otherwise."""
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def set_input(screen, selector: str, value: str) -> None:
    screen.query_one(selector).value = value


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press(char if char != " " else "space")


async def open_new_macro_form(pilot):
    """From anywhere: screen 2, ``n``, the first preset (slack); returns the form."""
    from cctui.tui.screens.macro_form import MacroFormScreen

    await pilot.press("2")
    await pilot.press("n")
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroFormScreen), "the macro form")
    return pilot.app.screen


async def open_macro_form(pilot, name: str):
    """Screen 2, wait for the stored macro ``name`` in the first row, ``enter``; returns the form."""
    from cctui.tui.screens.macro_form import MacroFormScreen

    app = pilot.app
    await pilot.press("2")
    await wait_for(pilot, lambda: name in str(app.screen.query_one("DataTable").get_row_at(0))
                   if app.screen.query("DataTable") else False, "the macro list")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, MacroFormScreen), "the macro form")
    return app.screen


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
    set_input = staticmethod(set_input)
    type_text = staticmethod(type_text)
    open_new_macro_form = staticmethod(open_new_macro_form)
    open_macro_form = staticmethod(open_macro_form)
    table = staticmethod(table)
    status_text = staticmethod(status_text)
    loaded = staticmethod(loaded)
    feedback_items = staticmethod(feedback_items)


@pytest.fixture
def tui() -> _Helpers:
    return _Helpers()
