"""Write docs/images/cctui.svg: the real app, exported by Textual, over fixed data.

    .venv/bin/python scripts/screenshot.py [OUT.svg]      (or: make screenshot)

The data (``seed_store`` with a fixed seed), the clock (``CCTUI_NOW``), the terminal size
and the keys pressed are fixed, so the same code gives the same picture; rerun it when
the screens change and commit the result.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "cctui.svg"
NOW = "2026-11-28T12:00:00Z"
SIZE = (120, 34)
#: filter to the loud bugs, mark three of them: what a triager does before pressing `m`
KEYS = ["slash", *"type:bug severity:high,critical", "enter", "space", "space", "space"]


async def _until(pilot, predicate, what: str, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise SystemExit(f"screenshot: timed out waiting for {what}")


def _workers_idle(app) -> bool:
    return not any(w.is_running for w in app.workers)


async def shoot(out: Path) -> Path:
    os.environ["CCTUI_NOW"] = NOW  # the clock the seed and the screens read
    os.environ["TEXTUAL_ANIMATIONS"] = "none"
    from cctui.config import Config
    from cctui.core.seed import seed_store
    from cctui.store import open_store
    from cctui.tui.app import CctuiApp

    with tempfile.TemporaryDirectory(prefix="cctui-shot-") as tmp:
        store = open_store(Path(tmp) / "data")
        try:
            seed_store(store, 2000, seed=7)
            app = CctuiApp(store, Config(Path(tmp) / "config.toml"), data_dir="~/triage")
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, lambda: " of " in str(app.screen.query_one("#table-status").render()), "the table")
                await _until(pilot, lambda: _workers_idle(app), "the loader")
                for key in KEYS:
                    await pilot.press(key)
                await _until(pilot, lambda: "3 marked" in str(app.screen.query_one("#table-status").render()), "the marks")
                await _until(pilot, lambda: _workers_idle(app), "the filter")
                await pilot.pause()
                svg = app.export_screenshot(title="cctui")
        finally:
            store.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg, encoding="utf-8")
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else OUT
    print(asyncio.run(shoot(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
