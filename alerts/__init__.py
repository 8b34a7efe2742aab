"""Alerts: the alert model, signed webhook delivery with a durable outbox, payload formats.

Never imports `monitor`; never carries a personal value (cohort refs only to trusted
endpoints). Delivery is built in a later stage of the project (see docs/architecture.md).
"""
