"""The inbound listener: external systems update feedback over HTTP (``cctui listen``).

Every request needs ``Authorization: Bearer <token>`` (compared in constant time), is
rate limited per client address (429), limited in size (413) and must send its body within
the body timeout (408); header timeouts and the connection cap are
:mod:`cctui.automation.connections`'. Routes:

* ``POST /records/{id}``: a JSON object of fields to set; 200 with the updated record.
  A field is *known* when it is a standard feedback field, already on the record, a
  configured extra field, or a field some macro writes (``return_values`` /
  ``on_success``); anything else is 400, as are ``id``/``created``/``modified``.
* ``POST /hooks/jira``: Jira's issue webhook; the records whose ``jira_key`` equals
  ``issue.key`` get the record status that ``issue.fields.status.name`` maps to.

Updates go through the store as *modify* with ``origin="listener"``, so triggers fire.
Store calls run on the store's writer thread (``store.submit``, group commit) so the
event loop never blocks on disk. Every inbound event is printed and kept
in the store (the newest ``INBOUND_KEEP``; read them with :func:`inbound_events`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cctui.automation.connections import ConnectionGuard, Limits
from cctui.core.clock import iso
from cctui.core.importer import json_limit_reason
from cctui.core.records import (
    FEEDBACK_FIELDS,
    READ_ONLY_FEEDBACK,
    RECORD_ID,
    Schema,
    normalize_id,
    shown_value,
)
from cctui.errors import CctuiError, InputError, NotFound

if TYPE_CHECKING:
    from cctui.store import Store

DEFAULT_JIRA_STATUS_MAP = {
    "To Do": "Triaged",
    "In Progress": "In Progress",
    "Done": "Closed",
    "Won't Do": "Won't Fix",
}
DEFAULT_MAX_BODY = 256 * 1024
#: Requests per second per client address, and the burst allowed above it.
DEFAULT_RATE_LIMIT = 20.0
INBOUND_KEY = "listener:inbound"
#: The inbound log is a ring of this many small state entries (one small write per event).
INBOUND_KEEP = 500

STORE_KEY: web.AppKey = web.AppKey("store", object)
#: The app's :class:`ConnectionGuard` (serve it with :mod:`cctui.automation.connections`).
GUARD_KEY: web.AppKey = web.AppKey("guard", ConnectionGuard)
#: What a handler tells the inbound log about a request.
RECORDS_KEY: web.RequestKey = web.RequestKey("cctui_records", list)
NOTE_KEY: web.RequestKey = web.RequestKey("cctui_note", str)


class _RateLimiter:
    """A token bucket per client address: ``rate`` per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate * 2)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        if self.rate <= 0:
            return True
        stamp = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, stamp))
        tokens = min(self.burst, tokens + (stamp - last) * self.rate)
        allowed = tokens >= 1
        self._buckets[client] = (tokens - 1 if allowed else tokens, stamp)
        if len(self._buckets) > 10_000:  # forget idle clients so memory stays bounded
            self._buckets = {k: v for k, v in self._buckets.items() if stamp - v[1] < 60}
        return allowed


def append_inbound(store: Store, event: dict) -> None:
    """Keep ``event`` in the store's inbound ring (call inside a store transaction)."""
    number = int(store.state_get(f"{INBOUND_KEY}:next") or 0)
    store.state_set(f"{INBOUND_KEY}:{number % INBOUND_KEEP}", {**event, "n": number})
    store.state_set(f"{INBOUND_KEY}:next", number + 1)


def inbound_events(store: Store) -> list[dict]:
    """The kept inbound events, oldest first (for screens and tests)."""
    number = int(store.state_get(f"{INBOUND_KEY}:next") or 0)
    first = max(0, number - INBOUND_KEEP)
    events = (store.state_get(f"{INBOUND_KEY}:{n % INBOUND_KEEP}") for n in range(first, number))
    return [e for e in events if e]


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


class _SlowBody(InputError):
    """The body did not arrive within the body timeout."""


def _slow(exc: _SlowBody) -> web.Response:
    response = _error(408, str(exc))
    response.force_close()  # the rest of a slow body is not waited for
    return response


def jira_status_table(mapping: Mapping[str, str] | None, schema: Schema) -> dict[str, str]:
    """The Jira-status -> record-status table (keys lowercased), validated against schema."""
    table = dict(DEFAULT_JIRA_STATUS_MAP if mapping is None else mapping)
    return {
        str(jira).strip().lower(): schema.status(
            status, where=f"config [listener.jira_status_map] {jira!r}"
        )
        for jira, status in table.items()
    }


