"""Record commands: ``seed``, ``import``, ``export``, ``feedback list|add|set``, ``users list``."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from typing import Any

import click
from rich.cells import cell_len, set_cell_size

from cctui.cli.context import Context
from cctui.cli.output import say
from cctui.core.query import compile_query, fields_in
from cctui.core.records import FEEDBACK_FIELDS, USER_FIELDS, coerce_cli_value, normalize_id
from cctui.core.terminal_text import printable
from cctui.errors import InputError

_FORMAT = click.Choice(["csv", "json", "jsonl"])


def register(cli: click.Group) -> None:
    """Add this area's commands to the root group."""
    for command in (seed, import_, export, feedback, users):
        cli.add_command(command)


def _ctx() -> Context:
    return click.get_current_context().find_root().obj


def _filtered(records: list[dict], query: str | None) -> list[dict]:
    """Apply ``--filter``: fields must be core fields or appear somewhere in the data."""
    if not query:
        return records
    ctx = _ctx()
    return compile_query(query, ctx.schema, known_fields=fields_in(records)).filter(records)


def _pairs(pairs: Iterable[str], where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{where}: {pair!r} is not a field=value pair.")
        fields[key.strip()] = coerce_cli_value(value)
    return fields


def _by_type(items: list[dict]) -> str:
    counts: dict[str, int] = {}
    for item in items:
        counts[item["type"]] = counts.get(item["type"], 0) + 1
    return f" ({', '.join(f'{n:,} {name}' for name, n in sorted(counts.items()))})" if counts else ""


def _json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


def _ordered(record: dict, core: tuple[str, ...]) -> dict:
    """Core fields first (always present, ``""`` when missing), then the rest."""
    out = {name: record.get(name, "") for name in core}
    out.update((k, v) for k, v in record.items() if k not in out)
    return out


# -- seed / import / export -----------------------------------------------------------------


@click.command()
@click.option("--count", "-n", type=click.IntRange(0, 10_000_000), default=100, show_default=True,
              help="How many feedback items to add.")
@click.option("--seed", "seed_value", type=int, default=0, show_default=True,
              help="Random seed: the same seed gives the same data.")
def seed(count: int, seed_value: int) -> None:
    """Add COUNT realistic feedback items, their users and the sample macros."""
    from cctui.core.seed import seed_store
    from cctui.macros.samples import sample_macro_dicts

    summary = seed_store(_ctx().store, count, seed_value, macros=sample_macro_dicts())
    kinds = ", ".join(f"{n:,} {name}" for name, n in sorted(summary["by_type"].items()))
    say(
        f"Added {summary['feedback']:,} feedback items ({kinds or 'none'}), "
        f"{summary['users']:,} users and {summary['macros']} sample macros."
    )


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--type", "default_type", help="Feedback type for rows that do not name one.")
def import_(path: str, default_type: str | None) -> None:
    """Import feedback from PATH (.csv with a header row, .json list, or .jsonl).

    All or nothing: any bad row stops the import with its line number, and nothing is
    written.
    """
    from cctui.core.importer import import_file

    ctx = _ctx()
    added = import_file(ctx.store, path, ctx.schema, default_type=default_type)
    say(f"Imported {len(added):,} feedback items{_by_type(added)}.")


@click.command()
@click.argument("what", type=click.Choice(["feedback", "logs"]))
@click.option("--format", "fmt", type=_FORMAT, default="jsonl", show_default=True)
@click.option("--filter", "query",
              help="Filter query on the items or log entries and their fields, e.g. "
                   "'status:new type:bug' or 'status_code:>=400 trigger:schedule'.")
@click.option("--macro", help="Logs only: entries of this macro.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (atomically) instead of stdout.")
def export(what: str, fmt: str, query: str | None, macro: str | None, output: str | None) -> None:
    """Export feedback (optionally filtered) or the delivery log."""
    from cctui.core.exporter import LOG_FIELDS, atomic_output, export_feedback, export_logs
    from cctui.macros.secrets import mask_log_entry

    if what == "feedback" and macro is not None:
        raise click.UsageError("--macro is for `export logs`; to choose feedback items use --filter.")
    store = _ctx().store
    if what == "feedback":
        records = _filtered(store.feedback_all(), query)
        write = lambda out: export_feedback(records, fmt, out)  # noqa: E731
    else:
        entries: Iterable[dict] = store.log_iter(macro=macro)
        if query:
            # The filter language works on log entries too (macro:, status_code:>=400, ok:false);
            # a field that no entry has and the log never writes is an error, as for feedback.
            entries = list(entries)
            known = set(LOG_FIELDS) | fields_in(entries)
            test = compile_query(query, _ctx().schema, known_fields=known)
            entries = [entry for entry in entries if test(entry)]
        masked = (mask_log_entry(entry) for entry in entries)  # again: defence in depth
        write = lambda out: export_logs(masked, fmt, out)  # noqa: E731
    if output:
        with atomic_output(output) as out:
            count = write(out)
        say(f"Exported {count:,} {'items' if what == 'feedback' else 'log entries'} to {output}.", err=True)
    else:
        write(sys.stdout)


# -- feedback ---------------------------------------------------------------------------------


@click.group()
def feedback() -> None:
    """List, add and change feedback items."""


@feedback.command("list")
@click.option("--filter", "query", help="Filter query, e.g. 'status:new severity:high,critical'.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def feedback_list(query: str | None, as_json: bool) -> None:
    """List feedback items (all, or those matching --filter)."""
    everything = _ctx().store.feedback_all()
    records = _filtered(everything, query)
    if as_json:
        write = sys.stdout.write
        for record in records:
            write(_json_line(_ordered(record, FEEDBACK_FIELDS)) + "\n")
        return
    _table(records, len(everything))


def _table(records: list[dict], total: int) -> None:
    width = max(60, shutil.get_terminal_size((120, 24)).columns)
    columns = (("ID", "id", 11), ("TYPE", "type", 15), ("STATUS", "status", 11),
               ("SEVERITY", "severity", 8), ("VOTES", "votes", 5))
    fixed = sum(w + 2 for _, _, w in columns)
    title_width = max(10, width - fixed)

    def row(cells: list[str]) -> str:
        parts = [f"{c[:w]:<{w}}" if name != "VOTES" else f"{c:>{w}}"
                 for c, (name, _, w) in zip(cells, columns, strict=False)]  # the title follows
        return "  ".join(parts) + "  " + _truncate(cells[-1], title_width)

    lines = [row([name for name, _, _ in columns] + ["TITLE"])]
    for record in records:
        # cleaned before the layout, so a removed BEL does not leave a column one short
        cells = [printable(str(record.get(key, "")), lines=False) for _, key, _ in columns]
        lines.append(row(cells + [str(record.get("title", ""))]))
    lines.append(f"{len(records):,} of {total:,}")
    say("\n".join(lines))


def _truncate(text: str, width: int) -> str:
    """One line of at most ``width`` terminal cells (CJK and emoji take two)."""
    text = " ".join(printable(text).split())  # newlines and tabs would break the table
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…"


@feedback.command("add")
@click.option("--type", "type_", required=True, help="Feedback type, e.g. bug, idea, 'Bug Report'.")
@click.option("--title", required=True, help="The title.")
@click.option("--field", "-f", "fields", multiple=True, metavar="K=V",
              help="Another field, e.g. --field severity=high --field jira_key=PRJ-12 (repeatable).")
def feedback_add(type_: str, title: str, fields: tuple[str, ...]) -> None:
    """Create a feedback item (a *submit*) and print its id."""
    ctx = _ctx()
    raw = {**_pairs(fields, "--field"), "type": type_, "title": title}
    # A submit: cctui sets id, created and modified (an import may carry historical dates).
    item = ctx.schema.feedback(raw, where="feedback add", allow_read_only=False)
    added = ctx.store.feedback_add([item], origin="cli")
    say(added[0]["id"])


@feedback.command("set")
@click.argument("record_id", metavar="ID")
@click.argument("pairs", nargs=-1, required=True, metavar="K=V...")
def feedback_set(record_id: str, pairs: tuple[str, ...]) -> None:
    """Change fields of item ID (a *modify*): cctui feedback set BUG-0042 status=closed."""
    ctx = _ctx()
    changes = ctx.schema.feedback_changes(_pairs(pairs, "feedback set"), where="feedback set")
    record_id = normalize_id(record_id)  # bug-42, BUG-42 and BUG-0042 are one item
    updated = ctx.store.feedback_update([record_id], changes, origin="cli")
    say(f"Updated {updated[0]['id'] if updated else record_id}: {', '.join(changes)}.")


# -- users ------------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """List users (testers)."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def users_list(as_json: bool) -> None:
    """List users."""
    everyone = _ctx().store.users_all()
    if as_json:
        for user in everyone:
            sys.stdout.write(_json_line(_ordered(user, USER_FIELDS)) + "\n")
        return
    lines = [f"{'ID':<10}  {'NAME':<24}  {'EMAIL':<32}  {'ROLE':<16}  COMPANY"]
    for user in everyone:
        lines.append(
            f"{user.get('id', ''):<10}  {_truncate(str(user.get('name', '')), 24):<24}  "
            f"{_truncate(str(user.get('email', '')), 32):<32}  {_truncate(str(user.get('role', '')), 16):<16}  "
            f"{printable(str(user.get('company', '')), lines=False)}"
        )
    say("\n".join(lines))
