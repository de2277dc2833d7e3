#!/usr/bin/python3
"""TLS on agorad's tls: listeners, checked with a third-party client.

The client is conformance.py's (Python's ssl module and msgpack, written
from docs/protocol.md). Certificates are made at run time with the openssl
command: a test CA with agorad's certificate (127.0.0.1, localhost) and a
relay's, and another CA with a client certificate. Skipped (exit 77)
without openssl. Checked here: a plain TCP client on a tls: port is
refused and closed while others are served; a client trusting another CA
fails to verify the server; --tls-client-ca requires a client certificate;
a certificate reload on SIGHUP keeps old connections and gives new ones
the new certificate, and a failed one keeps the old; a TLS-terminating
relay cannot pass the handshake (channel binding, protocol section 2.1);
a client that stalls its TLS handshake delays nobody and is closed by the
auth timeout; the limits hold over TLS; bad TLS flags are refused.
"""
import hashlib
import hmac
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

import msgpack

import conformance as cf
from conformance import AGORAD, Conn, Server, make_cert


def setUpModule():
    global PKI
    PKI = tempfile.mkdtemp(prefix="agora-tls-pki-")
    cf.make_pki(PKI)
    make_cert(PKI, "other-ca")
    make_cert(PKI, "client", ca="other-ca", server=False)
    make_cert(PKI, "relay", ca="ca", cn="relay")


def tearDownModule():
    shutil.rmtree(PKI, ignore_errors=True)


