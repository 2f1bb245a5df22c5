"""`cctui listen` as a real process: refuses without a token; updates fire triggers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from cctui.macros import Macro
from cctui.store import open_store

TOKEN = "cli-listen-token-93b1"


def test_listen_refuses_to_start_without_a_token(cli):
    result = cli("listen", env={"CCTUI_LISTEN_TOKEN": "  "})
    assert result.exit_code == 2
    assert "CCTUI_LISTEN_TOKEN is not set" in result.output + str(result.exception)


def test_listen_refuses_without_a_token_as_a_process(cctui_proc):
    env = {k: v for k, v in os.environ.items() if k != "CCTUI_LISTEN_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "cctui", "listen"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("cctui: CCTUI_LISTEN_TOKEN is not set")
    assert "Traceback" not in done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_listener_updates_fire_modify_triggers(data_dir, receiver):
    store = open_store(data_dir)
    [record] = store.feedback_add([store.schema.feedback({"type": "bug", "title": "Crash", "jira_key": "CC-7"})])
    store.macro_put(Macro.from_dict({
        "name": "closed-note", "method": "POST", "url": f"{receiver.url}/closed",
        "body": '{"id": "((id))", "status": "((status))"}',
        "trigger": {"on": ["modify"], "filter": "status:closed"},
    }).to_dict())
    store.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "listen", "--port", str(port)],
        env={**os.environ, "CCTUI_LISTEN_TOKEN": TOKEN}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        # Deadlines, not counts of short sleeps: on a loaded machine the listener's start
        # (a Python process importing aiohttp) can take many seconds.
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(f"{url}/hooks/jira", json={}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the listener never answered"
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{url}/records/{record['id']}", json={"status": "Closed"},
                          timeout=30).status_code == 401
        answer = httpx.post(f"{url}/hooks/jira", headers=headers, timeout=30, json={
            "webhookEvent": "jira:issue_updated",
            "issue": {"key": "CC-7", "fields": {"status": {"name": "Done"}}}})
        assert answer.status_code == 200 and answer.json()["updated"] == [record["id"]]
        # The triggered run is a task on the listener's loop: wait for its request and
        # its log entry (written within the recorder's interval) before stopping it.
        deadline = time.monotonic() + 60
        while not (receiver.hits and _logged_triggers(data_dir)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.hits == [{"path": "/closed", "body": {"id": record["id"], "status": "Closed"}}]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert f"POST /hooks/jira -> 200 {record['id']}" in out
    assert TOKEN not in out + err
    assert _logged_triggers(data_dir) == ["modify"]


def _logged_triggers(data_dir) -> list[str]:
    store = open_store(data_dir)
    try:
        return [e["trigger"] for e in store.log_iter(macro="closed-note")]
    finally:
        store.close()
