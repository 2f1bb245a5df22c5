"""Realistic, deterministic demo data: feedback items and the users who sent them.

The same ``seed`` always gives the same data (for the same clock), so tests, snapshots
and demos can rely on it. The data is made to break naive code: accents, CJK, Arabic and
Hebrew (right-to-left), emoji, quotes and backslashes, multi-line text and a few 10 KB
descriptions. 100,000 items take about a second.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from cctui.core.clock import now
from cctui.core.records import USER_PREFIX, Schema, format_id

_SUBJECTS = (
    "the editor", "search", "the export dialog", "sync", "the dashboard", "login",
    "notifications", "the mobile app", "dark mode", "the settings page", "file upload",
    "the calendar view", "CSV import", "the API", "two-factor auth", "the sidebar",
    "keyboard shortcuts", "the billing page", "offline mode", "the PDF preview",
    "l'éditeur de texte", "die Suchfunktion", "検索バー", "设置页面", "لوحة التحكم",
    "תיבת החיפוש", "el panel de informes",
)
_BUG_PATTERNS = (
    "Crash on save in {s}", "{S} freezes after wake from sleep", "{S} shows a blank screen",
    "Typo in {s}", "{S} is slow with large projects", "Data lost when {s} times out",
    "{S} ignores the \"Don't ask again\" checkbox", "Wrong time zone in {s}",
    "{S} renders emoji as boxes 😕", "Path with backslashes breaks {s}: C:\\Users\\Zoë\\",
    "Memory leak in {s} after several hours of use with many tabs open and sync enabled",
    "{S}: 500 error", "{S} doesn't respect RTL text direction", "Button overlaps text in {s}",
    "Can't paste into {s}", "Double submit in {s} creates duplicates",
)
_IDEA_PATTERNS = (
    "Add keyboard shortcuts to {s}", "Let me export {s} to Excel", "Dark mode for {s} 🌙",
    "Bulk edit in {s}", "Make {s} remember my last choice", "Webhook when {s} changes",
    "Please support SSO for {s}", "Show a progress bar in {s}",
    "Allow custom fields in {s} so teams can track their own \"external\" identifiers",
    "Undo for {s}", "{S}: filter by date range", "Integrate {s} with Jira",
)
_PRAISE_PATTERNS = (
    "Love the new {s}! ❤️", "{S} is so much faster now", "Thank you for fixing {s} 🙏",
    "Great job on {s}", "{S} just works ✨",
)
_DISCUSSION_PATTERNS = (
    "How do you all use {s}?", "Is {s} going to stay free?", "Best practices for {s}",
    "Question about {s}", "Roadmap: what's next for {s}?",
)
_SENTENCES = (
    "It happens every time I open a large project.",
    "This started after the last update (v3.2.1).",
    "My colleague sees the same thing on Windows 11.",
    "Expected: the change is saved. Actual: nothing happens.",
    "Error message: \"Unexpected token '<' in JSON at position 0\".",
    "Path: C:\\Program Files\\App\\config.json",
    "Ça marche parfois, mais pas toujours — très frustrant.",
    "日本語の入力中にカーソルが飛びます。",
    "中文输入法下无法正常保存。",
    "النص العربي يظهر بالاتجاه الخاطئ.",
    "הטקסט בעברית מוצג הפוך.",
    "Works fine in Firefox, broken in Safari 17 🤷",
    "We have about 40 people on the team relying on this.",
    "It would save me ~10 minutes a day 🚀",
    "Tabs\tand  double  spaces\tare kept.",
    "Mentioned in ticket #4521 too.",
)
_STEPS = (
    "Open the app", "Sign in as an admin", "Create a new project", "Open the settings page",
    "Paste 5,000 rows from Excel", "Click \"Save\"", "Wait 30 seconds", "Switch to dark mode",
    "Press Ctrl+S", "Reload the page",
)
_CATEGORIES = (
    "UI", "Performance", "Sync", "Editor", "Search", "Export", "Accounts", "Billing",
    "Mobile", "API", "Notifications", "Localization",
)
_FIRST = (
    "Alice", "Bob", "Chloé", "Dmitri", "Émile", "Fatima", "György", "Hana", "Ibrahim",
    "Jürgen", "Kenji", "Laila", "Mateo", "Nadia", "Olu", "Priya", "Quinn", "Rosa", "Søren",
    "Tomás", "Uma", "Wei", "Yara", "Zoë", "O'Brien", "李", "محمد", "אביגיל",
)
_LAST = (
    "Smith", "García", "Müller", "Nguyen", "Okafor", "Kowalski", "Tanaka", "Haddad",
    "Cohen", "Dubois", "Rossi", "Johansson", "Singh", "O'Connor", "王", "Ben-David",
)
_COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries",
              "Wayne Enterprises", "Société Générale", "株式会社テスト", "Beta Testers Inc.")
_ROLES = ("Tester", "Tester", "Tester", "Power User", "Admin", "Developer", "Product Manager")
_PLATFORMS = ("Windows 11", "macOS 14", "Ubuntu 24.04", "iOS 17", "Android 14", "ChromeOS")

# Mixes by kind of feedback type: (statuses weights in schema order), severities weights.
_STATUS_WEIGHTS = (30, 25, 15, 5, 20, 5)
_SEVERITY_WEIGHTS = (5, 20, 45, 30)
_DAY = 86_400
#: About one item in this many has a ~10 KB description (a pasted log) ...
LONG_EVERY = 150
#: ... and every data set of at least LONG_FROM items has at least LONG_AT_LEAST of them.
LONG_FROM = 50
LONG_AT_LEAST = 3


def generate(
    count: int, seed: int = 0, *, schema: Schema | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` feedback items and about ``count / 20`` users, the same for a given seed.

    Users carry provisional ids (``USR-0001``...) that the items' ``submitter`` refers
    to; :func:`seed_store` maps them to the ids the store assigns. Items have ``created``
    and ``modified`` spread over the ~6 months before :func:`clock.now`.
    """
    schema = schema or Schema()
    rng = random.Random(seed)
    end = int(now().timestamp())
    users = _users(rng, max(1, round(count / 20)) if count else 0, end)
    types = schema.types
    kinds = [_kind(t.name) for t in types]
    type_weights = [{"bug": 50, "idea": 35, "praise": 8, "discussion": 7}.get(k, 10) for k in kinds]
    statuses = list(schema.statuses)
    status_weights = _fit(_STATUS_WEIGHTS, len(statuses))
    severities = list(schema.severities)
    severity_weights = _fit(_SEVERITY_WEIGHTS, len(severities))
    type_indexes = rng.choices(range(len(types)), type_weights, k=count)
    status_picks = rng.choices(statuses, status_weights, k=count)
    severity_picks = rng.choices(severities, severity_weights, k=count)
    user_ids = [u["id"] for u in users] or [""]
    span = 180 * _DAY
    long_at = _long_positions(count, seed)
    items: list[dict[str, Any]] = []
    for n in range(count):
        kind = kinds[type_indexes[n]]
        subject = rng.choice(_SUBJECTS)
        created = end - int(span * rng.random() ** 0.7) - 3_600
        modified = min(end, created + int(rng.expovariate(1 / (5 * _DAY))))
        item: dict[str, Any] = {
            "type": types[type_indexes[n]].name,
            "title": _title(rng, kind, subject),
            "description": _description(rng, long=n in long_at),
            "steps": _steps(rng) if kind == "bug" else "",
            "status": status_picks[n],
            "severity": severity_picks[n],
            "category": rng.choice(_CATEGORIES),
            # A few items come from outside the beta (an email, not a user id).
            "submitter": rng.choice(user_ids) if n % 50 else f"guest{n}@example.org",
            "votes": int(rng.paretovariate(1.3)) - 1 if kind != "praise" else rng.randrange(3),
            "created": _iso(created),
            "modified": _iso(modified),
        }
        if kind == "bug":
            item["platform"] = rng.choice(_PLATFORMS)
        items.append(item)
    return items, users


