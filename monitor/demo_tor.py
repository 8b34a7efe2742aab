"""The Tor part of ``cohortwatch demo --tor``: the private Tor network of
:mod:`monitor.tor.testnet`, started in the demo's throw-away directory, with the demo's leak
site published as its onion service.

The launch is mostly waiting (~15 s, for the authorities' first consensus), so it runs on a
thread while the demo generates its data and enrolls the cohort. Whatever happens — an
error, Ctrl-C — :meth:`DemoTor.close` cancels a launch still under way and stops every tor;
if this process is killed instead, the network's sentinel makes the tors exit by themselves.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Event

from monitor.tor import testnet

__all__ = ["DemoTor", "OnionRoute"]


@dataclass(frozen=True)
class OnionRoute:
    """What the demo's daemon and leak site need to know of the network.

    ``socks`` and ``control`` are the client tor's ports (``host:port`` as the ``[tor]`` table
    takes them); the leak site listens on 127.0.0.1:``target_port``, which the onion service
    ``onion`` forwards its port 80 to.
    """

    socks: str
    control: str
    onion: str
    target_port: int


class DemoTor:
    """A private Tor network being launched under ``parent``; :meth:`wait` returns its route."""

    def __init__(self, parent: Path, timeout: float = 120.0) -> None:
        testnet.require_binaries()  # tor missing: TorUnavailableError, before any thread
        self._cancel = Event()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-tor")
        self._future: Future[testnet.TorTestNetwork] = pool.submit(
            testnet.launch, timeout, parent=parent, onions=1, cancel=self._cancel)
        pool.shutdown(wait=False)
        self.network: testnet.TorTestNetwork | None = None

    def done(self) -> bool:
        return self._future.done()

    def wait(self) -> OnionRoute:
        """Wait for the network; its route once every tor is up and the onion answers.

        :raises TorNetworkError: the network did not come up (the tor logs' tail included).
        """
        self.network = self._future.result()
        onion = self.network.onions[0]
        return OnionRoute(
            socks=f"127.0.0.1:{self.network.socks_port}",
            control=f"127.0.0.1:{self.network.control_port}",
            onion=onion.hostname,
            target_port=onion.target_port,
        )

    def describe(self) -> str:
        """Where the network is and how long each step took (after :meth:`wait`)."""
        if self.network is None:
            return "the private Tor network is not up"
        t = self.network.timings
        return (f"private Tor network up in {t['first_fetch']:.1f} s (authority keys "
                f"{t['keys']:.1f} s, first consensus {t['consensus']:.1f} s, client "
                f"bootstrapped {t['client_bootstrapped']:.1f} s, onion descriptor published "
                f"{t['descriptors']:.1f} s, onion answering {t['first_fetch']:.1f} s); "
                f"{len(self.network.processes)} tor processes in {self.network.base}")

    def close(self, *, keep: bool = False) -> None:
        """Cancel a launch still under way, stop every tor; remove its files unless ``keep``."""
        self._cancel.set()
        try:
            network = self._future.result(timeout=90)
        except Exception:  # noqa: BLE001 - launch() stopped and removed all it started before
            return  # raising; wait() is where its error is reported
        network.stop(remove=not keep)
