"""The README and docs/ hold together: every relative link and #anchor resolves, and the
README stays a front page (<= 12 KB), with the rest of the manual in docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
README_LIMIT = 12 * 1024

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the text may hold `code` and nested brackets one deep
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
HTML_ID = re.compile(r"""<a\s+(?:name|id)=["']([^"']+)["']""")


def without_code(text: str) -> str:
    """Text with fenced blocks and code spans blanked out (links there are not links)."""
    return CODE_SPAN.sub("``", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed,
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps unicode letters, digits and _
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found: set[str] = set(HTML_ID.findall(text))
    for _, title in HEADING.findall(text):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def relative_links(path: Path) -> list[str]:
    targets = LINK.findall(without_code(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif not dest.is_relative_to(root):
            broken.append(f"{target}: outside the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    return broken


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_readme_is_a_front_page() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail into docs/"


def test_readme_links_every_topic_doc() -> None:
    linked = {Path(t.partition("#")[0]).name for t in relative_links(ROOT / "README.md")}
    topics = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert topics - linked == set()


def test_slugs_follow_github() -> None:
    assert slug("`cctui serve`: no authentication") == "cctui-serve-no-authentication"
    assert slug("Speed at 100,000 records") == "speed-at-100000-records"
    assert slug("Macros: webhooks with `((tag))` templates") == "macros-webhooks-with-tag-templates"
    assert slug("What each status means, and what cctui does") == (
        "what-each-status-means-and-what-cctui-does"
    )


def test_checker_finds_broken_links(tmp_path: Path) -> None:
    """The checker itself can fail: a missing file, a missing anchor and an escape from
    the repository are each reported; links inside code are not links."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    doc = repo / "docs" / "probe.md"
    doc.write_text(
        "# Probe\n\n## A heading\n\n[ok](#a-heading) [gone](nope.md) [bad](#nothing)\n"
        "[out](../../outside.md) `[code](nope.md)`\n\n```\n[fenced](nope.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(doc, root=repo) == [
        "nope.md: no such file",
        "#nothing: no heading with anchor #nothing in probe.md",
        "../../outside.md: outside the repository",
    ]
