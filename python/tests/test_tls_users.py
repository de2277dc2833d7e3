"""TLS (protocol 2.1) and users (protocol 2.2, docs/security.md) through
the Client's options: tls_ca, tls_cert, tls_key, user."""
from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Iterator, List, Optional

import pytest

import agora

from conftest import Server

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None,
    reason="the openssl command is missing (it makes the test certificates)")

READER_KEY = b"reader key, sixteen bytes or more"
WORKER_KEY = b"worker key, sixteen bytes or more"
USERS = """# NAME  KEY  RIGHTS  NAMES
reader key=%s rights=read
worker key=%s rights=read,write,create names=jobs.*
""" % (READER_KEY.hex(), WORKER_KEY.hex())


def _openssl(*args: str) -> None:
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=30)


def make_cert(dir: str, name: str, ca: Optional[str] = None,
              server: bool = True) -> None:
    """dir/name.crt and dir/name.key (EC): a self-signed CA when @ca is
    None, else signed by @ca, for 127.0.0.1 and localhost (@server) or a
    client."""
    key = os.path.join(dir, name + ".key")
    crt = os.path.join(dir, name + ".crt")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", key]
    if ca is None:
        _openssl("req", "-x509", *ec, "-out", crt, "-subj", "/CN=" + name,
                 "-days", "2")
    else:
        csr = os.path.join(dir, name + ".csr")
        ext = os.path.join(dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                        "extendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        _openssl("req", *ec, "-out", csr, "-subj", "/CN=" + name)
        _openssl("x509", "-req", "-in", csr,
                 "-CA", os.path.join(dir, ca + ".crt"),
                 "-CAkey", os.path.join(dir, ca + ".key"),
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                 "-out", crt, "-days", "2", "-extfile", ext)
    os.chmod(key, 0o600)


@pytest.fixture(scope="module")
def pki() -> Iterator[str]:
    """A CA, agorad's certificate and a client's signed by it, and another
    self-signed CA ("other") that signed nothing here."""
    d = tempfile.mkdtemp(prefix="agora-py-pki-")
    try:
        make_cert(d, "ca")
        make_cert(d, "server", ca="ca")
        make_cert(d, "client", ca="ca", server=False)
        make_cert(d, "other")
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class TLSServer(Server):
    """The conftest Server also listening on tls:127.0.0.1:0 (with
    @users: the text of a users file)."""

    def __init__(self, pki: str, args: Optional[List[str]] = None,
                 users: Optional[str] = None) -> None:
        self.users_dir = tempfile.mkdtemp(prefix="agora-py-users-")
        extra = ["--listen", "tls:127.0.0.1:0",
                 "--tls-cert", os.path.join(pki, "server.crt"),
                 "--tls-key", os.path.join(pki, "server.key")]
        if users is not None:
            path = os.path.join(self.users_dir, "users")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, users.encode())
            os.close(fd)
            extra += ["--users", path]
        super().__init__(args=extra + list(args or []))
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        prefix = "agorad: listening on tls:"
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError("agorad did not listen on TLS: %r\n%s"
                               % (line, self.log()))
        self.tls_address = "tls:" + line[len(prefix):].strip()

    def stop(self) -> int:
        shutil.rmtree(self.users_dir, ignore_errors=True)
        return super().stop()


@pytest.fixture
def tls_server(pki: str) -> Iterator[TLSServer]:
    s = TLSServer(pki)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def users_server(pki: str) -> Iterator[TLSServer]:
    s = TLSServer(pki, users=USERS)
    try:
        yield s
    finally:
        s.stop()


def me(client: agora.Client) -> dict:
    """The server's map of the calling thread's connection."""
    return [m for m in client.clients() if m["self"]][0]


def others(server: Server) -> list:
    """(transport, user) of each connection but the asking one, as the
    default user (``clients`` needs admin) sees them."""
    c = server.client()
    try:
        return [(m["transport"], m["user"]) for m in c.clients()
                if not m["self"]]
    finally:
        c.close()


# ---- TLS -------------------------------------------------------------------

