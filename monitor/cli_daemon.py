"""``cohortwatch run``: the daemon (see :mod:`monitor.daemon`). Registered by :mod:`monitor.cli`."""

from __future__ import annotations

import logging

import click

from monitor.context import Context

__all__ = ["run_cmd"]


@click.command("run")
@click.pass_context
def run_cmd(click_ctx: click.Context) -> None:
    """Run the daemon: crawl the configured sites on their schedules over Tor, match posted
    files, deliver alerts. Stops on SIGTERM/SIGINT; SIGHUP re-reads the configuration."""
    from monitor.daemon import run_daemon

    root = logging.getLogger()
    if root.level > logging.INFO:  # a service logs what it does (no -v needed)
        root.setLevel(logging.INFO)
    obj: Context = click_ctx.obj
    config_option = click_ctx.find_root().params.get("config_file")
    raise SystemExit(run_daemon(obj.state_dir, config_option))
