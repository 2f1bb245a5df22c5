"""Bulk-send throughput: `cctui send` (every attempt persisted) vs bare aiohttp and httpx.

Setup: a loopback aiohttp receiver runs in its own process (so it does not share the
sender's event loop or CPU time slice); each sender runs in a fresh child process, so
the peak RSS it prints is its own. All senders POST one ~300-byte JSON body per record
at the same concurrency. `cctui send` is the real command (`cctui send bench --all
--concurrency C --json`, its JSON lines going to a pipe): it opens the store, renders
every body from the record with the macro's template, sends with retries armed, writes
one log entry per attempt through the store (fsynced, in batches) and the run record.

Every sender is timed the same way: modules are imported first, then the clock runs
from the start of the work (for cctui: from the start of the command, store opening
included) to its end. bare aiohttp and cctui take turns (`--rounds`, default 3), each
cctui round on a fresh copy of the same store, and the table shows each sender's median
round, so noise from other work on the machine hits both alike. cctui runs once per
round with each transport named by `--transports` (default: `lean`, the default one,
then `aiohttp`; set through `CCTUI_TRANSPORT`), so the transports compare in one run. bare httpx runs once
(it is slow). A cctui run over a tenth of the records shows whether memory stays flat.

    python benchmarks/dispatch.py                 # 10,000 records, concurrency 32 (~1 min)
    python benchmarks/dispatch.py -n 2000 -c 8
    python benchmarks/dispatch.py --delay 0.02   # a receiver that takes 20 ms, like a real hook
    python benchmarks/dispatch.py --transports lean   # only the default transport
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
DELAY = float(sys.argv[2])
async def hook(request):
    await request.read()
    if DELAY:
        await asyncio.sleep(DELAY)
    return web.Response(text="ok")
app = web.Application()
app.router.add_route("*", "/{tail:.*}", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def drive(n: int, concurrency: int, one) -> None:
    ids = iter(range(n))

    async def worker():
        for _ in ids:
            await one()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def bare_aiohttp(url: str, n: int, c: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async def one():
            async with session.post(url, data=BODY, headers={"Content-Type": "application/json"}) as r:
                await r.read()

        await drive(n, c, one)


async def bare_httpx(url: str, n: int, c: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(limits=limits) as client:
        async def one():
            await client.post(url, content=BODY, headers={"Content-Type": "application/json"})

        await drive(n, c, one)


def child(kind: str, url: str, n: int, c: int, data_dir: str) -> None:
    """Run one sender and print {"seconds", "rss_mb"} as JSON."""
    if kind.startswith("cctui"):
        if ":" in kind:
            os.environ["CCTUI_TRANSPORT"] = kind.split(":", 1)[1]
        import cctui.cli.delivery  # noqa: F401  (imports outside the clock, as for the others)
        import cctui.delivery.engine  # noqa: F401
        from cctui.cli import main

        began = time.perf_counter()
        try:
            main(["--data-dir", data_dir, "send", "bench", "--all", "--concurrency", str(c), "--json"])
        except SystemExit as exc:
            if exc.code:
                raise
        seconds = time.perf_counter() - began
        sys.stdout.flush()
    else:
        fn = bare_aiohttp if kind == "aiohttp" else bare_httpx
        import aiohttp  # noqa: F401
        import httpx  # noqa: F401

        began = time.perf_counter()
        asyncio.run(fn(url, n, c))
        seconds = time.perf_counter() - began
    print("RESULT " + json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb()}), file=sys.stderr)


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
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--url", url, "-n", str(n), "-c", str(c),
                           "--data-dir", str(data_dir)], capture_output=True, text=True)
    line = [l for l in proc.stderr.splitlines() if l.startswith("RESULT ")]
    if proc.returncode or not line:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(line[0][len("RESULT "):])
    result["rate"] = n / result["seconds"]
    if kind.startswith("cctui"):
        lines = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
        result["delivered"] = lines[-1]["delivered"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="records (default 10,000)")
    parser.add_argument("-c", type=int, default=32, help="concurrency (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of bare aiohttp and cctui (default 3)")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="receiver latency in seconds (e.g. 0.02 for a real-world hook)")
    parser.add_argument("--no-httpx", action="store_true", help="skip the (slow) bare httpx run")
    parser.add_argument("--transports", default="lean,aiohttp",
                        help="cctui transports to compare, comma-separated (default lean,aiohttp)")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.url, args.n, args.c, args.data_dir)

    from cctui.store import open_store

    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port), str(args.delay)])
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    names = {t: "cctui" if i == 0 else f"cctui ({t})" for i, t in enumerate(transports)}
    rounds: dict[str, list[dict]] = {"aiohttp": [], **{names[t]: [] for t in transports}}
    ratios: dict[str, list[float]] = {names[t]: [] for t in transports}
    logged: list[int] = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            template, small = Path(tmp) / "template", Path(tmp) / "small"
            prepare(template, url, args.n)
            prepare(small, url, max(1, args.n // 10))
            run_child("aiohttp", url, min(args.n, 1000), args.c, template)  # warm the receiver up
            for number in range(max(1, args.rounds)):
                bare = run_child("aiohttp", url, args.n, args.c, template)
                rounds["aiohttp"].append(bare)
                for t in transports:
                    full = Path(tmp) / f"full-{number}-{t}"
                    shutil.copytree(template, full)
                    ours = run_child(f"cctui:{t}", url, args.n, args.c, full)
                    rounds[names[t]].append(ours)
                    ratios[names[t]].append(ours["rate"] / bare["rate"])
                    logged.append(sum(1 for _ in open_store(full).log_iter()))
            results = {name: _median(runs) for name, runs in rounds.items()}
            if not args.no_httpx:
                results["httpx"] = run_child("httpx", url, args.n, args.c, template)
            results["cctui (n/10)"] = run_child(f"cctui:{transports[0]}", url, max(1, args.n // 10), args.c, small)
    finally:
        receiver.terminate()
        receiver.wait()
    import aiohttp
    import httpx

    base = results["aiohttp"]["rate"]
    print(f"{args.n:,} records, concurrency {args.c}, receiver in its own process "
          f"(latency {args.delay * 1000:g} ms), {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}")
    print(f"median of {args.rounds} alternating rounds for aiohttp and cctui; one run for the others; "
          f"cctui = transport {transports[0]!r}")
    print(f"{'sender':<22}{'req/s':>9}{'x aiohttp':>11}{'peak RSS':>11}")
    for name, r in results.items():
        print(f"{name:<22}{r['rate']:>9,.0f}{r['rate'] / base:>11.2f}{r['rss_mb']:>9.0f} MB")
    for name, values in ratios.items():
        print(f"{name} / aiohttp per round: " + ", ".join(f"{r:.2f}" for r in values)
              + f" (median {statistics.median(values):.2f})")
    print(f"cctui: {results['cctui']['delivered']:,} delivered per round, "
          f"log entries persisted per cctui run: {', '.join(f'{n:,}' for n in logged)}")


def _median(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]


if __name__ == "__main__":
    main()
