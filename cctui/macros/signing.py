"""Standard Webhooks v1 headers: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signature is ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")). A secret
written ``whsec_<base64>`` is a base64 key (as Svix and the spec hand them out); any other
secret is used as raw UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from cctui.errors import MacroError

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key for ``secret``; a malformed ``whsec_`` value is a MacroError."""
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise MacroError("signing_secret: a whsec_ secret must be followed by base64.") from None
    return secret.encode("utf-8")


def sign(secret: str | bytes, msg_id: str, timestamp: int | str, body: str | bytes) -> str:
    """The ``webhook-signature`` value for one request."""
    key = secret if isinstance(secret, bytes) else secret_key(secret)
    if isinstance(body, str):
        body = body.encode("utf-8")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str | bytes, headers: Mapping[str, str], body: str | bytes) -> bool:
    """True when ``headers`` (any case-insensitive mapping) carry a valid v1 signature."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    given = headers.get("webhook-signature") or ""
    if not msg_id or not timestamp:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    # The header may carry several space-separated signatures (key rotation).
    return any(hmac.compare_digest(expected, part) for part in given.split())


def webhook_headers(msg_id: str, timestamp: int, body: str | bytes,
                    key: bytes | None = None) -> list[tuple[str, str]]:
    """The headers to add to one attempt; the signature only when a key is given."""
    headers = [("webhook-id", msg_id), ("webhook-timestamp", str(timestamp))]
    if key is not None:
        headers.append(("webhook-signature", sign(key, msg_id, timestamp, body)))
    return headers
