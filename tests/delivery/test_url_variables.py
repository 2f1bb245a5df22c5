"""A ``${VAR}`` in a macro URL holds whatever the environment says: a password with a
``/`` or ``?`` in it, a value with a space. Neither may put part of the secret in clear
into an error, nor put a request line on the wire that a receiver cannot read. Checked
through the real CLI against a loopback server that records every request line."""

from __future__ import annotations

import pytest

from .conftest import add_items, put_macro


@pytest.mark.parametrize("password", ["pass/Word99", "pass?Word99", "pass#Word99"])
def test_a_password_variable_that_breaks_the_url_leaves_no_part_of_it_in_clear(
        run_cli, store, data_dir, line_server, password):
    ids = add_items(store, 1)
    put_macro(store, url=f"http://bot:${{HOOK_PW}}@127.0.0.1:{line_server.port}/hook")
    outputs = [run_cli("send", "hook", "--all", "--json", env={"HOOK_PW": password}),
               run_cli("logs"), run_cli("logs", "--json"), run_cli("export", "logs", "--format", "json")]
    assert outputs[0].code == 1, outputs[0]
    (entry,) = store.log_iter(macro="hook")
    assert entry["status_code"] == 0 and entry["error"].startswith("request not sent")
    shown = "".join(o.out + o.err for o in outputs)
    shown += "".join(p.read_text(errors="replace") for p in data_dir.rglob("*") if p.is_file())
    assert "'pass'" not in shown and "Word99" not in shown
    assert line_server.lines == [] and ids


@pytest.mark.parametrize("value, wire", [
    ("two words", b"/hook/%7E?q=two%20words"),
    ("tw\u00f6 words", b"/hook/%7E?q=tw%C3%B6%20words"),  # non-ASCII too: %7E still kept
])
def test_a_url_variable_with_a_space_goes_out_percent_encoded(run_cli, store, line_server, value, wire):
    add_items(store, 1)
    put_macro(store, url=f"http://127.0.0.1:{line_server.port}/hook/%7E?q=${{QUERY}}")
    sent = run_cli("send", "hook", "--all", env={"QUERY": value})
    assert sent.code == 0, sent
    # Sent raw, the space would split the request line and the receiver answer 400.
    assert line_server.lines == [b"POST " + wire + b" HTTP/1.1"]
