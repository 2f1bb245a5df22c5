"""Why an attempt ended the way it did, in words a person can act on.

One module knows HTTP status codes and the error bodies of the services cctui talks to
(Slack's plain-text codes, Jira's ``errorMessages``/``errors``, Salesforce's
``[{errorCode, message}]``, Discord's ``{"message", "retry_after"}``), so that the log
table, the TUI inspector and ``cctui logs`` all say the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any

from cctui.core.terminal_text import CONTROL_CODES


@dataclass(frozen=True)
class Explanation:
    """``title`` is one short line ("410 Gone: channel archived, macro paused");
    ``meaning`` says what probably happened, ``action`` what to do about it."""

    title: str
    meaning: str
    action: str

    def to_dict(self) -> dict:
        return asdict(self)


# code -> (meaning, action); the status-code table from the webhook-targets reference.
_BY_CODE: dict[int, tuple[str, str]] = {
    400: ("The receiver rejected the payload: invalid JSON, a missing required field or over-long blocks.",
          "Read the response body and fix the body template; not retried."),
    401: ("Missing, wrong or expired credentials.", "Fix the Authorization header; not retried."),
    403: ("Authenticated but not allowed (e.g. Slack action_prohibited or invalid_token).",
          "Check permissions and the channel; not retried."),
    404: ("Wrong URL, a deleted hook (no_service), or a channel or project that is not visible.",
          "Check the URL; not retried."),
    405: ("The receiver does not accept this method.", "Change the macro's method; not retried."),
    408: ("The receiver timed out reading the request.", "Retried with backoff."),
    409: ("Conflict: the receiver already has this (duplicate).", "Usually nothing to do; not retried."),
    410: ("The endpoint is gone (Slack: channel_is_archived).",
          "The macro was paused; fix the target, then resume the macro."),
    413: ("The payload is too large.", "Shorten the body template; not retried."),
    415: ("Wrong Content-Type.", "Send Content-Type: application/json (or the receiver's type)."),
    422: ("Well-formed but semantically invalid field values.", "Fix the field values; not retried."),
    429: ("Rate limited.", "cctui waits for Retry-After, slows down and retries."),
    500: ("The receiver failed while handling the request.", "Retried with backoff."),
    502: ("A gateway in front of the receiver failed.", "Retried more slowly, honouring Retry-After."),
    503: ("The receiver is unavailable.", "Retried more slowly, honouring Retry-After."),
    504: ("A gateway timed out waiting for the receiver.", "Retried more slowly, honouring Retry-After."),
}

# Slack's plain-text error bodies -> short words for the title.
_SLACK: dict[str, tuple[str, str]] = {
    "invalid_payload": ("invalid payload", "Slack could not parse the JSON body; fix the template."),
    "user_not_found": ("user not found", "The user in the payload does not exist."),
    "too_many_attachments": ("too many attachments", "Send at most 100 attachments."),
    "action_prohibited": ("action prohibited", "A workspace admin restricted this hook."),
    "invalid_token": ("invalid token", "The hook's token is invalid; create a new webhook URL."),
    "posting_to_general_channel_denied": ("posting to #general denied", "Pick another channel or ask an admin."),
    "channel_not_found": ("channel not found", "The channel was deleted or the hook cannot see it."),
    "no_service": ("hook disabled or removed", "Create a new incoming webhook and update the URL."),
    "no_service_id": ("no service id", "The webhook URL is incomplete; copy it again."),
    "no_team": ("no team", "The workspace of this hook is gone."),
    "team_disabled": ("team disabled", "The Slack workspace is disabled."),
    "channel_is_archived": ("channel archived", "Unarchive the channel or point the macro at another one."),
    "no_text": ("no text", "Add a top-level \"text\" to the body."),
    "rollup_error": ("Slack internal error", "Retried; if it persists, check Slack's status page."),
}


def explain(status_code: int, body: str | bytes | None = None,
            headers: Mapping[str, str] | None = None, error: str | None = None,
            *, paused: bool | None = None) -> Explanation:
    """Explain one attempt. ``paused`` defaults to True for a 410 (the engine pauses)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    if status_code == 0:
        return _no_response(error)
    name = _status_name(status_code)
    head = f"{status_code} {name}"
    if 200 <= status_code < 300:
        return Explanation(head, "Delivered.", "Nothing to do.")
    if 300 <= status_code < 400:
        location = _CONTROL.sub("", _header(headers, "location") or "")
        where = f" to {location}" if location else ""
        return Explanation(f"{head}: URL moved{where}",
                           "The URL redirects (moved, http->https, trailing slash); cctui does not follow redirects.",
                           "Update the macro's URL to the final address.")
    meaning, action = _BY_CODE.get(status_code, _generic(status_code))
    detail = _vendor_detail(text.strip(), _header(headers, "content-type"))
    if detail:
        word, hint = detail
        if status_code == 410 and (paused is None or paused):
            return Explanation(f"{head}: {word}, macro paused", meaning, hint + " Then resume the macro.")
        return Explanation(f"{head}: {word}", meaning, hint or action)
    if status_code == 410 and (paused is None or paused):
        return Explanation(f"{head}: macro paused", meaning, action)
    return Explanation(head, meaning, action)


