"""The layers stay layers: every import in cctui/ (including the lazy ones inside
functions) is read from the source, and each package may only reach downwards.

    core, store  <  macros  <  delivery  <  automation  <  cli, tui

Textual is imported only under cctui/tui (the core runs headless and in tests without a
terminal); the CLI starts the TUI through a lazy import of cctui.tui.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cctui"

#: package -> the cctui packages it must never import
FORBIDDEN = {
    "core": {"store", "macros", "delivery", "automation", "cli", "tui"},
    "store": {"macros", "delivery", "automation", "cli", "tui"},
    "macros": {"delivery", "automation", "cli", "tui"},
    "delivery": {"automation", "cli", "tui"},
    "automation": {"cli", "tui"},
}


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(root).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from cctui import tui` names a subpackage, not an attribute
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def violations(path: Path, root: Path = ROOT) -> list[str]:
    parts = path.relative_to(root / "cctui").parts
    area = parts[0] if len(parts) > 1 else None
    forbidden = FORBIDDEN.get(area, set())
    bad = []
    for line, module in sorted(imports_of(path, root)):
        names = module.split(".")
        where = f"{path.relative_to(root)}:{line}"
        if names[0] == "textual" and area != "tui":
            bad.append(f"{where} imports {module} (Textual belongs to cctui/tui only)")
        if names[0] == "cctui" and len(names) > 1 and names[1] in forbidden:
            bad.append(f"{where} imports {module} (cctui/{area} must not reach cctui/{names[1]})")
    return bad


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_reach_down(path: Path) -> None:
    assert violations(path) == []


def test_the_check_sees_lazy_and_relative_imports(tmp_path) -> None:
    """The checker can fail: an import inside a function, a relative one and a
    `from cctui import x` are all caught."""
    fake = tmp_path / "cctui"
    (fake / "core").mkdir(parents=True)
    probe = fake / "core" / "probe.py"
    probe.write_text(
        "from . import clock\n"
        "def f():\n    from ..macros import secrets\n    import textual.app\n"
        "from cctui import tui\n",
        encoding="utf-8",
    )
    found = violations(probe, root=tmp_path)
    assert [v.split(" imports ")[1].split(" ")[0] for v in found] == [
        "cctui.macros", "cctui.macros.secrets", "textual.app", "cctui.tui",  # by line
    ]
