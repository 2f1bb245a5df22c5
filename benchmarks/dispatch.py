"""Bulk-send speed: `cctui send` (every attempt persisted) against bare aiohttp, same run.

Three measurements, each a ratio to a bare aiohttp loop measured in the same run:

1. receivers that take 20 ms and 100 ms to answer (a real webhook), 5,000 records at
   concurrency 32: the sender should never be the bottleneck (target >= 0.95x);
2. an instant receiver, 10,000 records: what cctui's per-request work costs when nothing
   else limits it (rendering, the log entry per attempt, fsynced in batches);
3. peak RSS of `cctui send` at 1,000 and at 10,000 records (instant receiver).

Setup: one loopback aiohttp receiver in its own process (it answers `/hook/<ms>` after
<ms> milliseconds); each sender runs in a fresh child process, so its peak RSS is its
own. Every sender POSTs one ~300-byte JSON body per record at the same concurrency.
`cctui send` is the real command (`cctui send bench --all --concurrency 32 --json`, its
output to a pipe): it opens the store, renders every body from its record, sends with
retries armed, writes one log entry per attempt and the run record. Each sender is timed
from the start of its work (for cctui the start of the command, store opening included),
after imports. Bare aiohttp and cctui take turns (`--rounds`), each cctui round on a fresh
copy of the store, and the table shows the median round of each.

    python benchmarks/dispatch.py            # 3 rounds, about 3 minutes on 2 busy cores
    python benchmarks/dispatch.py --quick    # 1 round, fewer records: a smoke run (~30 s)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BODY = json.dumps({"text": "New bug BUG-0001: " + "x" * 260}).encode()

RECEIVER = """
import asyncio, sys
from aiohttp import web
async def hook(request):
    await request.read()
    delay = int(request.match_info.get("ms") or 0) / 1000
    if delay:
        await asyncio.sleep(delay)
    return web.Response(text="ok")
app = web.Application()
app.router.add_route("*", "/hook/{ms}", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bare_aiohttp(url: str, n: int, c: int) -> None:
    import aiohttp

    ids = iter(range(n))
    async with aiohttp.ClientSession() as session:
        async def worker():
            for _ in ids:
                async with session.post(url, data=BODY, headers={"Content-Type": "application/json"}) as r:
                    await r.read()

        await asyncio.gather(*(worker() for _ in range(c)))


def child(kind: str, url: str, n: int, c: int, data_dir: str) -> None:
    """Run one sender and print ``RESULT {"seconds", "rss_mb"}`` on stderr."""
    if kind == "store":  # what the data alone costs: the store opened, the records read
        import cctui.cli.delivery  # noqa: F401  (the same modules as a send)
        import cctui.delivery.engine  # noqa: F401
        from cctui.store import open_store

        began, cpu = time.perf_counter(), cpu_seconds()
        store = open_store(Path(data_dir))
        records = store.feedback_all()
        macros = store.macros_all()
        assert len(records) == n and macros
        seconds = time.perf_counter() - began
    elif kind == "cctui":
        import cctui.cli.delivery  # noqa: F401  (imports outside the clock, as for aiohttp)
        import cctui.delivery.engine  # noqa: F401
        from cctui.cli import main

        began, cpu = time.perf_counter(), cpu_seconds()
        try:
            main(["--data-dir", data_dir, "send", "bench", "--all", "--concurrency", str(c), "--json"])
        except SystemExit as exc:
            if exc.code:
                raise
        seconds = time.perf_counter() - began
        sys.stdout.flush()
    else:
        import aiohttp  # noqa: F401

        began, cpu = time.perf_counter(), cpu_seconds()
        asyncio.run(bare_aiohttp(url, n, c))
        seconds = time.perf_counter() - began
    result = {"seconds": seconds, "rss_mb": peak_rss_mb(), "cpu": cpu_seconds() - cpu}
    print("RESULT " + json.dumps(result), file=sys.stderr)


def prepare(data_dir: Path, url: str, n: int) -> None:
    from cctui.macros.model import Macro
    from cctui.store import open_store

    store = open_store(data_dir)
    store.feedback_add([{"type": "Bug Report", "title": f"Crash {i} when saving a large file", "status": "New",
                         "severity": "High", "submitter": "ana@example.com", "votes": i % 50,
                         "description": "Steps: open, edit, save. " * 4, "steps": "", "category": "editor"}
                        for i in range(n)])
    store.macro_put(Macro.from_dict({
        "name": "bench", "url": url, "concurrency": 32,
        "body": '{"text": "New bug ((id)): ((title))", "severity": "((severity))", "votes": ((votes))}',
    }).to_dict())
    store.close()


def run_child(kind: str, url: str, n: int, c: int, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--url", url, "-n", str(n), "-c", str(c),
                           "--data-dir", str(data_dir)], capture_output=True, text=True, env=env)
    line = [l for l in proc.stderr.splitlines() if l.startswith("RESULT ")]
    if proc.returncode or not line:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(line[0][len("RESULT "):])
    result["rate"] = n / result["seconds"]
    result["cpu_us"] = result["cpu"] / n * 1e6
    if kind == "cctui":
        summary = json.loads([l for l in proc.stdout.splitlines() if l.strip()][-1])
        if summary.get("delivered") != n:
            raise SystemExit(f"cctui delivered {summary.get('delivered')} of {n}: {summary}")
    return result


