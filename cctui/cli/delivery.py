"""Delivery commands: ``send``, ``logs``, ``retry`` and ``receiver``."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

import click
import orjson

from cctui.cli.context import Context
from cctui.cli.output import say
from cctui.core.records import normalize_id
from cctui.core.terminal_text import printable
from cctui.delivery import events as ev
from cctui.errors import InputError, NotFound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from cctui.delivery.engine import Engine
    from cctui.delivery.receiver import Received
    from cctui.macros.model import Macro
    from cctui.store import Store


def register(cli: click.Group) -> None:
    """Add this area's commands to the root group."""
    for command in (send, logs, retry, receiver):
        cli.add_command(command)


def _ctx() -> Context:
    return click.get_current_context().find_root().obj


def _line(obj: dict) -> None:
    # One line per record on a 10k-record send: orjson and a plain buffered write instead
    # of click.echo, which re-checks the stream for every call.
    sys.stdout.write(orjson.dumps(obj, default=str).decode() + "\n")


# -- send -----------------------------------------------------------------------------------

def _records_for(ctx: Context, macro: Macro, items: tuple[str, ...], query: str | None,
                 all_: bool) -> list[str]:
    """The ids to send to, validated: unknown ids and wrong targets are bad usage."""
    from cctui.core.query import compile_query, fields_in

    store = ctx.store
    users = macro.target == "users"
    kind = "user" if users else "feedback item"
    wanted_type = getattr(macro, "feedback_type", None)
    if items:
        ids = []
        for record_id in map(normalize_id, items):  # bug-2, BUG-2, BUG-0002: one id
            record = store.user_get(record_id) if users else store.feedback_get(record_id)
            if record is None:
                other = store.feedback_get(record_id) if users else store.user_get(record_id)
                if other is not None:
                    raise InputError(f"--item {record_id}: macro {macro.name!r} runs on "
                                     f"{'users' if users else 'feedback'}, and {record_id} is "
                                     f"{'a feedback item' if users else 'a user'}.")
                raise NotFound(f"--item {record_id}: no {kind} with that id.")
            if wanted_type and not users and record.get("type") != wanted_type:
                raise InputError(f"--item {record_id}: macro {macro.name!r} only runs on "
                                 f"{wanted_type!r} items, and {record_id} is a {record.get('type')!r}.")
            if record_id not in ids:
                ids.append(record_id)
        return ids
    records = store.users_all() if users else store.feedback_all()
    if wanted_type and not users:
        records = [r for r in records if r.get("type") == wanted_type]
    if query:
        records = compile_query(query, ctx.schema, known_fields=fields_in(records)).filter(records)
    return [r["id"] for r in records]


