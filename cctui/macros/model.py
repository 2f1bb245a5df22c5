"""The Macro: one named webhook, validated key by key.

A macro file (TOML or JSON, the same keys; see the contract) becomes a :class:`Macro`
through :meth:`Macro.from_dict`, which raises :class:`~cctui.errors.MacroError` naming the
file and key (and the line, for headers and the body). :meth:`Macro.to_dict` is what the
store keeps: secrets stay as ``${NAME}`` references.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cctui.core.clock import parse_iso
from cctui.core.query import compile_query
from cctui.core.records import FIELD_NAME, READ_ONLY_FEEDBACK, Schema
from cctui.errors import CctuiError, InputError, MacroError, TemplateError
from cctui.macros.secrets import HEADER_VALUE_OK, MASK, SECRET_REF, mask_url, split_url
from cctui.macros.templating import FORMATS, CompiledBody, compile_body, compile_header, has_tags
from cctui.macros.url_template import check_url_template

NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TARGETS = ("feedback", "users")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TRIGGER_EVENTS = ("submit", "modify")
EVERY = ("hourly", "daily", "weekly", "monthly")
#: RFC 9110 token characters: what a header name may be made of.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: Headers a macro may not set: they frame the request on the wire (cctui sets Host and
#: Content-Length from the URL and body), so a second copy would let a receiver or a proxy
#: read the request differently from what cctui logged (two Host or Content-Length headers
#: are answered with 400 at best).
FRAMING_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer",
    "keep-alive",
})
#: The Standard Webhooks headers cctui writes on every request (the delivery id, the time,
#: the signature): a macro's own copy would go out beside them, two webhook-ids.
WEBHOOK_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})
#: Keys the delivery engine keeps on a stored macro (accepted, but not part of the file
#: format, so never offered in error messages).
INTERNAL_KEYS = frozenset({"paused", "paused_reason", "paused_at"})
#: The macro file's keys.
FILE_KEYS = frozenset({
    "name", "description", "target", "feedback_type", "method", "url", "headers", "format",
    "body", "once_per_record", "timeout", "concurrency", "rate_limit", "signing_secret",
    "return_values", "on_success", "trigger", "schedule", "proxy", "ca_bundle", "verify",
})
KEYS = FILE_KEYS | INTERNAL_KEYS


def _masked_value_error(where: str, what: str) -> MacroError:
    """A value still holding the ``••••`` that ``macro show`` prints in place of a secret."""
    return MacroError(
        f"{where}: {what} still holds the mask {MASK} that `cctui macro show` prints in place "
        "of a secret; put the real value or a ${VAR} reference back before adding the macro."
    )


def parse_headers(text: str, *, where: str = "macro") -> list[tuple[str, str]]:
    """``Name: value`` lines as pairs, in order (duplicates kept: HTTP allows them)."""
    headers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon:
            raise MacroError(
                f"{where}: headers line {number} ({line.strip()[:40]!r}) has no colon; "
                "write one 'Name: value' per line."
            )
        if not HEADER_NAME.match(name):
            raise MacroError(
                f"{where}: headers line {number}: {name!r} is not a valid header name "
                "(letters, digits and !#$%&'*+-.^_`|~ only)."
            )
        low = name.lower()
        if low in FRAMING_HEADERS or low in WEBHOOK_HEADERS or low.startswith("proxy-"):
            raise MacroError(
                f"{where}: headers line {number}: a macro may not set the header {name!r} "
                f"({_framing_reason(low)})."
            )
        value = value.strip()
        if MASK in value:
            raise _masked_value_error(where, f"headers line {number} ({name})")
        if not HEADER_VALUE_OK.match(value):
            bad = next(c for c in value if not HEADER_VALUE_OK.match(c))
            if bad.isprintable():
                raise MacroError(
                    f"{where}: headers line {number} ({name}): the value has the non-ASCII "
                    f"character {bad!r}, which an HTTP header cannot carry (header values "
                    "must be printable ASCII; put such text in the body)."
                )
            raise MacroError(f"{where}: headers line {number} ({name}): the value has a control character.")
        headers.append((name, value))
    return headers


def _framing_reason(low: str) -> str:
    if low == "host":
        return "cctui sets Host from the url"
    if low == "content-length":
        return "cctui sets Content-Length from the body"
    if low.startswith("proxy-"):
        return "proxy headers are for the proxy, set with the 'proxy' key"
    if low in WEBHOOK_HEADERS:
        return ("cctui sets the Standard Webhooks headers webhook-id, webhook-timestamp and "
                "webhook-signature on every request; use signing_secret to sign")
    return "cctui manages the connection and sends the body whole"


def _headers_text(raw: Any, where: str) -> str:
    """Headers as the text block, also accepting a JSON object or list of lines."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping):
        return "\n".join(f"{k}: {v}" for k, v in raw.items())
    if isinstance(raw, list) and all(isinstance(line, str) for line in raw):
        return "\n".join(raw)
    raise MacroError(f"{where}: key 'headers' must be text with one 'Name: value' per line.")