class SeedTarget(Protocol):
    """The store calls seeding makes (:class:`cctui.store.Store`; core does not import it)."""

    schema: Schema

    def batch(self) -> AbstractContextManager[Any]: ...

    def users_add(self, items: list[dict], *, origin: str = ...) -> list[dict]: ...

    def feedback_add(self, items: list[dict], *, origin: str = ...) -> list[dict]: ...

    def macro_put(self, macro: dict) -> None: ...


def seed_store(store: SeedTarget, count: int, seed: int = 0, *,
               macros: Iterable[Mapping[str, Any]] = ()) -> dict:
    """Add generated users, then items (one write each), then ``macros`` (macro dicts, e.g.
    :func:`cctui.macros.samples.sample_macro_dicts`), all in one batch.

    Returns a summary: ``{"feedback": n, "users": n, "macros": n, "by_type": {...}}``.
    """
    items, users = generate(count, seed, schema=store.schema)
    with store.batch():  # all or nothing: a seed interrupted half-way leaves no orphans
        added_users = store.users_add([{k: v for k, v in u.items() if k != "id"} for u in users])
        real_ids = {u["id"]: added["id"] for u, added in zip(users, added_users, strict=True)}
        for item in items:
            item["submitter"] = real_ids.get(item["submitter"], item["submitter"])
        added = store.feedback_add(items, origin="seed") if items else []
        stored = [dict(macro) for macro in macros]
        for macro in stored:
            store.macro_put(macro)
    by_type: dict[str, int] = {}
    for item in added:
        by_type[item["type"]] = by_type.get(item["type"], 0) + 1
    return {"feedback": len(added), "users": len(added_users), "macros": len(stored), "by_type": by_type}


