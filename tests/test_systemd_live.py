"""cohortwatch.service under a real systemd, installed the way the README says.

tests/test_systemd.py checks the unit file offline (verify, the security score, an
emulation of its filters). This test boots systemd as PID 1 of a throw-away container
(:mod:`systemd_container`) and follows README "Running as a service" inside it: the
system user from sysusers.d, the key and a webhook secret as credentials, the cohort
enrolled through ``cohortwatch-admin``, the shipped unit started with ``systemctl``. Then a
leak site on 127.0.0.1 posts a dump with members in it, and the signed alert must reach
the test's receiver; reload, status, stop and the journal are checked as an operator sees
them. The one deviation from the README: instead of ``pip install .`` into
/opt/cohortwatch, a venv there (of the interpreter running the tests) points at this
checkout's installed packages — the same code, no download.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import stat
import sys
import zipfile
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from systemd_container import Container, unavailable
from test_daemon import _free_port, _until
from webhook_receiver import Receiver, make_secret

from matchers.synthetic import make_people, write_people_csv

pytestmark = pytest.mark.crash

ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" \
    / "site-packages"

CONFIG = """
[tor]
socks = ""
control = ""

[metrics]
listen = "127.0.0.1:{metrics_port}"

[alerts]
initial_backoff = 0.5
poll_interval = 0.5

[[alerts.endpoints]]
name = "soc"
url = "{hook}"
secret_file = "webhook-soc"
trusted = false

[watchlist]
[[watchlist.organisations]]
name = "Clinical Diagnostics NMDL"
aliases = ["Clinical Diagnostics"]

[crawler]
baseline_alerts = true

[sites.lab]
mirrors = ["http://127.0.0.1:{port}/"]
allow_direct = true
interval = 2

