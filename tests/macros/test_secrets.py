"""``${NAME}`` secrets: resolved at render time only, missing ones named, always masked."""

from __future__ import annotations

import json
import re

import pytest

from cctui.errors import SecretError
from cctui.macros import MASK, Macro, mask_headers, mask_text, render_request
from cctui.macros.secrets import mask_url

from .conftest import make_record

SECRET_MACRO = {
    "name": "s", "url": "https://api.example.test/hook/${HOOK_PATH}?sig=${SIG}&page=1",
    "headers": "Authorization: Bearer ${API_TOKEN}\nX-Api-Key: literal-key-123\n"
               "X-Trace: t-${HOOK_PATH}\nCookie: session=abc\nX-Custom-Token: tok",
    "signing_secret": "${HOOK_SECRET}",
    "body": '{"t": "((title))"}',
}
ENV = {"HOOK_PATH": "p4th-s3cret", "SIG": "sig-s3cret", "API_TOKEN": "tok-s3cret",
       "HOOK_SECRET": "whsec_c2VjcmV0"}


def test_secrets_are_resolved_in_the_real_request_and_masked_in_the_shown_one():
    macro = Macro.from_dict(SECRET_MACRO)
    request = render_request(macro, make_record(title="mentions p4th-s3cret"), environ=ENV)
    assert request.url == "https://api.example.test/hook/p4th-s3cret?sig=sig-s3cret&page=1"
    assert ("Authorization", "Bearer tok-s3cret") in request.headers
    assert request.signing_secret == "whsec_c2VjcmV0"
    shown = json.dumps(request.masked(), ensure_ascii=False)
    for value in [*ENV.values(), "literal-key-123", "session=abc", '"tok"']:
        assert value not in shown
    masked = request.masked()
    assert masked["url"] == f"https://api.example.test/hook/{MASK}?sig={MASK}&page=1"
    assert masked["headers"]["Authorization"] == f"Bearer {MASK}"
    assert masked["headers"]["X-Trace"] == f"t-{MASK}"
    assert masked["headers"]["Content-Type"] == "application/json"
    assert json.loads(masked["body"]) == {"t": f"mentions {MASK}"}


def test_stored_macro_keeps_references_only():
    stored = json.dumps(Macro.from_dict(SECRET_MACRO).to_dict())
    assert "${API_TOKEN}" in stored and not any(v in stored for v in ENV.values())


@pytest.mark.parametrize("missing, where", [
    ("HOOK_PATH", "used in the url"),
    ("API_TOKEN", "used in the header line 1 (Authorization)"),
    ("HOOK_SECRET", "used in the signing_secret"),
])
def test_a_missing_variable_is_named_with_where_it_is_used(missing, where):
    env = {k: v for k, v in ENV.items() if k != missing}
    expected = re.escape(f"macro s: the environment variable {missing} {where} is not set")
    with pytest.raises(SecretError, match=expected):
        render_request(Macro.from_dict(SECRET_MACRO), make_record(), environ=env)


def test_a_url_secret_must_resolve_to_http():
    macro = Macro.from_dict({"name": "u", "url": "${HOOK_URL}"})
    assert render_request(macro, make_record(), environ={"HOOK_URL": "https://h.example/x"}).url == "https://h.example/x"
    with pytest.raises(Exception, match="must be http:// or https:// once resolved"):
        render_request(macro, make_record(), environ={"HOOK_URL": "file:///etc/passwd"})


def test_mask_helpers():
    assert mask_text("a secret and secret2", ["secret", "secret2"]) == f"a {MASK} and {MASK}"
    assert mask_headers([("Authorization", "Basic abc"), ("X-Session-Key", "v"), ("Accept", "abc")],
                        ["abc"]) == [("Authorization", f"Basic {MASK}"), ("X-Session-Key", MASK), ("Accept", MASK)]
    assert mask_headers([("Cookie", "a=b"), ("X-Secret-Thing", "z"), ("Accept", "json")]) == [
        ("Cookie", MASK), ("X-Secret-Thing", MASK), ("Accept", "json")]
    assert mask_url("https://user:pw@h.example/x?token=abc&q=1") == f"https://user:{MASK}@h.example/x?token={MASK}&q=1"


def test_duplicate_header_names_are_shown_as_a_list():
    macro = Macro.from_dict({"name": "d", "url": "https://h.example", "headers": "X-A: 1\nX-A: 2"})
    assert render_request(macro, make_record()).masked()["headers"] == [["X-A", "1"], ["X-A", "2"]]


def test_a_secret_url_keeps_its_host_visible():
    macro = Macro.from_dict({"name": "u", "url": "${HOOK_URL}"})
    hook = "https://hooks.slack.com/services/T0/B0/s3cretpart"
    request = render_request(macro, make_record(description=hook), environ={"HOOK_URL": hook})
    shown = request.masked()
    assert shown["url"] == f"https://hooks.slack.com/{MASK}"
    assert "s3cretpart" not in json.dumps(shown)
