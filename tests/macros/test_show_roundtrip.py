"""`macro show` prints ``${NAME}`` references as written, so its output adds back as the
same macro; a credential typed into a URL as it is (a Slack hooks path, ``?token=``) is
masked in ``macro list``, ``show`` and ``preview`` like a resolved ``${NAME}``."""

from __future__ import annotations

import json

import pytest

# Not "Authorization:" beside the URL's user-info: macro add refuses the two together.
MACRO = '''
name = "rt"
url = "https://bot:${HOOK_PASS}@hooks.example.com/api/${HOOK_PATH}?token=${HOOK_TOKEN}&api_key=${KEY}&page=2"
headers = """
Content-Type: application/json
X-Service-Token: Bearer ${API_TOKEN}
X-Api-Key: ${KEY}
Cookie: session=${SESSION}
X-Auth-Token: Basic ${base64:PROXY_USER:PROXY_PASS}
"""
signing_secret = "${HOOK_SECRET}"
body = \'\'\'{"text": "((title))"}\'\'\'

[return_values]
jira_key = "key"

[on_success]
status = "Escalated"
'''


def test_show_output_adds_back_as_the_same_macro_through_the_real_cli(cctui_proc, tmp_path):
    source = tmp_path / "rt.toml"
    source.write_text(MACRO, encoding="utf-8")
    assert cctui_proc("macro", "add", str(source)).returncode == 0
    first = cctui_proc("macro", "show", "rt")
    assert first.returncode == 0, first.stderr
    assert "••••" not in first.stdout  # nothing hidden: every credential is a reference
    for ref in ("${HOOK_PASS}", "${HOOK_PATH}", "token=${HOOK_TOKEN}", "api_key=${KEY}", "Bearer ${API_TOKEN}",
                "X-Api-Key: ${KEY}", "session=${SESSION}", "Basic ${base64:PROXY_USER:PROXY_PASS}",
                'signing_secret = "${HOOK_SECRET}"'):
        assert ref in first.stdout, ref
    stored = json.loads(cctui_proc("macro", "list", "--json").stdout)
    # cctui macro show rt > x.toml && cctui macro remove rt && cctui macro add x.toml
    again = tmp_path / "x.toml"
    again.write_text(first.stdout, encoding="utf-8")
    assert cctui_proc("macro", "remove", "rt").returncode == 0
    added = cctui_proc("macro", "add", str(again))
    assert added.returncode == 0, added.stderr
    assert cctui_proc("macro", "show", "rt").stdout == first.stdout
    assert json.loads(cctui_proc("macro", "list", "--json").stdout) == stored


SLACK_TOKEN, TEAM, BOT = "abcdefghijklmnopqrstuvwx", "T0123ABCD", "B0456EFGH"
SLACK_URL = f"https://hooks.slack.com/services/{TEAM}/{BOT}/{SLACK_TOKEN}"


def test_a_literal_secret_in_a_url_is_masked_in_list_show_and_preview(run_cli, tmp_path):
    assert run_cli("feedback", "add", "--type", "bug", "--title", "Crash")[0] == 0
    assert run_cli("macro", "add", "--preset", "slack", "--name", "slack-lit", "--url", SLACK_URL)[0] == 0
    query = tmp_path / "q.toml"
    query.write_text('name = "query-lit"\nurl = "https://api.example.com/hook?api_key=k3y-lit3ral&token='
                     'tok-lit3ral&page=2"\nbody = "x"\nformat = "text"\n', encoding="utf-8")
    assert run_cli("macro", "add", str(query))[0] == 0
    outputs = [run_cli("macro", "list"), run_cli("macro", "list", "--json"),
               run_cli("macro", "show", "slack-lit"), run_cli("macro", "show", "query-lit"),
               run_cli("macro", "preview", "slack-lit", "--item", "BUG-1"),
               run_cli("macro", "preview", "query-lit", "--item", "BUG-1", "--json")]
    text = "\n".join(out for code, out, err in outputs)
    assert all(code == 0 for code, _, _ in outputs), outputs
    for secret in (SLACK_TOKEN, TEAM, BOT, "k3y-lit3ral", "tok-lit3ral"):
        assert secret not in text, secret
    assert "https://hooks.slack.com/services/••••" in text
    assert "https://api.example.com/hook?api_key=••••&token=••••&page=2" in text
    # show says what was hidden, and macro add refuses the mask rather than storing it.
    shown = outputs[2][1]
    assert shown.startswith("# Values shown as •••• are secrets")
    path = tmp_path / "shown.toml"
    path.write_text(shown, encoding="utf-8")
    code, _, err = run_cli("macro", "add", str(path))
    assert code == 2 and "••••" in err


@pytest.fixture
def receiver_url():
    from cctui.delivery.receiver import serve_in_background

    url, stop = serve_in_background()
    yield url
    stop()


def test_a_literal_url_secret_echoed_by_a_server_is_masked_in_the_log(run_cli, receiver_url, data_dir):
    assert run_cli("feedback", "add", "--type", "bug", "--title", "Crash")[0] == 0
    url = f"{receiver_url}/echo/hook?token=tok-lit3ral-9x"
    assert run_cli("macro", "add", "--preset", "generic", "--name", "lit", "--url", url)[0] == 0
    code, out, err = run_cli("send", "lit", "--item", "BUG-1", "--json")
    assert code == 0, err
    logs = run_cli("logs", "--json")[1]
    assert '"path": "/echo/hook?token=••••"' in json.loads(logs.splitlines()[0])["response_body"]
    for text in (out, logs):
        assert "tok-lit3ral-9x" not in text
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("meta."):  # the macro itself holds it
            assert b"tok-lit3ral-9x" not in path.read_bytes(), path
