"""Macro commands: ``macro add|list|show|remove|preview``.

Everything shown here is masked: URLs with credential query parameters, literal
credentials in sensitive headers, resolved ``${NAME}`` values. Only the delivery engine
ever holds the real request.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from cctui.cli.context import Context
from cctui.cli.output import say
from cctui.errors import InputError, NotFound

if TYPE_CHECKING:
    from cctui.macros.model import Macro


def register(cli: click.Group) -> None:
    """Add the ``macro`` command group to the root group."""
    cli.add_command(macro)


def _ctx() -> Context:
    return click.get_current_context().find_root().obj


def _stored(ctx: Context, name: str) -> Macro:
    from cctui.macros import Macro

    stored = ctx.store.macro_get(name)
    if stored is None:
        known = ", ".join(sorted(m["name"] for m in ctx.store.macros_all())) or "none yet"
        raise NotFound(f"macro {name!r} does not exist (known: {known}).")
    return Macro.from_dict(stored, where=f"macro {name}", schema=ctx.schema)


def _known_fields(ctx: Context, target: str) -> frozenset[str]:
    """Field names a tag may use: standard, configured extras, present in the data, and
    written by some macro (return values, on_success)."""
    from cctui.macros.known import known_fields

    return known_fields(ctx.store, target) | ctx.schema.extra_fields


@click.group()
def macro() -> None:
    """Manage webhook macros (TOML or JSON files, or presets)."""


@macro.command("add")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--preset", "kind", help="slack, jira, teams, discord, salesforce or generic.")
@click.option("--name", help="Name of the new macro (with --preset).")
@click.option("--url", help="URL the macro sends to (with --preset); may use ${VAR}.")
@click.option("--feedback-type", help="Limit the preset macro to one feedback type.")
def add(path: str | None, kind: str | None, name: str | None, url: str | None,
        feedback_type: str | None) -> None:
    """Add a macro from PATH, or from --preset with --name and --url (replaces by name)."""
    from cctui.macros import check_tags, load_macro_file, preset
    from cctui.macros.request import check_cost_before_save

    ctx = _ctx()
    if path and kind:
        raise InputError("macro add: give either PATH or --preset, not both.")
    if kind:
        if not name or not url:
            raise InputError("macro add --preset: --name and --url are required.")
        extra = {"feedback_type": feedback_type} if feedback_type else {}
        new = preset(kind, name=name, url=url, **extra)
        if ctx.schema != type(ctx.schema)():  # custom types: validate against them
            new = type(new).from_dict(new.to_dict(), where=f"preset {kind}", schema=ctx.schema)
    elif path:
        if name or url or feedback_type:
            raise InputError("macro add PATH: --name, --url and --feedback-type go with --preset.")
        new = load_macro_file(path, schema=ctx.schema)
    else:
        raise InputError("macro add: give a macro file PATH, or --preset P --name N --url U.")
    check_tags(new, _known_fields(ctx, new.target), where=path or f"preset {kind}")
    check_cost_before_save(new, ctx.store, config=ctx.config, where=path or f"preset {kind}")
    replaced = ctx.store.macro_get(new.name) is not None
    ctx.store.macro_put(new.to_dict())
    say(f"{'Replaced' if replaced else 'Added'} macro {new.name} "
               f"({new.method} {_shown_url(new.url)}).")


def _shown_url(url: str) -> str:
    from cctui.macros import mask_url

    return mask_url(url)


def _summary(stored: dict) -> dict[str, Any]:
    trigger, schedule = stored.get("trigger"), stored.get("schedule")
    return {
        "name": stored["name"],
        "target": stored.get("target", "feedback"),
        "method": stored.get("method", "POST"),
        "url": _shown_url(stored.get("url", "")),
        "format": stored.get("format", "json"),
        "feedback_type": stored.get("feedback_type"),
        "description": stored.get("description", ""),
        "once_per_record": bool(stored.get("once_per_record")),
        "trigger": (trigger or {}).get("on") if trigger else None,
        "schedule": (schedule.get("cron") or schedule.get("every")) if schedule else None,
        "paused": bool(stored.get("paused")),
    }


@macro.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool) -> None:
    """List macros: name, target, method and URL (secrets masked)."""
    rows = [_summary(m) for m in sorted(_ctx().store.macros_all(), key=lambda m: m["name"])]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        say("No macros yet: `cctui macro add FILE` or `cctui macro add --preset slack ...`.")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        flags = " (paused)" if r["paused"] else ""
        say(f"{r['name']:<{width}}  {r['target']:<8}  {r['method']:<6}  {r['url']}{flags}")


def masked_for_display(stored: dict) -> dict:
    """A stored macro as ``macro show`` prints it: references kept, literal secrets masked."""
    from cctui.macros import mask_url, parse_headers
    from cctui.macros.secrets import mask_stored_header, mask_stored_text

    shown = {k: v for k, v in stored.items() if v not in (None, "", {}, [])}
    shown["url"] = mask_url(stored.get("url", ""))
    if stored.get("headers"):
        lines = [f"{n}: {mask_stored_header(n, v)}" for n, v in parse_headers(stored["headers"])]
        shown["headers"] = "\n".join(lines) + "\n"
    if stored.get("signing_secret"):
        shown["signing_secret"] = mask_stored_text(stored["signing_secret"])
    if stored.get("proxy"):
        shown["proxy"] = mask_url(stored["proxy"])  # user:password@ in a proxy URL
    return shown


MASKED_NOTE = (
    "# Values shown as {mask} are secrets hidden by `cctui macro show`: replace each with the\n"
    "# real value or a ${{VAR}} reference before `cctui macro add` (it refuses {mask}).\n"
)


@macro.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print macro NAME as TOML (secrets unresolved, literal credentials masked)."""
    from cctui.macros import MASK
    from cctui.macros.preview import macro_toml

    stored = _stored(_ctx(), name).to_dict()
    shown = masked_for_display(stored)
    masked = any(MASK in str(shown.get(key) or "") for key in ("url", "headers", "signing_secret", "proxy"))
    note = MASKED_NOTE.format(mask=MASK) if masked else ""
    say(note + macro_toml(shown), nl=False)