def _url(value: Any, where: str) -> str:
    url = str(value or "").strip()
    if not url:
        raise MacroError(f"{where}: key 'url' is missing.")
    # A URL that starts with ${VAR} is checked once the variable is known (at render time).
    if MASK in url:
        raise _masked_value_error(where, "key 'url'")
    if not url.startswith("${") and not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise MacroError(f"{where}: key 'url' must be an http:// or https:// URL, got {url[:80]!r}.")
    if has_tags(url):
        # Rendered per record, in the path and query only (see url_template's rules).
        check_url_template(url, where)
    elif any(c.isspace() for c in url):
        raise MacroError(f"{where}: key 'url' contains whitespace.")
    if split_url(url) is None:
        raise MacroError(f"{where}: key 'url' is not a valid URL (an unclosed '[' or a bad user-info), "
                         f"got {mask_url(url)[:80]!r}.")
    return url


def user_info_conflict(where: str) -> MacroError:
    """The one sentence for a URL with user-info plus an explicit Authorization header
    (refused rather than guessing which credential the receiver expects)."""
    return MacroError(f"{where}: the url has user-info (user:password@) and the headers have an "
                      "Authorization header; keep one of them (both would be two credentials).")


def _proxy(value: Any, where: str) -> str | None:
    """An http:// or https:// proxy URL with a host (the transport speaks to no other)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MacroError(f"{where}: key 'proxy' must be a URL such as \"http://proxy.example:3128\".")
    proxy = value.strip()
    if MASK in proxy:
        raise _masked_value_error(where, "key 'proxy'")
    try:
        parts = urlsplit(proxy)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and not any(
            c.isspace() for c in proxy)
    except ValueError:
        ok = False
    if not ok:
        raise MacroError(f"{where}: key 'proxy' must be an http:// or https:// URL with a host, such as "
                         f"\"http://proxy.example:3128\", got {mask_url(proxy)[:80]!r}.")
    return proxy


def _ca_bundle(value: Any, where: str) -> str | None:
    """A PEM file of CA certificates that exists (checked now, so a typo is caught at add)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MacroError(f"{where}: key 'ca_bundle' must be the path of a .pem file.")
    path = Path(value).expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise MacroError(f"{where}: key 'ca_bundle': {value} {what} (give a .pem file of CA certificates).")
    return value


def _number(d: Mapping[str, Any], key: str, default: Any, where: str, *, kind: type = float,
            low: float = 0, high: float | None = None) -> Any:
    value = d.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
        kind is int and not float(value).is_integer()
    ):
        raise MacroError(f"{where}: key {key!r} must be a {'whole ' if kind is int else ''}number, got {value!r}.")
    if value <= low or (high is not None and value > high):
        limit = f" and at most {high:g}" if high is not None else ""
        raise MacroError(f"{where}: key {key!r} must be more than {low:g}{limit}, got {value!r}.")
    return kind(value)


def _filter(value: Any, where: str, schema: Schema) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        compile_query(text, schema)
    except CctuiError as exc:
        raise MacroError(f"{where}: {exc}") from None
    return text


def _trigger(raw: Any, where: str, schema: Schema) -> dict[str, Any] | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise MacroError(f"{where}: [trigger] must be a table with 'on' and optional 'filter'.")
    unknown = set(raw) - {"on", "filter"}
    if unknown:
        raise MacroError(f"{where}: [trigger] has an unknown key {sorted(unknown)[0]!r} (known: on, filter).")
    events = raw.get("on", list(TRIGGER_EVENTS))
    events = [events] if isinstance(events, str) else list(events)
    if not events or any(e not in TRIGGER_EVENTS for e in events):
        raise MacroError(f"{where}: [trigger] key 'on' must list submit and/or modify, got {events!r}.")
    return {"on": events, "filter": _filter(raw.get("filter"), f"{where}: [trigger] key 'filter'", schema)}


