"""The CLI's human-readable output never prints a record's control characters raw.

Found by QA: `cctui feedback list` rang the terminal bell for a title holding BEL, and an
``ESC ]0;...BEL`` in a title retitled the terminal window (click strips only CSI colour
codes, and only when stdout is not a terminal). The TUI filters every line it draws
(docs/safety.md "Control characters on screen"); the CLI's tables and text go through the
same pattern. ``--json`` keeps every value exactly as stored.
"""

from __future__ import annotations

import json
import re

from cctui.store import open_store

#: what must not reach a terminal: C0 but newline, DEL, C1, bidi controls
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TITLE = "bell\x07 osc \x1b]0;pwned\x07 csi \x9b2J cr\rback \u202eevil\x00end"


def test_feedback_list_and_users_list_print_no_control_characters(cctui, data_dir, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # the whole title fits
    assert cctui("feedback", "add", "--type", "bug", "--title", TITLE,
                 "--field", "severity=high").code == 0
    listed = cctui("feedback", "list")
    assert listed.code == 0
    assert not CONTROL.search(listed.out), repr(listed.out)
    assert "bell osc ]0;pwned csi 2J crback evilend" in listed.out
    # --json stays exact (json escapes the C0 characters itself)
    [record] = [json.loads(line) for line in cctui("feedback", "list", "--json").out.splitlines()]
    assert record["title"] == TITLE

    store = open_store(data_dir)
    store.users_add([{"name": "Eve\x07\x1b]0;x\x07", "email": "eve@example.com\x9b",
                      "role": "tester\u202e", "company": "Acme\rEvil"}])
    store.close()
    users = cctui("users", "list")
    assert users.code == 0
    assert not CONTROL.search(users.out), repr(users.out)
    assert "Eve]0;x" in users.out and "AcmeEvil" in users.out
    [user] = [json.loads(line) for line in cctui("users", "list", "--json").out.splitlines()]
    assert user["name"] == "Eve\x07\x1b]0;x\x07"


def test_macro_preview_prints_the_rendered_body_without_control_characters(cctui):
    assert cctui("feedback", "add", "--type", "bug", "--title", TITLE).code == 0
    assert cctui("macro", "add", "--preset", "generic", "--name", "g",
                 "--url", "http://127.0.0.1:9/").code == 0
    shown = cctui("macro", "preview", "g", "--item", "BUG-0001")
    assert shown.code == 0
    assert "bell" in shown.out
    assert not CONTROL.search(shown.out), repr(shown.out)
    exact = json.loads(cctui("macro", "preview", "g", "--item", "BUG-0001", "--json").out)
    assert "\\u0007" in exact["body"] or "\x07" in exact["body"]
