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

from alerts.deliver import AttemptResult, Deliverer, DeliveryCounts
from alerts.errors import (
    AlertConfigError,
    AlertError,
    InvalidAlertError,
    WebhookSecretError,
)
from alerts.misp import misp_event
from alerts.model import EVENT_TYPES, Alert, alert_from_event, alert_id, selftest_alert
from alerts.outbox import Outbox, OutboxRow
from alerts.payloads import render
from alerts.settings import FORMATS, AlertSettings, Endpoint, load_alert_settings
from alerts.signing import sign, webhook_headers

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
