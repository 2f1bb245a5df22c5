"""Headers a macro may not set (they frame the request on the wire), refused at `macro add`."""

from __future__ import annotations

import pytest

from cctui.errors import MacroError
from cctui.macros import Macro

FRAMING = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "TE",
           "Trailer", "Keep-Alive", "Proxy-Authorization", "proxy-connection"]


@pytest.mark.parametrize("name", FRAMING)
def test_from_dict_refuses_a_framing_header_naming_it(name):
    with pytest.raises(MacroError) as caught:
        Macro.from_dict({"name": "m", "url": "http://h.example/",
                         "headers": f"Content-Type: application/json\n{name}: x"})
    message = str(caught.value)
    assert f"headers line 2: a macro may not set the header {name!r}" in message
    assert message.count(".") >= 1 and "\n" not in message


def test_ordinary_headers_with_similar_names_are_fine():
    macro = Macro.from_dict({"name": "m", "url": "http://h.example/",
                             "headers": "X-Host: a\nX-Proxy-Id: b\nHostname: c\nTE-Extra: d"})
    assert [n for n, _ in macro.header_list] == ["X-Host", "X-Proxy-Id", "Hostname", "TE-Extra"]


def test_macro_add_refuses_a_second_host_with_exit_2_and_stores_nothing(run_cli, tmp_path):
    path = tmp_path / "two-hosts.toml"
    path.write_text('name = "two-hosts"\nurl = "http://h.example/"\nheaders = "Host: evil.example"\n')
    code, out, err = run_cli("macro", "add", str(path))
    assert code == 2 and out == ""
    assert err.strip() == (f"cctui: {path}: headers line 1: a macro may not set the header 'Host' "
                           "(cctui sets Host from the url).")
    assert run_cli("macro", "list", "--json")[1] == ""


@pytest.mark.parametrize("name", ["webhook-id", "Webhook-Signature", "WEBHOOK-TIMESTAMP"])
def test_from_dict_refuses_the_standard_webhooks_headers_cctui_sets(name):
    # They went out twice (the macro's and cctui's): a receiver that de-duplicates on
    # webhook-id read "mine, msg_..." and no longer saw the same id on every retry.
    with pytest.raises(MacroError) as caught:
        Macro.from_dict({"name": "m", "url": "http://h.example/", "headers": f"X-A: 1\n{name}: mine"})
    message = str(caught.value)
    assert f"headers line 2: a macro may not set the header {name!r}" in message
    assert "Standard Webhooks" in message and "\n" not in message


def test_macro_add_refuses_a_webhook_id_header_and_stores_nothing(run_cli, tmp_path):
    path = tmp_path / "wh.toml"
    path.write_text('name = "wh"\nurl = "http://h.example/"\nheaders = "webhook-id: mine"\n')
    code, out, err = run_cli("macro", "add", str(path))
    assert code == 2 and out == "" and "webhook-id" in err
    assert run_cli("macro", "list", "--json").out == ""