def test_tls_with_the_right_ca(tls_server, pki):
    c = agora.connect(tls_server.tls_address, tls_server.key,
                      tls_ca=os.path.join(pki, "ca.crt"))
    try:
        assert me(c)["transport"] == "tls"
        d = c.dict("d")
        d["k"] = [1, "two"]
        assert d["k"] == [1, "two"]
        r = c.transaction().compare(d, "getitem", ["k"], "==", [1, "two"]) \
            .then(d, "set", "k", 3).run()
        assert r.succeeded and d["k"] == 3
        # What another client sets is seen over TLS as over a Unix socket.
        local = tls_server.client()
        try:
            assert local.dict("d")["k"] == 3
        finally:
            local.close()
    finally:
        c.close()


def test_tls_watch_with_async_for(tls_server, pki):
    # The watch's own connection is TLS too; reading it from asyncio must
    # not block on a record half read.
    c = agora.connect(tls_server.tls_address, tls_server.key,
                      tls_ca=os.path.join(pki, "ca.crt"))
    try:
        d = c.dict("d")
        w = c.watch(d)

        async def main():
            async def writer():
                for i in range(3):
                    await asyncio.sleep(0.05)
                    d["k%d" % i] = "x" * 20000   # notifications of 20 kB
            asyncio.ensure_future(writer())
            got = []
            async for ch in w:
                got.append(ch.key)
                if len(got) == 3:
                    return got
        try:
            keys = asyncio.run(asyncio.wait_for(main(), 10))
        finally:
            w.close()
        assert keys == ["k0", "k1", "k2"]
    finally:
        c.close()


def test_tls_ca_from_the_environment(tls_server, pki, monkeypatch):
    monkeypatch.setenv("AGORA_TLS_CA", os.path.join(pki, "ca.crt"))
    c = agora.connect(tls_server.tls_address, tls_server.key)
    try:
        assert c.ping("over tls") == "over tls"
    finally:
        c.close()


def test_tls_with_another_ca_is_refused(tls_server, pki):
    with pytest.raises(agora.AuthError) as ei:
        agora.connect(tls_server.tls_address, tls_server.key,
                      tls_ca=os.path.join(pki, "other.crt"))
    assert "certificate" in str(ei.value)
    assert tls_server.tls_address in str(ei.value)
    assert isinstance(ei.value, PermissionError)


def test_tls_files_that_cannot_be_loaded(tls_server, pki):
    missing = os.path.join(pki, "missing.crt")
    with pytest.raises(ValueError, match="tls_ca %s" % missing):
        agora.connect(tls_server.tls_address, tls_server.key, tls_ca=missing)
    with pytest.raises(ValueError, match="tls_cert %s" % missing):
        agora.connect(tls_server.tls_address, tls_server.key,
                      tls_ca=os.path.join(pki, "ca.crt"), tls_cert=missing)
    # A key that is not the certificate's.
    with pytest.raises(ValueError, match="other.key"):
        agora.connect(tls_server.tls_address, tls_server.key,
                      tls_ca=os.path.join(pki, "ca.crt"),
                      tls_cert=os.path.join(pki, "client.crt"),
                      tls_key=os.path.join(pki, "other.key"))


def test_tls_wrong_key_is_refused(tls_server, pki):
    with pytest.raises(agora.AuthError, match="wrong key"):
        agora.connect(tls_server.tls_address, b"not the key, but long enough",
                      tls_ca=os.path.join(pki, "ca.crt"))


def test_tls_client_certificate(pki):
    s = TLSServer(pki, args=["--tls-client-ca", os.path.join(pki, "ca.crt")])
    try:
        ca = os.path.join(pki, "ca.crt")
        c = agora.connect(s.tls_address, s.key, tls_ca=ca,
                          tls_cert=os.path.join(pki, "client.crt"),
                          tls_key=os.path.join(pki, "client.key"))
        try:
            assert c.ping(1) == 1
        finally:
            c.close()
        # No certificate: the server ends the TLS handshake.
        with pytest.raises(agora.Error) as ei:
            agora.connect(s.tls_address, s.key, tls_ca=ca)
        assert isinstance(ei.value, agora.ConnectionLost)
        assert s.tls_address in str(ei.value)
        assert "client certificate" in str(ei.value)
    finally:
        s.stop()


# ---- users -----------------------------------------------------------------