def scenario(tmp: Path, base: str, ms: int, n: int, c: int, rounds: int) -> dict:
    """Alternating rounds of bare aiohttp and cctui against ``/hook/<ms>``: medians, ratios."""
    from cctui.store import open_store

    url = f"{base}/hook/{ms}"
    template = tmp / f"template-{ms}-{n}"
    prepare(template, url, n)
    bare_runs, ours_runs, ratios, logged = [], [], [], []
    for number in range(rounds):
        bare = run_child("aiohttp", url, n, c, template)
        copy = tmp / f"run-{ms}-{n}-{number}"
        shutil.copytree(template, copy)
        ours = run_child("cctui", url, n, c, copy)
        store = open_store(copy)
        logged.append(sum(1 for _ in store.log_iter()))
        store.close()
        shutil.rmtree(copy)
        bare_runs.append(bare)
        ours_runs.append(ours)
        ratios.append(ours["rate"] / bare["rate"])
    return {"ms": ms, "n": n, "bare": _median(bare_runs), "cctui": _median(ours_runs),
            "ratios": ratios, "ratio": statistics.median(ratios), "logged": logged,
            "store": run_child("store", url, n, c, template)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", type=int, default=32, help="concurrency (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of bare aiohttp and cctui (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 round, 1,000/2,000 records: a smoke run")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("-n", type=int, default=0)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.url, args.n, args.c, args.data_dir)

    rounds = 1 if args.quick else max(1, args.rounds)
    latency_n, instant_n, small_n = (1_000, 2_000, 200) if args.quick else (5_000, 10_000, 1_000)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    started, load_before = time.monotonic(), os.getloadavg()[0]
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            run_child("aiohttp", f"{base}/hook/0", 1000, args.c, tmp)  # warm the receiver up
            results = [scenario(tmp, base, ms, latency_n, args.c, rounds) for ms in (20, 100)]
            results.append(scenario(tmp, base, 0, instant_n, args.c, rounds))
            small = scenario(tmp, base, 0, small_n, args.c, 1)
    finally:
        receiver.terminate()
        receiver.wait()
    import aiohttp

    print(f"concurrency {args.c}, receiver in its own process, {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after, Python {platform.python_version()}, aiohttp "
          f"{aiohttp.__version__}; median of {rounds} alternating round(s); {time.monotonic() - started:.0f} s")
    print()
    print("| receiver | records | bare aiohttp req/s | cctui send req/s | cctui / aiohttp (per round) "
          "| CPU per request, aiohttp / cctui |")
    print("|---|---|---|---|---|---|")
    for r in results:
        receiver_name = f"{r['ms']} ms latency" if r["ms"] else "instant"
        rounds_text = ", ".join(f"{x:.2f}" for x in r["ratios"])
        print(f"| {receiver_name} | {r['n']:,} | {r['bare']['rate']:,.0f} | {r['cctui']['rate']:,.0f} | "
              f"**{r['ratio']:.2f}** ({rounds_text}) | {r['bare']['cpu_us']:.0f} / {r['cctui']['cpu_us']:.0f} µs |")
    print()
    big = results[-1]
    print("| peak RSS | cctui send | the store alone (opened, records read) | the run's own |")
    print("|---|---|---|---|")
    for r in (small, big):
        own = r["cctui"]["rss_mb"] - r["store"]["rss_mb"]
        print(f"| {r['n']:,} records | {r['cctui']['rss_mb']:.0f} MB | {r['store']['rss_mb']:.0f} MB | {own:.0f} MB |")
    print(f"| bare aiohttp, {big['n']:,} requests | {big['bare']['rss_mb']:.0f} MB | | |")
    print()
    print("log entries persisted per cctui run: "
          + "; ".join(f"{r['n']:,} records -> {', '.join(f'{x:,}' for x in r['logged'])}" for r in results))


def _median(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]


if __name__ == "__main__":
    main()
