"""``((tags))`` in a macro's url: rendered per record in the path and the query, each
value percent-encoded so a record can never add a segment, a parameter or a fragment, nor
choose the host; ``${VAR}`` resolved after the tags. Through the real CLI against a raw
loopback server that keeps each request line exactly as it arrived."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LineServer
from tests.delivery.conftest import add_items, put_macro

SECRET = "hunter2-s3cret-value"


@pytest.fixture
def store(data_dir):
    from cctui.store import open_store

    s = open_store(data_dir)
    yield s
    s.close()


def logs(run_cli, *args: str) -> list[dict]:
    return [json.loads(line) for line in run_cli("logs", "--json", *args).out.splitlines() if line.strip()]


def test_path_and_query_tags_render_per_record_on_the_request_line_and_in_the_log(run_cli, store, line_server):
    ids = add_items(store, 3)
    store.feedback_update_each({rid: {"jira_key": f"OPS-{n + 7}"} for n, rid in enumerate(ids)})
    put_macro(store, url=line_server.base + "/rest/api/2/issue/((jira_key))/comment?id=((id))&v=((votes + 1))")
    sent = run_cli("send", "hook", "--all")
    assert sent.code == 0, sent
    wanted = {f"/rest/api/2/issue/OPS-{n + 7}/comment?id={rid}&v={n + 1}" for n, rid in enumerate(ids)}
    assert sorted(line_server.paths()) == sorted(wanted)
    assert all(line.startswith(b"POST /rest/") and line.endswith(b" HTTP/1.1") for line in line_server.lines)
    assert {e["record_id"]: e["url"] for e in logs(run_cli)} == {
        rid: f"{line_server.base}/rest/api/2/issue/OPS-{n + 7}/comment?id={rid}&v={n + 1}"
        for n, rid in enumerate(ids)}


# value -> how it must stand in the path segment and the query value
HOSTILE = [
    ("../admin", "..%2Fadmin"),
    ("a/b?c=d#e", "a%2Fb%3Fc%3Dd%23e"),
    ("%2e%2e", "%252e%252e"),
    ("two words & more", "two%20words%20%26%20more"),
    ("Łódź ✓ مرحبا", "%C5%81%C3%B3d%C5%BA%20%E2%9C%93%20%D9%85%D8%B1%D8%AD%D8%A8%D8%A7"),
    ("a\r\nX-Injected: 1", "a%0D%0AX-Injected%3A%201"),
    ("${HOOK_SECRET}", "%24%7BHOOK_SECRET%7D"),
    ("x+y=z;w", "x%2By%3Dz%3Bw"),
]


@pytest.mark.parametrize("value, encoded", HOSTILE, ids=[v for v, _ in HOSTILE])
def test_a_hostile_value_stays_inside_its_path_segment_and_its_query_value(
        run_cli, store, data_dir, line_server, value, encoded):
    (rid,) = add_items(store, 1, title=value)
    put_macro(store, url=line_server.base + "/issues/((title))/comment?q=((title))&k=${HOOK_SECRET}")
    sent = run_cli("send", "hook", "--all", "--json", env={"HOOK_SECRET": SECRET})
    assert sent.code == 0, sent
    # One segment, one parameter, no fragment: the value cannot change the URL's shape.
    assert line_server.lines == [f"POST /issues/{encoded}/comment?q={encoded}&k={SECRET} HTTP/1.1".encode()]
    (entry,) = logs(run_cli)
    assert entry["url"] == f"{line_server.base}/issues/{encoded}/comment?q={encoded}&k=••••"
    # The record's "${HOOK_SECRET}" text never became the variable; the secret is masked
    # everywhere cctui shows or keeps the request.
    shown = sent.out + run_cli("logs").out + run_cli("export", "logs", "--format", "json").out
    shown += run_cli("macro", "preview", "hook", "--item", rid, env={"HOOK_SECRET": SECRET}).out
    shown += "".join(p.read_text(errors="replace") for p in data_dir.rglob("*") if p.is_file())
    assert SECRET not in shown


@pytest.mark.parametrize("title", ["..", ".", ""])
def test_a_value_that_makes_a_dot_or_empty_path_segment_is_not_sent_and_the_others_go_on(
        run_cli, store, line_server, title):
    ids = add_items(store, 3)
    # The refused record first: the run's up-front check must not stop the other records.
    store.feedback_update([ids[0]], {"title": title})
    put_macro(store, url=line_server.base + "/a/((title))/b?id=((id))")
    sent = run_cli("send", "hook", "--all")
    assert sent.code == 1, sent
    assert "sent 2, delivered 2, failed 1" in sent.out, sent.out  # counted like any render failure
    assert sorted(line_server.paths()) == sorted(f"/a/Crash%20%23{n}%20on%20save/b?id={ids[n]}" for n in (1, 2))
    (entry,) = logs(run_cli, "--item", ids[0])
    assert entry["status_code"] == 0 and entry["not_sent"] is True
    # The log shows the url template, not another record's url.
    assert entry["url"] == line_server.base + "/a/((title))/b?id=((id))"
    kind = "empty" if title == "" else "a step up or along the path"
    assert entry["error"].startswith("macro hook: url: a tag's value") and kind in entry["error"], entry["error"]
    assert "this record is not sent" in entry["error"] and "\n" not in entry["error"]


def test_a_record_missing_the_field_is_not_sent_when_that_leaves_an_empty_path_segment(run_cli, store, line_server):
    ids = add_items(store, 2)
    store.feedback_update([ids[1]], {"jira_key": "OPS-9"})  # ids[0] has none: renders empty
    put_macro(store, name="comment", url=line_server.base + "/issue/((jira_key))/comment")
    put_macro(store, name="query", url=line_server.base + "/hook?key=((jira_key))&id=((id))")
    sent = run_cli("send", "comment", "--all")
    assert sent.code == 1 and "delivered 1, failed 1" in sent.out, sent
    # /issue//comment would reach /issue/comment on a server that merges slashes.
    assert line_server.paths() == ["/issue/OPS-9/comment"]
    (entry,) = logs(run_cli, "--item", ids[0])
    assert entry["not_sent"] and "empty for this record" in entry["error"] and "path segment 2" in entry["error"]
    # An empty query value changes nothing of the URL's shape: sent.
    assert run_cli("send", "query", "--all").code == 0
    assert sorted(line_server.paths()[1:]) == sorted([f"/hook?key=&id={ids[0]}", f"/hook?key=OPS-9&id={ids[1]}"])


@pytest.mark.parametrize("url", [
    "http://((host))/x",
    "http://127.0.0.1:((port))/x",
    "http://bot:((password))@127.0.0.1/x",
    "http://((user))@127.0.0.1/x",
    "http://127.0.0.1((suffix))/x",
    "http://127.0.0.1{% if id %}.evil.example{% endif %}/x",
    "http://127.0.0.1/x#((id))",
    "${HOOK_SCHEME}://((host))/x",
])
def test_macro_add_refuses_a_tag_before_the_path_with_one_sentence_and_stores_nothing(run_cli, tmp_path, url):
    path = tmp_path / "tagged.toml"
    path.write_text(f'name = "tagged"\nurl = "{url}"\nbody = \'{{"id": "((id))"}}\'\n')
    code, out, err = run_cli("macro", "add", str(path))
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "key 'url'" in lines[0], err
    assert "Traceback" not in err and "may stand only in the path or the query, after the host" in lines[0], err
    assert run_cli("macro", "list", "--json").out == ""


def test_a_variable_that_ends_before_the_host_does_is_refused_at_send_and_nothing_goes_out(
        run_cli, store, line_server):
    add_items(store, 2)
    put_macro(store, url="${HOOK_BASE}((title))/x")  # accepted: the host is only known at send
    sent = run_cli("send", "hook", "--all", env={"HOOK_BASE": f"http://127.0.0.1:{line_server.port}"})
    assert sent.code == 2, sent
    assert "may stand only in the path or the query" in sent.err and "${HOOK_BASE}" in sent.err, sent.err
    assert line_server.lines == []
    # Ending in "/", the variable holds the whole host: the tags are in the path.
    put_macro(store, url="${HOOK_BASE}/((id))")
    assert run_cli("send", "hook", "--all").code == 0
    assert len(line_server.lines) == 2


def test_preview_shows_the_rendered_url_with_secrets_masked(run_cli, store, tmp_path):
    (rid,) = add_items(store, 1, jira_key="OPS-42", title="Crash & burn")
    path = tmp_path / "jira.toml"
    path.write_text('name = "jira-comment"\n'
                    'url = "https://bot:${JIRA_PW}@acme.example/rest/api/2/issue/((jira_key))/comment'
                    '?t=((title|lower))&token=${JIRA_TOKEN}"\n'
                    'body = \'{"body": "((title))"}\'\n')
    assert run_cli("macro", "add", str(path)).code == 0
    env = {"JIRA_PW": "pw-s3cret-1", "JIRA_TOKEN": "tok-s3cret-2"}
    text = run_cli("macro", "preview", "jira-comment", "--item", rid, env=env)
    as_json = run_cli("macro", "preview", "jira-comment", "--item", rid, "--json", env=env)
    assert text.code == 0 and as_json.code == 0, (text, as_json)
    url = "https://acme.example/rest/api/2/issue/OPS-42/comment?t=crash%20%26%20burn&token=••••"
    assert text.out.splitlines()[0] == f"POST {url}"
    assert json.loads(as_json.out)["url"] == url
    assert "Authorization: Basic ••••" in text.out  # the user-info, as for a url without tags
    assert "s3cret" not in text.out + as_json.out + text.err


def quick_retries(tmp_path, monkeypatch, schedule: str = "[0.05, 0.1]", extra: str = "") -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[delivery]\nretry_schedule = {schedule}\njitter = 0.0\n{extra}")
    monkeypatch.setenv("CCTUI_CONFIG", str(config))


def test_retries_of_a_record_go_to_the_same_url(run_cli, store, tmp_path, monkeypatch):
    quick_retries(tmp_path, monkeypatch)
    with LineServer(statuses=[503, 503]) as server:
        (rid,) = add_items(store, 1, jira_key="OPS-5")
        put_macro(store, url=server.base + "/issue/((jira_key))/comment?id=((id))&at=((now))")
        sent = run_cli("send", "hook", "--all")
        assert sent.code == 0, sent
        assert len(server.lines) == 3 and len(set(server.lines)) == 1, server.lines
    attempts = logs(run_cli, "--item", rid)
    assert [e["attempt"] for e in attempts] == [3, 2, 1]
    assert len({e["url"] for e in attempts}) == 1 and "/issue/OPS-5/comment?id=" in attempts[0]["url"]


def test_the_circuit_breaker_counts_every_records_url_against_one_host(run_cli, store, tmp_path, monkeypatch):
    quick_retries(tmp_path, monkeypatch, "[]", "breaker_threshold = 3\n")  # no retries: one attempt each
    with LineServer(statuses=[500] * 40) as server:
        add_items(store, 8)
        put_macro(store, url=server.base + "/items/((id))", concurrency=1)
        sent = run_cli("send", "hook", "--all")
        # Three records' different urls failed on one host: the breaker opened for it.
        assert sent.code == 1 and len(server.lines) == 3, (sent, server.lines)
        assert len(set(server.lines)) == 3


def test_a_literal_dot_escape_next_to_a_tag_is_still_a_dot_segment(store):
    from cctui.errors import RecordRefused
    from cctui.macros import render_request
    from cctui.macros.model import Macro

    (rid,) = add_items(store, 1, title=".")
    macro = Macro.from_dict({"name": "m", "url": "http://127.0.0.1:9/a/%2E((title))/b"})
    with pytest.raises(RecordRefused, match=r"path segment 2 '\.\.'"):
        render_request(macro, store.feedback_get(rid), store=store)
    store.feedback_update([rid], {"title": "x"})
    assert render_request(macro, store.feedback_get(rid), store=store).url == "http://127.0.0.1:9/a/%2Ex/b"


def test_macro_show_of_a_url_with_a_tag_in_a_credential_parameter_adds_back_as_it_was(run_cli, tmp_path):
    # "token=((title))" names a field, not a secret: shown as written, so it round-trips.
    url = "https://h.example/x/((id))?token=((title))&sig=${HOOK_SIG}"
    path = tmp_path / "m.toml"
    path.write_text(f'name = "tokq"\nurl = "{url}"\n')
    assert run_cli("macro", "add", str(path)).code == 0
    shown = run_cli("macro", "show", "tokq").out
    assert f'url = "{url}"' in shown
    path.write_text(shown)
    added = run_cli("macro", "add", str(path))
    assert added.code == 0, added
    assert json.loads(run_cli("macro", "list", "--json").out)["url"] == url


def test_a_stored_macro_with_a_tag_in_the_host_is_refused_at_send(run_cli, store, line_server):
    # Written into the store by hand (not through `macro add`): checked again at send.
    add_items(store, 1)
    macro = put_macro(store, url=line_server.base + "/x")
    macro["url"] = "http://127.0.0.1((title))/x"
    store.macro_put(macro)
    sent = run_cli("send", "hook", "--all")
    assert sent.code == 2 and "may stand only in the path or the query" in sent.err, sent
    assert line_server.lines == [] and list(store.log_iter(macro="hook")) == []


def test_render_refuses_a_tag_before_the_path_even_in_a_macro_built_without_checks(store):
    from cctui.errors import MacroError
    from cctui.macros import render_request
    from cctui.macros.model import Macro

    (rid,) = add_items(store, 1, title=".evil.example")
    macro = Macro(name="m", url="http://127.0.0.1((title))/x")  # the dataclass: no from_dict
    with pytest.raises(MacroError, match="may stand only in the path or the query"):
        render_request(macro, store.feedback_get(rid), store=store)


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/${HOOK_PATH}/issue/((jira_key))/c?id=((id))&token=${HOOK_TOKEN}",
    "https://bot:${HOOK_TOKEN}@hooks.example.com/issue/((jira_key))?t=((title|lower))",
    "${HOOK_BASE}/issue/((jira_key)){% if votes > 2 %}/hot{% endif %}",
])
def test_the_runs_request_factory_gives_each_record_the_url_render_request_gives_it(store, url):
    from cctui.delivery.prepared import RequestFactory
    from cctui.errors import RecordRefused
    from cctui.macros import render_request
    from cctui.macros.model import Macro

    env = {"HOOK_PATH": "T0/B1", "HOOK_TOKEN": "tok-123456", "HOOK_BASE": "https://hooks.example.com"}
    ids = add_items(store, 6)
    store.feedback_update_each({rid: {"jira_key": f"OPS-{n}"} for n, rid in enumerate(ids[:4])})
    store.feedback_update([ids[2]], {"jira_key": ".."})  # refused; ids[4:] lack the field
    store.feedback_update([ids[3]], {"title": "A/B tok-123456"})
    macro = Macro.from_dict({"name": "hook", "url": url, "body": '{"t": "((title))"}'})
    factory = RequestFactory(macro, store, None, environ=env)
    urls = set()
    for rid in ids:
        record = store.feedback_get(rid)
        try:
            rendered = render_request(macro, record, store=store, environ=env)
        except RecordRefused as exc:
            with pytest.raises(RecordRefused) as raised:
                factory.prepare(record)
            assert str(raised.value) == str(exc)
            continue
        prepared = factory.prepare(record)
        assert (prepared.url, prepared.headers) == (rendered.url, rendered.headers)
        assert prepared.masked["url"] == rendered.masked()["url"] and "tok-123456" not in prepared.masked["url"]
        assert prepared.host == "hooks.example.com"
        urls.add(prepared.url)
    assert len(urls) == 3 and factory._fast is not None  # ids 0, 1, 3; later records took the fast path


def test_a_jira_comment_macro_uses_the_key_the_create_macro_stored(run_cli, store, line_server):
    from cctui.delivery.receiver import serve_in_background

    ids = add_items(store, 3)
    jira, stop = serve_in_background()
    try:
        put_macro(store, name="jira-create", url=jira + "/jira/rest/api/3/issue", return_values={"jira_key": "key"})
        # jira_key is known (jira-create writes it), so macro add takes the comment macro.
        put_macro(store, name="jira-comment",
                  url=line_server.base + "/rest/api/2/issue/((jira_key))/comment", body='{"body": "((title))"}')
        created = run_cli("send", "jira-create", "--item", ids[0], "--item", ids[1])
        assert created.code == 0, created
    finally:
        stop()
    keys = {rid: store.feedback_get(rid).get("jira_key") for rid in ids[:2]}
    assert sorted(keys.values()) == ["CC-1", "CC-2"]
    sent = run_cli("send", "jira-comment", "--all")
    assert sent.code == 1 and "delivered 2, failed 1" in sent.out, sent
    assert sorted(line_server.paths()) == sorted(f"/rest/api/2/issue/{key}/comment" for key in keys.values())
    (refused,) = logs(run_cli, "--macro", "jira-comment", "--item", ids[2])
    assert refused["not_sent"] and "empty for this record" in refused["error"]


def test_a_scheduled_retry_sent_by_a_later_command_goes_to_the_same_url(run_cli, store, tmp_path, monkeypatch):
    quick_retries(tmp_path, monkeypatch, "[30]", "max_wait = 0\n")  # the retry outlives the command
    with LineServer(statuses=[503]) as server:
        (rid,) = add_items(store, 1, jira_key="OPS-77")
        put_macro(store, url=server.base + "/issue/((jira_key))/comment?id=((id))")
        first = run_cli("send", "hook", "--all")
        assert "scheduled" in first.out + first.err and len(server.lines) == 1, first
        again = run_cli("retry", "--now")
        assert again.code == 0, again
        assert server.lines == [f"POST /issue/OPS-77/comment?id={rid} HTTP/1.1".encode()] * 2
    urls = {e["url"] for e in logs(run_cli, "--item", rid)}
    assert urls == {f"{server.base}/issue/OPS-77/comment?id={rid}"}