def _no_response(error: str | None) -> Explanation:
    text = _CONTROL.sub("", error or "no response").strip()
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return Explanation("no response: timed out", f"The receiver did not answer in time ({text}).",
                           "Retried; raise the macro's timeout if the receiver is slow.")
    if "refused" in low:
        return Explanation("no response: connection refused", f"Nothing is listening at that address ({text}).",
                           "Check the URL's host and port and that the receiver is running; retried.")
    if "name" in low and ("resolve" in low or "not known" in low or "dns" in low):
        return Explanation("no response: DNS lookup failed", f"The host name does not resolve ({text}).",
                           "Check the host name in the URL; retried.")
    if "ssl" in low or "certificate" in low or "tls" in low:
        return Explanation("no response: TLS failed", f"The TLS handshake failed ({text}).",
                           "Check the certificate or use the right scheme; retried.")
    if "reset" in low or "disconnect" in low or "closed" in low or "payload" in low:
        return Explanation("no response: connection reset", f"The connection broke mid-request ({text}).",
                           "Retried with backoff.")
    return Explanation(f"no response: {text[:60]}", "No HTTP response came back.", "Retried with backoff.")


def _status_name(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Client Error" if 400 <= code < 500 else "Server Error" if code >= 500 else "Status"


def _generic(code: int) -> tuple[str, str]:
    if 400 <= code < 500:
        return ("The receiver rejected the request.", "Read the response body; not retried.")
    return ("The receiver reported an error.", "Read the response body; not retried.")


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _vendor_detail(text: str, content_type: str | None) -> tuple[str, str] | None:
    """(short words, what to do) decoded from a vendor's error body, or None."""
    if not text:
        return None
    if text in _SLACK:
        return _SLACK[text]
    if text.startswith(("{", "[")):
        try:
            data: Any = json.loads(text)
        except ValueError:
            return None
        return _json_detail(data)
    if len(text) <= 60 and "\n" not in text and text.replace("_", "").isalnum():
        return (text.replace("_", " "), "")  # an unknown Slack-style code: show it as is
    return None


def _json_detail(data: Any) -> tuple[str, str] | None:
    if isinstance(data, list) and data and isinstance(data[0], dict) and "errorCode" in data[0]:
        first = data[0]  # Salesforce
        words = f"{first.get('errorCode')}: {first.get('message', '')}".strip(": ")
        fields = first.get("fields")
        hint = f"Salesforce fields: {', '.join(map(str, fields))}." if fields else ""
        if first.get("errorCode") == "INVALID_SESSION_ID":
            hint = "The Salesforce session or token expired; refresh the Authorization header."
        return (_clip(words), hint)
    if isinstance(data, dict):
        messages = data.get("errorMessages")
        errors = data.get("errors")
        if messages or (isinstance(errors, dict) and errors):  # Jira
            parts = [str(m) for m in messages or []]
            parts += [f"{k}: {v}" for k, v in (errors or {}).items()] if isinstance(errors, dict) else []
            return (_clip("; ".join(parts)), "Fix the Jira fields named in the error.")
        if "message" in data:  # Discord and most JSON APIs
            words = str(data["message"])
            if "retry_after" in data:
                words += f" (retry after {data['retry_after']} s)"
            return (_clip(words), "")
        if "error" in data and isinstance(data["error"], (str, dict)):
            err = data["error"]
            words = err.get("message", json.dumps(err)) if isinstance(err, dict) else err
            return (_clip(str(words)), "")
    return None


#: Characters a terminal acts on (C0 and C1 controls, DEL, bidi overrides): a receiver
#: writes its error body, and these words are printed by `cctui send` and `cctui logs`.
_CONTROL = CONTROL_CODES


def _clip(text: str, limit: int = 80) -> str:
    text = _CONTROL.sub("", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