def _schedule(raw: Any, where: str, schema: Schema) -> dict[str, Any] | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise MacroError(f"{where}: [schedule] must be a table with 'cron' or 'every'.")
    unknown = set(raw) - {"cron", "every", "filter", "start", "end"}
    if unknown:
        raise MacroError(f"{where}: [schedule] has an unknown key {sorted(unknown)[0]!r}.")
    cron, every = raw.get("cron"), raw.get("every")
    if bool(cron) == bool(every):
        raise MacroError(f"{where}: [schedule] needs exactly one of 'cron' and 'every'.")
    out: dict[str, Any] = {}
    if cron:
        from croniter import croniter

        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise MacroError(f"{where}: [schedule] key 'cron': {cron!r} is not a cron expression.")
        out["cron"] = cron
    else:
        if every not in EVERY:
            raise MacroError(f"{where}: [schedule] key 'every' must be one of {', '.join(EVERY)}, got {every!r}.")
        out["every"] = every
    out["filter"] = _filter(raw.get("filter"), f"{where}: [schedule] key 'filter'", schema)
    for key in ("start", "end"):
        if raw.get(key):
            try:
                parse_iso(str(raw[key]), where=f"{where}: [schedule] key {key!r}")
            except InputError as exc:
                raise MacroError(str(exc)) from None
            out[key] = str(raw[key])
    if out.get("start") and out.get("end") and parse_iso(out["start"]) > parse_iso(out["end"]):
        raise MacroError(f"{where}: [schedule] 'start' is after 'end'.")
    return out


def _field_map(raw: Any, key: str, where: str) -> dict[str, str]:
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise MacroError(f"{where}: [{key}] must be a table of field = value.")
    out = {}
    for name, value in raw.items():
        if not FIELD_NAME.match(str(name)):
            raise MacroError(f"{where}: [{key}] {name!r} is not a valid field name.")
        if key == "return_values":
            if name in READ_ONLY_FEEDBACK:
                raise MacroError(f"{where}: [return_values] field {name!r} is read-only.")
            if not isinstance(value, str) or not value.strip():
                raise MacroError(f"{where}: [return_values] {name!r} must be a JSON path like \"key\" or \"data.id\".")
        out[str(name)] = value
    return out


