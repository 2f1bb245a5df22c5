"""The delivery log: segments, rotation, newest-first reads, filters, torn lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from cctui.errors import InputError
from cctui.store import open_store
from cctui.store.logs import DeliveryLog


def entry(n: int, **fields) -> dict:
    base = {
        "delivery_id": f"d{n}", "macro": "slack" if n % 2 else "jira", "record_id": f"BUG-{n % 3:04d}",
        "run_id": f"run-{n // 10}", "trigger": "manual", "status_code": 200, "ok": True,
        "started_at": f"2026-11-{1 + n // 10:02d}T10:00:{n % 60:02d}Z",
    }
    return {**base, **fields}


def test_rotates_by_count_and_reads_newest_first(tmp_path):
    log = DeliveryLog(tmp_path / "logs", segment_entries=10)
    log.append([entry(n) for n in range(7)])
    log.append([entry(n) for n in range(7, 25)])
    names = [p.name for p in log.segments()]
    assert names == ["seg-000001.jsonl", "seg-000002.jsonl", "seg-000003.jsonl"]
    assert [len(p.read_bytes().splitlines()) for p in log.segments()] == [10, 10, 5]
    assert log.count() == 25
    newest = list(log.iter_newest_first())
    assert [e["delivery_id"] for e in newest] == [f"d{n}" for n in reversed(range(25))]
    assert len({e["id"] for e in newest}) == 25


def test_filters(tmp_path):
    log = DeliveryLog(tmp_path / "logs", segment_entries=8)
    log.append([entry(n) for n in range(20)])
    log.append([
        entry(100, status_code=404, ok=False, macro="jira", trigger="retry"),
        entry(101, status_code=503, ok=False, macro="jira"),
        entry(102, status_code=0, ok=False, macro="slack", error="connection refused"),
    ])
    ids = lambda **f: [e["delivery_id"] for e in log.iter_newest_first(**f)]  # noqa: E731
    assert ids(status="404") == ["d100"]
    assert ids(status="4xx") == ["d100"]
    assert ids(status="5xx") == ["d101"]
    assert ids(status="failed") == ["d102", "d101", "d100"]
    assert len(ids(status="ok")) == 20
    assert ids(macro="jira", status="failed") == ["d101", "d100"]
    assert ids(trigger="retry") == ["d100"]
    assert ids(delivery_id="d7") == ["d7"]
    assert ids(record_id="BUG-0001")[:3] == ["d100", "d19", "d16"]
    assert ids(run_id="run-1") == [f"d{n}" for n in range(19, 9, -1)]
    assert ids(since="2026-11-02T10:00:15Z", until="2026-11-02T10:00:17Z") == ["d17", "d16", "d15"]
    with pytest.raises(InputError, match="status"):
        list(log.iter_newest_first(status="teapot"))
    with pytest.raises(InputError, match="since"):
        list(log.iter_newest_first(since="yesterday"))


def test_early_stop_reads_only_the_newest_segment(tmp_path, monkeypatch):
    log = DeliveryLog(tmp_path / "logs", segment_entries=10)
    log.append([entry(n) for n in range(50)])
    reads: list[str] = []
    original = Path.read_bytes

    def spy(self):
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    first_three = []
    for e in log.iter_newest_first():
        first_three.append(e)
        if len(first_three) == 3:
            break
    assert reads == ["seg-000005.jsonl"]


def test_torn_line_is_skipped_and_cut_by_the_next_append(tmp_path):
    log = DeliveryLog(tmp_path / "logs", segment_entries=100)
    log.append([entry(1), entry(2)])
    segment = log.segments()[-1]
    with open(segment, "ab") as handle:
        handle.write(b'{"delivery_id": "torn", "ma')
    fresh = DeliveryLog(tmp_path / "logs", segment_entries=100)
    assert [e["delivery_id"] for e in fresh.iter_newest_first()] == ["d2", "d1"]
    assert fresh.count() == 2
    fresh.append([entry(3)])
    assert [e["delivery_id"] for e in fresh.iter_newest_first()] == ["d3", "d2", "d1"]
    assert len(segment.read_bytes().splitlines()) == 3


def test_store_log_api_keeps_records_file_small(data_dir):
    store = open_store(data_dir)
    store.log_append([entry(n, response_body="y" * 500) for n in range(300)])
    store.log_append([])
    assert store.log_count() == 300
    assert next(store.log_iter(status="ok"))["delivery_id"] == "d299"
    assert not (data_dir / "records.json").exists() or (data_dir / "records.json").stat().st_size < 1000
    assert (data_dir / "logs" / "seg-000001.jsonl").exists()