def pki(name):
    return os.path.join(PKI, name)


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def der_of(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def refused(conn_fn):
    """True when the server ends a TLS connection made by @conn_fn before
    answering a hello: the handshake, the first read or the hello fails."""
    c = None
    try:
        c = conn_fn()
        c.send("hello", [1, os.urandom(32)])
        return c.recv() is None
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    finally:
        if c is not None:
            c.close()


class TLSBase(unittest.TestCase):
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(tls=True, pki=PKI, args=cls.args)

    @classmethod
    def tearDownClass(cls):
        status = cls.server.stop()
        if status != 0:
            raise AssertionError("agorad exited with status %d" % status)

    def served(self):
        """A new TLS client completes the bound handshake and is served."""
        c = Conn(self.server)
        try:
            self.assertTrue(c.server_proof_ok)
            self.assertEqual(c.ok("ping", "still"), "still")
        finally:
            c.close()


class PlainClient(TLSBase):
    args = ("--auth-timeout", "5")

    def test_plain_tcp_client_is_closed_and_others_served(self):
        # At once: in less than the auth timeout of 5 s set here.
        raw = socket.create_connection(self.server.tls, timeout=4)
        raw.sendall(msgpack.packb([0, 1, "hello", [1, os.urandom(32)]],
                                  use_bin_type=True))
        data = b""
        try:
            while True:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        raw.close()
        self.assertEqual(data, b"")  # no Agora answer, nor TLS alert
        wait_for(lambda: "TLS handshake failed: not a TLS handshake "
                 "(first byte 0x94" in self.server.log(), "the log line")
        self.served()


class Refusals(TLSBase):
    def test_client_trusting_another_ca_fails_verification(self):
        ctx = cf.tls_context(pki("other-ca.crt"))
        with self.assertRaises(ssl.SSLCertVerificationError):
            Conn(self.server, ctx=ctx)
        self.served()

    def test_client_checks_the_host_name(self):
        ctx = cf.tls_context(pki("ca.crt"))
        raw = socket.create_connection(self.server.tls, timeout=10)
        with self.assertRaises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="elsewhere.example")
        raw.close()

    def test_no_tls_below_1_2(self):
        ctx = cf.tls_context(pki("ca.crt"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:  # the client's OpenSSL may refuse to try (security level)
            self.assertTrue(refused(lambda: Conn(self.server, ctx=ctx,
                                                 auth=False)))
        except ssl.SSLError:
            pass
        c = Conn(self.server, auth=False)
        self.assertEqual(c.sock.version(), "TLSv1.3")
        c.close()

    def test_stalled_tls_handshake_delays_nobody_and_times_out(self):
        stalled = socket.create_connection(self.server.tls, timeout=10)
        half = socket.create_connection(self.server.tls, timeout=10)
        half.sendall(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello begun
        for _ in range(3):
            self.served()
        # --auth-timeout 1: the TLS handshake counts toward it.
        for s in (stalled, half):
            try:
                self.assertEqual(s.recv(4096), b"")
            except ConnectionResetError:
                pass
            s.close()
        wait_for(lambda: "(TLS handshake not finished)" in self.server.log(),
                 "the log line")

    def test_a_pipelined_burst_is_answered_in_full(self):
        """Many requests in few TLS records, answers in many: what
        OpenSSL decrypted beyond the reader's room is served too."""
        c = Conn(self.server)
        n = 3000
        c.sock.sendall(b"".join(msgpack.packb([0, i, "ping", [i * 7]])
                                for i in range(1, n + 1)))
        for i in range(1, n + 1):
            self.assertEqual(c.recv(), [1, i, None, i * 7])
        big = "z" * 200000
        self.assertEqual(c.ok("ping", big), big)
        c.close()

    def test_no_session_tickets_are_issued(self):
        c = Conn(self.server)
        self.assertEqual(c.ok("ping", 1), 1)
        self.assertFalse(c.sock.session.has_ticket)
        c.close()

    def test_the_wrong_key_is_auth_over_tls(self):
        c = Conn(self.server, auth=False)
        err, _ = c.handshake(b"w" * 32)
        self.assertFalse(c.server_proof_ok)
        self.assertEqual(err[1], "AUTH")
        self.assertTrue(c.closed())

    def test_an_unbound_proof_is_refused_over_tls(self):
        """A client that leaves the binding out (section 2's proofs) finds
        the server's proof wrong, and its own is refused."""
        c = Conn(self.server, auth=False)
        cnonce = os.urandom(32)
        err, hello = c.call("hello", 1, cnonce)
        self.assertIsNone(err)
        key = self.server.key
        unbound = hmac.new(key, b"agora-v1 server" + cnonce + hello["nonce"],
                           hashlib.sha256).digest()
        self.assertNotEqual(unbound, hello["proof"])
        proof = hmac.new(key, b"agora-v1 client" + hello["nonce"] + cnonce,
                         hashlib.sha256).digest()
        self.assertEqual(c.err("auth", proof), "AUTH")
        self.assertTrue(c.closed())


class ClientCertificates(TLSBase):
    args = ("--tls-client-ca", os.path.join("@PKI@", "other-ca.crt"))

    @classmethod
    def setUpClass(cls):
        cls.args = tuple(a.replace("@PKI@", PKI) for a in cls.args)
        super().setUpClass()

    def test_a_client_without_a_certificate_is_refused(self):
        self.assertTrue(refused(lambda: Conn(self.server, auth=False)))
        wait_for(lambda: "TLS handshake failed" in self.server.log(),
                 "the log line")

    def test_a_certificate_of_another_ca_is_refused(self):
        ctx = cf.tls_context(pki("ca.crt"),
                             cert=(pki("relay.crt"), pki("relay.key")))
        self.assertTrue(refused(lambda: Conn(self.server, ctx=ctx,
                                             auth=False)))

    def test_a_client_with_a_good_certificate_is_served(self):
        ctx = cf.tls_context(pki("ca.crt"),
                             cert=(pki("client.crt"), pki("client.key")))
        c = Conn(self.server, ctx=ctx)
        self.assertTrue(c.server_proof_ok)
        self.assertEqual(c.ok("ping", 7), 7)
        c.close()


class Limits(TLSBase):
    args = ("--max-message", "4096", "--max-output", "4096")

    def test_max_message_holds_over_tls(self):
        c = Conn(self.server)
        self.assertEqual(c.ok("ping", "x" * 1000), "x" * 1000)
        c.send("ping", ["x" * 8000])
        reply = c.recv()
        self.assertEqual(reply[2][1], "PROTOCOL")
        self.assertTrue(c.closed())

    def test_max_output_holds_over_tls(self):
        c = Conn(self.server)
        blob = "y" * 3000
        frames = b"".join(msgpack.packb([0, i, "ping", [blob]])
                          for i in range(1, 65))

        def flood():
            try:
                for _ in range(64):  # about 12 MiB never read
                    c.sock.sendall(frames)
            except (OSError, ssl.SSLError):
                pass

        t = threading.Thread(target=flood)
        t.start()
        wait_for(lambda: "answers unread" in self.server.log(),
                 "the --max-output cut", timeout=30)
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        t.join(30)
        c.close()
        self.served()


class MaxConnections(TLSBase):
    args = ("--max-connections", "1")

    def test_max_connections_holds_over_tls(self):
        first = Conn(self.server)
        second = Conn(self.server, auth=False)
        self.assertEqual(second.err("hello", 1, os.urandom(32)), "LIMIT")
        self.assertTrue(second.closed())
        self.assertEqual(first.ok("ping", 1), 1)
        first.close()

        def admitted():
            c = Conn(self.server, auth=False)
            err, _ = c.handshake(self.server.key)
            c.close()
            return err is None

        # The server sees the first one's end a moment after close().
        wait_for(admitted, "a place freed")


class Relay:
    """A TLS-terminating relay: its own certificate (from the test CA, so
    the client trusts it) toward the client, a second TLS connection to
    agorad, bytes forwarded both ways. Serves one client."""

    def __init__(self, target, cafile):
        self.target, self.cafile = target, cafile
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.addr = self.lsock.getsockname()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(pki("relay.crt"), pki("relay.key"))
        raw, _ = self.lsock.accept()
        down = sctx.wrap_socket(raw, server_side=True)
        up = cf.tls_context(self.cafile).wrap_socket(
            socket.create_connection(self.target),
            server_hostname="127.0.0.1")
        socks = {down: up, up: down}
        down.settimeout(10)
        up.settimeout(10)
        try:
            while True:
                ready, _, _ = select.select(list(socks), [], [], 10)
                if not ready:
                    return
                for s in ready:
                    # Not blocking: a readable socket may hold only TLS
                    # records without data (TLS 1.3 session tickets).
                    s.setblocking(False)
                    while True:
                        try:
                            data = s.recv(65536)
                        except ssl.SSLWantReadError:
                            break
                        if not data:
                            return
                        socks[s].sendall(data)
                    s.settimeout(10)
        except (OSError, ssl.SSLError):
            return
        finally:
            down.close()
            up.close()
            self.lsock.close()


class ChannelBinding(TLSBase):
    # Two TLS handshakes and a thread before the hello: room on a busy
    # machine (the other classes keep conformance.py's 1 s).
    args = ("--auth-timeout", "5")

    def test_a_relay_cannot_pass_the_handshake(self):
        relay = Relay(self.server.tls, self.server.cafile)
        c = Conn(self.server, auth=False, addr=relay.addr)
        relay_der = c.sock.getpeercert(binary_form=True)
        self.assertEqual(relay_der, der_of(pki("relay.crt")))
        cnonce = os.urandom(32)
        err, hello = c.call("hello", 1, cnonce)
        self.assertIsNone(err)
        # The client checks the server's proof with the binding it sees
        # (the relay's certificate): wrong, so it closes without its own.
        cb = hashlib.sha256(relay_der).digest()
        want = hmac.new(self.server.key,
                        b"agora-v1 server" + cnonce + hello["nonce"] + cb,
                        hashlib.sha256).digest()
        self.assertFalse(hmac.compare_digest(want, hello["proof"]))
        c.close()
        relay.thread.join(10)
        wait_for(lambda: "authentication not finished" in self.server.log(),
                 "the log line")
        # The same client, directly: the handshake completes.
        self.served()


class Reload(unittest.TestCase):
    def setUp(self):
        self.pki = tempfile.mkdtemp(prefix="agora-tls-reload-")
        for name in ("ca.crt", "ca.key", "server.crt", "server.key"):
            shutil.copy(pki(name), self.pki)
        os.chmod(os.path.join(self.pki, "server.key"), 0o600)
        self.server = Server(tls=True, pki=self.pki)

    def tearDown(self):
        status = self.server.stop()
        shutil.rmtree(self.pki, ignore_errors=True)
        self.assertEqual(status, 0)

    def reload(self, n, what):
        self.server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.server.log().count(what) >= n, what)

    def test_a_reload_keeps_old_connections_and_serves_the_new_cert(self):
        old = Conn(self.server)
        old_der = old.sock.getpeercert(binary_form=True)
        self.assertEqual(old_der, der_of(pki("server.crt")))
        # Renewed: a new key and certificate, put in place by rename.
        new = tempfile.mkdtemp(dir=self.pki)
        shutil.copy(pki("ca.crt"), new)
        shutil.copy(pki("ca.key"), new)
        crt, key = make_cert(new, "server", ca="ca", cn="localhost")
        os.replace(key, os.path.join(self.pki, "server.key"))
        os.replace(crt, os.path.join(self.pki, "server.crt"))
        self.reload(1, "info: reloaded the TLS certificate")
        # The connection from before keeps working, with its certificate.
        self.assertEqual(old.ok("ping", "before"), "before")
        self.assertEqual(old.sock.getpeercert(binary_form=True), old_der)
        fresh = Conn(self.server)
        self.assertTrue(fresh.server_proof_ok)
        fresh_der = fresh.sock.getpeercert(binary_form=True)
        self.assertNotEqual(fresh_der, old_der)
        self.assertEqual(fresh_der,
                         der_of(os.path.join(self.pki, "server.crt")))
        self.assertEqual(fresh.ok("ping", "after"), "after")
        self.assertEqual(old.ok("ping", "still"), "still")
        old.close()
        fresh.close()

    def test_a_failed_reload_keeps_the_certificate_in_use(self):
        keyfile = os.path.join(self.pki, "server.key")
        os.chmod(keyfile, 0o644)
        self.reload(1, "reload failed")
        self.assertIn("run: chmod 600 " + keyfile, self.server.log())
        os.chmod(keyfile, 0o600)
        with open(os.path.join(self.pki, "server.crt"), "w") as f:
            f.write("not a certificate\n")
        self.reload(2, "reload failed")
        c = Conn(self.server)
        self.assertEqual(c.sock.getpeercert(binary_form=True),
                         der_of(pki("server.crt")))
        self.assertEqual(c.ok("ping", 1), 1)
        c.close()


def agorad_fails(*args):
    """Run agorad with @args and a key file; (exit status, stderr)."""
    d = tempfile.mkdtemp(prefix="agora-tls-flags-")
    try:
        key = os.path.join(d, "key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, os.urandom(32))
        os.close(fd)
        p = subprocess.run([AGORAD, "--authkey-file", key] + list(args),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=10)
        return p.returncode, p.stderr.decode()
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Flags(unittest.TestCase):
    def test_a_tls_listener_needs_cert_and_key(self):
        rc, err = agorad_fails("--listen", "tls:127.0.0.1:0",
                               "--tls-cert", pki("server.crt"))
        self.assertEqual(rc, 1)
        self.assertIn("--tls-key", err)
        rc, err = agorad_fails("--listen", "tls:127.0.0.1:0")
        self.assertEqual(rc, 1)
        self.assertIn("--tls-cert", err)

    def test_a_certificate_without_a_tls_listener_is_refused(self):
        rc, err = agorad_fails("--listen", "tcp:127.0.0.1:0",
                               "--tls-cert", pki("server.crt"),
                               "--tls-key", pki("server.key"))
        self.assertEqual(rc, 1)
        self.assertIn("no tls:HOST:PORT listener", err)

    def test_a_key_readable_by_others_is_refused_naming_the_chmod(self):
        d = tempfile.mkdtemp(prefix="agora-tls-mode-")
        try:
            key = os.path.join(d, "server.key")
            shutil.copy(pki("server.key"), key)
            os.chmod(key, 0o640)
            rc, err = agorad_fails("--listen", "tls:127.0.0.1:0",
                                   "--tls-cert", pki("server.crt"),
                                   "--tls-key", key)
            self.assertEqual(rc, 1)
            self.assertIn("run: chmod 600 " + key, err)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_a_key_of_another_certificate_is_refused(self):
        rc, err = agorad_fails("--listen", "tls:127.0.0.1:0",
                               "--tls-cert", pki("server.crt"),
                               "--tls-key", pki("relay.key"))
        self.assertEqual(rc, 1)
        self.assertIn("is not the key of the certificate", err)

    def test_ipv6_tls_listener_shows_its_port(self):
        try:
            socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        d = tempfile.mkdtemp(prefix="agora-tls-v6-")
        try:
            key = os.path.join(d, "key")
            fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, os.urandom(32))
            os.close(fd)
            p = subprocess.Popen(
                [AGORAD, "--authkey-file", key, "--listen", "tls:[::1]:0",
                 "--tls-cert", pki("server.crt"),
                 "--tls-key", pki("server.key")],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                preexec_fn=cf._die_with_parent)
            try:
                line = p.stdout.readline().decode()
                self.assertRegex(line,
                                 r"^agorad: listening on tls:\[::1\]:[1-9]")
            finally:
                p.terminate()
                p.wait(10)
                p.stdout.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    cf.require_openssl()
    unittest.main(verbosity=2)
