"""The alerts branch of the exception tree (the root lives in :mod:`matchers.errors`)::

    CohortwatchError
    ├── ConfigError
    │   └── AlertConfigError        an [alerts] setting is wrong (names file and key path)
    │       └── WebhookSecretError  an endpoint's secret or URL file is missing, unsafe, malformed
    └── AlertError                  an alert cannot be made or handled
        └── InvalidAlertError       an alert with an unknown type, naive time or bad id

A receiver that is down never raises out of the deliverer: attempts end as outbox states
(pending with a next attempt, delivered, dead, disabled). Messages name endpoints, files and
HTTP statuses — never a secret, a webhook URL (it may carry a token) or a personal value.
"""

from __future__ import annotations

from matchers.errors import CohortwatchError, ConfigError

__all__ = [
    "AlertConfigError",
    "AlertError",
    "InvalidAlertError",
    "WebhookSecretError",
]


class AlertConfigError(ConfigError):
    """An ``[alerts]`` setting or ``[[alerts.endpoints]]`` entry is invalid."""


class WebhookSecretError(AlertConfigError):
    """An endpoint's secret (or URL) file is missing, readable by others or malformed."""


class AlertError(CohortwatchError):
    """An alert cannot be made or handled."""


class InvalidAlertError(AlertError):
    """An alert was built with an unknown type, a naive timestamp or an unusable id."""
