"""The daemon part of ``cohortwatch demo``: a leak site and a webhook receiver on 127.0.0.1,
the real ``cohortwatch run`` for one crawl cycle, and what arrived, verified.

The daemon runs as a subprocess exactly as systemd would start it; this process serves the
leak site and the receiver meanwhile. The receiver checks every ``webhook-signature`` the
way the README tells receivers to (HMAC-SHA256 over ``id.timestamp.body``, constant-time
comparison) and processes each ``webhook-id`` once.

Without Tor the daemon's config lets it fetch the site at 127.0.0.1 directly
(``allow_direct``), and the demo says so. With ``--tor`` (an :class:`OnionRoute` of the
private network, :mod:`monitor.demo_tor`) the site's only mirror is its ``.onion`` address
and ``[tor]`` names the client tor's SOCKS and control ports: the daemon's fail-closed
fetcher then has no way to reach the site but through Tor and the onion service.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from aiohttp import web

from alerts.signing import sign

if TYPE_CHECKING:
    from monitor.demo_tor import OnionRoute

__all__ = ["run_daemon_demo"]

_CARD = ('<div class="card"><h3 class="victim">{victim}</h3>'
         '<p class="summary">{summary}</p><a class="more" href="/post/{id}">Read more</a></div>')

_TOR_NONE = """
[tor]            # the demo crawls 127.0.0.1 directly: no Tor (a real deployment never does)
socks = ""
control = ""
"""

_TOR_PRIVATE = """
[tor]            # the client tor of the demo's private Tor network on 127.0.0.1
socks = "{socks}"
control = "{control}"
bootstrap_timeout = 60.0
"""

_SITE_DIRECT = """
[sites.demo-leaks]
mirrors = ["http://127.0.0.1:{site_port}/"]
allow_direct = true      # loopback only, for the demo and tests
interval = 3600
"""

_SITE_ONION = """
[sites.demo-leaks]
mirrors = ["http://{onion}/"]   # no allow_direct: through Tor or not at all
interval = 3600
"""

_CONFIG = """{tor}
[metrics]
listen = ""

[crawler]
baseline_alerts = true   # the demo's first crawl is also its only one

[watchlist]
[[watchlist.organisations]]
name = "Clinical Diagnostics NMDL"
aliases = ["Clinical Diagnostics"]
domains = ["clinicaldiagnostics.nl"]

[alerts]
initial_backoff = 1.0
poll_interval = 0.5

