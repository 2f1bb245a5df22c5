"""`cctui send`, `logs`, `retry` and `receiver` through the real CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx

from .conftest import add_items, json_lines, put_macro


def test_send_json_prints_one_object_per_record_then_a_summary(cli, store, receiver):
    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + "/hook")
    result = cli("send", "hook", "--all", "--json")
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    assert sorted(line["id"] for line in lines[:-1]) == ids
    assert all(line["outcome"] == "delivered" and line["status_code"] == 200 for line in lines[:-1])
    assert lines[-1] == {**lines[-1], "summary": True, "sent": 3, "delivered": 3, "failed": 0, "skipped": 0}


def test_send_exits_1_when_a_delivery_fails(cli, store, receiver, fast_cli_config):
    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + "/status/400")
    result = cli("send", "hook", "--item", ids[0])
    assert result.exit_code == 1
    assert f"{ids[0]} failed 400" in result.output
    assert "sent 1, delivered 0, failed 1" in result.output


def test_send_bad_usage_exits_2_with_one_sentence(cctui_proc, store, receiver):
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/hook")
    put_macro(store, name="people", url=receiver.url + "/hook", target="users")
    unknown = cctui_proc("send", "nope", "--all")
    assert unknown.returncode == 2 and "macro 'nope' does not exist" in unknown.stderr
    missing = cctui_proc("send", "hook", "--item", "BUG-9999")
    assert missing.returncode == 2 and "BUG-9999" in missing.stderr
    wrong = cctui_proc("send", "people", "--item", ids[0])
    assert wrong.returncode == 2 and "runs on users" in wrong.stderr
    neither = cctui_proc("send", "hook")
    assert neither.returncode == 2 and "exactly one of" in neither.stderr
    store.macro_update("hook", {"paused": True, "paused_reason": "410 Gone: channel archived"})
    paused = cctui_proc("send", "hook", "--all")
    assert paused.returncode == 2 and "is paused" in paused.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr + wrong.stderr + paused.stderr
    assert receiver.state.count == 0


def test_dry_run_renders_everything_and_sends_nothing(cli, store, receiver):
    add_items(store, 4)
    put_macro(store, url=receiver.url + "/hook")
    result = cli("send", "hook", "--filter", "votes:>=2", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    assert [line["outcome"] for line in lines[:-1]] == ["rendered", "rendered"]
    assert json.loads(lines[0]["request"]["body"])["text"].endswith("on save")
    assert lines[-1]["dry_run"] is True and lines[-1]["sent"] == 0
    assert receiver.state.count == 0 and store.runs_all() == []


def test_logs_table_and_filters(cli, store, receiver, fast_cli_config):
    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + "/slack/channel_not_found")
    put_macro(store, name="good", url=receiver.url + "/hook")
    cli("send", "hook", "--item", ids[0])
    cli("send", "good", "--item", ids[1])
    table = cli("logs")
    assert table.exit_code == 0
    assert "404 Not Found: channel not found" in table.output and "200 OK" in table.output
    failed = json_lines(cli("logs", "--status", "4xx", "--json").output)
    assert [(e["macro"], e["record_id"], e["status_code"]) for e in failed] == [("hook", ids[0], 404)]
    contract = {"id", "delivery_id", "macro", "record_id", "trigger", "attempt", "method", "url",
                "status_code", "ok", "error", "duration_ms", "started_at", "response_body", "request_headers"}
    assert contract <= set(failed[0])
    assert failed[0]["trigger"] == "manual" and failed[0]["started_at"].endswith("Z")
    assert len(json_lines(cli("logs", "--macro", "good", "--status", "ok", "--json").output)) == 1
    assert len(json_lines(cli("logs", "--limit", "1", "--json").output)) == 1


def test_retry_resends_failures_and_never_a_delivered_record(cli, store, receiver, fast_cli_config):
    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + "/hook")
    assert cli("send", "hook", "--item", ids[0]).exit_code == 0
    put_macro(store, url=receiver.url + "/status/500")
    assert cli("send", "hook", "--item", ids[1], "--item", ids[2]).exit_code == 1
    put_macro(store, url=receiver.url + "/hook")  # the receiver is fixed
    before = receiver.state.count
    result = cli("retry")
    assert result.exit_code == 0, result.output
    assert "delivered 2" in result.output
    fresh = list(receiver.state.received)[before:]
    assert sorted(json.loads(i.body)["text"].split(":")[0] for i in fresh) == ids[1:]
    retried = json_lines(cli("logs", "--status", "ok", "--json").output)
    assert {e["trigger"] for e in retried if e["record_id"] != ids[0]} == {"retry"}
    assert "Nothing to retry" in cli("retry").output


def test_receiver_command_prints_and_records_requests(data_dir):
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "receiver",
                             "--port", "0", "--slack"], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        url = first.split(" on ")[1].split()[0]
        answer = httpx.post(url + "/slack/channel_not_found", json={"text": "héllo"},
                            headers={"Authorization": "Bearer very-secret"})
        assert (answer.status_code, answer.text) == (404, "channel_not_found")
        assert httpx.post(url + "/any", json={"text": "hi"}).text == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert "POST /slack/channel_not_found  -> 404" in out and '"text": "héllo"' in out
    assert "very-secret" not in out and "received 2 request(s)" in out
    from cctui.store import open_store

    kept = open_store(data_dir).state_get("receiver.requests")
    assert [r["status"] for r in kept] == [404, 200]


def test_retry_leaves_a_paused_macro_alone_and_says_so(cli, store, receiver, fast_cli_config):
    add_items(store, 3)
    put_macro(store, url=receiver.url + "/slack/archived", concurrency=1)
    assert cli("send", "hook", "--all").exit_code == 1
    assert store.macro_get("hook")["paused"] is True
    result = cli("retry")
    assert result.exit_code == 0 and "macro 'hook' is paused" in result.output
    assert receiver.state.count == 1
    named = cli("retry", "--macro", "hook")
    assert named.exit_code == 2 and "is paused" in named.output


def test_receiver_masks_query_credentials_and_credential_headers(data_dir):
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "receiver",
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    secrets = ["qtok-1a2b3c", "apikey-4d5e6f", "sig-7a8b9c", "acc-0f1e2d", "pw-3c4b5a", "cookie-9z8y",
               "hdrtok-5t6y", "bearer-2w3e"]
    try:
        url = proc.stdout.readline().split(" on ")[1].split()[0]
        answer = httpx.post(url + f"/jira?token={secrets[0]}&project=CC&api_key={secrets[1]}&sig={secrets[2]}"
                                  f"&access_token={secrets[3]}&password={secrets[4]}",
                            json={"text": "hi"},
                            headers={"Authorization": f"Bearer {secrets[7]}", "Cookie": f"s={secrets[5]}",
                                     "X-Hook-Token": secrets[6], "X-Api-Key": secrets[1]})
        assert answer.status_code == 201
        listed = httpx.get(url + "/_received").text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert "POST /jira?token=••••&project=CC&api_key=••••&sig=••••&access_token=••••&password=••••" in out
    assert "Authorization: Bearer ••••" in out
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    from cctui.store import open_store

    kept = open_store(data_dir).state_get("receiver.requests")
    assert kept[0]["query"].startswith("token=••••&project=CC")
    for secret in secrets:
        assert secret not in out and secret not in listed and secret.encode() not in stored, secret
