"""Secrets are masked in every form a receiver may echo them back in: percent-encoded
(a URL path or query), JSON-escaped, and base64 ``user:pass`` (HTTP Basic auth)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from cctui.macros.secrets import MASK, mask_text, secret_variants

from .conftest import add_items, put_macro

URL_TOKEN = "tok en-é/ü+1x"  # a space, non-ASCII, a slash and a plus
API_TOKEN = 'ap"i\\tok-7c1e'  # a quote and a backslash: JSON escapes both


def forms(secret: str) -> set[str]:
    return {secret, quote(secret), quote(secret, safe=""), quote_plus(secret),
            quote(secret, safe="/:@!$&'()*+,;=~"), json.dumps(secret)[1:-1]}


def test_percent_encoded_and_json_escaped_secrets_are_masked_in_the_log(cli, store, receiver, data_dir,
                                                                       monkeypatch, fast_cli_config):
    monkeypatch.setenv("URL_TOKEN", URL_TOKEN)
    monkeypatch.setenv("API_TOKEN", API_TOKEN)
    add_items(store, 2)
    put_macro(store, url=receiver.url + "/echo/${URL_TOKEN}?key=${URL_TOKEN}&q=${URL_TOKEN}",
              headers="Content-Type: application/json\nX-Trace: ${API_TOKEN}")
    outputs = [cli("send", "hook", "--all", "--json"), cli("logs", "--json"), cli("logs"),
               cli("export", "logs", "--format", "json")]
    assert outputs[0].exit_code == 0, outputs[0].output
    # The receiver got the secret percent-encoded and echoed it back, JSON-escaped.
    echoed = [json.loads(e["response_body"]) for e in store.log_iter(macro="hook")]
    assert len(echoed) == 2 and all(e["path"].startswith(f"/echo/{MASK}") for e in echoed)
    assert all(e["headers"]["X-Trace"] == MASK for e in echoed)
    assert all(i.path.startswith(f"/echo/{URL_TOKEN}") for i in receiver.state.received)  # really sent
    entries = json.dumps(list(store.log_iter()), ensure_ascii=False)
    for secret in (URL_TOKEN, API_TOKEN):
        for form in forms(secret):
            assert form not in entries, form
            for result in outputs:
                assert form not in result.output, form
            for path in data_dir.rglob("*"):
                if path.is_file():
                    assert form.encode() not in path.read_bytes(), (form, path)


def test_secret_variants_cover_basic_auth_and_are_worked_out_once():
    user, password = "ana@example.com", "s3cr3t-token"
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    variants = secret_variants([user, password])
    assert basic in variants and variants is secret_variants({password, user})  # cached per set
    assert mask_text(f"Authorization: Basic {basic}", [user, password]) == f"Authorization: Basic {MASK}"
    # A prepared base64 user:pass secret: its decoded form and the password are masked too.
    assert mask_text(f"user {user}:{password} pass {password}", [basic]) == f"user {MASK} pass {MASK}"
    assert mask_text("a%20b%c3%a9 and a+b%C3%A9", ["a bé"]) == f"{MASK} and {MASK}"
    assert mask_text("x", []) == "x" and variants == tuple(sorted(variants, key=len, reverse=True))
