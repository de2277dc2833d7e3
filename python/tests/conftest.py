"""Fixtures of the package's tests: a private agorad per test.

AGORAD names the agorad to run (meson sets it to the build's); else the
one on PATH, else the repository's build/server/agorad.
"""
from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Iterator, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))

import agora  # noqa: E402


def agorad_path() -> str:
    """The agorad the tests run."""
    path = os.environ.get("AGORAD") or shutil.which("agorad") or \
        os.path.join(ROOT, "build", "server", "agorad")
    if not os.access(path, os.X_OK):
        pytest.fail("no agorad to run (set AGORAD): tried %s" % path)
    return path


def _die_with_parent() -> None:
    # SIGTERM to agorad when the test process dies (PR_SET_PDEATHSIG).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


class Server:
    """An agorad on a private Unix socket (and tcp:127.0.0.1:0 with
    @tcp), with a fresh key, its files in a temporary directory."""

    def __init__(self, args: Optional[List[str]] = None, tcp: bool = False,
                 keyfile: bool = True) -> None:
        agorad = agorad_path()  # before anything is made
        self.dir = tempfile.mkdtemp(prefix="agora-py-")
        self.key = os.urandom(32)
        self.keyfile = os.path.join(self.dir, "key")
        fd = os.open(self.keyfile, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, self.key + b"\n")  # one trailing newline is not key
        os.close(fd)
        self.path = os.path.join(self.dir, "agora.sock")
        self.address = "unix:" + self.path
        self.tcp_address: Optional[str] = None
        listen = ["--listen", self.address]
        if tcp:
            listen += ["--listen", "tcp:127.0.0.1:0"]
        if keyfile:
            listen += ["--authkey-file", self.keyfile]
        self.stderr_path = os.path.join(self.dir, "stderr")
        with open(self.stderr_path, "wb") as errf:
            try:
                self.proc = subprocess.Popen(
                    [agorad] + listen + list(args or []),
                    stdout=subprocess.PIPE, stderr=errf, bufsize=0,
                    preexec_fn=_die_with_parent)
            except BaseException:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise
        for want in ["unix"] + (["tcp"] if tcp else []):
            ready, _, _ = select.select([self.proc.stdout], [], [], 10)
            line = self.proc.stdout.readline().decode() if ready else ""
            prefix = "agorad: listening on %s:" % want
            if not line.startswith(prefix):
                self.stop()
                raise RuntimeError("agorad did not start: %r\n%s"
                                   % (line, self.log()))
            if want == "tcp":
                self.tcp_address = "tcp:" + line[len(prefix):].strip()

    def client(self, **kw) -> agora.Client:
        """A connected client of this server."""
        return agora.connect(self.address, self.key, **kw)

    def log(self) -> str:
        """What agorad wrote to stderr."""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM, wait (10 s, then SIGKILL); its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.last_log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


@pytest.fixture
def server() -> Iterator[Server]:
    """A private agorad for one test."""
    s = Server()
    try:
        yield s
    finally:
        status = s.stop()
    # agorad stops cleanly on SIGTERM; under AddressSanitizer a leak or an
    # error it found makes this fail
    assert status == 0, "agorad exited with %r:\n%s" % (status, s.last_log)


@pytest.fixture
def client(server: Server) -> Iterator[agora.Client]:
    """A client of the test's agorad."""
    c = server.client()
    try:
        yield c
    finally:
        c.close()
