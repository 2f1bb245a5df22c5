"""User-info in a macro URL (``https://user:pass@host/``): cctui sends it as its own
``Authorization: Basic`` header, strips it from the URL, and lists it (masked) in the
preview and the log; a URL with user-info plus an explicit Authorization header is refused."""

from __future__ import annotations

import pytest

from .conftest import add_items, put_macro

PASSWORD = "s3cr3t-pa55word"

CONFLICT_TOML = '''
name = "both"
url = "http://bob:s3cr3t-pa55word@127.0.0.1:9/hook"
headers = "Authorization: Bearer ${HOOK_TOKEN}"
body = '{"text": "((title))"}'
'''


def test_macro_add_refuses_user_info_plus_an_authorization_header(cctui_proc, tmp_path, store):
    path = tmp_path / "both.toml"
    path.write_text(CONFLICT_TOML)
    done = cctui_proc("macro", "add", str(path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "user-info" in lines[0] and "Authorization header" in lines[0]
    assert PASSWORD not in done.stderr + done.stdout
    assert store.macro_get("both") is None  # nothing stored


def test_preview_refuses_a_url_variable_with_user_info_plus_an_authorization_header(cctui_proc, store):
    ids = add_items(store, 1)
    put_macro(store, url="${HOOK_URL}", headers="Authorization: Bearer ${HOOK_TOKEN}")
    env = {"HOOK_URL": f"http://bob:{PASSWORD}@127.0.0.1:9/hook", "HOOK_TOKEN": "tok-abcdef"}
    done = cctui_proc("macro", "preview", "hook", "--item", ids[0], env=env)
    assert done.returncode == 2, done.stderr
    assert "user-info" in done.stderr and "Authorization header" in done.stderr
    assert "header values must be printable ASCII" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout and "tok-abcdef" not in done.stderr + done.stdout


@pytest.mark.parametrize("error, ascii_hint", [
    ("request not sent: the header 'X-Team' has a non-ASCII character in its value "
     "(HTTP header values must be printable ASCII).", True),
    ("request not sent: ValueError: something else went wrong", False),
])
def test_a_request_not_built_gets_the_ascii_advice_only_when_ascii_is_the_cause(error, ascii_hint):
    from cctui.delivery.attempt import AttemptResult
    from cctui.delivery.prepared import RequestFactory
    from cctui.macros.model import Macro

    macro = Macro.from_dict({"name": "hook", "url": "http://127.0.0.1:9/", "body": '{"a": 1}'})
    prepared = RequestFactory(macro).prepare({"id": "BUG-0001"})
    result = AttemptResult(prepared, [], "2026-12-01T00:00:00Z", 0, error=error, request_error=True)
    assert ("printable ASCII" in result.explanation().action) is ascii_hint
