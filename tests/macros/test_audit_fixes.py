"""Masked values, header encodings, the previewed engine headers, error sentences, the
Jira credential expression and placeholder rendering."""

from __future__ import annotations

import base64
import json
import re

import pytest

from cctui import __version__
from cctui.errors import MacroError, SecretError, TemplateError
from cctui.macros import MASK, Macro, compile_body, preset, render_request, signing
from cctui.macros.preview import with_engine_headers

from .conftest import make_record

LITERAL = '''
name = "lit"
url = "https://h.example/wf?sig=abc123&x=1"
headers = """
Authorization: Bearer literal-tok-1
Cookie: session=zzz
X-Auth-Token: tok-2
Accept: application/json
"""
signing_secret = "whsec_c2VjcmV0"
body = '{"t": "((title))"}'
'''


# -- 2. show > file > add must not store the mask -------------------------------------------
def test_show_then_add_refuses_masked_values_instead_of_storing_them(run_cli, tmp_path):
    path = tmp_path / "lit.toml"
    path.write_text(LITERAL)
    assert run_cli("macro", "add", str(path))[0] == 0
    code, shown, _ = run_cli("macro", "show", "lit")
    assert code == 0 and shown.startswith("# Values shown as •••• are secrets")
    again = tmp_path / "again.toml"
    again.write_text(shown.replace('name = "lit"', 'name = "lit2"'))  # an honest edit: no fixing by hand
    code, out, err = run_cli("macro", "add", str(again))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{again}: headers line 1 (Authorization) still holds the mask ••••" in err
    assert "put the real value or a ${VAR} reference back" in err
    assert run_cli("macro", "show", "lit2")[0] == 2  # nothing was stored
    # Each masked value is named in turn until all are put back.
    text = again.read_text().replace("Bearer ••••", "Bearer ${TOKEN}").replace("Cookie: session=••••", "Cookie: session=${COOKIE}")
    again.write_text(text.replace("X-Auth-Token: ••••", "X-Auth-Token: ${AUTH}"))
    assert "key 'signing_secret' still holds the mask" in run_cli("macro", "add", str(again))[2]
    again.write_text(again.read_text().replace('signing_secret = "••••"', 'signing_secret = "${HS}"'))
    assert "key 'url' still holds the mask" in run_cli("macro", "add", str(again))[2]
    again.write_text(again.read_text().replace("sig=••••", "sig=${SIG}"))
    assert run_cli("macro", "add", str(again))[0] == 0


@pytest.mark.parametrize("keys, named", [
    ({"headers": "Accept: a\nX-Api-Key: ••••"}, "headers line 2 (X-Api-Key)"),
    ({"signing_secret": "••••"}, "key 'signing_secret'"),
    ({"url": "https://h.example/x?token=••••"}, "key 'url'"),
])
def test_macro_validation_refuses_the_mask(keys, named):
    with pytest.raises(MacroError, match=re.escape(f"macro m: {named} still holds the mask")):
        Macro.from_dict({"name": "m", "url": "https://h.example", **keys})


def test_show_without_masked_values_has_no_note(run_cli):
    assert run_cli("macro", "add", "--preset", "slack", "--name", "s", "--url", "${SLACK_URL}")[0] == 0
    assert not run_cli("macro", "show", "s")[1].startswith("#")