class Listener:
    """The request handlers; one per app, holding the store, schema and limits."""

    def __init__(self, store: Store, token: str, *, schema: Schema, jira_status_map: dict[str, str],
                 rate_limit: float, max_body: int, echo: Callable[[str], None] | None,
                 guard: ConnectionGuard) -> None:
        self.store = store
        self.guard = guard
        self.max_body = max_body
        self.token = token.encode()
        self.schema = schema
        self.jira_status_map = jira_status_map
        self.limiter = _RateLimiter(rate_limit)
        self.echo = echo
        # one worker: the store is not asked to handle concurrent writes from us
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cctui-listener")

    async def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run a store call off the loop: on the store's group-commit writer thread."""
        submit = getattr(self.store, "submit", None)
        if submit is not None:
            return await asyncio.wrap_future(submit(fn, *args, **kwargs))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    # -- middleware ------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        self.guard.request_started(request.transport)  # headers are in: stop their timer
        try:
            return await self._handle(request, handler)
        finally:
            self.guard.request_finished(request.transport)

    async def _handle(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        client = request.remote or "?"
        if not self.limiter.allow(client):
            response = _error(429, "too many requests; slow down.", **{"Retry-After": "1"})
        elif not self._authorised(request.headers.get("Authorization", "")):
            response = _error(401, "missing or wrong bearer token.",
                              **{"WWW-Authenticate": 'Bearer realm="cctui"'})
        else:
            try:
                response = await handler(request)
            except web.HTTPRequestEntityTooLarge:
                response = _error(413, f"request body is larger than {self.max_body} bytes.")
            except web.HTTPException as exc:
                response = _error(exc.status, exc.reason)
        await self._record(request, response)
        return response

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        # compare_digest runs in constant time, whatever the header holds
        supplied = value.strip().encode() if scheme.lower() == "bearer" else b""
        return hmac.compare_digest(supplied, self.token) and bool(supplied)

    async def _record(self, request: web.Request, response: web.StreamResponse) -> None:
        event = {
            "at": iso(), "method": request.method, "path": request.path,
            "client": request.remote, "status": response.status,
            "records": request.get(RECORDS_KEY, []),
            "note": request.get(NOTE_KEY, ""),
        }
        if self.echo is not None:
            ids = ",".join(event["records"]) or "-"
            self.echo(f"{event['at']} {event['client']} {event['method']} {event['path']} "
                      f"-> {event['status']} {ids} {event['note']}".rstrip())
        if response.status == 429:
            return  # a flood is printed, not written: it must not become disk traffic
        try:
            await self.call(append_inbound, self.store, event)
        except CctuiError:
            pass  # a busy store must not turn an answered request into an error
        except OSError as exc:  # e.g. out of file descriptors under a flood: say so, quietly
            self.guard.report(f"inbound-{exc.errno}", f"cctui listen: cannot keep the inbound log "
                              f"({exc.strerror or exc}); requests are still answered.")

    # -- routes ----------------------------------------------------------------------
    async def _json_object(self, request: web.Request) -> dict:
        if request.content_length is not None and request.content_length > self.max_body:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.max_body, actual_size=request.content_length)
        try:
            raw = await asyncio.wait_for(request.read(), self.guard.limits.body_timeout)
        except TimeoutError:
            raise _SlowBody(f"the request body did not arrive within "
                            f"{self.guard.limits.body_timeout:g} s.") from None
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            raise InputError("the request body is not valid JSON.") from None
        except UnicodeDecodeError:
            raise InputError("the request body is not valid JSON (not UTF-8).") from None
        except (ValueError, RecursionError) as exc:
            raise InputError(f"the request body is not valid JSON ({json_limit_reason(exc)}).") from None
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object of fields to set.")
        return body

    def _known_fields(self, record: Mapping[str, Any]) -> set[str]:
        known = set(FEEDBACK_FIELDS) | set(record) | set(self.schema.extra_fields)
        for macro in self.store.macros_all():
            known |= set((macro.get("return_values") or {}).keys())
            known |= set((macro.get("on_success") or {}).keys())
        return known

    def _update_record(self, record_id: str, body: dict) -> dict:
        record = self.store.feedback_get(record_id)
        if record is None:
            raise NotFound(f"no feedback item {record_id}.")
        if not body:
            raise InputError("the request body sets no fields.")
        known = self._known_fields(record)
        for key in body:
            name = str(key).strip().lower()
            if name in READ_ONLY_FEEDBACK:
                raise InputError(f"field {key!r} is read-only.")
            if name not in known:
                raise InputError(f"field {key!r} is not a field of {record_id}.")
        fields = self.schema.feedback_changes(body, where=f"POST /records/{record_id}")
        return self.store.feedback_update([record_id], fields, origin="listener")[0]

    async def post_record(self, request: web.Request) -> web.Response:
        record_id = normalize_id(request.match_info["id"])  # /records/bug-2 is BUG-0002
        if not RECORD_ID.match(record_id):
            return _error(400, f"{shown_value(request.match_info['id'])} is not a record id "
                               "(expected e.g. BUG-0042).")
        try:
            body = await self._json_object(request)
            record = await self.call(self._update_record, record_id, body)
        except _SlowBody as exc:
            return _slow(exc)
        except NotFound as exc:
            return _error(404, str(exc))
        except CctuiError as exc:
            return _error(400, str(exc))
        request[RECORDS_KEY] = [record_id]
        request[NOTE_KEY] = "set " + ",".join(sorted(str(k) for k in body))
        return web.json_response(record)

    def _apply_jira(self, key: str, status: str) -> list[str]:
        targets = [r for r in self.store.feedback_all() if str(r.get("jira_key") or "") == key]
        ids = [str(r["id"]) for r in targets if r.get("status") != status]
        if ids:  # records already in that status are left alone: no empty modify event
            self.store.feedback_update(ids, {"status": status}, origin="listener")
        return [str(r["id"]) for r in targets]

    async def post_jira(self, request: web.Request) -> web.Response:
        try:
            body = await self._json_object(request)
        except _SlowBody as exc:
            return _slow(exc)
        except CctuiError as exc:
            return _error(400, str(exc))
        issue = _object(body.get("issue"))
        key = str(issue.get("key") or "").strip()
        fields = _object(issue.get("fields"))
        jira_status = _object(fields.get("status"))
        status_name = str(jira_status.get("name") or "").strip()
        if not key or not status_name:
            return _error(400, "a Jira payload needs issue.key and issue.fields.status.name.")
        status = self.jira_status_map.get(status_name.lower())
        if status is None:
            request[NOTE_KEY] = f"jira {key} status {status_name!r} is not mapped; ignored"
            return web.json_response({"issue": key, "jira_status": status_name, "updated": []})
        ids = await self.call(self._apply_jira, key, status)
        request[RECORDS_KEY] = ids
        request[NOTE_KEY] = f"jira {key} {status_name!r} -> {status!r}"
        return web.json_response(
            {"issue": key, "jira_status": status_name, "status": status, "updated": ids}
        )