[[alerts.endpoints]]
name = "soc"
url = "http://127.0.0.1:{hook_port}/hook"
secret_file = "{secret_file}"
trusted = true
{site}
[sites.demo-leaks.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"
description = "p.summary"

[sites.demo-leaks.parser.detail]
description = "div.body"
files = "ul.files a"
"""


class _Receiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.alerts: dict[str, dict[str, Any]] = {}
        self.rejected = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        msg_id = request.headers.get("webhook-id", "")
        stamp = request.headers.get("webhook-timestamp", "")
        given = request.headers.get("webhook-signature", "")
        ok = stamp.isdigit() and abs(time.time() - int(stamp)) < 300 and any(
            hmac.compare_digest(sign(self.secret, msg_id, int(stamp), body), s)
            for s in given.split())
        if not ok:
            self.rejected += 1
            return web.Response(status=401)
        self.alerts.setdefault(msg_id, json.loads(body))
        return web.Response(status=204)


def _site(archive: Path, requests: list[str]) -> web.Application:
    posts = [
        {"id": 1, "victim": "Acme Logistics B.V.", "summary": "Contracts and HR files."},
        {"id": 2, "victim": "Clinical Diagnostics NMDL",
         "summary": "Lab results of the national screening programme. Sample below."},
    ]

    async def listing(_r: web.Request) -> web.Response:
        cards = "".join(_CARD.format(**p) for p in posts)
        return web.Response(content_type="text/html",
                            text=f"<html><body><h1>Leaks</h1>{cards}</body></html>")

    async def detail(r: web.Request) -> web.Response:
        links = ('<li><a href="/files/proof-sample.zip">proof-sample.zip</a></li>'
                 if r.match_info["id"] == "2" else "")
        return web.Response(content_type="text/html", text=(
            f"<html><body><div class='body'>Published data.</div><ul class='files'>{links}"
            "</ul></body></html>"))

    async def file(_r: web.Request) -> web.FileResponse:
        return web.FileResponse(archive)

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        requests.append(f"{request.method} {request.path}")
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_get("/", listing)
    app.router.add_get("/post/{id}", detail)
    app.router.add_get("/files/proof-sample.zip", file)
    return app


async def _serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, runner.addresses[0][1]


async def _demo(work: Path, state: Path, archive: Path, route: OnionRoute | None) -> int:
    secret = secrets.token_bytes(32)
    secret_file = work / "webhook-soc"
    secret_file.write_text("whsec_" + base64.b64encode(secret).decode())
    secret_file.chmod(0o600)
    receiver = _Receiver(secret)
    hook_app = web.Application()
    hook_app.router.add_post("/hook", receiver.hook)
    requests: list[str] = []
    site_runner, site_port = await _serve(_site(archive, requests),
                                          route.target_port if route else 0)
    hook_runner, hook_port = await _serve(hook_app)
    if route is None:
        tor = _TOR_NONE
        site = _SITE_DIRECT.format(site_port=site_port)
    else:
        tor = _TOR_PRIVATE.format(socks=route.socks, control=route.control)
        site = _SITE_ONION.format(onion=route.onion)
    config = work / "cohortwatch.toml"
    config.write_text(_CONFIG.format(tor=tor, site=site, hook_port=hook_port,
                                     secret_file=secret_file))
    if route is None:
        click.echo("Now the daemon. A leak site runs on 127.0.0.1 and lists the watched victim "
                   "with the leaked file as a zip;\na webhook receiver checks signatures. "
                   "NOTE: the demo crawls 127.0.0.1 directly, WITHOUT Tor\n(`allow_direct` in "
                   "its config) — a real deployment sends every request through Tor.\n"
                   "(`cohortwatch demo --tor` crawls over a private Tor network instead.)")
    else:
        click.echo(f"Now the daemon, OVER TOR. A leak site runs on 127.0.0.1:{site_port} and "
                   "lists the watched victim with the\nleaked file as a zip; it is published "
                   f"as the onion service http://{route.onion}/ of the private network.\n"
                   "The daemon's config sends every request through the client tor and names "
                   "the site by its .onion\naddress only (no `allow_direct`): through Tor or not "
                   "at all. A webhook receiver checks signatures.")
        for line in (tor + site).strip().splitlines():
            click.echo(f"  {line}")
    click.echo(f"$ cohortwatch --config {config} run")
    started = time.monotonic()
    arrived: float | None = None
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "--state-dir", str(state), "--config",
        str(config), "run", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = started + 180
        while time.monotonic() < deadline and proc.returncode is None:
            kinds = {a["type"] for a in receiver.alerts.values()}
            if {"post.watchlist_matched", "dataset.matched"} <= kinds:
                arrived = time.monotonic() - started
                break
            await asyncio.sleep(0.2)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _out, err = await proc.communicate()
        await site_runner.cleanup()
        await hook_runner.cleanup()
    words = (" crawl ", "event", "error", " tor ") if route else (" crawl ", "event", "error")
    for line in err.decode(errors="replace").splitlines():
        if any(word in line for word in words):
            click.echo(f"  daemon: {line[:160]}")
    click.echo(f"daemon stopped (exit status {proc.returncode})"
               + (f"; both alerts arrived {arrived:.1f} s after it started." if arrived else "."))
    via = f"through the onion service {route.onion}" if route else "directly, without Tor"
    click.echo(f"The leak site answered {len(requests)} request(s), all {via}: "
               f"{', '.join(requests) or 'none'}\n")
    return _show(receiver)


def _show(receiver: _Receiver) -> int:
    click.echo(f"The receiver got {len(receiver.alerts)} signed alert(s), every signature "
               f"verified ({receiver.rejected} rejected):")
    found = set()
    for msg_id, alert in receiver.alerts.items():
        data, kind = alert["data"], alert["type"]
        found.add(kind)
        if kind == "post.watchlist_matched":
            click.echo(f"  {kind}  webhook-id {msg_id}: post '{data['post']['victim']}' on "
                       f"{data['site']} matches watchlist entry '{data['entry']}' "
                       f"(score {data['score']:.2f})")
        elif kind == "dataset.matched":
            methods = ", ".join(f"{n} by {m}" for m, n in data["by_method"].items() if n)
            click.echo(f"  {kind}  webhook-id {msg_id}: {data['members_matched']} members "
                       f"of cohort '{data['cohort']}' in {data['records']} records "
                       f"({methods}); {len(data.get('refs', []))} refs for the trusted "
                       f"endpoint; dataset {data['dataset_id']}")
        else:
            click.echo(f"  {kind}  webhook-id {msg_id}")
    click.echo("")
    if not {"post.watchlist_matched", "dataset.matched"} <= found:
        click.echo("cohortwatch demo: the alerts did not arrive within 3 minutes", err=True)
        return 2
    return 0


def run_daemon_demo(
    work: Path, state: Path, archive: Path, route: OnionRoute | None = None
) -> int:
    """Run the daemon part of the demo; 0 when both alerts arrived verified.

    :param route: the private Tor network's client and the leak site's onion service;
        None: the daemon fetches the site at 127.0.0.1 directly (``allow_direct``).
    """
    return asyncio.run(_demo(work, state, archive, route))