# -- 3. header values an HTTP request cannot carry --------------------------------------------
@pytest.mark.parametrize("line, message", [
    ("X-Note: café", "headers line 2 (X-Note): the value has the non-ASCII character 'é'"),
    ("X-Note: a\x01b", "headers line 2 (X-Note): the value has a control character"),
    ("Bad Name: x", "headers line 2: 'Bad Name' is not a valid header name"),
])
def test_header_lines_must_be_sendable(line, message):
    with pytest.raises(MacroError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Macro.from_dict({"name": "m", "url": "https://h.example", "headers": f"Accept: a\n{line}"})


def test_a_variable_with_non_ascii_in_a_header_is_a_render_error_naming_it():
    macro = Macro.from_dict({"name": "m", "url": "https://h.example", "headers": "Accept: a\nX-Note: ${NOTE}"})
    with pytest.raises(SecretError) as caught:
        render_request(macro, make_record(), environ={"NOTE": "café"})
    assert str(caught.value) == (
        "macro m: the environment variable NOTE used in the header line 2 (X-Note) holds a "
        "character an HTTP header cannot carry (header values must be printable ASCII).")
    assert "café" not in str(caught.value)


def test_send_refuses_a_bad_header_variable_before_any_attempt(run_cli, tmp_path):
    run_cli("feedback", "add", "--type", "bug", "--title", "x")
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nurl = "http://127.0.0.1:9/"\nheaders = "X-Note: ${NOTE}"\n')
    assert run_cli("macro", "add", str(path))[0] == 0
    code, out, err = run_cli("send", "m", "--item", "BUG-0001", "--json", env={"NOTE": "naïve"})
    assert code == 2 and "environment variable NOTE used in the header line 1 (X-Note)" in err
    assert run_cli("logs", "--json")[1] == ""  # refused before any attempt: nothing to retry


# -- 4. preview shows the engine's headers ---------------------------------------------------
def test_engine_headers_in_a_preview_are_the_engine_signature():
    macro = Macro.from_dict({"name": "m", "url": "https://h.example", "signing_secret": "${HS}",
                             "body": '{"t": "((title))"}'})
    rendered = with_engine_headers(render_request(macro, make_record(), environ={"HS": "whsec_c2VjcmV0"}),
                                   timestamp=1700000000)
    headers = dict(rendered.headers)
    assert headers["webhook-id"] == "msg_preview" and headers["webhook-timestamp"] == "1700000000"
    assert headers["User-Agent"] == f"cctui/{__version__}"
    assert signing.verify("whsec_c2VjcmV0", headers, rendered.body)
    assert rendered.masked()["headers"]["webhook-signature"] == f"v1,{MASK}"
    unsigned = dict(with_engine_headers(render_request(Macro.from_dict({"name": "u", "url": "https://h.example"}),
                                                       make_record())).headers)
    assert "webhook-signature" not in unsigned and "webhook-id" in unsigned


# -- 5. error sentences, internal keys, the Jira credential ----------------------------------
@pytest.mark.parametrize("body, message", [
    ('{\n"a": 1,\n"b": "{% if votes %}x"\n}', "body line 3: the {% if %} block is never closed (add {% endif %})."),
    ('{\n"a": "{% for x in [1] %}((x)){% endif %}"}',
     "body line 2: {% endif %} does not fit here: the open {% for %} block must be closed first with {% endfor %}."),
    ('{\n\n"a": "((title|nosuch))"}', "body line 3: no filter named 'nosuch'."),
])
def test_jinja_syntax_errors_are_one_sentence_with_the_line(body, message):
    with pytest.raises(TemplateError) as caught:
        compile_body(body)
    assert str(caught.value) == message


def test_internal_keys_are_accepted_but_not_offered():
    with pytest.raises(MacroError) as caught:
        Macro.from_dict({"name": "m", "url": "https://h.example", "bogus": 1})
    assert "paused" not in str(caught.value) and "signing_secret" in str(caught.value)
    assert Macro.from_dict({"name": "m", "url": "https://h.example", "paused": True,
                            "paused_reason": "410", "paused_at": "2026-01-01T00:00:00Z"}).paused


def test_jira_preset_builds_basic_auth_from_email_and_token_or_uses_jira_auth():
    macro = preset("jira", name="j", url="https://acme.atlassian.net/rest/api/3/issue")
    env = {"JIRA_EMAIL": "you@example.com", "JIRA_API_TOKEN": "tok-s3cret"}
    request = render_request(macro, make_record(), environ=env)
    expected = base64.b64encode(b"you@example.com:tok-s3cret").decode()
    assert ("Authorization", f"Basic {expected}") in request.headers
    assert "tok-s3cret" not in json.dumps(request.masked())
    prepared = render_request(macro, make_record(), environ={**env, "JIRA_AUTH": "cHJlcGFyZWQ="})
    assert ("Authorization", "Basic cHJlcGFyZWQ=") in prepared.headers
    with pytest.raises(SecretError, match=r"needs JIRA_AUTH, or JIRA_EMAIL and JIRA_API_TOKEN set .*"
                                          r"\(not set: JIRA_AUTH, JIRA_API_TOKEN\)\.$"):
        render_request(macro, make_record(), environ={"JIRA_EMAIL": "you@example.com"})


# -- 6. placeholder rendering for previews while editing --------------------------------------
def test_missing_secrets_placeholder_leaves_the_reference_visible():
    macro = Macro.from_dict({"name": "m", "url": "${HOOK_URL}", "headers": "Authorization: Bearer ${TOKEN}",
                             "signing_secret": "${HS}", "body": '{"t": "((title))"}'})
    with pytest.raises(SecretError, match="HOOK_URL"):
        render_request(macro, make_record())
    shown = render_request(macro, make_record(), environ={"TOKEN": "t0k-s3cret"}, missing_secrets="placeholder")
    assert shown.url == "${HOOK_URL}" and shown.missing_secrets == ("HOOK_URL", "HS")
    assert ("Authorization", "Bearer t0k-s3cret") in shown.headers
    assert shown.masked()["url"] == "${HOOK_URL}" and json.loads(shown.body) == {"t": "Crash on save"}
    complete = render_request(macro, make_record(), missing_secrets="placeholder",
                              environ={"TOKEN": "t", "HOOK_URL": "https://h.example", "HS": "s"})
    assert complete.missing_secrets == ()
    with pytest.raises(ValueError):
        render_request(macro, make_record(), missing_secrets="ignore")
