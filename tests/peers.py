"""Real peers for the executors' tests, each started by the test on a free loopback port and
stopped after it: an HTTP server that records what it receives, an SMTP server (aiosmtpd) that
keeps the mail it gets, and Debian's OpenSSH server with a throw-away host key and client key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers import free_port

__all__ = ["HttpPeer", "SmtpPeer", "SshPeer", "http_peer", "smtp_peer", "ssh_peer"]


@dataclass
class HttpPeer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def http_peer() -> Iterator[HttpPeer]:
    """Answers ``/status/N`` with status N, ``/slow`` after 5 s, ``/json`` with JSON, and
    anything else with 200 and what it received, as JSON."""
    peer = HttpPeer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("utf-8", "surrogateescape"),
            }
            peer.requests.append(seen)
            if self.path.startswith("/status/"):
                code = int(self.path.split("/")[2])
                self._send(code, b"status body", "text/plain")
            elif self.path.startswith("/slow"):
                time.sleep(5)
                self._send(200, b"late", "text/plain")
            elif self.path.startswith("/json"):
                self._send(200, b'{"ok": true, "items": [1, 2]}', "application/json")
            else:
                self._send(200, json.dumps(seen).encode(), "application/json")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.send_header("x-peer", "yes")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpPeer:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@contextmanager
def smtp_peer() -> Iterator[SmtpPeer]:
    """aiosmtpd on loopback, keeping every message it is given."""
    from aiosmtpd.controller import Controller

    port = free_port()
    peer = SmtpPeer("127.0.0.1", port)

    class Keep:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            message = message_from_bytes(envelope.content)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            peer.messages.append(message)
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield peer
    finally:
        controller.stop()


@dataclass
class SshPeer:
    host: str
    port: int
    user: str
    key: Path  # the client's private key
    known_hosts: Path  # holds the server's host key


def sshd_path() -> str:
    for candidate in ("/usr/sbin/sshd", shutil.which("sshd") or ""):
        if candidate and os.path.exists(candidate):
            return candidate
    raise AssertionError("sshd is missing: scripts/test.sh installs Debian's openssh-server")


@contextmanager
def ssh_peer(root: Path) -> Iterator[SshPeer]:
    """Debian's sshd as a foreground process on a free loopback port: a throw-away host key,
    one authorized client key, this user."""
    sshd = sshd_path()
    root.mkdir(parents=True, exist_ok=True)
    host_key, client_key = root / "host_key", root / "client_key"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = root / "authorized_keys"
    authorized.write_text((root / "client_key.pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\nPidFile {root / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    known = root / "known_hosts"
    public = (root / "host_key.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    log = (root / "sshd.log").open("wb")
    process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    try:
        _wait_listening(port, process, root / "sshd.log")
        user = (
            os.environ.get("USER")
            or subprocess.run(
                ["id", "-un"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        yield SshPeer("127.0.0.1", port, user, client_key, known)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sshd exited: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"sshd never listened: {log.read_text()}")
