"""Standard Webhooks signatures (https://www.standardwebhooks.com/, spec v1).

``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")).
The id stays the same for every attempt of one alert (receivers deduplicate on it); the
timestamp is the time of *this* attempt, so every retry is signed anew and a receiver's
replay window (five minutes in the reference library) never rejects a late retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign", "webhook_headers"]


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = b"%s.%d.%s" % (msg_id.encode("ascii"), timestamp, body)
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(secret: bytes | None, msg_id: str, timestamp: int,
                    body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (no signature when there is no secret: chat
    services do not check one, so a chat endpoint may go without)."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret is not None:
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    return headers