def test_read_only_user(users_server):
    admin = users_server.client()
    try:
        d = admin.dict("settings")
        d["mode"] = "fast"
        reader = agora.connect(users_server.address, READER_KEY,
                               user="reader")
        try:
            reader.ping()
            assert others(users_server) == [("unix", None),
                                            ("unix", "reader")]
            rd = reader.dict("settings")        # exists: read is enough
            assert rd["mode"] == "fast"
            assert rd.copy() == {"mode": "fast"}
            with pytest.raises(PermissionError) as ei:
                rd["mode"] = "slow"
            assert isinstance(ei.value, agora.DeniedError)
            assert "write" in str(ei.value)
            with pytest.raises(agora.DeniedError):
                reader.dict("new-name")          # create
            # In a transaction each call is checked: nothing is done.
            with pytest.raises(agora.DeniedError) as ei:
                reader.transaction().then(rd, "getitem", "mode") \
                    .then(rd, "set", "mode", "slow").run()
            assert ei.value.where == {"branch": "then", "call": 1}
            # A read-only user may watch.
            with reader.watch(rd) as w:
                d["mode"] = "slow"
                assert w.next_change(5)[1:] == ("dict.set", "mode")
        finally:
            reader.close()
        assert d["mode"] == "slow"
    finally:
        admin.close()


def test_user_limited_to_names(users_server):
    worker = agora.connect(users_server.address, WORKER_KEY, user="worker")
    try:
        jobs = worker.list("jobs.todo")
        jobs.append("j1")
        assert jobs.copy() == ["j1"]
        with pytest.raises(agora.DeniedError):
            worker.list("other")
        assert [m["name"] for m in worker.ls()] == ["jobs.todo"]
    finally:
        worker.close()


def test_user_over_tls(users_server, pki):
    c = agora.connect(users_server.tls_address, READER_KEY, user="reader",
                      tls_ca=os.path.join(pki, "ca.crt"))
    try:
        c.ping()
        assert others(users_server) == [("tls", "reader")]
        with pytest.raises(agora.DeniedError):
            c.dict("d")
    finally:
        c.close()


def test_user_from_the_environment(users_server, monkeypatch):
    admin = users_server.client()     # made before: the default user
    monkeypatch.setenv("AGORA_USER", "reader")
    c = agora.connect(users_server.address, READER_KEY)
    try:
        c.ping()
        assert [m["user"] for m in admin.clients() if not m["self"]] \
            == ["reader"]
    finally:
        c.close()
        admin.close()


@pytest.mark.parametrize("user,key", [
    ("reader", WORKER_KEY),                  # a key, but another user's
    ("nobody", READER_KEY),                  # a user the server lacks
    (None, READER_KEY),                      # the default user's key is not
])
def test_wrong_user_or_key_is_refused(users_server, user, key):
    with pytest.raises(agora.AuthError) as ei:
        agora.connect(users_server.address, key, user=user)
    assert "wrong key" in str(ei.value)
    if user is not None:
        assert repr(user) in str(ei.value)
    # The server still serves the others.
    c = users_server.client()
    try:
        assert c.ping(2) == 2
    finally:
        c.close()


def test_tls_close_ends_iterations_in_other_threads(tls_server, pki):
    c = agora.connect(tls_server.tls_address, tls_server.key,
                      tls_ca=os.path.join(pki, "ca.crt"))
    try:
        d = c.dict("d")
        topic = c.topic("t")
        w = c.watch(d)
        sub = topic.subscribe()
        changes, messages = [], []
        readers = [
            threading.Thread(target=lambda: changes.extend(w)),
            threading.Thread(target=lambda: messages.extend(sub))]
        for th in readers:
            th.start()
        d["a"] = 1
        topic.publish("m")
        deadline = time.monotonic() + 5
        while (len(changes), len(messages)) != (1, 1) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        w.close()
        sub.close()
        for th in readers:
            th.join(5)
        assert not any(th.is_alive() for th in readers)
        assert [ch.key for ch in changes] == ["a"] and messages == ["m"]
        # Their connections are gone; the client's own stays.
        deadline = time.monotonic() + 5
        while len(c.clients()) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [m["transport"] for m in c.clients()] == ["tls"]
    finally:
        c.close()
