"""`macro add`, `macro preview` and `send` refuse a too-expensive body in one sentence."""

from __future__ import annotations

import json

import pytest

from cctui.store import open_store

EXPENSIVE = {
    "repeat": "(( 'x'*10**9 ))",
    "power": "(( 9**(9**9) ))",
    "center": "(( title|center(1000000000) ))",
    "list": "(( [1]*10**9 ))",
}


def _macro_file(tmp_path, body: str, fmt: str = "text", name: str = "hostile"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "url": "http://127.0.0.1:9/hook", "format": fmt, "body": body}))
    return path


def _one_sentence(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("body", EXPENSIVE.values(), ids=EXPENSIVE.keys())
def test_macro_add_refuses_an_expensive_body(cctui, tmp_path, body):
    cctui("seed", "--count", "3")
    path = _macro_file(tmp_path, body)
    result = cctui("macro", "add", str(path))
    assert result.code == 2
    line = _one_sentence(result.err)
    assert str(path) in line and "template too expensive" in line
    assert "hostile" not in cctui("macro", "list").out


def _store_hostile(data_dir, body: str) -> None:
    """A macro stored before the budget existed (``macro add`` now refuses it)."""
    store = open_store(data_dir)
    try:
        store.macro_put({"name": "hostile", "target": "feedback", "method": "POST",
                         "url": "http://127.0.0.1:9/hook", "format": "text", "body": body})
    finally:
        store.close()


def test_macro_preview_refuses_an_expensive_body(cctui, data_dir):
    cctui("seed", "--count", "3")
    _store_hostile(data_dir, EXPENSIVE["repeat"])
    result = cctui("macro", "preview", "hostile", "--item", "BUG-0001")
    assert result.code == 2
    assert "macro hostile: template too expensive" in _one_sentence(result.err)


def test_send_refuses_an_expensive_body_before_sending_anything(cctui, data_dir):
    cctui("seed", "--count", "3")
    _store_hostile(data_dir, "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
    result = cctui("send", "hostile", "--all")
    assert result.code == 2
    assert _one_sentence(result.err).endswith("macro hostile: template too expensive: it did not finish rendering within 1 s.")
    assert cctui("logs", "--macro", "hostile", "--json").out == ""


@pytest.mark.parametrize("body, expected", [
    ("{% macro f() %}((f())){% endmacro %}((f()))", "calls itself too deeply"),
    ("(( 1e309 ))", "too large for a float"),
])
def test_recursion_and_infinity_are_one_sentence(cctui, tmp_path, body, expected):
    cctui("seed", "--count", "3")
    path = _macro_file(tmp_path, body)
    added = cctui("macro", "add", str(path))
    if added.code == 0:  # recursion depends on the record: it shows at preview time
        result = cctui("macro", "preview", "hostile", "--item", "BUG-0001")
    else:
        result = added
    assert result.code == 2
    assert expected in _one_sentence(result.err)
