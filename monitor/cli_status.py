"""``cohortwatch status``: Tor health, each site's state, the alert outbox, what is enrolled.
Registered on the main group by :mod:`monitor.cli`."""

from __future__ import annotations

import json

import click

from monitor.context import Context

__all__ = ["status_cmd"]


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout "
              "(schema cohortwatch.status/1).")
@click.option("--tor-timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
              metavar="SECONDS", help="How long to wait for Tor's control port.")
@click.pass_obj
def status_cmd(obj: Context, as_json: bool, tor_timeout: float) -> None:
    """Show Tor's health, each site's state and last success, the alert outbox, cohorts,
    datasets and events. Reads only; works beside a running daemon and without the key.
    Exit 0 (also when Tor or a site is down: that is shown), 2 on a configuration or
    state error."""
    from monitor.status import collect_status, render_text

    status = collect_status(obj, tor_timeout=tor_timeout)
    click.echo(json.dumps(status, ensure_ascii=False) if as_json else render_text(status))
