"""A network split between a worker and PostgreSQL, made with a Linux network namespace: the
worker runs in a namespace of its own and reaches the database through a veth pair and a
relay on the host's end; the split is the host's end of the pair going down.

The cut-off worker cannot renew its run's lease, so its agent stops the run's step itself
before the lease expires; the scheduler's reaper finds the lease expired and queues the run
again (``retryOnWorkerLost``); a worker on the host runs it to the end. The step holds a
``flock`` while it runs, so two executions at once would say "OVERLAP". When the split heals,
the cut-off agent's late writes carry an old epoch and change nothing.

Needs root (``ip netns``): skipped otherwise, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.cluster import Cluster, alive, wait_for

pytestmark = [
    pytest.mark.postgres_only(reason="workers share a PostgreSQL store"),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="a network split needs root and iproute2 (ip netns)",
    ),
]

HEADER = """
workerSelector: {pool: split}
retryOnWorkerLost: 1
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class Relay:
    """Accepts on ``host:port`` and pipes each connection to ``target`` (the database)."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.server = socket.create_server((host, 0))
        self.port = self.server.getsockname()[1]
        self.target = target
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def island() -> Iterator[tuple[str, str, str]]:
    """A network namespace joined to the host by a veth pair: (namespace, host's end,
    host's address)."""
    tag = uuid.uuid4().hex[:6]
    ns, host_end, ns_end = f"plait-{tag}", f"vh{tag}", f"vn{tag}"
    subnet = 200 + int(tag[:2], 16) % 50
    host_ip, ns_ip = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("-n", ns, "addr", "add", f"{ns_ip}/30", "dev", ns_end)
        _ip("-n", ns, "link", "set", ns_end, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, host_end, host_ip
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.timeout(300)
def test_a_worker_cut_off_from_the_database_stops_its_run_and_another_runs_it_once(
    cluster: Cluster, island: tuple[str, str, str]
) -> None:
    ns, host_end, host_ip = island
    cluster.exclusive_workflow("far", HEADER, sleep=6)
    url = urlsplit(cluster.env["PLAIT_DATABASE_URL"])
    relay = Relay(host_ip, (url.hostname or "127.0.0.1", url.port or 5432))
    try:
        netloc = (
            f"{url.username}@{host_ip}:{relay.port}" if url.username else f"{host_ip}:{relay.port}"
        )
        far_env = {**cluster.env, "PLAIT_DATABASE_URL": urlunsplit(url._replace(netloc=netloc))}
        with open(cluster.root / "island.log", "ab") as log:
            island_worker = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "plait", "worker",
                 "--id", "island", "--labels", "pool=split", "--slots", "1"],
                env=far_env, stdout=log, stderr=log, cwd=cluster.root,
            )  # fmt: skip
        cluster.processes.append(island_worker)
        wait_for(lambda: cluster.live("island"), 60, "the worker in the namespace to register")
        cluster.scheduler()
        run_id = cluster.enqueue("far")
        wait_for(lambda: cluster.ledger_lines(), 60, "the step to start on the island")
        assert cluster.status(run_id)["worker"] == "island"

        step = int(cluster.ledger_lines()[0].split()[2])
        _ip("link", "set", host_end, "down")  # the split
        # the cut-off agent stops its step itself, before the lease expires and the run is
        # reaped: the run is still the island's first attempt when the step is gone
        wait_for(lambda: not alive(step), 30, "the cut-off agent to stop its step")
        held = cluster.status(run_id)
        assert (held["attempt"], held["worker"]) == (1, "island"), held
        cluster.worker("mainland", "pool=split", slots=1)
        final = cluster.final(run_id, timeout=120)
        assert final["status"] == "succeeded", (final, cluster.logs())
        assert final["worker"] == "mainland" and final["attempt"] == 2, final
        lines = cluster.ledger_lines()
        assert not [x for x in lines if "OVERLAP" in x], lines
        assert [x.split()[1] for x in lines] == ["start", "start", "end"], lines

        _ip("link", "set", host_end, "up")  # healed: the island's late writes change nothing
        time.sleep(6)
        after = cluster.status(run_id)
        assert (after["status"], after["attempt"], after["worker"]) == ("succeeded", 2, "mainland")
        assert after["error"] == final["error"] and after["steps"] == final["steps"], after
    finally:
        relay.close()