@dataclass(frozen=True)
class Macro:
    """A named webhook: request template, options, and what to do with the answer."""

    name: str
    url: str
    target: str = "feedback"
    feedback_type: str | None = None
    method: str = "POST"
    headers: str = ""
    format: str = "json"
    body: str = ""
    once_per_record: bool = False
    timeout: float = 15.0
    concurrency: int = 8
    rate_limit: float | None = None
    signing_secret: str | None = None
    return_values: dict[str, str] = field(default_factory=dict)
    on_success: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    description: str = ""
    proxy: str | None = None  # overrides [delivery] proxy and the *_PROXY variables
    ca_bundle: str | None = None  # a PEM file of CAs trusted on top of the system's
    verify: bool = True  # False: TLS certificates are not checked (previews warn)
    paused: bool = False  # set by the delivery engine after a 410 Gone
    paused_reason: str | None = None
    paused_at: str | None = None  # when the engine paused it (ISO 8601)

    @property
    def header_list(self) -> list[tuple[str, str]]:
        """The headers as (name, value) pairs, secrets unresolved."""
        return parse_headers(self.headers, where=f"macro {self.name}")

    @property
    def field_names(self) -> frozenset[str]:
        """Fields this macro writes (return values, on_success): tags that may be unset."""
        return frozenset(self.return_values) | frozenset(self.on_success)

    def compiled(self) -> CompiledBody:
        """The compiled body template (cached across macros with the same body)."""
        return compile_body(self.body, self.format)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "macro",
                  schema: Schema | None = None) -> Macro:
        """Validate a macro file's keys; :class:`MacroError` names ``where`` and the key."""
        if not isinstance(d, Mapping):
            raise MacroError(f"{where}: a macro must be a table (TOML) or an object (JSON).")
        schema = schema or Schema()
        unknown = sorted(set(d) - KEYS)
        if unknown:
            raise MacroError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(FILE_KEYS))}).")
        name = str(d.get("name") or "").strip()
        if not NAME.match(name):
            raise MacroError(
                f"{where}: key 'name' must be lowercase letters, digits and '-' "
                f"(at most 64), got {name!r}."
            )
        where = f"macro {name}" if where == "macro" else where
        target = d.get("target", "feedback")
        if target not in TARGETS:
            raise MacroError(f"{where}: key 'target' must be feedback or users, got {target!r}.")
        ftype = d.get("feedback_type") or None
        if ftype is not None:
            if target != "feedback":
                raise MacroError(f"{where}: key 'feedback_type' only applies to target = \"feedback\".")
            try:
                ftype = schema.type_named(str(ftype), where=f"{where}: key 'feedback_type'").name
            except InputError as exc:
                raise MacroError(str(exc)) from None
        method = str(d.get("method", "POST")).strip().upper()
        if method not in METHODS:
            raise MacroError(f"{where}: key 'method': unknown method {d.get('method')!r} (known: {', '.join(METHODS)}).")
        fmt = str(d.get("format", "json")).strip().lower()
        if fmt not in FORMATS:
            raise MacroError(f"{where}: key 'format' must be one of {', '.join(FORMATS)}, got {d.get('format')!r}.")
        headers = _headers_text(d.get("headers"), where)
        for number, (header, value) in enumerate(parse_headers(headers, where=where), start=1):
            if has_tags(value):  # X-Source: cctui-((id)) renders per record
                try:
                    compile_header(SECRET_REF.sub("", value))
                except TemplateError as exc:
                    reason = re.sub(r"^body( line \d+)?( column \d+)?: ", "", str(exc))
                    raise TemplateError(f"{where}: headers line {number} ({header}): {reason}") from None
        body = d.get("body") or ""
        if not isinstance(body, str):
            # A JSON macro file may give the body as an object: keep it as its JSON text.
            body = json.dumps(body, ensure_ascii=False, indent=2)
        try:
            compile_body(body, fmt)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from None
        on_success = _field_map(d.get("on_success"), "on_success", where)
        if on_success and target == "feedback":
            try:
                on_success = schema.feedback_changes(on_success, where=f"{where}: [on_success]")
            except InputError as exc:
                raise MacroError(str(exc)) from None
        signing = d.get("signing_secret") or None
        if signing is not None and not isinstance(signing, str):
            raise MacroError(f"{where}: key 'signing_secret' must be text such as \"${{HOOK_SECRET}}\".")
        if signing is not None and MASK in signing:
            raise _masked_value_error(where, "key 'signing_secret'")
        for flag in ("once_per_record", "paused", "verify"):
            if not isinstance(d.get(flag, False), bool):
                raise MacroError(f"{where}: key {flag!r} must be true or false.")
        url = _url(d.get("url"), where)
        if "@" in (split_url(url) or urlsplit("")).netloc and any(
                header.strip().lower() == "authorization" for header, _ in parse_headers(headers, where=where)):
            raise user_info_conflict(where)
        return cls(
            name=name,
            url=url,
            target=target,
            feedback_type=ftype,
            method=method,
            headers=headers.strip("\n"),
            format=fmt,
            body=body,
            once_per_record=d.get("once_per_record", False),
            timeout=_number(d, "timeout", 15, where, high=600),
            concurrency=_number(d, "concurrency", 8, where, kind=int, high=256),
            rate_limit=_number(d, "rate_limit", None, where),
            signing_secret=signing,
            return_values=_field_map(d.get("return_values"), "return_values", where),
            on_success=on_success,
            trigger=_trigger(d.get("trigger"), where, schema),
            schedule=_schedule(d.get("schedule"), where, schema),
            description=str(d.get("description") or ""),
            proxy=_proxy(d.get("proxy"), where),
            ca_bundle=_ca_bundle(d.get("ca_bundle"), where),
            verify=d.get("verify", True),
            paused=d.get("paused", False),
            paused_reason=d.get("paused_reason") or None,
            paused_at=d.get("paused_at") or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """TOML/JSON-friendly keys (no None values); secrets stay as ``${NAME}``."""
        out: dict[str, Any] = {
            "name": self.name, "target": self.target, "method": self.method, "url": self.url,
            "headers": self.headers, "format": self.format, "body": self.body,
            "once_per_record": self.once_per_record, "timeout": self.timeout,
            "concurrency": self.concurrency,
        }
        optional = {
            "description": self.description, "feedback_type": self.feedback_type,
            "rate_limit": self.rate_limit, "signing_secret": self.signing_secret,
            "return_values": dict(self.return_values), "on_success": dict(self.on_success),
            "trigger": self.trigger, "schedule": self.schedule,
            "paused_reason": self.paused_reason, "paused_at": self.paused_at,
            "proxy": self.proxy, "ca_bundle": self.ca_bundle,
        }
        out.update({k: v for k, v in optional.items() if v})
        if not self.verify:
            out["verify"] = False
        if self.paused:
            out["paused"] = True
        return out


def load_macro_file(path: str | Path, *, schema: Schema | None = None) -> Macro:
    """Read a macro from a ``.toml`` or ``.json`` file; errors name the file and key."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise MacroError(f"{path}: a macro file must end in .toml or .json.")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MacroError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MacroError(f"{path}: cannot read the file ({exc}).") from None
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MacroError(f"{path}: not valid TOML ({exc}).") from None
        except RecursionError:
            raise MacroError(f"{path}: not valid TOML (it nests arrays or tables too deeply).") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MacroError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}).") from None
        except (ValueError, RecursionError) as exc:
            from cctui.core.importer import json_limit_reason

            raise MacroError(f"{path}: not valid JSON ({json_limit_reason(exc)}).") from None
    return Macro.from_dict(data, where=str(path), schema=schema)


__all__ = ["Macro", "load_macro_file", "parse_headers"]
