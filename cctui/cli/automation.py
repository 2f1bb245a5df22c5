"""``cctui run-due`` (schedules, for cron or a systemd timer) and ``cctui listen`` (inbound)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from cctui.cli.context import Context, describe_run, run_failed
from cctui.cli.output import say
from cctui.core.clock import iso
from cctui.errors import InputError


def register(cli: click.Group) -> None:
    """Add this area's commands to the root group."""
    cli.add_command(run_due_command)
    cli.add_command(listen_command)


def _summary_fields(summary: Any) -> dict[str, Any]:
    if isinstance(summary, Exception):
        return {"error": str(summary)}
    return {key: getattr(summary, key, 0) for key in ("sent", "delivered", "failed", "skipped")}


@click.command("run-due")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per schedule that ran.")
@click.pass_obj
def run_due_command(obj: Context, as_json: bool) -> None:
    """Run the schedules that are due: each macro at most once per period; then send
    the scheduled retries that are due.

    Safe to call every minute from cron or a systemd timer, and from two hosts at once:
    a period is recorded (a retry claimed) before its run starts. CCTUI_NOW overrides
    the clock.
    """
    from cctui.automation.schedules import run_due

    store = obj.store
    assert obj.runner is not None
    started = run_due(store, obj.runner, schema=obj.schema,
                      warn=lambda m: say(f"cctui: {m}", err=True))
    results = obj.runner.drain()
    scheduled = {name: summary for name, trigger, summary in results if trigger == "schedule"}
    failed = False
    for due in started:
        summary = scheduled.get(due.macro)
        failed = failed or (summary is not None and run_failed(summary))
        if as_json:
            row = {"macro": due.macro, "period": iso(due.period), "count": due.record_count}
            row.update(_summary_fields(summary) if summary is not None else {})
            click.echo(json.dumps(row))
        elif summary is None:
            say(f"{due.macro}: period {iso(due.period)}, no matching records")
        else:
            say(f"{due.macro}: period {iso(due.period)}, {due.record_count} records; "
                       + describe_run(due.macro, "schedule", summary).split(": ", 1)[-1])
    for name, trigger, summary in results:
        if trigger != "schedule":  # runs that the scheduled runs' updates triggered
            say(f"cctui: {describe_run(name, trigger, summary)}", err=True)
            failed = failed or run_failed(summary)
    # Stopped while the schedules ran (SIGTERM, Ctrl-C): no retries are sent now.
    retried = None if obj.runner.stopped else _send_due_retries(obj)
    if retried is not None:
        failed = failed or run_failed(retried)
        counts = _summary_fields(retried)
        if as_json:
            click.echo(json.dumps({"retries": True, "count": retried.total, **counts,
                                   "retrying": retried.retrying, "next_retry": retried.next_retry}))
        else:
            say(f"scheduled retries: {retried.total} due; "
                       + describe_run("*", "retry", retried).split(": ", 1)[-1])
            if retried.reason:
                say(f"cctui: {retried.reason}", err=True)
    if retried is not None and retried.retrying:
        from cctui.delivery.scheduled import describe

        say(f"cctui: {describe(retried.retrying, retried.next_retry)}", err=True)
    if not started and retried is None and not as_json:
        say("nothing due")
    if failed:
        click.get_current_context().exit(1)


def _send_due_retries(obj: Context) -> Any:
    """Claim and send the scheduled retries that are due; None when none were due."""
    import asyncio

    from cctui.delivery import scheduled

    claimed = scheduled.claim(obj.store)
    if not claimed:
        return None
    engine = obj.engine()

    async def main() -> Any:
        # As `cctui send`: SIGTERM (systemd stopping the job), SIGHUP and Ctrl-C let the
        # requests on the wire finish and be logged, and hand the rest back for the next
        # run-due; without this, a stop was a kill -9 and those requests went out again.
        import signal

        loop = asyncio.get_running_loop()
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, engine.stop)
        except (NotImplementedError, RuntimeError, AttributeError):  # not the main thread (tests)
            pass
        return await scheduled.send(engine, claimed)

    return asyncio.run(main())


@click.command("listen")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8766, show_default=True, type=int, help="Port to bind.")
@click.pass_obj
def listen_command(obj: Context, host: str, port: int) -> None:
    """Let external systems update feedback over HTTP (needs CCTUI_LISTEN_TOKEN).

    POST /records/{id} sets fields; POST /hooks/jira follows Jira status changes.
    Plain HTTP: put it behind a TLS reverse proxy before exposing it beyond loopback.
    """
    from aiohttp import web

    from cctui.automation import connections
    from cctui.automation.connections import Limits
    from cctui.automation.listener import GUARD_KEY, make_listener_app
    from cctui.automation.triggers import LoopRunner

    token = os.environ.get("CCTUI_LISTEN_TOKEN", "").strip()
    if not token:
        raise InputError(
            "CCTUI_LISTEN_TOKEN is not set: cctui listen refuses to start without a bearer token."
        )
    settings = dict(obj.config.raw.get("listener") or {})
    options: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for key, kind in (("max_body", int), ("rate_limit", float), ("header_timeout", float),
                      ("body_timeout", float), ("max_connections", int)):
        if key in settings:
            try:
                value = kind(settings[key])
            except (TypeError, ValueError, OverflowError):
                raise InputError(f"config [listener] {key}: expected a number.") from None
            if key in ("header_timeout", "body_timeout", "max_connections") and not value > 0:
                raise InputError(f"config [listener] {key}: must be more than 0.")
            (limits if key in ("header_timeout", "body_timeout", "max_connections") else options)[key] = value
    store = obj.store
    app = make_listener_app(
        store, token, schema=obj.schema, jira_status_map=settings.get("jira_status_map"),
        echo=lambda line: say(line), limits=Limits(**limits), **options,
    )

    async def _use_loop_runner(_app: web.Application) -> None:
        # Triggers fired by listener updates run on this loop, not at exit.
        import asyncio

        def done(name: str, trigger: str, summary: Any) -> None:
            say(describe_run(name, trigger, summary))

        assert obj.triggers is not None
        obj.triggers.runner = LoopRunner(obj.engine(), asyncio.get_running_loop(), on_done=done)

    app.on_startup.append(_use_loop_runner)
    connections.run(app, app[GUARD_KEY], host, port, on_ready=lambda: say(
        f"cctui listen: http://{host}:{port} (POST /records/{{id}}, POST /hooks/jira); ctrl+c stops"))
