"""Alerts: the alert model, signed webhook delivery with a durable outbox, payload formats.

Owns: what an alert is (:mod:`~alerts.model`), the ``[alerts]`` configuration
(:mod:`~alerts.settings`) and endpoint secrets (:mod:`~alerts.credentials`), Standard
Webhooks signatures (:mod:`~alerts.signing`), request bodies — generic envelope, Slack,
Mattermost, Teams (:mod:`~alerts.payloads`) —, the SQLite outbox (:mod:`~alerts.outbox`),
the retry policy (:mod:`~alerts.policy`), delivery (:mod:`~alerts.deliver`) and MISP export
(:mod:`~alerts.misp`). Never imports ``monitor``; never carries a personal value (cohort refs
only to trusted generic endpoints, chat formats only counts and ids).

The daemon's use::

    outbox = Outbox(db)
    outbox.enqueue(alert_from_event(row), settings.endpoints)   # committed first
    async with Deliverer(outbox, settings) as deliverer:
        deliverer.wake()                                        # after enqueueing
        await deliverer.run_forever(stop_event)
"""

import importlib
from typing import Any

# Names resolve on first use (PEP 562): loading the configuration reads alerts.settings
# without importing aiohttp, which every other command would pay for at start-up.
_HOME = {
    "AttemptResult": "alerts.deliver", "Deliverer": "alerts.deliver",
    "DeliveryCounts": "alerts.deliver",
    "AlertConfigError": "alerts.errors", "AlertError": "alerts.errors",
    "InvalidAlertError": "alerts.errors", "WebhookSecretError": "alerts.errors",
    "misp_event": "alerts.misp",
    "EVENT_TYPES": "alerts.model", "Alert": "alerts.model", "alert_from_event": "alerts.model",
    "alert_id": "alerts.model", "selftest_alert": "alerts.model",
    "Outbox": "alerts.outbox", "OutboxRow": "alerts.outbox",
    "render": "alerts.payloads",
    "FORMATS": "alerts.settings", "AlertSettings": "alerts.settings",
    "Endpoint": "alerts.settings", "load_alert_settings": "alerts.settings",
    "sign": "alerts.signing", "webhook_headers": "alerts.signing",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'alerts' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "EVENT_TYPES",
    "FORMATS",
    "Alert",
    "AlertConfigError",
    "AlertError",
    "AlertSettings",
    "AttemptResult",
    "Deliverer",
    "DeliveryCounts",
    "Endpoint",
    "InvalidAlertError",
    "Outbox",
    "OutboxRow",
    "WebhookSecretError",
    "alert_from_event",
    "alert_id",
    "load_alert_settings",
    "misp_event",
    "render",
    "selftest_alert",
    "sign",
    "webhook_headers",
]