class _Reporter:
    """The CLI's listener: a rich progress bar on a terminal, plain lines otherwise,
    JSON lines with ``--json``."""

    def __init__(self, as_json: bool, total: int, dry_run: bool, *, bar: bool = True) -> None:
        self.as_json = as_json
        self.dry_run = dry_run
        self.progress = None
        self.terminal = not as_json and sys.stderr.isatty()
        if self.terminal and bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                     TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.task = self.progress.add_task("sending", total=total, status="")
            self.progress.start()
        self.counts = {"delivered": 0, "failed": 0, "retrying": 0}

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RecordDone):
            retry_at = event.extra.get("retry_at") if event.outcome == ev.RETRYING else None
            if self.as_json:
                _line({"id": event.record_id, "outcome": event.outcome, "status_code": event.status_code,
                       "attempts": event.attempts, "error": event.error, "delivery_id": event.delivery_id,
                       "run_id": event.run_id, **({"request": event.extra["request"]}
                                                  if "request" in event.extra else {}),
                       **({"retry_at": retry_at} if retry_at else {})})
            elif self.progress is not None:
                key = {ev.DELIVERED: "delivered", ev.FAILED: "failed", ev.NOT_SENT: "failed",
                       ev.RETRYING: "retrying"}.get(event.outcome)
                if key:
                    self.counts[key] += 1
                retrying = f", {self.counts['retrying']} retrying" if self.counts["retrying"] else ""
                self.progress.update(self.task, advance=1, status=f"{self.counts['delivered']} ok, "
                                     f"{self.counts['failed']} failed{retrying}")
            else:
                detail = f" {event.status_code}" if event.status_code else ""
                why = f": {event.error}" if event.error else ""
                when = f"; retry scheduled at {retry_at}" if retry_at else ""
                sys.stdout.write(printable(f"{event.record_id} {event.outcome}{detail}{why}{when}", lines=False) + "\n")
        elif isinstance(event, ev.RetryScheduled) and self.terminal and not event.scheduled:
            # On a terminal, say what the run is waiting for: "BUG-0002: 503, retry 2 of 5 in 30 s".
            if self.progress is not None:
                self.progress.update(self.task, status=event.describe())
            else:
                sys.stderr.write(printable(event.describe(), lines=False) + "\n")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def summary(self, summary: ev.RunSummary) -> None:
        if self.as_json:
            _line({"summary": True, "run_id": summary.run_id, "macro": summary.macro, "sent": summary.sent,
                   "delivered": summary.delivered, "failed": summary.failed, "skipped": summary.skipped,
                   "retrying": summary.retrying, "next_retry": summary.next_retry,
                   "not_sent": summary.not_sent, "attempts": summary.attempts,
                   "cancelled": summary.cancelled, "dry_run": summary.dry_run, "reason": summary.reason})
            return
        if summary.dry_run:
            say(f"dry run: {summary.skipped} request(s) rendered, {summary.failed} failed to render; "
                       "nothing sent.")
            return
        run = f" (run {summary.run_id})" if summary.run_id else ""
        unsent = f", not sent {summary.not_sent}" if summary.not_sent else ""
        retrying = f", retrying {summary.retrying}" if summary.retrying else ""
        say(f"{summary.macro}: sent {summary.sent}, delivered {summary.delivered}, failed "
                   f"{summary.failed}{retrying}, skipped {summary.skipped}{unsent}{run}")
        if summary.retrying:
            from cctui.delivery.scheduled import describe

            say(describe(summary.retrying, summary.next_retry), err=True)
        if summary.cancelled:
            say(f"cancelled: {summary.not_sent} not sent; `cctui retry` finishes the run.", err=True)
        elif summary.reason:
            say(f"stopped early: {summary.reason}", err=True)
            if summary.not_sent:
                say(f"{summary.not_sent} not sent; `cctui retry` finishes the run.", err=True)
        if summary.failed:
            say("See `cctui logs --status failed`; `cctui retry` sends the failures again.", err=True)


def _run_engine(make_coro: Callable[[Engine], Awaitable[ev.RunSummary]]) -> ev.RunSummary:
    """Run the engine on a fresh loop. Ctrl-C, a closed terminal (SIGHUP) and a polite
    kill (SIGTERM, e.g. systemd stopping a job) cancel the run gracefully: requests on
    the wire finish and are logged, the rest are saved as not sent for `cctui retry`."""
    from cctui.delivery import Engine

    ctx = _ctx()
    engine = Engine(ctx.store, ctx.config)

    async def main() -> ev.RunSummary:
        loop = asyncio.get_running_loop()
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, engine.stop)
        except (NotImplementedError, RuntimeError, AttributeError):  # not the main thread (tests), Windows
            pass
        return await make_coro(engine)

    return asyncio.run(main())


@click.command()
@click.argument("name")
@click.option("--item", "items", multiple=True, metavar="ID", help="A record id (repeatable).")
@click.option("--filter", "query", metavar="Q", help="Send to every record matching the filter.")
@click.option("--all", "all_", is_flag=True, help="Send to every record of the macro's target.")
@click.option("--concurrency", type=click.IntRange(1, 1024), help="Requests in flight (default: the macro's).")
@click.option("--dry-run", is_flag=True, help="Render and validate every request; send nothing.")
@click.option("--max-wait", type=click.FloatRange(0), metavar="SECONDS",
              help="Wait at most this long for retries; later ones are scheduled (default: config "
                   "[delivery] max_wait, 60).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record, then a summary object.")
def send(name: str, items: tuple[str, ...], query: str | None, all_: bool, concurrency: int | None,
         dry_run: bool, max_wait: float | None, as_json: bool) -> None:
    """Run macro NAME's webhook over records (--item ID ..., --filter Q or --all).

    Retries due later than --max-wait are scheduled (sent by `cctui run-due`, `cctui
    retry`, or the open TUI). Exit 0 when every record was delivered, skipped or has a
    retry scheduled; 1 when any failed for good or was not sent; 2 for bad usage.
    """
    from cctui.delivery.engine import load_macro

    if sum(bool(x) for x in (items, query, all_)) != 1:
        raise InputError("send: give exactly one of --item ID, --filter Q or --all.")
    ctx = _ctx()
    macro = load_macro(ctx.store, name)
    ids = _records_for(ctx, macro, items, query, all_)
    if not getattr(macro, "verify", True) and ids and not dry_run:
        from cctui.macros.request import VERIFY_WARNING

        say(f"cctui: warning: macro {name}: {VERIFY_WARNING}", err=True)
    if ids:  # a body too expensive to render is refused before anything is sent
        from cctui.macros.request import check_cost

        get = ctx.store.user_get if macro.target == "users" else ctx.store.feedback_get
        check_cost(macro, get(ids[0]), store=ctx.store, config=ctx.config)
    trigger = "manual" if items else "bulk"
    reporter = _Reporter(as_json, len(ids), dry_run)
    try:
        summary = _run_engine(lambda engine: engine.run(name, ids, trigger=trigger, concurrency=concurrency,
                                                         listener=reporter, dry_run=dry_run, max_wait=max_wait))
    finally:
        reporter.close()
    reporter.summary(summary)
    if not summary.ok:
        click.get_current_context().exit(1)


