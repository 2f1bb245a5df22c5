"""A ``((tag))`` in a macro's url is not rendered (tags are filled in the body and the
headers only), so ``macro add`` refuses it with one sentence instead of storing a macro
that sends ``/issue/((jira_key))`` literally, without a word."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import add_items


@pytest.fixture
def store(data_dir):
    from cctui.store import open_store

    s = open_store(data_dir)
    yield s
    s.close()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/rest/issue/((jira_key))",
    "http://127.0.0.1:9/hook?id=((id))",
    "http://127.0.0.1:9/{%if(id)%}a{%endif%}",
])
def test_macro_add_refuses_tags_in_the_url_with_exit_2_and_stores_nothing(run_cli, tmp_path, url):
    path = tmp_path / "tagged.toml"
    path.write_text(f'name = "tagged"\nurl = "{url}"\nbody = \'{{"id": "((id))"}}\'\n')
    code, out, err = run_cli("macro", "add", str(path))
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "key 'url'" in lines[0] and "only in the body and the headers" in lines[0], err
    assert run_cli("macro", "list", "--json").out == ""


def test_a_stored_macro_with_a_tag_in_its_url_is_not_sent_literally(run_cli, store, data_dir):
    # A macro stored before this check (or written by hand) fails in one sentence at send.
    from cctui.macros.model import Macro

    add_items(store, 1)
    macro = Macro.from_dict({"name": "hook", "url": "http://127.0.0.1:9/x", "body": "{}"}).to_dict()
    macro["url"] = "http://127.0.0.1:9/issue/((id))"
    store.macro_put(macro)
    code, out, err = run_cli("send", "hook", "--all")
    assert code == 2 and "key 'url'" in err and "only in the body and the headers" in err, (code, out, err)
    assert list(store.log_iter(macro="hook")) == []