def make_listener_app(
    store: Store,
    token: str,
    *,
    schema: Schema | None = None,
    jira_status_map: Mapping[str, str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    rate_limit: float = DEFAULT_RATE_LIMIT,
    echo: Callable[[str], None] | None = None,
    limits: Limits | None = None,
    guard: ConnectionGuard | None = None,
) -> web.Application:
    """The aiohttp app for ``cctui listen``; raises InputError for an empty token or map."""
    if not token:
        raise InputError("CCTUI_LISTEN_TOKEN is empty: the listener refuses to start without a token.")
    schema = schema or getattr(store, "schema", None) or Schema()
    guard = guard or ConnectionGuard(limits or Limits())
    listener = Listener(
        store, token, schema=schema, jira_status_map=jira_status_table(jira_status_map, schema),
        rate_limit=rate_limit, max_body=max_body, echo=echo, guard=guard,
    )
    app = web.Application(middlewares=[listener.middleware], client_max_size=max_body)
    app[STORE_KEY] = store
    app[GUARD_KEY] = guard
    app.router.add_post("/records/{id}", listener.post_record)
    app.router.add_post("/hooks/jira", listener.post_jira)

    async def _close(_app: web.Application) -> None:
        listener.executor.shutdown(wait=True)

    app.on_cleanup.append(_close)
    return app


def _object(value: Any) -> dict:
    """``value`` if it is a JSON object, else an empty one (Jira payload parts may be absent)."""
    return value if isinstance(value, dict) else {}
