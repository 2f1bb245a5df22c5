"""The inbound listener under a slow-client flood: legitimate requests still answered.

`cctui listen` runs as a real process on a fresh data directory of N feedback items.
Each round sends N requests (`POST /records/BUG-nnnn`, one per record, each setting that
record's `votes` to a value of its own) at concurrency C with aiohttp, twice: once on a
quiet listener (the baseline) and once while S slow clients hold connections open by
sending one header byte a second (each reconnects when the listener cuts it, so S stay
open throughout). It prints, for both: requests answered, their statuses, the wall time
and p50/p95 latency, the ratio of the two, and then checks that every accepted update is
stored exactly once (the record holds the value sent, and the listener's log shows one
200 for it).

    python benchmarks/listener.py                 # 2,000 requests, concurrency 50, 300 slow clients
    python benchmarks/listener.py -n 500 -s 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "bench-listener-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_data(path: Path, count: int) -> None:
    from cctui.core.records import Schema
    from cctui.store import open_store

    store = open_store(path)
    schema = Schema()
    store.feedback_add([schema.feedback({"type": "bug", "title": f"item {i}"}) for i in range(count)])
    store.close()


def start_listener(data: Path, config: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CCTUI_LISTEN_TOKEN": TOKEN, "CCTUI_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
    out = log.open("w")
    return subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data), "listen", "--port",
                             str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_ready(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise SystemExit("the listener did not start")


async def slow_client(port: int, stop: asyncio.Event, stats: collections.Counter) -> None:
    """Hold one connection open by trickling header bytes; reconnect when cut."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        stats["opened"] += 1
        try:
            writer.write(b"POST /records/BUG-0001 HTTP/1.1\r\nHost: bench\r\n")
            while not stop.is_set():
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                        stats["cut"] += 1
                        break
                except TimeoutError:
                    writer.write(b"X")
        except (ConnectionError, OSError):
            stats["cut"] += 1
        finally:
            writer.close()


async def legit(port: int, count: int, concurrency: int, offset: int) -> tuple[float, list[float], collections.Counter]:
    import aiohttp

    statuses: collections.Counter = collections.Counter()
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(1, count + 1):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                try:
                    async with session.post(f"http://127.0.0.1:{port}/records/BUG-{i:04d}",
                                            json={"votes": offset + i}, headers=headers) as response:
                        await response.read()
                        statuses[response.status] += 1
                except Exception as exc:  # noqa: BLE001 - a bench counts every failure
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


async def round_(port: int, args: argparse.Namespace, slow: int, offset: int) -> dict:
    stop = asyncio.Event()
    stats: collections.Counter = collections.Counter()
    slow_tasks = [asyncio.create_task(slow_client(port, stop, stats)) for _ in range(slow)]
    if slow:
        while stats["opened"] < slow:  # all slow clients connected before the legit load
            await asyncio.sleep(0.05)
    elapsed, latencies, statuses = await legit(port, args.count, args.concurrency, offset)
    stop.set()
    await asyncio.gather(*slow_tasks)
    latencies.sort()
    return {"elapsed": elapsed, "p50": statistics.median(latencies),
            "p95": latencies[int(len(latencies) * 0.95) - 1], "statuses": statuses, "slow": dict(stats)}


def check_stored(data: Path, log_text: str, count: int, offset: int) -> tuple[int, int]:
    """(records holding the value sent, records whose 200 the log shows more than once)."""
    from cctui.store import open_store

    store = open_store(data)
    right = sum(1 for i in range(1, count + 1) if store.feedback_get(f"BUG-{i:04d}")["votes"] == offset + i)
    store.close()
    seen = collections.Counter(re.findall(r"POST /records/(BUG-\d+) -> 200", log_text))
    return right, sum(1 for n in seen.values() if n > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("-s", "--slow", type=int, default=300)
    parser.add_argument("--header-timeout", type=float, default=2.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cctui-bench-listener-"))
    try:
        data, config, log = work / "data", work / "config.toml", work / "listen.log"
        make_data(data, args.count)
        # The per-address rate limit would turn a one-address bench into 429s: off here.
        # A 2 s header timeout (10 s by default) so slow clients are cut, and come back,
        # several times during the round.
        config.write_text(f"[listener]\nrate_limit = 0\nheader_timeout = {args.header_timeout}\n")
        port = free_port()
        proc = start_listener(data, config, port, log)
        try:
            asyncio.run(wait_ready(port))
            quiet = asyncio.run(round_(port, args, 0, 0))
            mark = log.stat().st_size  # the flood round's log lines come after this
            flooded = asyncio.run(round_(port, args, args.slow, 100_000))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        with log.open("rb") as handle:
            handle.seek(mark)
            text = handle.read().decode()
        right, twice = check_stored(data, text, args.count, 100_000)
        print(f"{args.count:,} requests at concurrency {args.concurrency}; listener in its own process, "
              f"header timeout {args.header_timeout:g} s")
        print(f"{'round':<28}{'answered 200':>14}{'other':>8}{'wall s':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}")
        for name, r in (("quiet (baseline)", quiet), (f"{args.slow} slow clients open", flooded)):
            ok = r["statuses"].get(200, 0)
            other = sum(v for k, v in r["statuses"].items() if k != 200)
            print(f"{name:<28}{ok:>14,}{other:>8,}{r['elapsed']:>9.2f}{args.count / r['elapsed']:>9.0f}"
                  f"{r['p50'] * 1000:>9.1f}{r['p95'] * 1000:>9.1f}")
        print(f"throughput under the flood: {quiet['elapsed'] / flooded['elapsed']:.2f}x the quiet round")
        print(f"slow connections opened {flooded['slow'].get('opened', 0):,}, cut by the listener "
              f"{flooded['slow'].get('cut', 0):,}")
        print(f"flood round stored: {right:,} of {args.count:,} records hold the value sent; "
              f"{twice} updates logged more than once")
        unanswered = sum(v for k, v in flooded["statuses"].items() if k != 200)
        print("RESULT:", "every request answered, every update stored once"
              if unanswered == 0 and right == args.count and twice == 0 else "FAILED")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
