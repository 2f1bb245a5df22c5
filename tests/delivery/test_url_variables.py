"""A ``${VAR}`` in a macro URL holds whatever the environment says: a password with a
``/`` or ``?`` in it, a value with a space. Neither may put part of the secret in clear
into an error, nor put a request line on the wire that a receiver cannot read. Checked
through the real CLI against a loopback server that records every request line."""

from __future__ import annotations

import base64

import pytest

from .conftest import add_items, put_macro


@pytest.mark.parametrize("password", ["pass/Word99", "pass?Word99", "pass#Word99", "p@ss:Word99", "pa%2Fss Word99"])
def test_a_password_variable_in_the_user_info_is_sent_as_the_password(run_cli, store, data_dir, line_server,
                                                                       password):
    # Its value is percent-encoded in the user-info: a '/', '?', '#' or '@' used to end the
    # user-info early and send the request to another host ('bot', port 'pass').
    add_items(store, 1)
    put_macro(store, url=f"http://bot:${{HOOK_PW}}@127.0.0.1:{line_server.port}/hook")
    outputs = [run_cli("send", "hook", "--all", "--json", env={"HOOK_PW": password}),
               run_cli("logs"), run_cli("logs", "--json"), run_cli("export", "logs", "--format", "json")]
    assert outputs[0].code == 0, outputs[0]
    assert line_server.lines == [b"POST /hook HTTP/1.1"]
    credential = base64.b64encode(f"bot:{password}".encode()).decode()
    assert f"\r\nAuthorization: Basic {credential}\r\n".encode() in line_server.heads[0]
    shown = "".join(o.out + o.err for o in outputs)
    shown += "".join(p.read_text(errors="replace") for p in data_dir.rglob("*") if p.is_file())
    assert "Word99" not in shown and credential not in shown


@pytest.mark.parametrize("password", ["pass/Word99", "pass?Word99", "pass#Word99"])
def test_a_whole_url_variable_that_breaks_leaves_no_part_of_the_password_in_clear(
        run_cli, store, data_dir, line_server, password):
    # The variable is the whole URL: its text is the URL as written, so a password with
    # '/' in it breaks it, and the error must not quote a piece of the password.
    ids = add_items(store, 1)
    put_macro(store, url="${HOOK_URL}")
    hook_url = f"http://bot:{password}@127.0.0.1:{line_server.port}/hook"
    outputs = [run_cli("send", "hook", "--all", "--json", env={"HOOK_URL": hook_url}),
               run_cli("logs"), run_cli("logs", "--json"), run_cli("export", "logs", "--format", "json")]
    assert outputs[0].code == 1, outputs[0]
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


def test_a_password_variable_in_the_user_info_of_a_url_with_tags(run_cli, store, line_server):
    # A url with ((tags)) is rendered per record (a faster path after the first record):
    # the user-info's value is encoded there too.
    ids = add_items(store, 3)
    put_macro(store, url=f"http://bot:${{HOOK_PW}}@127.0.0.1:{line_server.port}/issue/((id))")
    sent = run_cli("send", "hook", "--all", env={"HOOK_PW": "pass/Word99"})
    assert sent.code == 0, sent
    assert sorted(line_server.lines) == sorted(f"POST /issue/{i} HTTP/1.1".encode() for i in ids)
    credential = base64.b64encode(b"bot:pass/Word99").decode()
    assert all(f"\r\nAuthorization: Basic {credential}\r\n".encode() in head for head in line_server.heads)
