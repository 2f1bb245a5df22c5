"""A separate process that hammers a store, for the multi-process and SIGKILL tests.

    python store_worker.py increment DATA_DIR SHARED_ID OWN_ID COUNT START_FILE
    python store_worker.py bulk DATA_DIR BATCH
    python store_worker.py cli-set DATA_DIR RECORD_ID FIELD COUNT START_FILE
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cctui.core.records import Schema
from cctui.store import open_store


def increment(data_dir: str, shared: str, own: str, count: str, start_file: str) -> None:
    store = open_store(Path(data_dir), lock_timeout=30)
    print("ready", flush=True)  # imported and opened: the test starts the race after both say so
    while not Path(start_file).exists():  # start both processes' loops together
        time.sleep(0.005)
    for i in range(int(count)):
        with store.batch():  # read-modify-write under the lock: the read sees the other process
            votes = store.feedback_get(shared)["votes"]
            store.feedback_update([shared], {"votes": votes + 1})
        store.feedback_update([own], {"steps": f"step {i + 1}"})
        store.log_append([{"macro": "m", "record_id": own, "status_code": 200, "ok": True}])


def bulk(data_dir: str, batch: str) -> None:
    store = open_store(Path(data_dir), lock_timeout=30)
    schema = Schema()
    size = int(batch)
    round_ = 0
    while True:
        round_ += 1
        items = [
            schema.feedback({"type": "bug", "title": f"round {round_} item {n}", "description": "x" * 300})
            for n in range(size)
        ]
        store.feedback_add(items)
        first = store.feedback_all()[0]["id"]
        store.feedback_update([first], {"votes": round_})
        print(store.feedback_count(), flush=True)  # acknowledged: durable before this line


def cli_set(data_dir: str, record_id: str, field: str, count: str, start_file: str) -> None:
    """``cctui feedback set`` in a loop, through the real CLI entry point (each call opens
    the store afresh, like a separate command would) without paying interpreter start-up."""
    from cctui.cli import cli

    print("ready", flush=True)
    while not Path(start_file).exists():
        time.sleep(0.005)
    for i in range(1, int(count) + 1):
        cli.main(["--data-dir", data_dir, "feedback", "set", record_id, f"{field}={i}"],
                 prog_name="cctui", standalone_mode=False)


if __name__ == "__main__":
    {"increment": increment, "bulk": bulk, "cli-set": cli_set}[sys.argv[1]](*sys.argv[2:])
