"""`cctui macro ...` through the real entry point: output, masking and exit codes."""

from __future__ import annotations

import json

import pytest

from cctui import __version__


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


SECRET_TOKEN = "xoxb-very-s3cret"
SLACK_TOML = '''
name = "slack-bugs"
feedback_type = "Bug Report"
url = "https://hooks.slack.com/services/T000/B000/${SLACK_HOOK}"
headers = """
Authorization: Bearer ${SLACK_TOKEN}
X-Api-Key: literal-api-key-42
"""
body = \'\'\'{"text": "New bug ((id)): ((title))", "votes": ((votes))}\'\'\'
signing_secret = "whsec_bGl0ZXJhbC1zM2NyZXQ="
'''


@pytest.fixture
def seeded(run_cli, tmp_path):
    code, out, err = run_cli("feedback", "add", "--type", "bug", "--title", 'Crash "on" save </script>',
                             "--field", "votes=5")
    assert code == 0, err
    path = tmp_path / "slack.toml"
    path.write_text(SLACK_TOML)
    return path


def test_add_list_show_remove(run_cli, seeded):
    code, out, err = run_cli("macro", "add", str(seeded))
    assert code == 0 and out == "Added macro slack-bugs (POST https://hooks.slack.com/services/T000/B000/${SLACK_HOOK}).\n"
    assert run_cli("macro", "add", str(seeded))[1].startswith("Replaced macro slack-bugs")
    code, out, _ = run_cli("macro", "list", "--json")
    (row,) = json_lines(out)
    assert {k: row[k] for k in ("name", "target", "method", "url")} == {
        "name": "slack-bugs", "target": "feedback", "method": "POST",
        "url": "https://hooks.slack.com/services/T000/B000/${SLACK_HOOK}"}
    code, out, _ = run_cli("macro", "show", "slack-bugs")
    assert code == 0
    assert "Authorization: Bearer ${SLACK_TOKEN}" in out  # a reference, not a secret
    assert "literal-api-key-42" not in out and "X-Api-Key: ••••" in out
    assert "whsec_bGl0" not in out and 'signing_secret = "••••"' in out
    assert "body = '{\"text\"" in out and '"New bug ((id)): ((title))"' in out
    assert run_cli("macro", "remove", "slack-bugs")[:2] == (0, "Removed macro slack-bugs.\n")
    assert run_cli("macro", "list", "--json")[1] == ""
    code, _, err = run_cli("macro", "remove", "slack-bugs")
    assert code == 2 and "macro 'slack-bugs' does not exist" in err


def test_show_output_adds_back_as_the_same_macro(run_cli, tmp_path):
    assert run_cli("macro", "add", "--preset", "teams", "--name", "teams-one",
                   "--url", "https://h.example/wf?sig=abc")[0] == 0
    shown = run_cli("macro", "show", "teams-one")[1]
    assert "sig=abc" not in shown
    path = tmp_path / "again.toml"
    path.write_text(shown.replace('name = "teams-one"', 'name = "teams-two"').replace("sig=••••", "sig=abc"))
    assert run_cli("macro", "add", str(path))[0] == 0
    assert run_cli("macro", "show", "teams-two")[1] == shown.replace("teams-one", "teams-two")