# -- logs -----------------------------------------------------------------------------------

@click.command()
@click.option("--macro", help="Only this macro's attempts.")
@click.option("--item", "record_id", metavar="ID", help="Only attempts for this record.")
@click.option("--status", metavar="S", help="An attempt's code (404), class (4xx) or ok; or a delivery's "
              "state: delivered, retrying (retry scheduled), failed (for good) or skipped (retry dropped).")
@click.option("--limit", type=click.IntRange(1), help="At most N attempts (default 50 in the table, all with --json).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per attempt, newest first.")
def logs(macro: str | None, record_id: str | None, status: str | None, limit: int | None, as_json: bool) -> None:
    """The delivery log: one line per attempt, newest first."""
    store = _ctx().store
    record_id = normalize_id(record_id) if record_id else record_id
    entries = store.log_iter(macro=macro, record_id=record_id, status=status)
    if limit is None and not as_json:
        limit = 50
    shown = 0
    rows = []
    for entry in entries:
        if limit is not None and shown >= limit:
            break
        shown += 1
        if as_json:
            _line(entry)
        else:
            rows.append(entry)
    if not as_json:
        _table(rows)


def _table(rows: list[dict]) -> None:
    if not rows:
        say("No attempts match.")
        return
    heads = ("time", "macro", "record", "try", "status", "ms", "explanation")
    table = [heads] + [(
        (e.get("started_at") or "").replace("T", " ").rstrip("Z"), e.get("macro", ""), e.get("record_id", ""),
        str(e.get("attempt", "")), str(e.get("status_code", "")) if e.get("status_code") else "-",
        str(e.get("duration_ms", "")), _short(e)) for e in rows]
    # cleaned before the widths are measured, so the columns stay aligned
    table = [tuple(printable(str(cell), lines=False) for cell in row) for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(len(heads) - 1)]
    for row in table:
        # zip stops before the last column, which is not padded
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


def _short(entry: dict) -> str:
    explanation = entry.get("explanation")
    if isinstance(explanation, dict) and explanation.get("title"):
        text = explanation["title"]
    else:
        text = entry.get("error") or ""
    text = text if len(text) <= 70 else text[:69] + "…"
    if entry.get("retry_at") and not entry.get("ok"):
        text += f" · retry scheduled at {entry['retry_at']}"
    if entry.get("warning"):  # verify = false: issue 10 wants it in the log, not only in --json
        text += " · TLS certificate not checked (verify = false)"
    return text


# -- retry ----------------------------------------------------------------------------------

@click.command()
@click.option("--macro", help="Only this macro's deliveries.")
@click.option("--item", "record_id", metavar="ID", help="Only this record's deliveries.")
@click.option("--concurrency", type=click.IntRange(1, 1024), help="Requests in flight (default: the macro's).")
@click.option("--now", "now", is_flag=True, help="Send every scheduled retry now, not only the due ones.")
@click.option("--max-wait", type=click.FloatRange(0), metavar="SECONDS",
              help="Wait at most this long for retries; later ones are scheduled (default: config "
                   "[delivery] max_wait, 60).")
