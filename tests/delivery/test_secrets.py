"""Secrets (``${VAR}`` values, Authorization, signing keys) never appear in clear in the
log files, ``logs``, exports or command output, even when the receiver echoes them."""

from __future__ import annotations

import json

from .conftest import add_items, put_macro

URL_TOKEN = "urltok-7f3a9c1e5b"
API_TOKEN = "apitok-2d8e4b6a0c"
SIGNING = "sigsecret-9a8b7c6d5e"


def test_secrets_never_appear_in_log_exports_or_output(cli, store, receiver, data_dir, monkeypatch,
                                                       fast_cli_config):
    monkeypatch.setenv("HOOK_TOKEN", URL_TOKEN)
    monkeypatch.setenv("API_TOKEN", API_TOKEN)
    monkeypatch.setenv("HOOK_SECRET", SIGNING)
    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + "/echo/${HOOK_TOKEN}?sig=${HOOK_TOKEN}",
              headers="Content-Type: application/json\nAuthorization: Bearer ${API_TOKEN}\n"
                      "X-Trace: ${API_TOKEN}",
              signing_secret="${HOOK_SECRET}")
    put_macro(store, name="bad", url=receiver.url + "/status/401?token=${HOOK_TOKEN}",
              headers="Authorization: Bearer ${API_TOKEN}")
    outputs = [cli("send", "hook", "--all", "--json"), cli("send", "hook", "--all"),
               cli("send", "bad", "--item", ids[0]), cli("send", "hook", "--all", "--dry-run", "--json"),
               cli("logs"), cli("logs", "--json"), cli("retry"),
               cli("export", "logs", "--format", "json"), cli("export", "logs", "--format", "csv")]
    # The secrets really were sent (the echo proves it), so masking is what hides them.
    echoed = [json.loads(e["response_body"]) for e in store.log_iter(macro="hook")]
    assert echoed and all(e["path"].startswith("/echo/••••") for e in echoed)
    assert all(URL_TOKEN in i.path for i in receiver.state.received if i.path.startswith("/echo"))
    entries = list(store.log_iter())
    assert any(e["request_headers"].get("Authorization") == "Bearer ••••" for e in entries)
    for secret in (URL_TOKEN, API_TOKEN, SIGNING):
        for result in outputs:
            assert secret not in result.output
        assert secret not in json.dumps(entries)
        for path in data_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