def test_preview_json_follows_the_contract_and_masks_secrets(run_cli, seeded):
    run_cli("macro", "add", str(seeded))
    env = {"SLACK_HOOK": "hookpart-s3cret", "SLACK_TOKEN": SECRET_TOKEN}
    code, out, err = run_cli("macro", "preview", "slack-bugs", "--item", "BUG-0001", "--json", env=env)
    assert code == 0, err
    (shown,) = json_lines(out)
    assert set(shown) == {"method", "url", "headers", "body"}
    assert shown["method"] == "POST"
    assert shown["url"] == "https://hooks.slack.com/services/T000/B000/••••"
    webhook = {k: shown["headers"].pop(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert shown["headers"] == {"Content-Type": "application/json", "Authorization": "Bearer ••••",
                                "X-Api-Key": "••••", "User-Agent": f"cctui/{__version__}",
                                "Host": "hooks.slack.com", "Content-Length": str(len(shown["body"].encode()))}
    assert webhook["webhook-id"] == "msg_preview" and webhook["webhook-signature"] == "v1,••••"
    assert webhook["webhook-timestamp"].isdigit()
    assert json.loads(shown["body"]) == {"text": 'New bug BUG-0001: Crash "on" save </script>', "votes": 5}
    for secret in (*env.values(), "literal-api-key-42", "whsec_bGl0"):
        assert secret not in out + err
    code, text, _ = run_cli("macro", "preview", "slack-bugs", "--item", "BUG-0001", env=env)
    assert text.startswith("POST https://hooks.slack.com/services/T000/B000/••••\n")
    assert "Authorization: Bearer ••••" in text and SECRET_TOKEN not in text


def test_preview_warns_on_stderr(run_cli, tmp_path):
    run_cli("feedback", "add", "--type", "idea", "--title", "x", "--field", "description=" + "d" * 2100)
    path = tmp_path / "d.toml"
    path.write_text('name = "d"\nfeedback_type = "Bug Report"\nurl = "https://discord.com/api/webhooks/1/t"\n'
                    "body = '{\"content\": \"((description))\"}'\n")
    run_cli("macro", "add", str(path))
    code, out, err = run_cli("macro", "preview", "d", "--item", "IDEA-0001", "--json")
    assert code == 0 and json_lines(out)
    assert "warning: macro d is limited to Bug Report" in err
    assert "warning: Discord: content is 2,100 characters, over 2,000" in err


@pytest.mark.parametrize("text, message", [
    ('name = "bad"\nurl = "https://e.test"\nbody = \'{"a": "((titel))"}\'',
     "body line 1: unknown tag ((titel)) (did you mean ((title))?)."),
    ('name = "bad"\nurl = "https://e.test"\nbody = \'\'\'{\n"a": ((title))\n"b": 1}\'\'\'',
     "body line 3 column 1: the template cannot render to valid JSON"),
    ('name = "bad"\nurl = "https://e.test"\nheaders = "Bearer abc"',
     "headers line 1 ('Bearer abc') has no colon"),
    ('name = "bad"\nurl = "file:///etc/passwd"', "key 'url' must be an http:// or https:// URL"),
    ('name = "bad"\nurl = "https://e.test"\nmethod = "FETCH"', "key 'method': unknown method 'FETCH'"),
    ('name = "bad"\nurl = "https://e.test"\nbody = \'{"a": "((title.__class__))"}\'',
     "access to '__class__' is refused by the sandbox"),
])
def test_bad_macros_exit_2_with_one_sentence(run_cli, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run_cli("macro", "add", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"cctui: {path}: ") and message in err
    assert run_cli("macro", "list", "--json")[1] == ""  # nothing was changed


def test_missing_variable_exits_2_naming_it(run_cli, seeded, monkeypatch):
    monkeypatch.delenv("SLACK_HOOK", raising=False)
    run_cli("macro", "add", str(seeded))
    code, out, err = run_cli("macro", "preview", "slack-bugs", "--item", "BUG-0001", "--json",
                             env={"SLACK_TOKEN": "x"})
    assert code == 2 and out == ""
    assert err == ("cctui: macro slack-bugs: the environment variable SLACK_HOOK used in the url is "
                   "not set (export SLACK_HOOK=... before running cctui).\n")


def test_preview_of_unknown_item_or_macro(run_cli, seeded):
    run_cli("macro", "add", str(seeded))
    assert "there is no feedback item 'BUG-0099'" in run_cli(
        "macro", "preview", "slack-bugs", "--item", "BUG-0099", env={"SLACK_HOOK": "h", "SLACK_TOKEN": "t"})[2]
    assert run_cli("macro", "preview", "nope", "--item", "BUG-0001")[0] == 2


def test_add_from_preset_and_argument_errors(run_cli):
    code, out, _ = run_cli("macro", "add", "--preset", "jira", "--name", "jira-bugs",
                           "--url", "https://acme.atlassian.net/rest/api/3/issue")
    assert code == 0 and "Added macro jira-bugs" in out
    assert run_cli("macro", "add", "--preset", "jira", "--name", "x")[2] == (
        "cctui: macro add --preset: --name and --url are required.\n")
    code, _, err = run_cli("macro", "add", "--preset", "nope", "--name", "x", "--url", "https://e.test")
    assert code == 2 and "unknown preset 'nope'" in err


def test_preview_as_a_real_process(cctui_proc, tmp_path):
    """The installed entry point end to end: secrets from the environment, masked output."""
    assert cctui_proc("feedback", "add", "--type", "bug", "--title", "T\tab").returncode == 0
    path = tmp_path / "g.toml"
    path.write_text('name = "g"\nurl = "https://e.test/${HOOK}"\nheaders = "X-Custom-Token: ${TOK}"\n'
                    "body = '((record|tojson))'\n")
    assert cctui_proc("macro", "add", str(path)).returncode == 0
    done = cctui_proc("macro", "preview", "g", "--item", "BUG-0001", "--json",
                      env={"HOOK": "h00k-secret", "TOK": "t0k-secret"})
    assert done.returncode == 0, done.stderr
    (shown,) = json_lines(done.stdout)
    assert shown["url"] == "https://e.test/••••" and shown["headers"]["X-Custom-Token"] == "••••"
    assert json.loads(shown["body"])["title"] == "T\tab"
    assert "secret" not in done.stdout