[sites.lab.parser]
type = "html"
post = "div.card"
victim = "h3.victim"
link = "a.more"
files = "a.file"
"""

DROP_IN = """[Service]
LoadCredential=webhook-soc:/etc/cohortwatch/webhook-soc
"""


def _readable_by_others(path: Path) -> bool:
    """The service user must reach this checkout and its packages (ProtectHome= hides
    /root and /home from it, too)."""
    for part in [path, *path.parents]:
        if part.is_relative_to("/root") or part.is_relative_to("/home"):
            return False
        if part != Path("/") and not part.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def _skip_unless_possible() -> None:
    reason = unavailable()
    if reason is None and not (_readable_by_others(ROOT) and _readable_by_others(SITE_PACKAGES)):
        reason = (f"the checkout ({ROOT}) or its venv must be readable by other users and "
                  "outside /root and /home for the service user to run it")
    if reason is not None:
        pytest.skip(reason)


class Site:
    """A leak site that lists another victim, then (``posted``) a watched one with a zip."""

    def __init__(self, archive: bytes) -> None:
        self.archive = archive
        self.posted = False
        self.listings = 0

    async def listing(self, _r: web.Request) -> web.Response:
        self.listings += 1
        card = ('<div class="card"><h3 class="victim">Clinical Diagnostics</h3>'
                '<a class="more" href="/post/1">more</a>'
                '<a class="file" href="/files/export.zip">export.zip</a></div>'
                if self.posted else
                '<div class="card"><h3 class="victim">Acme Holding</h3>'
                '<a class="more" href="/post/9">more</a></div>')
        return web.Response(content_type="text/html", text=card)

    async def file(self, _r: web.Request) -> web.Response:
        return web.Response(body=self.archive)

    async def start(self) -> TestServer:
        app = web.Application()
        app.router.add_get("/", self.listing)
        app.router.add_get("/files/export.zip", self.file)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        return server


def _python(c: Container) -> str:
    """This interpreter, reachable by the service user: the checkout's packages are built
    for it (Debian's own python3 is an older 3.11, for which pip would pick other
    versions). A Python under /root or /home is bind-mounted elsewhere in the container
    and its shared library made known to the loader — ProtectHome= hides those trees."""
    home = Path(sys.base_prefix)
    binary = Path(sys._base_executable).name  # the venv's base interpreter
    if not (home.is_relative_to("/root") or home.is_relative_to("/home")):
        return str(home / "bin" / binary)
    c.run("mkdir", "-p", "/opt/cohortwatch-python")
    c.run("mount", "--bind", "-o", "ro", str(home), "/opt/cohortwatch-python")
    c.write("/etc/ld.so.conf.d/cohortwatch-python.conf", "/opt/cohortwatch-python/lib\n")
    c.run("ldconfig")
    return f"/opt/cohortwatch-python/bin/{binary}"


def _install(c: Container, members_csv: str, config: str, secret: str) -> None:
    """README "Running as a service", steps 2 to 6, inside the container."""
    c.run("install", "-D", "-m", "0644", str(ROOT / "config/cohortwatch.sysusers"),
          "/etc/sysusers.d/cohortwatch.conf")
    c.run("systemd-sysusers")
    c.run(_python(c), "-m", "venv", "--without-pip", "/opt/cohortwatch")
    c.write("/opt/cohortwatch/lib/python3.11/site-packages/cohortwatch-checkout.pth",
            f'import site; site.addsitedir("{SITE_PACKAGES}")\n')
    c.write("/opt/cohortwatch/bin/cohortwatch",
            "#!/opt/cohortwatch/bin/python\nimport sys\nfrom monitor.cli import main\n"
            "sys.exit(main())\n", mode=0o755)
    c.run("install", "-m", "0755", str(ROOT / "config/cohortwatch-admin"),
          "/usr/local/sbin/cohortwatch-admin")
    c.run("install", "-d", "-m", "0755", "/etc/cohortwatch")
    c.run("sh", "-c", "umask 077; head -c 32 /dev/urandom > /etc/cohortwatch/cohortwatch.key")
    c.run("chmod", "0400", "/etc/cohortwatch/cohortwatch.key")
    c.write("/etc/cohortwatch/cohortwatch.toml", config)
    c.write("/etc/cohortwatch/webhook-soc", secret + "\n", mode=0o600)
    c.run("install", "-d", "-o", "cohortwatch", "-g", "cohortwatch", "-m", "0700",
          "/var/lib/cohortwatch", "/var/lib/cohortwatch/inbox")
    c.write("/var/lib/cohortwatch/inbox/members.csv", members_csv, mode=0o600,
            owner="cohortwatch")
    enrolled = c.run("cohortwatch-admin", "cohort", "enroll",
                     "/var/lib/cohortwatch/inbox/members.csv", "--name", "screening-2025")
    assert "40 enrolled" in enrolled.stdout, enrolled.stdout
    c.run("shred", "-u", "/var/lib/cohortwatch/inbox/members.csv")
    c.run("install", "-m", "0644", str(ROOT / "config/cohortwatch.service"),
          "/etc/systemd/system/")
    c.write("/etc/systemd/system/cohortwatch.service.d/webhook-soc.conf", DROP_IN)
    c.run("systemctl", "daemon-reload")


async def test_the_unit_runs_under_systemd(tmp_path: Path) -> None:
    _skip_unless_possible()
    people = make_people(80, seed=33)
    write_people_csv(tmp_path / "members.csv", people[:40])
    write_people_csv(tmp_path / "leak.csv", [*people[:10], *people[50:80]])
    members_csv = (tmp_path / "members.csv").read_text()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(tmp_path / "leak.csv", "export/patients.csv")
    for f in ("members.csv", "leak.csv"):
        (tmp_path / f).unlink()

    site = Site(buf.getvalue())
    server = await site.start()
    secret = make_secret(secrets.randbelow(1000))
    receiver = await Receiver(secrets={"soc": secret}).start()
    config = CONFIG.format(port=server.port, hook=receiver.url("soc"),
                           metrics_port=_free_port())
    try:
        # Booted from this thread: the container dies with the thread that started it.
        container = Container()
        container.boot()
        try:
            await asyncio.to_thread(_install, container, members_csv, config, secret)
            run = container.run
            # Type=notify: `systemctl start` returns once the daemon sent READY=1.
            await asyncio.to_thread(run, "systemctl", "start", "cohortwatch")
            assert run("systemctl", "is-active", "cohortwatch").stdout.strip() == "active"
            status = run("systemctl", "show", "-p", "StatusText", "--value", "cohortwatch")
            assert "1 sites" in status.stdout

            site.posted = True
            await _until(lambda: any(a.json()["type"] == "dataset.matched"
                                     for a in receiver.of("soc")), timeout=120)
            (alert,) = [a for a in receiver.of("soc") if a.json()["type"] == "dataset.matched"]
            assert alert.verified  # standardwebhooks, with the secret given as a credential
            assert alert.json()["data"]["members_matched"] == 10

            admin = await asyncio.to_thread(run, "cohortwatch-admin", "status", "--json")
            state = json.loads(admin.stdout)
            assert [s["name"] for s in state["sites"]] == ["lab"]

            await asyncio.to_thread(run, "systemctl", "reload", "cohortwatch")
            assert run("systemctl", "is-active", "cohortwatch").stdout.strip() == "active"
            await asyncio.to_thread(run, "systemctl", "stop", "cohortwatch")
            shown = run("systemctl", "show", "-p", "Result", "-p", "ExecMainStatus",
                        "cohortwatch").stdout
            assert "Result=success" in shown and "ExecMainStatus=0" in shown, shown
            journal = run("journalctl", "-u", "cohortwatch", "--no-pager", "-o", "cat").stdout
            exposure = run("systemd-analyze", "security", "--no-pager", "cohortwatch").stdout
        except Exception as exc:
            seen = [container.run(*what, check=False).stdout for what in (
                ("systemctl", "status", "--no-pager", "cohortwatch"),
                ("journalctl", "--no-pager", "-n", "60", "-u", "cohortwatch"))]
            raise AssertionError("\n".join([str(exc), *seen])) from exc
        finally:
            await asyncio.to_thread(container.stop)
    finally:
        await server.close()
        await receiver.stop()

    assert "configuration reloaded" in journal
    assert "crawl failed" not in journal
    assert "Traceback" not in journal
    for p in people[:40]:  # no member's BSN or surname in the service's log
        assert p.bsn not in journal
        assert f" {p.surname} " not in journal
    score = float(exposure.split("Overall exposure level for cohortwatch.service:")[1].split()[0])
    assert score <= 2.0, exposure