@macro.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove macro NAME (its delivery log stays)."""
    from cctui.delivery.scheduled import drop_removed

    store = _ctx().store
    if not store.macro_remove(name):
        raise NotFound(f"macro {name!r} does not exist (see `cctui macro list`).")
    dropped = drop_removed(store, name)
    more = f"; dropped its {dropped} scheduled retr{'y' if dropped == 1 else 'ies'}" if dropped else ""
    say(f"Removed macro {name}{more}.")


@macro.command("pause")
@click.argument("name")
@click.option("--reason", default="paused by hand", show_default=True, help="Why, shown in the log and TUI.")
def pause(name: str, reason: str) -> None:
    """Pause macro NAME: it refuses to run (by hand, trigger or schedule) until resumed."""
    from cctui.core.clock import iso

    ctx = _ctx()
    _stored(ctx, name)
    ctx.store.macro_update(name, {"paused": True, "paused_reason": reason, "paused_at": iso()})
    say(f"Paused macro {name}: {reason}.")


@macro.command("resume")
@click.argument("name")
def resume(name: str) -> None:
    """Resume macro NAME after a pause (for example the automatic pause after a 410 Gone)."""
    ctx = _ctx()
    stored = ctx.store.macro_get(name)
    if stored is None:
        raise NotFound(f"macro {name!r} does not exist (see `cctui macro list`).")
    if not stored.get("paused"):
        say(f"Macro {name} is not paused.")
        return
    ctx.store.macro_update(name, {"paused": False, "paused_reason": None, "paused_at": None})
    say(f"Resumed macro {name}.")


@macro.command("preview")
@click.argument("name")
@click.option("--item", "item_id", required=True, help="The record to render for (e.g. BUG-0042).")
@click.option("--json", "as_json", is_flag=True, help='One object {"method","url","headers","body"}.')
def preview(name: str, item_id: str, as_json: bool) -> None:
    """Print the exact request macro NAME would send for --item ID (secrets masked)."""
    from cctui.macros.preview import preview_request

    ctx = _ctx()
    from cctui.core.records import normalize_id

    item_id = normalize_id(item_id)  # bug-42, BUG-42 and BUG-0042 are one item
    shown, warnings = preview_request(_stored(ctx, name), item_id, store=ctx.store, config=ctx.config)
    for warning in warnings:
        say(f"warning: {warning}", err=True)
    from cctui.delivery.network import describe, network_for

    for note in describe(network_for(_stored(ctx, name), ctx.config), shown["url"]):
        say(f"note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False))
        return
    say(f"{shown['method']} {shown['url']}")
    headers = shown["headers"]
    for header, value in (headers.items() if isinstance(headers, dict) else headers):
        say(f"{header}: {value}")
    if shown["body"]:
        say("")
        say(shown["body"], nl=not shown["body"].endswith("\n"))