# -- the pieces ---------------------------------------------------------------------------


def _kind(type_name: str) -> str:
    name = type_name.lower()
    for kind, words in (("bug", ("bug", "issue", "defect")), ("idea", ("feature", "idea", "request")),
                        ("praise", ("praise", "kudos")), ("discussion", ("discussion", "question"))):
        if any(word in name for word in words):
            return kind
    return "idea"


def _long_positions(count: int, seed: int) -> frozenset[int]:
    """Which items get a ~10 KB description: about 1 in LONG_EVERY, at least LONG_AT_LEAST
    once there are LONG_FROM items, at places that depend on the seed.

    A generator of its own picks them, so the rest of the data (titles, types, dates,
    votes...) is the same as without long descriptions.
    """
    if count < LONG_FROM:
        return frozenset()
    wanted = max(LONG_AT_LEAST, round(count / LONG_EVERY))
    return frozenset(random.Random(f"cctui-seed-long-{seed}").sample(range(count), wanted))


def _fit(weights: tuple[int, ...], length: int) -> list[int]:
    return [weights[i] if i < len(weights) else 5 for i in range(length)]


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _title(rng: random.Random, kind: str, subject: str) -> str:
    patterns = {"bug": _BUG_PATTERNS, "idea": _IDEA_PATTERNS, "praise": _PRAISE_PATTERNS,
                "discussion": _DISCUSSION_PATTERNS}[kind]
    return rng.choice(patterns).format(s=subject, S=subject[:1].upper() + subject[1:])


def _description(rng: random.Random, *, long: bool) -> str:
    lines = rng.sample(_SENTENCES, rng.randint(1, 4))
    text = "\n".join(lines) if rng.random() < 0.6 else " ".join(lines)
    if long:
        # A pasted log: ~10 KB, the kind that breaks table rendering and previews.
        line = "2026-10-03T12:00:00Z ERROR sync: retrying \"upload\" (attempt 3) ✗ C:\\tmp\\x\n"
        text += "\n\n" + line * (10_240 // len(line) + 1)
    return text


def _steps(rng: random.Random) -> str:
    steps = rng.sample(_STEPS, rng.randint(2, 5))
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))


def _users(rng: random.Random, count: int, end: int) -> list[dict[str, Any]]:
    users = []
    for n in range(1, count + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = rng.choice(_COMPANIES)
        local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch == "."))
        users.append({
            "id": format_id(USER_PREFIX, n),
            "name": f"{first} {last}",
            "email": f"{local.strip('.') or 'user'}{n}@example.com",
            "role": rng.choice(_ROLES),
            "company": company,
            "joined": _iso(end - 200 * _DAY - rng.randrange(365 * _DAY)),
        })
    return users
