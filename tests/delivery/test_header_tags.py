"""((tags)) in header values: rendered per record like the body, header-safe (a value
with CR/LF or non-ASCII is refused with a sentence, never sent), in preview and send."""

from __future__ import annotations

import asyncio

import pytest

from cctui.delivery.engine import Engine

from .conftest import add_items, fast_config, put_macro
from .test_wire import WireServer

HEADERS = "X-Source: cctui-((id))\nX-Title: ((title|oneline))\nX-Votes: ((votes + 1))"


def test_header_tags_render_per_record_on_the_wire_and_in_the_log(store, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "tok-s3cret")
    ids = add_items(store, 3)
    store.feedback_update([ids[1]], {"title": "two\nlines ${HOOK_TOKEN}"})

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + "/hook",
                      headers=HEADERS + "\nX-Auth-Note: ((id)) ${HOOK_TOKEN}")
            summary = await Engine(store, fast_config()).run("hook", ids)
            return summary, server.seen

    summary, seen = asyncio.run(main())
    assert summary.delivered == 3
    got = {dict(raw)["X-Source"]: dict(raw) for _, _, raw in seen}
    assert set(got) == {f"cctui-{i}" for i in ids}
    assert got[f"cctui-{ids[1]}"]["X-Title"] == "two lines ${HOOK_TOKEN}"  # a record's text is not a reference
    assert got[f"cctui-{ids[2]}"]["X-Votes"] == "3"
    assert got[f"cctui-{ids[0]}"]["X-Auth-Note"] == f"{ids[0]} tok-s3cret"
    for entry in store.log_iter():
        shown = entry["request_headers"]
        assert shown["X-Source"] == f"cctui-{entry['record_id']}"
        assert "tok-s3cret" not in str(shown) and shown["X-Auth-Note"] == f"{entry['record_id']} ••••"


@pytest.mark.parametrize("bad", [0, 1], ids=["first-record", "second-record"])
def test_a_tag_value_with_a_line_break_is_not_sent_and_says_why(store, bad):
    ids = add_items(store, 2)
    # The first record is rendered before the run starts, where a broken template refuses
    # the whole run (see test_render_failures.py); a record's bad value refuses only it.
    store.feedback_update([ids[bad]], {"category": "ui\r\nX-Injected: yes"})

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + "/hook", headers="X-Category: ((category))")
            summary = await Engine(store, fast_config()).run("hook", ids)
            return summary, server.seen

    summary, seen = asyncio.run(main())
    assert summary.delivered == 1 and len(seen) == 1
    assert all("X-Injected" not in dict(raw) for _, _, raw in seen)
    (entry,) = [e for e in store.log_iter() if e["record_id"] == ids[bad]]
    assert entry["not_sent"] is True and entry["status_code"] == 0
    assert entry["error"] == ("macro hook: header line 1 (X-Category): a tag's value holds a line break "
                              "(CR or LF), which would end the header; use ((field|oneline)) to join the lines.")




def test_a_record_not_sent_for_its_header_tag_is_logged_without_another_records_headers(store):
    ids = add_items(store, 2)
    store.feedback_update([ids[0]], {"category": "editor-of-record-one"})
    store.feedback_update([ids[1]], {"category": "ui\r\nX-Injected: yes"})

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + "/hook", headers="X-Category: ((category))\nX-Fixed: 1",
                      concurrency=1)
            return await Engine(store, fast_config()).run("hook", ids)

    assert asyncio.run(main()).delivered == 1
    (entry,) = [e for e in store.log_iter() if e["record_id"] == ids[1]]
    assert entry["not_sent"] is True
    # Nothing was rendered for this record: the log shows the header as the macro has it,
    # never the value the record before it sent.
    assert entry["request_headers"]["X-Category"] == "((category))"
    assert entry["request_headers"]["X-Fixed"] == "1"
    assert "editor-of-record-one" not in str(entry)

def test_preview_shows_header_tags_rendered(run_cli, tmp_path):
    run_cli("feedback", "add", "--type", "bug", "--title", "Crash on save", "--field", "votes=4")
    path = tmp_path / "m.toml"
    path.write_text(f'name = "tagged"\nurl = "https://h.example/hook"\nheaders = """\n{HEADERS}\n"""\n')
    assert run_cli("macro", "add", str(path))[0] == 0
    code, out, err = run_cli("macro", "preview", "tagged", "--item", "BUG-0001")
    assert code == 0, err
    assert "X-Source: cctui-BUG-0001\nX-Title: Crash on save\nX-Votes: 5\n" in out


@pytest.mark.parametrize("headers,message", [
    ("X-Source: cctui-((id)", "headers line 1 (X-Source): the tag (( is never closed with ))."),
    ("X-A: 1\nX-Source: ((nosuch))", "header line 2 (X-Source): unknown tag ((nosuch))"),
])
def test_macro_add_refuses_a_broken_header_template_naming_the_line(run_cli, tmp_path, headers, message):
    path = tmp_path / "m.toml"
    path.write_text(f'name = "tagged"\nurl = "https://h.example/hook"\nheaders = """\n{headers}\n"""\n')
    code, out, err = run_cli("macro", "add", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


def test_a_bulk_run_renders_each_records_own_headers(store):
    ids = add_items(store, 80)  # past the bulk threshold: records come from the run's view

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + "/hook", headers="X-Source: cctui-((id))", concurrency=8)
            summary = await Engine(store, fast_config()).run("hook", ids)
            return summary, server.seen

    summary, seen = asyncio.run(main())
    assert summary.delivered == 80
    assert sorted(dict(raw)["X-Source"] for _, _, raw in seen) == sorted(f"cctui-{i}" for i in ids)
