"""scripts/screenshot.py (make screenshot) still drives the real app to the README's picture."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("screenshot", ROOT / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_screenshot_script_exports_the_filtered_marked_table(tmp_path, monkeypatch):
    # the script pins its own clock and animations; monkeypatch puts both back afterwards
    monkeypatch.setenv("CCTUI_NOW", "2000-01-01T00:00:00Z")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    out = await _script().shoot(tmp_path / "shot.svg")
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    assert "3&#160;marked" in svg or "3 marked" in svg
    assert "type:bug&#160;severity:high,critical" in svg or "type:bug severity:high,critical" in svg


def test_readme_shows_the_committed_screenshot():
    assert (ROOT / "docs" / "images" / "cctui.svg").is_file()
    assert "](docs/images/cctui.svg)" in (ROOT / "README.md").read_text(encoding="utf-8")