def retry(macro: str | None, record_id: str | None, concurrency: int | None, now: bool,
          max_wait: float | None) -> None:
    """Send the scheduled retries that are due (--now: all), send again every delivery
    whose last attempt failed, and finish interrupted runs.

    A record whose last attempt was delivered is never sent again. Exit codes as for send.
    """
    ctx = _ctx()
    if macro:
        from cctui.delivery.engine import load_macro

        load_macro(ctx.store, macro)  # unknown or paused: bad usage, before anything is sent
    reporter = _Reporter(False, 0, False, bar=False)  # the total is unknown up front: plain lines
    record_id = normalize_id(record_id) if record_id else record_id
    summary = _run_engine(lambda engine: engine.retry(macro=macro, record_id=record_id, listener=reporter,
                                                      concurrency=concurrency, now=now, max_wait=max_wait))
    if summary.total == 0:
        from cctui.delivery.scheduled import pending

        waiting = pending(ctx.store, macro=macro, record_id=record_id)
        if summary.reason:
            say(f"Nothing retried: {summary.reason}.")
        elif waiting and (held := _held_retries(ctx.store, waiting)):
            say(f"Nothing retried: {held}.")
        elif waiting:
            noun = "retry is" if len(waiting) == 1 else "retries are"
            say(f"Nothing due: {len(waiting)} {noun} scheduled, next at {waiting[0]['due']} "
                       "(`cctui retry --now` sends them now).")
        else:
            say("Nothing to retry: no failed deliveries, no scheduled retries and no interrupted runs.")
        return
    reporter.summary(summary)
    if not summary.ok:
        click.get_current_context().exit(1)


def _held_retries(store: Store, waiting: list[dict]) -> str | None:
    """Why scheduled retries that ``retry`` could have sent were not (another process is
    sending them, or their macro is paused), or None when they are simply not due yet:
    "retry --now sends them" would be wrong advice then."""
    from cctui.delivery.scheduled import being_sent

    busy = [e for e in waiting if being_sent(e)]
    rest = [e for e in waiting if not being_sent(e)]
    paused = sorted({str(e.get("macro")) for e in rest if (store.macro_get(str(e.get("macro"))) or {}).get("paused")})
    if rest and not all(e.get("macro") in paused for e in rest):
        return None  # some are only not due yet: the usual "Nothing due" line says when
    parts = []
    if busy:
        parts.append(f"{_retries(len(busy))} {'is' if len(busy) == 1 else 'are'} being sent by another "
                     "cctui process now")
    if rest:
        names = ", ".join(paused)
        resume = "; ".join(f"`cctui macro resume {name}`" for name in paused)
        parts.append(f"{_retries(len(rest))} {'waits' if len(rest) == 1 else 'wait'} for the paused "
                     f"macro{'s' if len(paused) > 1 else ''} {names} ({resume})")
    return "; ".join(parts)


def _retries(count: int) -> str:
    return f"{count} scheduled {'retry' if count == 1 else 'retries'}"


# -- receiver -------------------------------------------------------------------------------

@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port.")
@click.option("--status", "status_code", default=200, show_default=True, type=click.IntRange(100, 599),
              help="Status to answer with.")
@click.option("--fail-rate", default=0.0, type=click.FloatRange(0, 1), help="Share of requests answered 503.")
@click.option("--delay", default=0.0, type=click.FloatRange(0), help="Seconds to wait before answering.")
@click.option("--slack", is_flag=True, help="Behave like a Slack incoming webhook (ok, error codes, 1/s).")
@click.option("--slack-rate", default=1.0, type=click.FloatRange(0.01), help="Slack mode: messages per second.")
@click.option("--quiet", is_flag=True, help="Print one line per request instead of the full request.")
def receiver(host: str, port: int, status_code: int, fail_rate: float, delay: float, slack: bool,
             slack_rate: float, quiet: bool) -> None:
    """A local webhook receiver that shows and records what arrives (Ctrl-C to stop).

    Paths: /status/CODE, /slack/ERROR (e.g. /slack/channel_not_found, /slack/archived),
    /jira, /flaky/N, /big/BYTES, /reset, /never; GET /_received lists what arrived.
    """
    from cctui.delivery.receiver import serve_in_background

    store = _ctx().store
    keep: list[dict] = []
    lock = threading.Lock()

    def on_request(item: Received) -> None:
        say(f"{item.at}  {item.method} {item.path} -> {item.status}" if quiet else item.pretty())
        with lock:
            keep.append(item.to_dict())
            del keep[:-200]

    url, stop = serve_in_background(host, port, status=status_code, fail_rate=fail_rate, delay=delay,
                                    slack=slack, slack_rate=slack_rate, on_request=on_request)
    say(f"cctui receiver listening on {url} (Ctrl-C to stop)")
    sys.stdout.flush()
    saved = 0

    def save() -> None:
        """The last 200 requests, under the data dir (at most twice a second)."""
        nonlocal saved
        with lock:
            snapshot, count = list(keep), stop.receiver.count
        if count != saved:
            store.state_set("receiver.requests", snapshot)
            saved = count

    try:
        while True:
            time.sleep(0.5)
            save()
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        save()
        say(f"received {stop.receiver.count} request(s)")
