#!/usr/bin/python3
"""Protocol conformance: a third-party client written from docs/protocol.md.

It uses nothing of Agora's code: an off-the-shelf MessagePack library
(Debian's python3-msgpack), the standard library's HMAC, and raw sockets.
It starts a real agorad ($AGORAD) on a private Unix socket and checks the
handshake, every list, dict, queue and value method, the documented errors
for bad input, the limits, and pipelining with out-of-order answers.

With AGORA_CONFORMANCE_TLS=1 the same checks run over tls:127.0.0.1 with
the standard library's ssl module and the handshake bound to the TLS
channel (protocol section 2.1); the certificates are made at run time with
the openssl command (make_pki()), and the run is skipped (exit 77) without
it.
"""
import ctypes
import hashlib
import hmac
import os
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import msgpack

AGORAD = os.environ.get("AGORAD", "agorad")
# Every Conn over TLS unless it asks for another transport.
TLS = os.environ.get("AGORA_CONFORMANCE_TLS") == "1"


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_cert(dir, name, ca=None, server=True, cn=None):
    """An EC key and a certificate dir/name.crt, dir/name.key (mode 0600):
    a self-signed CA when @ca is None, else signed by CA @ca (a name made
    here before), for 127.0.0.1 and localhost (@server) or a client."""
    key = os.path.join(dir, name + ".key")
    crt = os.path.join(dir, name + ".crt")
    subj = "/CN=" + (cn or name)
    if ca is None:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                 "-out", crt, "-subj", subj, "-days", "2")
    else:
        csr = os.path.join(dir, name + ".csr")
        ext = os.path.join(dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "authorityKeyIdentifier=keyid\n"
                    "subjectKeyIdentifier=hash\n")
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                        "extendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                 "-out", csr, "-subj", subj)
        _openssl("x509", "-req", "-in", csr,
                 "-CA", os.path.join(dir, ca + ".crt"),
                 "-CAkey", os.path.join(dir, ca + ".key"),
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                 "-out", crt, "-days", "2", "-extfile", ext)
    os.chmod(key, 0o600)
    return crt, key


def make_pki(dir):
    """The test CA ("ca") and agorad's certificate ("server") signed by
    it, in @dir."""
    make_cert(dir, "ca")
    make_cert(dir, "server", ca="ca", cn="localhost")


def require_openssl():
    """Exit 77 (skipped) when the openssl command is missing."""
    if shutil.which("openssl") is None:
        print("SKIP: the openssl command is missing (it makes the test "
              "certificates)")
        sys.exit(77)


def tls_context(cafile, cert=None):
    """A client context as any client would make: verification of the
    server's certificate and host name on, trusting @cafile."""
    ctx = ssl.create_default_context(cafile=cafile)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return ctx


def binding(sock):
    """The channel binding of protocol section 2.1: SHA-256 of the
    certificate the server presented (DER), or b"" without TLS."""
    if not isinstance(sock, ssl.SSLSocket):
        return b""
    return hashlib.sha256(sock.getpeercert(binary_form=True)).digest()


def _die_with_parent():
    """In the child, before exec: SIGTERM when the test process dies
    (PR_SET_PDEATHSIG), so a test killed by its timeout leaves no agorad."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


class Server:
    def __init__(self, tcp=False, tls=None, args=(), pki=None, users=None,
                 authkey=True):
        """agorad on a Unix socket, and on tcp:127.0.0.1:0 with @tcp, and
        on tls:127.0.0.1:0 with @tls (default: TLS mode), with the
        certificates of @pki (a directory make_pki() filled; default: a
        new one in its own directory) and the extra flags @args; with
        @users (the text of a users file, agorad(8)) --users, and without
        @authkey no default user."""
        self.dir = tempfile.mkdtemp(prefix="agora-conf-")
        if tls is None:
            tls = TLS
        # The key file's bytes less one trailing newline are the key: a
        # random key must not end with one (1 run in 256 failed so).
        self.key = os.urandom(31) + b"k"
        keyfile = os.path.join(self.dir, "key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, self.key)
        os.close(fd)
        self.path = os.path.join(self.dir, "agora.sock")
        self.tcp = None  # (host, port) with tcp=True
        self.tls = None  # (host, port) with tls=True
        self.stderr = os.path.join(self.dir, "stderr")
        listen = ["--listen", "unix:" + self.path]
        if tcp:
            listen += ["--listen", "tcp:127.0.0.1:0"]
        if tls:
            self.pki = pki or self.dir
            if pki is None:
                make_pki(self.pki)
            self.cafile = os.path.join(self.pki, "ca.crt")
            listen += ["--listen", "tls:127.0.0.1:0",
                       "--tls-cert", os.path.join(self.pki, "server.crt"),
                       "--tls-key", os.path.join(self.pki, "server.key")]
        if users is not None:  # the text of a users file (agorad(8))
            self.users = os.path.join(self.dir, "users")
            self.write_users(users)
            listen += ["--users", self.users]
        if authkey:  # False (with users): no default user
            listen += ["--authkey-file", keyfile]
        errf = open(self.stderr, "wb")
        self.proc = subprocess.Popen(
            [AGORAD] + listen + ["--auth-timeout", "1"] + list(args),
            stdout=subprocess.PIPE, stderr=errf,
            bufsize=0,  # unbuffered: select() sees each line still unread
            preexec_fn=_die_with_parent)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("agorad: listening on unix:"):
            self.stop()
            raise RuntimeError("agorad did not start: %r" % line)
        if tcp:
            ready, _, _ = select.select([self.proc.stdout], [], [], 10)
            line = self.proc.stdout.readline().decode() if ready else ""
            prefix = "agorad: listening on tcp:"
            if not line.startswith(prefix):
                self.stop()
                raise RuntimeError("agorad did not listen on TCP: %r" % line)
            host, port = line[len(prefix):].strip().rsplit(":", 1)
            self.tcp = (host, int(port))
        if tls:
            ready, _, _ = select.select([self.proc.stdout], [], [], 10)
            line = self.proc.stdout.readline().decode() if ready else ""
            prefix = "agorad: listening on tls:"
            if not line.startswith(prefix):
                self.stop()
                raise RuntimeError("agorad did not listen on TLS: %r" % line)
            host, port = line[len(prefix):].strip().rsplit(":", 1)
            self.tls = (host, int(port))
        errf.close()

    def log(self):
        """What agorad wrote to stderr so far."""
        with open(self.stderr, "rb") as f:
            return f.read().decode(errors="replace")

    def write_users(self, text):
        tmp = self.users + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
        os.rename(tmp, self.users)

    def stop(self):
        """Stop agorad with SIGTERM; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        if os.environ.get("AGORA_CONF_DEBUG"):  # agorad's log, to debug
            sys.stderr.write(self.log())
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


class Conn:
    """A bare MessagePack-RPC connection."""

    def __init__(self, server, auth=True, tcp=False, tls=None, ctx=None,
                 addr=None):
        """Over TLS when @tls, or by default when the server listens on
        tls: and the connection is not @tcp; @ctx: the client's context
        (default: trusting the server's CA); @addr: another (host, port)
        to connect to over TLS (a relay)."""
        self.server = server
        if tls is None:
            tls = server.tls is not None and not tcp
        if tls:
            ctx = ctx or tls_context(server.cafile)
            raw = socket.create_connection(addr or server.tls, timeout=10)
            try:
                self.sock = ctx.wrap_socket(raw,
                                            server_hostname="127.0.0.1")
            except BaseException:
                raw.close()
                raise
        elif tcp:
            self.sock = socket.create_connection(server.tcp, timeout=10)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(server.path)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.msgid = 0
        self.notes = []  # notifications that came before a response
        if auth:
            self.handshake(server.key)

    def close(self):
        self.sock.close()

    def send(self, method, params):
        self.msgid += 1
        self.sock.sendall(msgpack.packb([0, self.msgid, method, params],
                                        use_bin_type=True))
        return self.msgid

    def recv(self):
        """The next message, or None when the server closed."""
        while True:
            for msg in self.unpacker:
                return msg
            try:
                data = self.sock.recv(65536)
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                return None
            if not data:
                return None
            self.unpacker.feed(data)

    def call(self, method, *params):
        msgid = self.send(method, list(params))
        msg = self.recv()
        while msg is not None and msg[0] == 2:  # a notification: kept
            self.notes.append(msg)
            msg = self.recv()
        assert msg is not None, "server closed the connection"
        assert msg[0] == 1 and msg[1] == msgid, msg
        return msg[2], msg[3]

    def ok(self, method, *params):
        err, result = self.call(method, *params)
        assert err is None, "%s%r: %r" % (method, params, err)
        return result

    def err(self, method, *params):
        err, result = self.call(method, *params)
        assert err is not None, "%s%r gave %r" % (method, params, result)
        assert isinstance(err[0], int) and isinstance(err[1], str)
        assert isinstance(err[2], str) and err[2], err
        assert result is None
        return err[1]

    def handshake(self, key, user=None):
        """hello [1, cnonce] (or [1, cnonce, user]), check the server's
        proof (server_proof_ok), then auth; returns auth's (err, result)."""
        cnonce = os.urandom(32)
        if user is None:
            err, hello = self.call("hello", 1, cnonce)
        else:
            err, hello = self.call("hello", 1, cnonce, user)
        assert err is None, err
        assert hello["version"] == 1
        assert hello["server"].startswith("agora/")
        snonce = hello["nonce"]
        self.hello = hello
        cb = binding(self.sock)
        want = hmac.new(key, b"agora-v1 server" + cnonce + snonce + cb,
                        hashlib.sha256).digest()
        self.server_proof_ok = hmac.compare_digest(want, hello["proof"])
        proof = hmac.new(key, b"agora-v1 client" + snonce + cnonce + cb,
                         hashlib.sha256).digest()
        return self.call("auth", proof)

    def closed(self):
        """True when the server has closed this connection (which is then
        closed here too)."""
        try:
            while True:
                msg = self.recv()
                if msg is None:
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        finally:
            self.close()


def user_conn(server, key, user):
    """A Conn authenticated as @user (of @server's users file) with @key,
    having checked the server's proof."""
    c = Conn(server, auth=False)
    err, res = c.handshake(key, user)
    assert c.server_proof_ok, user
    assert err is None and res is True, (user, err, res)
    return c


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        status = cls.server.stop()
        if status != 0:
            raise AssertionError("agorad exited with status %d" % status)

    def setUp(self):
        self.c = Conn(self.server)

    def tearDown(self):
        self.c.close()

    def open(self, type_, name=None, options=None):
        return self.c.ok("open", type_, name, options or {})


class Handshake(Base):
    def test_server_proves_it_holds_the_key(self):
        c = Conn(self.server, auth=False)
        err, res = c.handshake(self.server.key)
        self.assertTrue(c.server_proof_ok)
        self.assertIsNone(err)
        self.assertIs(res, True)
        self.assertEqual(c.ok("ping", "x"), "x")
        c.close()

    def test_wrong_key_is_auth_then_close(self):
        c = Conn(self.server, auth=False)
        err, _ = c.handshake(b"w" * 32)
        self.assertFalse(c.server_proof_ok)
        self.assertEqual(err[1], "AUTH")
        self.assertEqual(err[0], 2)
        self.assertTrue(c.closed())

    def test_request_before_auth_is_auth_then_close(self):
        c = Conn(self.server, auth=False)
        self.assertEqual(c.err("ping", 1), "AUTH")
        self.assertTrue(c.closed())

    def test_unknown_version_is_version(self):
        c = Conn(self.server, auth=False)
        self.assertEqual(c.err("hello", 2, os.urandom(32)), "VERSION")
        self.assertTrue(c.closed())

    def test_unauthenticated_connection_times_out(self):
        c = Conn(self.server, auth=False)
        t0 = time.monotonic()
        self.assertTrue(c.closed())
        self.assertLess(time.monotonic() - t0, 9)

    def test_preauth_frame_over_1k_is_refused(self):
        c = Conn(self.server, auth=False)
        msg = c.send("hello", [1, os.urandom(32), "x" * 2000])
        reply = c.recv()
        self.assertEqual(reply[1], msg)
        self.assertEqual(reply[2][1], "PROTOCOL")
        self.assertTrue(c.closed())


class Framing(Base):
    def test_huge_declared_array_is_refused_without_waiting(self):
        c = Conn(self.server)
        c.sock.sendall(b"\x94\x00\x07\xa4ping\xdd\xff\xff\xff\xff")
        reply = c.recv()
        self.assertEqual(reply[1], 7)
        self.assertEqual(reply[2][1], "PROTOCOL")
        self.assertTrue(c.closed())
        self.assertEqual(self.c.ok("ping", 1), 1)

    def test_garbage_closes_only_that_connection(self):
        h = self.open("list", "framing.keep")
        self.c.ok("list.append", h, 42)
        bad = Conn(self.server)
        bad.sock.sendall(b"\xc1\xc1\xc1\xc1")
        self.assertTrue(bad.closed())
        self.assertEqual(self.c.ok("list.copy", h), [42])

    def test_depth_32_passes_and_33_is_refused(self):
        v = 0
        for _ in range(30):  # request array + params array + 30 = 32
            v = [v]
        self.assertEqual(self.c.ok("ping", v), v)
        bad = Conn(self.server)
        bad.send("ping", [[v]])
        reply = bad.recv()
        self.assertEqual(reply[2][1], "PROTOCOL")
        self.assertTrue(bad.closed())

    def test_not_a_request_is_protocol(self):
        c = Conn(self.server)
        c.sock.sendall(msgpack.packb([1, 5, None, None]))
        reply = c.recv()
        self.assertEqual(reply[2][1], "PROTOCOL")
        self.assertTrue(c.closed())

    def test_pipelined_ping_overtakes_a_parked_get(self):
        q = self.open("queue", "framing.q")
        get_id = self.c.send("queue.get", [q])
        ping_id = self.c.send("ping", ["after"])
        first = self.c.recv()
        self.assertEqual(first[1], ping_id)
        self.assertEqual(first[3], "after")
        other = Conn(self.server)
        q2 = other.ok("open", "queue", "framing.q", {})
        other.ok("queue.put", q2, "item")
        second = self.c.recv()
        self.assertEqual(second[1], get_id)
        self.assertEqual(second[3], "item")
        other.close()

    def test_integer_widths_are_the_same_key(self):
        d = self.open("dict")
        # 1 as uint64 (cf) for the set, as fixint for the get.
        req = (b"\x94\x00\xcd\x10\x00\xa8dict.set\x93" +
               bytes([d]) + b"\xcf" + struct.pack(">Q", 1) + b"\xa3one")
        self.c.sock.sendall(req)
        self.assertEqual(self.c.recv()[2], None)
        self.assertEqual(self.c.ok("dict.getitem", d, 1), "one")
        self.assertEqual(self.c.err("dict.getitem", d, 1.0), "KEY")


class Objects(Base):
    def test_open_is_get_or_create_and_type_checked(self):
        a = self.open("list", "objects.shared")
        other = Conn(self.server)
        b = other.ok("open", "list", "objects.shared", {})
        other.ok("list.append", b, "from other")
        self.assertEqual(self.c.ok("list.copy", a), ["from other"])
        self.assertEqual(other.err("open", "dict", "objects.shared", {}),
                         "TYPE")
        other.close()

    def test_each_open_gives_a_new_handle(self):
        a = self.open("value", "objects.v")
        b = self.open("value", "objects.v")
        self.assertNotEqual(a, b)
        self.assertEqual(self.c.ok("info", a)["id"],
                         self.c.ok("info", b)["id"])

    def test_open_errors(self):
        self.assertEqual(self.c.err("open", "nosuchtype", None, {}), "ARGS")
        self.assertEqual(self.c.err("open", "queue", None, {"bogus": 1}),
                         "ARGS")
        self.assertEqual(self.c.err("open", "list", "", {}), "VALUE")
        self.assertEqual(self.c.err("open", "list", "x" * 256, {}), "VALUE")
        self.assertEqual(self.c.err("open", "list", 5, {}), "ARGS")

    def test_close_drop_ls_info_stats(self):
        h = self.open("dict", "objects.d")
        self.c.ok("dict.set", h, "k", "v")
        names = {o["name"]: o for o in self.c.ok("ls")}
        self.assertEqual(names["objects.d"]["type"], "dict")
        self.assertEqual(names["objects.d"]["len"], 1)
        info = self.c.ok("info", h)
        for k in ("id", "ref", "type", "name", "len", "waiters"):
            self.assertIn(k, info)
        stats = self.c.ok("stats")
        for k in ("connections", "objects", "requests", "waiters", "memory"):
            self.assertIn(k, stats)
        self.assertIs(self.c.ok("drop", "objects.d"), True)
        self.assertIs(self.c.ok("drop", "objects.d"), False)
        self.assertEqual(self.c.ok("dict.getitem", h, "k"), "v")
        self.assertIsNone(self.c.ok("close", h))
        self.assertEqual(self.c.err("dict.len", h), "NO_OBJECT")
        self.assertEqual(self.c.err("close", h), "NO_OBJECT")

    def test_ls_with_a_glob(self):
        for n in ("globs.a1", "globs.a2", "globs.b1", "globs[x]"):
            self.open("list", n)
        names = lambda *p: sorted(o["name"] for o in self.c.ok("ls", *p))
        self.assertEqual(names("globs.a*"), ["globs.a1", "globs.a2"])
        self.assertEqual(names("globs.?1"), ["globs.a1", "globs.b1"])
        self.assertEqual(names("globs.[!a]*"), ["globs.b1"])
        self.assertEqual(names("globs\\[x]"), ["globs[x]"])
        self.assertEqual(names("nothing*"), [])
        everything = names()
        self.assertEqual(names(None), everything)
        self.assertEqual(names("*"), everything)
        self.assertIn("globs.a1", everything)
        o = [o for o in self.c.ok("ls", "globs.a1")]
        self.assertEqual(o, [{"name": "globs.a1", "type": "list", "len": 0}])
        self.assertEqual(self.c.err("ls", 5), "ARGS")
        self.assertEqual(self.c.err("ls", "a*", 1), "ARGS")

    def test_method_errors(self):
        d = self.open("dict")
        self.assertEqual(self.c.err("frobnicate"), "NO_METHOD")
        self.assertEqual(self.c.err("list.frobnicate", d), "NO_METHOD")
        self.assertEqual(self.c.err("list.append", d, 1), "TYPE")
        self.assertEqual(self.c.err("dict.set", d, 1), "ARGS")
        self.assertEqual(self.c.err("dict.len", "h"), "ARGS")
        self.assertEqual(self.c.err("dict.len", 999), "NO_OBJECT")


class Lists(Base):
    def test_every_list_method(self):
        h = self.open("list")
        ok, err = self.c.ok, self.c.err
        self.assertIsNone(ok("list.append", h, 1))
        ok("list.extend", h, [2, 3, 4])
        ok("list.insert", h, 0, 0)
        ok("list.insert", h, -1, 3.5)
        ok("list.insert", h, 100, 9)
        self.assertEqual(ok("list.copy", h), [0, 1, 2, 3, 3.5, 4, 9])
        self.assertEqual(ok("list.get", h, -1), 9)
        self.assertEqual(err("list.get", h, 7), "INDEX")
        self.assertEqual(err("list.get", h, "0"), "ARGS")
        ok("list.set", h, -2, 40)
        self.assertEqual(err("list.set", h, 10, 1), "INDEX")
        ok("list.delete", h, 4)
        self.assertEqual(ok("list.copy", h), [0, 1, 2, 3, 40, 9])
        self.assertEqual(ok("list.slice", h), [0, 1, 2, 3, 40, 9])
        self.assertEqual(ok("list.slice", h, 1, -1), [1, 2, 3, 40])
        self.assertEqual(ok("list.slice", h, None, None, -2), [9, 3, 1])
        self.assertEqual(ok("list.slice", h, -100, 100, 2), [0, 2, 40])
        self.assertEqual(err("list.slice", h, None, None, 0), "VALUE")
        ok("list.set_slice", h, 1, 3, ["a", "b", "c"])
        self.assertEqual(ok("list.copy", h), [0, "a", "b", "c", 3, 40, 9])
        ok("list.del_slice", h, 1, 4)
        self.assertEqual(ok("list.copy", h), [0, 3, 40, 9])
        self.assertEqual(ok("list.pop", h), 9)
        self.assertEqual(ok("list.pop", h, 0), 0)
        ok("list.extend", h, [3, 3])
        self.assertEqual(ok("list.count", h, 3), 3)
        self.assertEqual(ok("list.index", h, 3), 0)
        self.assertEqual(ok("list.index", h, 3, 1), 2)
        self.assertEqual(err("list.index", h, 3, 1, 2), "VALUE")
        ok("list.remove", h, 3)
        self.assertEqual(err("list.remove", h, 77), "VALUE")
        self.assertIs(ok("list.contains", h, 40), True)
        self.assertIs(ok("list.contains", h, 40.0), False)
        self.assertEqual(ok("list.len", h), 3)
        ok("list.reverse", h)
        self.assertEqual(ok("list.copy", h), [3, 3, 40])
        ok("list.append", h, -1.5)
        ok("list.sort", h)
        self.assertEqual(ok("list.copy", h), [-1.5, 3, 3, 40])
        ok("list.sort", h, True)
        self.assertEqual(ok("list.copy", h), [40, 3, 3, -1.5])
        ok("list.append", h, "str")
        self.assertEqual(err("list.sort", h), "TYPE")
        self.assertEqual(ok("list.copy", h), [40, 3, 3, -1.5, "str"])
        ok("list.clear", h)
        self.assertEqual(ok("list.len", h), 0)
        self.assertEqual(err("list.pop", h), "INDEX")

    def test_sort_orders_like_python(self):
        h = self.open("list")
        self.c.ok("list.extend", h, [[1, "b"], [1, "a"], [0], [1]])
        self.c.ok("list.sort", h)
        self.assertEqual(self.c.ok("list.copy", h),
                         [[0], [1], [1, "a"], [1, "b"]])
        s = self.open("list")
        self.c.ok("list.extend", s, [b"b", b"a"])
        self.c.ok("list.sort", s)
        self.assertEqual(self.c.ok("list.copy", s), [b"a", b"b"])
        self.c.ok("list.append", s, "a")
        self.assertEqual(self.c.err("list.sort", s), "TYPE")


class Dicts(Base):
    def test_every_dict_method(self):
        d = self.open("dict")
        ok, err = self.c.ok, self.c.err
        ok("dict.set", d, "b", 1)
        ok("dict.set", d, "a", 2)
        ok("dict.set", d, 1, "int")
        ok("dict.set", d, 1.0, "float")
        ok("dict.set", d, b"a", "bin")
        ok("dict.set", d, "b", 10)  # keeps its place
        self.assertEqual(ok("dict.keys", d), ["b", "a", 1, 1.0, b"a"])
        self.assertEqual(ok("dict.values", d),
                         [10, 2, "int", "float", "bin"])
        self.assertEqual(ok("dict.items", d)[0], ["b", 10])
        self.assertEqual(ok("dict.get", d, "zz"), None)
        self.assertEqual(ok("dict.get", d, "zz", 5), 5)
        self.assertEqual(ok("dict.getitem", d, "a"), 2)
        self.assertEqual(err("dict.getitem", d, "zz"), "KEY")
        self.assertIs(ok("dict.contains", d, b"a"), True)
        self.assertEqual(ok("dict.len", d), 5)
        ok("dict.delete", d, b"a")
        self.assertEqual(err("dict.delete", d, b"a"), "KEY")
        self.assertEqual(ok("dict.pop", d, 1.0), "float")
        self.assertEqual(err("dict.pop", d, 1.0), "KEY")
        self.assertEqual(ok("dict.pop", d, 1.0, "dflt"), "dflt")
        self.assertEqual(ok("dict.popitem", d), [1, "int"])
        self.assertEqual(ok("dict.setdefault", d, "a", 99), 2)
        self.assertEqual(ok("dict.setdefault", d, "n", 99), 99)
        ok("dict.update", d, {"x": 1, "b": 0})
        self.assertEqual(ok("dict.copy", d),
                         {"b": 0, "a": 2, "n": 99, "x": 1})
        self.assertEqual(err("dict.update", d, [1]), "ARGS")
        self.assertEqual(ok("dict.incr", d, "x"), 2)
        self.assertEqual(ok("dict.incr", d, "new", -5), -5)
        self.assertEqual(ok("dict.incr", d, "x", 0.5), 2.5)
        ok("dict.set", d, "s", "text")
        self.assertEqual(err("dict.incr", d, "s"), "TYPE")
        ok("dict.set", d, "big", 2**64 - 1)
        self.assertEqual(err("dict.incr", d, "big"), "VALUE")
        self.assertEqual(ok("dict.getitem", d, "big"), 2**64 - 1)
        self.assertEqual(err("dict.set", d, {"k": 1}, 1), "TYPE")
        ok("dict.clear", d)
        self.assertEqual(err("dict.popitem", d), "KEY")
        self.assertEqual(ok("dict.copy", d), {})

    def test_dict_per_key_ttl(self):
        ok, err = self.c.ok, self.c.err
        d = self.open("dict")
        self.assertIsNone(ok("dict.set", d, "s", 1, 30))
        left = ok("dict.ttl", d, "s")
        self.assertIsInstance(left, float)
        self.assertTrue(29 < left <= 30)
        ok("dict.set", d, "s", 2)  # a plain set takes the TTL away
        self.assertIsNone(ok("dict.ttl", d, "s"))
        self.assertIsNone(ok("dict.set", d, "n", 1, None))
        self.assertEqual(err("dict.set", d, "s", 1, 0), "VALUE")
        self.assertEqual(err("dict.set", d, "s", 1, "soon"), "VALUE")
        self.assertIsNone(ok("dict.expire", d, "s", 10))
        self.assertTrue(9 < ok("dict.ttl", d, "s") <= 10)
        self.assertEqual(ok("dict.incr", d, "s"), 3)  # keeps the TTL
        self.assertTrue(9 < ok("dict.ttl", d, "s") <= 10)
        self.assertIsNone(ok("dict.expire", d, "s", None))
        self.assertIsNone(ok("dict.ttl", d, "s"))
        self.assertEqual(err("dict.expire", d, "zz", 5), "KEY")
        self.assertEqual(err("dict.expire", d, "s", -1), "VALUE")
        self.assertEqual(err("dict.ttl", d, "zz"), "KEY")
        at = time.time() + 100
        self.assertIsNone(ok("dict.expire_at", d, "s", at))
        self.assertTrue(98 < ok("dict.ttl", d, "s") <= 100)
        self.assertEqual(err("dict.expire_at", d, "s", -5), "VALUE")
        self.assertIsNone(ok("dict.expire_at", d, "s", 1.0))  # past: gone
        self.assertEqual(err("dict.ttl", d, "s"), "KEY")
        self.assertIs(ok("dict.contains", d, "s"), False)
        self.assertEqual(ok("dict.expired", d, ["n", "zz"]), 1)
        self.assertEqual(ok("dict.len", d), 0)
        self.assertEqual(err("dict.expired", d, "n"), "ARGS")

    def test_array_keys_equal_across_encodings(self):
        d = self.open("dict")
        self.c.ok("dict.set", d, [1, "x"], "tuple")
        self.assertEqual(self.c.ok("dict.getitem", d, [1, "x"]), "tuple")


class Queues(Base):
    def test_every_queue_method(self):
        q = self.open("queue", None, {"maxsize": 2})
        ok, err = self.c.ok, self.c.err
        self.assertIs(ok("queue.empty", q), True)
        ok("queue.put", q, "a")
        ok("queue.put_nowait", q, "b")
        self.assertIs(ok("queue.full", q), True)
        self.assertEqual(err("queue.put", q, "c", False), "FULL")
        self.assertEqual(err("queue.put", q, "c", True, 0.05), "FULL")
        self.assertEqual(err("queue.put_nowait", q, "c"), "FULL")
        self.assertEqual(ok("queue.qsize", q), 2)
        self.assertEqual(ok("queue.get", q), "a")
        self.assertEqual(ok("queue.get_nowait", q), "b")
        self.assertEqual(err("queue.get", q, False), "EMPTY")
        self.assertEqual(err("queue.get", q, True, 0.05), "EMPTY")
        self.assertEqual(err("queue.get_nowait", q), "EMPTY")
        self.assertEqual(err("queue.get", q, True, -1), "VALUE")
        self.assertEqual(err("queue.task_done", q), "NO_METHOD")
        self.assertEqual(err("open", "queue", None, {"maxsize": -1}),
                         "VALUE")

    def test_peek_takes_nothing_and_never_waits(self):
        for t in ("queue", "joinable_queue"):
            q = self.open(t, None, {})
            ok, err = self.c.ok, self.c.err
            self.assertEqual(ok(t + ".peek", q), [])
            self.assertEqual(ok(t + ".peek", q, 5), [])
            for v in ("a", [1, 2], {"b": None}):
                ok(t + ".put", q, v)
            self.assertEqual(ok(t + ".peek", q), ["a"])
            self.assertEqual(ok(t + ".peek", q, None), ["a"])
            self.assertEqual(ok(t + ".peek", q, 2), ["a", [1, 2]])
            self.assertEqual(ok(t + ".peek", q, 9), ["a", [1, 2], {"b": None}])
            self.assertEqual(ok(t + ".peek", q, 0), [])
            self.assertEqual(ok("queue.peek", q), ["a"])
            self.assertEqual(ok(t + ".qsize", q), 3)
            self.assertEqual(err(t + ".peek", q, -1), "VALUE")
            self.assertEqual(err(t + ".peek", q, "x"), "ARGS")
            self.assertEqual(err(t + ".peek", q, 1, 2), "ARGS")
            self.assertEqual(ok(t + ".get", q), "a")
            self.assertEqual(ok(t + ".peek", q), [[1, 2]])

    def test_waiters_are_served_in_arrival_order(self):
        q = self.open("queue", "queues.fifo")
        getters = [Conn(self.server) for _ in range(3)]
        ids = []
        for g in getters:
            h = g.ok("open", "queue", "queues.fifo", {})
            ids.append(g.send("queue.get", [h]))
        while self.c.ok("stats")["waiters"] < 3:
            time.sleep(0.01)
        for i in range(3):
            self.c.ok("queue.put", q, i)
        for i, g in enumerate(getters):
            msg = g.recv()
            self.assertEqual((msg[1], msg[3]), (ids[i], i))
            g.close()

    def test_withdrawn_getter_takes_nothing(self):
        q = self.open("queue", "queues.withdrawn")
        g = Conn(self.server)
        h = g.ok("open", "queue", "queues.withdrawn", {})
        g.send("queue.get", [h])
        while self.c.ok("stats")["waiters"] < 1:
            time.sleep(0.01)
        g.close()
        while self.c.ok("stats")["waiters"] > 0:
            time.sleep(0.01)
        self.c.ok("queue.put", q, "kept")
        self.assertEqual(self.c.ok("queue.get_nowait", q), "kept")


class Acknowledged(Base):
    """queue.take, ack, nack and pending (protocol section 4.3), on both
    queue types: an item taken stays pending on its connection until
    acknowledged, and goes back when its connection ends."""

    def me(self, conn):
        return [c["id"] for c in conn.ok("clients") if c["self"]][0]

    def test_take_ack_nack_and_pending(self):
        for t in ("queue", "joinable_queue"):
            q = self.open(t, None, {})
            ok, err = self.c.ok, self.c.err
            self.assertEqual(err(t + ".take", q, False), "EMPTY")
            self.assertEqual(err(t + ".take", q, True, 0.05), "EMPTY")
            self.assertEqual(ok(t + ".pending", q), [])
            ok(t + ".put", q, "a")
            ok(t + ".put", q, ["b"])
            i, item = ok(t + ".take", q)
            self.assertEqual(item, "a")
            self.assertIsInstance(i, int)
            self.assertGreaterEqual(i, 0)
            self.assertEqual(ok(t + ".qsize", q), 1)
            self.assertEqual(ok(t + ".pending", q),
                             [{"id": i, "conn": self.me(self.c),
                               "deliveries": 1, "lease": None}])
            # nack: back at the head, the same id, a second delivery
            self.assertIsNone(ok(t + ".nack", q, i))
            self.assertEqual(ok(t + ".pending", q), [])
            self.assertEqual(ok(t + ".take", q, True, None, None, True),
                             [i, "a", 2])
            self.assertIsNone(ok(t + ".ack", q, i))
            for m in ("ack", "nack"):
                self.assertEqual(err(t + "." + m, q, i), "VALUE")
                self.assertEqual(err(t + "." + m, q, i + 1000), "VALUE")
            # a lease: seconds left in pending
            j, item, n = ok(t + ".take", q, False, None, 30, True)
            self.assertEqual((item, n), (["b"], 1))
            self.assertNotEqual(j, i)
            lease = ok(t + ".pending", q)[0]["lease"]
            self.assertTrue(0 < lease <= 30, lease)
            ok(t + ".ack", q, j)
            self.assertEqual(ok(t + ".qsize", q), 0)
            self.assertEqual(ok(t + ".pending", q), [])
            ok(t + ".put", q, "c")
            self.assertEqual(err(t + ".take", q, True, None, 0), "VALUE")
            self.assertEqual(err(t + ".take", q, True, None, -1), "VALUE")
            self.assertEqual(err(t + ".take", q, True, -1), "VALUE")
            self.assertEqual(ok(t + ".qsize", q), 1)
        self.assertEqual(err("queue.take", q, True, None, None, True, 1),
                         "ARGS")
        self.assertEqual(err("queue.ack", q), "ARGS")

    def test_a_lease_that_passes_gives_the_item_back(self):
        q = self.open("queue", None, {})
        ok, err = self.c.ok, self.c.err
        ok("queue.put", q, 1)
        i, _ = ok("queue.take", q, True, None, 0.1)
        deadline = time.monotonic() + 10
        while ok("queue.qsize", q) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(err("queue.ack", q, i), "VALUE")
        self.assertEqual(ok("queue.take", q, False, None, None, True),
                         [i, 1, 2])
        ok("queue.ack", q, i)
        self.assertEqual(ok("info", q)["redelivered"], 1)

    def test_a_closed_takers_item_goes_to_a_parked_taker(self):
        q = self.open("queue", "ack.closed")
        taker = Conn(self.server)
        tq = taker.ok("open", "queue", "ack.closed", {})
        self.c.ok("queue.put", q, "job")
        i, _ = taker.ok("queue.take", tq)
        other = Conn(self.server)
        oq = other.ok("open", "queue", "ack.closed", {})
        # another connection may neither ack nor nack it
        self.assertEqual(other.err("queue.ack", oq, i), "VALUE")
        info = self.c.ok("info", q)
        self.assertEqual(info["pending"], {self.me(taker): [i]})
        holds = [h for c in self.c.ok("clients") if c["id"] == self.me(taker)
                 for h in c["holds"] if h["type"] == "queue"]
        self.assertEqual([(h["name"], h["count"]) for h in holds],
                         [("ack.closed", 1)])
        msgid = other.send("queue.take", [oq, True, None, None, True])
        while self.c.ok("stats")["waiters"] < 1:
            time.sleep(0.01)
        taker.close()
        msg = other.recv()
        self.assertEqual((msg[1], msg[2], msg[3]), (msgid, None, [i, "job", 2]))
        other.ok("queue.ack", oq, i)
        info = self.c.ok("info", q)
        self.assertEqual((info["pending"], info["redelivered"]), ({}, 1))
        other.close()

    def test_plain_get_is_not_pending(self):
        q = self.open("queue", "ack.get")
        g = Conn(self.server)
        gq = g.ok("open", "queue", "ack.get", {})
        self.c.ok("queue.put", q, "x")
        self.assertEqual(g.ok("queue.get", gq), "x")
        self.assertEqual(self.c.ok("queue.pending", q), [])
        g.close()
        while len(self.c.ok("clients")) > 1:
            time.sleep(0.01)
        self.assertEqual(self.c.ok("queue.qsize", q), 0)

    def test_dead_letter_after_max_deliveries(self):
        ok, err = self.c.ok, self.c.err
        dead = self.open("queue", "ack.dead")
        for t in ("queue", "joinable_queue"):
            self.assertEqual(err("open", t, None, {"max_deliveries": 2}),
                             "ARGS")
            self.assertEqual(err("open", t, None,
                                 {"dead_letter": "ack.dead"}), "ARGS")
            self.assertEqual(err("open", t, None,
                                 {"max_deliveries": 0,
                                  "dead_letter": "ack.dead"}), "VALUE")
            self.assertEqual(err("open", t, None,
                                 {"max_deliveries": 2,
                                  "dead_letter": "ack.nosuch"}), "VALUE")
        q = self.open("joinable_queue", None,
                      {"max_deliveries": 2, "dead_letter": "ack.dead"})
        ok("joinable_queue.put", q, "poison")
        i, _ = ok("joinable_queue.take", q)
        ok("joinable_queue.nack", q, i)
        self.assertEqual(ok("joinable_queue.take", q, True, None, None,
                            True), [i, "poison", 2])
        ok("joinable_queue.nack", q, i)
        # a third delivery would pass the limit: dead-lettered, and done
        self.assertEqual(ok("queue.get", dead, False), "poison")
        self.assertEqual(ok("joinable_queue.qsize", q), 0)
        info = ok("info", q)
        self.assertEqual((info["dead_lettered"], info["unfinished"]), (1, 0))
        self.assertIs(ok("joinable_queue.join", q, 0), True)

    def test_joinable_ack_is_task_done(self):
        ok, err = self.c.ok, self.c.err
        q = self.open("joinable_queue", None, {})
        ok("joinable_queue.put", q, 1)
        i, _ = ok("joinable_queue.take", q)
        self.assertEqual(ok("info", q)["unfinished"], 1)
        self.assertIs(ok("joinable_queue.join", q, 0), False)
        ok("joinable_queue.ack", q, i)
        self.assertEqual(ok("info", q)["unfinished"], 0)
        self.assertIs(ok("joinable_queue.join", q, 0), True)
        self.assertEqual(err("joinable_queue.task_done", q), "VALUE")


class WaitAny(Base):
    """get_any and take_any (protocol section 3.1): waiting on several
    queues at once, served by the first queue that has an item, FIFO
    among the waiters of each queue."""

    def waiters(self, n):
        deadline = time.monotonic() + 10
        while self.c.ok("stats")["waiters"] != n:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)

    def queues(self, prefix, n=3, type_="queue"):
        return [self.open(type_, "%s.%d" % (prefix, i)) for i in range(n)]

    def test_get_any_takes_from_the_first_queue_with_an_item(self):
        ok, err = self.c.ok, self.c.err
        q = self.queues("any.first")
        ok("queue.put", q[2], "c")
        ok("queue.put", q[1], "b")
        self.assertEqual(ok("get_any", q), [q[1], "b"])
        self.assertEqual(ok("get_any", q, False), [q[2], "c"])
        self.assertEqual(err("get_any", q, False), "EMPTY")
        self.assertEqual(err("get_any", q, True, 0), "EMPTY")
        self.assertEqual(err("get_any", q, True, 0.05), "EMPTY")
        self.assertEqual(err("get_any", q, True, -1), "VALUE")
        self.assertEqual(err("get_any", []), "VALUE")
        many = [self.open("queue") for _ in range(65)]
        self.assertEqual(err("get_any", many), "VALUE")
        self.assertEqual(err("get_any", many[:64], False), "EMPTY")
        self.assertEqual(err("get_any", [q[0], q[1], q[0]]), "VALUE")
        dup = ok("open", "queue", "any.first.0", {})
        self.assertEqual(err("get_any", [q[0], dup]), "VALUE")
        self.assertEqual(err("get_any", [q[0], "x"]), "ARGS")
        self.assertEqual(err("get_any", q[0]), "ARGS")
        self.assertEqual(err("get_any", [q[0], 10 ** 6]), "NO_OBJECT")
        d = self.open("dict")
        self.assertEqual(err("get_any", [q[0], d]), "TYPE")
        self.assertEqual(err("get_any"), "ARGS")

    def test_a_parked_get_any_gets_the_first_item_put_to_any(self):
        q = self.queues("any.parked")
        g = Conn(self.server)
        gq = [g.ok("open", "queue", "any.parked.%d" % i, {})
              for i in range(3)]
        msgid = g.send("get_any", [gq, True, 10])
        self.waiters(1)
        self.assertEqual(self.c.ok("info", q[0])["waiters"], 1)
        self.c.ok("queue.put", q[2], "x")
        self.assertEqual(g.recv(), [1, msgid, None, [gq[2], "x"]])
        self.waiters(0)
        for h in q:
            self.assertEqual(self.c.ok("info", h)["waiters"], 0)
        # Withdrawn from the others: what comes later stays.
        self.c.ok("queue.put", q[0], "y")
        self.assertEqual(self.c.ok("queue.qsize", q[0]), 1)
        msgid = g.send("get_any", [gq, True, 0.05])
        self.assertEqual(g.recv(), [1, msgid, None, [gq[0], "y"]])
        msgid = g.send("get_any", [gq, True, 0.05])
        msg = g.recv()
        self.assertEqual((msg[1], msg[2][1]), (msgid, "EMPTY"))
        self.waiters(0)
        g.close()

    def test_waiters_of_each_queue_are_served_in_arrival_order(self):
        q = self.queues("any.fifo", 2)
        a, b, c = Conn(self.server), Conn(self.server), Conn(self.server)
        ha = a.ok("open", "queue", "any.fifo.1", {})
        hb = [b.ok("open", "queue", "any.fifo.%d" % i, {}) for i in range(2)]
        hc = c.ok("open", "queue", "any.fifo.0", {})
        ia = a.send("queue.get", [ha])
        self.waiters(1)
        ib = b.send("get_any", [hb])
        self.waiters(2)
        ic = c.send("queue.get", [hc])
        self.waiters(3)
        self.c.ok("queue.put", q[1], "first")
        self.assertEqual(a.recv(), [1, ia, None, "first"])
        self.c.ok("queue.put", q[1], "second")
        self.assertEqual(b.recv(), [1, ib, None, [hb[1], "second"]])
        # b left queue 0 at once: c, behind it there, gets the next.
        self.c.ok("queue.put", q[0], "third")
        self.assertEqual(c.recv(), [1, ic, None, "third"])
        self.waiters(0)
        for x in (a, b, c):
            x.close()

    def test_take_any_leaves_the_item_pending(self):
        ok, err = self.c.ok, self.c.err
        q = self.queues("any.take", 2, "joinable_queue")
        ok("joinable_queue.put", q[1], "job")
        h, i, item = ok("take_any", q)
        self.assertEqual((h, item), (q[1], "job"))
        self.assertEqual([p["id"] for p in ok("queue.pending", q[1])], [i])
        ok("queue.nack", q[1], i)
        self.assertEqual(ok("take_any", q, True, None, 30, True),
                         [q[1], i, "job", 2])
        ok("queue.ack", q[1], i)
        self.assertEqual(ok("info", q[1])["unfinished"], 0)
        self.assertEqual(err("take_any", q, False), "EMPTY")
        self.assertEqual(err("take_any", q, True, 0, 0), "VALUE")
        g = Conn(self.server)
        gq = [g.ok("open", "joinable_queue", "any.take.%d" % i, {})
              for i in range(2)]
        msgid = g.send("take_any", [gq, True, None, None, True])
        self.waiters(1)
        ok("joinable_queue.put", q[0], "late")
        msg = g.recv()
        self.assertEqual(msg[:3], [1, msgid, None])
        self.assertEqual((msg[3][0], msg[3][2], msg[3][3]),
                         (gq[0], "late", 1))
        # Its connection ends: the item goes back.
        g.close()
        deadline = time.monotonic() + 10
        while ok("queue.qsize", q[0]) != 1:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        self.assertEqual(ok("get_any", q), [q[0], "late"])
        ok("joinable_queue.task_done", q[0])
        self.assertIs(ok("joinable_queue.join", q[0], 0), True)

    def test_wait_any_answers_the_first_event_set(self):
        ok, err = self.c.ok, self.c.err
        ev = [self.open("event", "any.ev.%d" % i) for i in range(3)]
        self.assertIsNone(ok("wait_any", ev, 0))
        self.assertIsNone(ok("wait_any", ev, 0.05))
        ok("event.set", ev[2])
        ok("event.set", ev[1])
        self.assertEqual(ok("wait_any", ev), ev[1])
        ok("event.clear", ev[1])
        ok("event.clear", ev[2])
        self.assertEqual(err("wait_any", [ev[0], ev[0]]), "VALUE")
        self.assertEqual(err("wait_any", [self.open("queue")]), "TYPE")
        g = Conn(self.server)
        ge = [g.ok("open", "event", "any.ev.%d" % i, {}) for i in range(3)]
        msgid = g.send("wait_any", [ge, 10])
        self.waiters(1)
        ok("event.set", ev[0])
        self.assertEqual(g.recv(), [1, msgid, None, ge[0]])
        self.waiters(0)
        g.close()

    def test_acquire_any_takes_the_first_free_lock(self):
        ok, err = self.c.ok, self.c.err
        lk = [self.open("lock", "any.lk.0"), self.open("rlock", "any.lk.1")]
        self.assertEqual(ok("acquire_any", lk), lk[0])
        self.assertEqual(ok("acquire_any", lk), lk[1])
        self.assertEqual(ok("acquire_any", lk[1:]), lk[1])  # re-entered
        self.assertEqual(ok("info", lk[1])["count"], 2)
        g = Conn(self.server)
        gl = [g.ok("open", "lock", "any.lk.0", {}),
              g.ok("open", "rlock", "any.lk.1", {})]
        self.assertIsNone(g.ok("acquire_any", gl, False))
        self.assertIsNone(g.ok("acquire_any", gl, True, 0.05))
        msgid = g.send("acquire_any", [gl, True, 10])
        self.waiters(1)
        ok("rlock.release", lk[1])
        ok("rlock.release", lk[1])
        self.assertEqual(g.recv(), [1, msgid, None, gl[1]])
        self.waiters(0)
        # It left the other lock's queue: releasing that frees it.
        ok("lock.release", lk[0])
        self.assertIs(ok("lock.acquire", lk[0], False), True)
        ok("lock.release", lk[0])
        self.assertEqual(err("acquire_any", [lk[0], self.open("event")]),
                         "TYPE")
        g.close()


class Cancel(Base):
    """cancel [msgid] (protocol section 3.1): a parked call of the same
    connection is answered CANCELLED, before cancel's own true, and did
    nothing."""

    def waiters(self, n):
        deadline = time.monotonic() + 10
        while self.c.ok("stats")["waiters"] != n:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)

    def cancelled(self, conn, msgid):
        """Cancel @msgid on @conn: its CANCELLED, then true."""
        cid = conn.send("cancel", [msgid])
        msg = conn.recv()
        self.assertEqual((msg[0], msg[1], msg[2][0], msg[2][1], msg[3]),
                         (1, msgid, 20, "CANCELLED", None))
        self.assertEqual(conn.recv(), [1, cid, None, True])

    def test_a_cancelled_get_takes_no_item(self):
        q = self.open("queue", "cancel.get")
        g = Conn(self.server)
        h = g.ok("open", "queue", "cancel.get", {})
        msgid = g.send("queue.get", [h])
        self.waiters(1)
        self.cancelled(g, msgid)
        self.waiters(0)
        self.c.ok("queue.put", q, "kept")
        self.assertIs(g.ok("cancel", msgid), False)
        self.assertIs(g.ok("cancel", 12345), False)
        self.assertEqual(g.ok("queue.get", h), "kept")
        self.assertEqual(self.c.err("cancel", -1), "VALUE")
        self.assertEqual(self.c.err("cancel", "x"), "ARGS")
        g.close()

    def test_only_the_calls_own_connection_can_cancel_it(self):
        q = self.open("queue", "cancel.own")
        g = Conn(self.server)
        h = g.ok("open", "queue", "cancel.own", {})
        msgid = g.send("queue.get", [h, True, 10])
        self.waiters(1)
        self.assertIs(self.c.ok("cancel", msgid), False)
        self.c.ok("queue.put", q, "x")
        self.assertEqual(g.recv(), [1, msgid, None, "x"])
        g.close()

    def test_a_cancelled_put_puts_nothing(self):
        q = self.open("queue", "cancel.put", {"maxsize": 1})
        self.c.ok("queue.put", q, "a")
        p = Conn(self.server)
        h = p.ok("open", "queue", "cancel.put", {})
        msgid = p.send("queue.put", [h, "b", True, 10])
        self.waiters(1)
        self.cancelled(p, msgid)
        self.assertEqual(self.c.ok("queue.get", q), "a")
        self.assertEqual(self.c.err("queue.get", q, False), "EMPTY")
        p.close()

    def test_a_cancelled_get_any_leaves_every_queue(self):
        qs = [self.open("queue", "cancel.any.%d" % i) for i in range(3)]
        g = Conn(self.server)
        hs = [g.ok("open", "queue", "cancel.any.%d" % i, {})
              for i in range(3)]
        msgid = g.send("get_any", [hs])
        self.waiters(1)
        self.cancelled(g, msgid)
        self.waiters(0)
        for h in qs:
            self.assertEqual(self.c.ok("info", h)["waiters"], 0)
            self.c.ok("queue.put", h, 1)
            self.assertEqual(self.c.ok("queue.qsize", h), 1)
        g.close()

    def test_a_cancelled_acquire_holds_nothing(self):
        for t in ("lock", "rlock", "semaphore"):
            name = "cancel." + t
            opts = {"value": 1} if t == "semaphore" else {}
            lk = self.open(t, name, opts)
            self.assertIs(self.c.ok(t + ".acquire", lk), True)
            w = Conn(self.server)
            wl = w.ok("open", t, name, {})
            msgid = w.send(t + ".acquire", [wl, True, 10])
            self.waiters(1)
            self.cancelled(w, msgid)
            self.c.ok(t + ".release", lk)
            self.waiters(0)
            # Free again, not handed to the cancelled call.
            self.assertIs(self.c.ok(t + ".acquire", lk, False), True)
            self.c.ok(t + ".release", lk)
            w.close()

    def test_a_cancelled_event_wait(self):
        ev = self.open("event", "cancel.event")
        w = Conn(self.server)
        h = w.ok("open", "event", "cancel.event", {})
        msgid = w.send("event.wait", [h])
        self.waiters(1)
        self.cancelled(w, msgid)
        self.c.ok("event.set", ev)
        self.assertIs(w.ok("event.wait", h, 0), True)
        w.close()

    def test_a_cancelled_condition_wait_holds_the_lock_again(self):
        cv = self.open("condition", "cancel.cond")
        w = Conn(self.server)
        h = w.ok("open", "condition", "cancel.cond", {})
        self.assertIs(w.ok("condition.acquire", h), True)
        # The lock is free while it waits: cancel takes it back at once.
        msgid = w.send("condition.wait", [h])
        self.waiters(1)
        self.cancelled(w, msgid)
        self.assertIs(self.c.ok("condition.acquire", cv, False), False)
        # Held by another when cancelled: true at once, CANCELLED once
        # the lock is its own again.
        msgid = w.send("condition.wait", [h])
        self.waiters(1)
        self.assertIs(self.c.ok("condition.acquire", cv), True)
        cid = w.send("cancel", [msgid])
        self.assertEqual(w.recv(), [1, cid, None, True])
        self.assertIs(w.ok("cancel", msgid), False)
        self.c.ok("condition.release", cv)
        msg = w.recv()
        self.assertEqual((msg[1], msg[2][1]), (msgid, "CANCELLED"))
        self.assertIs(self.c.ok("condition.acquire", cv, False), False)
        w.ok("condition.release", h)
        self.assertIs(self.c.ok("condition.acquire", cv, False), True)
        self.c.ok("condition.release", cv)
        w.close()

    def test_a_cancelled_barrier_wait_breaks_the_barrier(self):
        self.open("barrier", "cancel.bar", {"parties": 3})
        a, b = Conn(self.server), Conn(self.server)
        ha = a.ok("open", "barrier", "cancel.bar", {})
        hb = b.ok("open", "barrier", "cancel.bar", {})
        ia = a.send("barrier.wait", [ha])
        self.waiters(1)
        ib = b.send("barrier.wait", [hb])
        self.waiters(2)
        self.cancelled(a, ia)
        msg = b.recv()
        self.assertEqual((msg[1], msg[2][1]), (ib, "BROKEN"))
        self.assertIs(a.ok("barrier.broken", ha), True)
        a.close()
        b.close()


class Values(Base):
    def test_every_value_method(self):
        v = self.open("value", None, {"initial": 5})
        ok, err = self.c.ok, self.c.err
        self.assertEqual(ok("value.get", v), 5)
        self.assertEqual(ok("value.add", v, 2), 7)
        self.assertIs(ok("value.cas", v, 7, "seven"), True)
        self.assertIs(ok("value.cas", v, 7, 0), False)
        self.assertEqual(ok("value.swap", v, 2**63), "seven")
        self.assertEqual(ok("value.add", v, 2**63 - 1), 2**64 - 1)
        self.assertEqual(err("value.add", v, 1), "VALUE")
        self.assertEqual(ok("value.get", v), 2**64 - 1)
        ok("value.set", v, -2**63)
        self.assertEqual(err("value.add", v, -1), "VALUE")
        self.assertEqual(err("value.add", v, "1"), "ARGS")
        ok("value.set", v, "str")
        self.assertEqual(err("value.add", v, 1), "TYPE")
        self.assertEqual(ok("open", "value", None, {}) > 0, True)

    def test_default_initial_is_zero(self):
        v = self.open("value")
        self.assertEqual(self.c.ok("value.get", v), 0)


def next_notification(conn):
    """The next message of @conn, which must be a notification
    [2, method, [map]]; returns (method, map)."""
    msg = conn.recv()
    assert msg is not None, "server closed the connection"
    assert msg[0] == 2 and len(msg) == 3, msg
    assert isinstance(msg[2], list) and len(msg[2]) == 1, msg
    assert isinstance(msg[2][0], dict), msg
    return msg[1], msg[2][0]


def nothing_pending(conn):
    """True when a ping's answer is the next message of @conn: no
    notification came before it."""
    msgid = conn.send("ping", [])
    msg = conn.recv()
    return msg is not None and msg[0] == 1 and msg[1] == msgid


class Topics(Base):
    """Section 4.12 and the notifications of 11.2."""

    def subscriber(self, name):
        c = Conn(self.server)
        h = c.ok("open", "topic", name, {})
        self.assertIsNone(c.ok("topic.subscribe", h))
        return c, h

    def test_every_subscriber_gets_every_message_in_order(self):
        subs = [self.subscriber("t.fanout") for _ in range(3)]
        t = self.open("topic", "t.fanout")
        msgs = [i for i in range(50)] + ["str", b"\x00bin", [1, [2]],
                                         {"k": {"n": None}}, 1.5, None]
        for m in msgs:
            self.assertEqual(self.c.ok("topic.publish", t, m), 3)
        for c, h in subs:
            for m in msgs:
                method, p = next_notification(c)
                self.assertEqual(method, "topic")
                self.assertEqual(p, {"handle": h, "message": m})
            self.assertTrue(nothing_pending(c))
            c.close()
        info = self.c.ok("info", t)
        self.assertEqual(info["type"], "topic")
        self.assertEqual(info["published"], len(msgs))

    def test_no_subscriber_no_storage(self):
        t = self.open("topic")
        self.assertEqual(self.c.ok("topic.publish", t, "lost"), 0)
        self.assertIsNone(self.c.ok("topic.subscribe", t))
        # Subscribed after: the earlier message is not kept for it.
        self.assertTrue(nothing_pending(self.c))
        self.assertEqual(self.c.ok("info", t)["subscribers"], 1)

    def test_subscribing_twice_and_two_handles(self):
        c = Conn(self.server)
        h1 = c.ok("open", "topic", "t.two", {})
        h2 = c.ok("open", "topic", "t.two", {})
        c.ok("topic.subscribe", h1)
        c.ok("topic.subscribe", h1)  # harmless: still one subscription
        c.ok("topic.subscribe", h2)
        t = self.open("topic", "t.two")
        self.assertEqual(self.c.ok("info", t)["subscribers"], 2)
        self.assertEqual(self.c.ok("topic.publish", t, "x"), 2)
        got = sorted(next_notification(c)[1]["handle"] for _ in range(2))
        self.assertEqual(got, sorted([h1, h2]))
        self.assertTrue(nothing_pending(c))
        c.close()

    def test_unsubscribe_close_and_connection_end(self):
        t = self.open("topic", "t.end")
        a, ha = self.subscriber("t.end")
        b, hb = self.subscriber("t.end")
        d, hd = self.subscriber("t.end")
        self.assertIs(a.ok("topic.unsubscribe", ha), True)
        self.assertIs(a.ok("topic.unsubscribe", ha), False)
        b.ok("close", hb)
        d.close()
        # The server learns of d's end asynchronously.
        deadline = time.time() + 10
        while self.c.ok("info", t)["subscribers"] > 0:
            self.assertLess(time.time(), deadline)
            time.sleep(0.01)
        self.assertEqual(self.c.ok("topic.publish", t, 1), 0)
        self.assertTrue(nothing_pending(a))
        self.assertTrue(nothing_pending(b))
        # A closed handle's number, reused for the same topic, is not
        # subscribed.
        hb2 = b.ok("open", "topic", "t.end", {})
        self.assertEqual(hb2, hb)
        self.assertEqual(self.c.ok("topic.publish", t, 2), 0)
        self.assertIs(b.ok("topic.unsubscribe", hb2), False)
        a.close()
        b.close()

    def test_publisher_subscribed_gets_answer_first(self):
        t = self.open("topic")
        self.c.ok("topic.subscribe", t)
        msgid = self.c.send("topic.publish", [t, "me"])
        msg = self.c.recv()
        self.assertEqual(msg, [1, msgid, None, 1])
        self.assertEqual(next_notification(self.c),
                         ("topic", {"handle": t, "message": "me"}))

    def test_bad_calls(self):
        t = self.open("topic")
        self.assertEqual(self.c.err("topic.publish", t), "ARGS")
        self.assertEqual(self.c.err("topic.subscribe", t, 1), "ARGS")
        self.assertEqual(self.c.err("open", "topic", None, {"maxsize": 1}),
                         "ARGS")
        q = self.open("queue")
        self.assertEqual(self.c.err("topic.publish", q, 1), "TYPE")
        self.assertEqual(self.c.err("topic.subscribe", 999), "NO_OBJECT")

    def test_a_subscriber_that_stops_reading_is_cut(self):
        server = Server(args=["--max-output", "65536"])
        try:
            pub = Conn(server)
            slow = Conn(server)
            fast = Conn(server)
            t = pub.ok("open", "topic", "t.cut", {})
            hs = slow.ok("open", "topic", "t.cut", {})
            hf = fast.ok("open", "topic", "t.cut", {})
            slow.ok("topic.subscribe", hs)
            fast.ok("topic.subscribe", hf)
            # slow reads nothing: the socket buffers fill, then 64 KiB
            # more lie unsent and the next message cuts it.
            big = "x" * 65536
            counts = []
            for i in range(1000):
                n = pub.ok("topic.publish", t, [i, big])
                counts.append(n)
                self.assertEqual(next_notification(fast)[1],
                                 {"handle": hf, "message": [i, big]})
                if n == 1:
                    break
            self.assertEqual(counts[-1], 1, "slow was never cut")
            self.assertEqual(pub.ok("info", t)["subscribers"], 1)
            # slow reads its backlog: every message it was counted for,
            # in order, then the cut, then the end.
            got = 0
            while True:
                method, p = next_notification(slow)
                if method == "cut":
                    self.assertEqual(p["reason"], "--max-output")
                    self.assertIsInstance(p["unsent"], int)
                    break
                self.assertEqual(method, "topic")
                self.assertEqual(p["message"][0], got)
                got += 1
            self.assertEqual(got, len(counts) - 1)
            self.assertIsNone(slow.recv())
            for c in (pub, slow, fast):
                c.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def test_subscribe_needs_read_and_publish_write(self):
        server = Server(users=USERS)
        try:
            a = user_conn(server, ADMIN_KEY, "admin")
            m = user_conn(server, MONITOR_KEY, "monitor")
            t = a.ok("open", "topic", "jobs.news", {})
            h = m.ok("open", "topic", "jobs.news", {})
            self.assertIsNone(m.ok("topic.subscribe", h))
            err, _ = m.call("topic.publish", h, 1)
            self.assertEqual(err[:2], [18, "DENIED"])
            self.assertEqual(a.ok("topic.publish", t, 1), 1)
            self.assertEqual(next_notification(m),
                             ("topic", {"handle": h, "message": 1}))
            self.assertIs(m.ok("topic.unsubscribe", h), True)
            a.close()
            m.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def test_only_its_existence_survives_a_restart(self):
        data = tempfile.mkdtemp(prefix="agora-conf-data-")
        try:
            server = Server(args=["--data-dir", data])
            try:
                c = Conn(server)
                t = c.ok("open", "topic", "t.kept", {})
                c.ok("topic.subscribe", t)
                self.assertEqual(c.ok("topic.publish", t, "m"), 1)
                c.close()
            finally:
                self.assertEqual(server.stop(), 0)
            server = Server(args=["--data-dir", data])
            try:
                c = Conn(server)
                names = {o["name"]: o["type"] for o in c.ok("ls")}
                self.assertEqual(names.get("t.kept"), "topic")
                t = c.ok("open", "topic", "t.kept", {"create": False})
                info = c.ok("info", t)
                self.assertEqual(info["subscribers"], 0)
                self.assertEqual(info["published"], 0)
                c.close()
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            shutil.rmtree(data, ignore_errors=True)


CLIENT_FIELDS = {"id": int, "self": bool, "authenticated": bool,
                 "transport": str, "peer": str, "since": float,
                 "idle": float, "handles": int, "parked": int,
                 "holds": list, "output": int}


class Operators(Base):
    """clients and kill (section 3.1, added after 0.1.0)."""

    def own_id(self, conn):
        me = [e for e in conn.ok("clients") if e["self"]]
        self.assertEqual(len(me), 1)
        return me[0]["id"]

    def wait_waiters(self, n):
        deadline = time.monotonic() + 10
        while self.c.ok("stats")["waiters"] < n:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)

    def test_clients_shows_peer_handles_parked_and_holds(self):
        holder = Conn(self.server)
        lk = holder.ok("open", "lock", "ops.printer", {})
        self.assertIs(holder.ok("lock.acquire", lk), True)
        sem = holder.ok("open", "semaphore", "ops.pool", {"value": 2,
                                                          "owned": True})
        self.assertIs(holder.ok("semaphore.acquire", sem), True)
        self.assertIs(holder.ok("semaphore.acquire", sem), True)
        rl = holder.ok("open", "rlock", None, {})
        rid = holder.ok("info", rl)["id"]
        for _ in range(3):
            self.assertIs(holder.ok("rlock.acquire", rl), True)
        q = holder.ok("open", "queue", "ops.q", {})
        hid = self.own_id(holder)
        holder.send("queue.get", [q])
        self.wait_waiters(1)
        shy = Conn(self.server, auth=False)
        # connect() returns before the server has accepted the connection.
        deadline = time.monotonic() + 10
        while len(self.c.ok("clients")) < 3:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)

        entries = self.c.ok("clients")
        self.assertEqual(len(entries), 3)
        for e in entries:
            for k, t in CLIENT_FIELDS.items():
                self.assertIsInstance(e[k], t, k)
        by_id = {e["id"]: e for e in entries}
        e = by_id[hid]
        if TLS:
            host, port = holder.sock.getsockname()[:2]
            self.assertEqual((e["transport"], e["self"], e["authenticated"]),
                             ("tls", False, True))
            self.assertEqual((e["pid"], e["uid"]), (None, None))
            self.assertEqual(e["peer"], "%s:%d" % (host, port))
        else:
            self.assertEqual((e["transport"], e["self"], e["authenticated"]),
                             ("unix", False, True))
            self.assertEqual((e["pid"], e["uid"]),
                             (os.getpid(), os.getuid()))
            self.assertEqual(e["peer"], "pid %d uid %d" % (os.getpid(),
                                                           os.getuid()))
        self.assertEqual((e["handles"], e["parked"]), (4, 1))
        ids = {n: self.c.ok("info", self.open(t, n))["id"]
               for t, n in (("lock", "ops.printer"), ("semaphore", "ops.pool"))}
        self.assertEqual(sorted((h["type"], h["name"] or "", h["id"],
                                 h["count"]) for h in e["holds"]),
                         [("lock", "ops.printer", ids["ops.printer"], 1),
                          ("rlock", "", rid, 3),
                          ("semaphore", "ops.pool", ids["ops.pool"], 2)])
        mine = [x for x in entries if x["self"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]["handles"], mine[0]["holds"]), (0, []))
        unauth = [x for x in entries if not x["authenticated"]]
        self.assertEqual(len(unauth), 1)
        self.assertEqual(unauth[0]["holds"], [])
        holder.close()
        shy.close()

    def test_kill_releases_the_lock_to_the_waiter_and_closes(self):
        holder = Conn(self.server)
        lk = holder.ok("open", "lock", "ops.kill", {})
        self.assertIs(holder.ok("lock.acquire", lk), True)
        hid = self.own_id(holder)
        waiter = Conn(self.server)
        wl = waiter.ok("open", "lock", "ops.kill", {})
        msgid = waiter.send("lock.acquire", [wl, True, None])
        self.wait_waiters(1)

        self.assertIs(self.c.ok("kill", hid), True)
        self.assertEqual(waiter.recv(), [1, msgid, None, True])
        self.assertTrue(holder.closed())
        info = self.c.ok("info", self.open("lock", "ops.kill"))
        self.assertEqual(info["abandoned"], 1)
        self.assertNotIn(hid, [e["id"] for e in self.c.ok("clients")])
        self.assertIs(self.c.ok("kill", hid), False)
        self.assertIs(self.c.ok("kill", 10 ** 12), False)
        self.assertIs(self.c.ok("kill", -1), False)
        self.assertEqual(self.c.err("kill", "1"), "ARGS")
        self.assertEqual(self.c.err("kill"), "ARGS")
        waiter.close()

    def test_kill_of_itself_answers_true_then_closes(self):
        k = Conn(self.server)
        kid = self.own_id(k)
        # Pipelined: the ping after the kill is never answered.
        k.sock.sendall(msgpack.packb([0, 50, "kill", [kid]]) +
                       msgpack.packb([0, 51, "ping", [1]]))
        self.assertEqual(k.recv(), [1, 50, None, True])
        self.assertIsNone(k.recv())
        k.close()
        self.assertIsNone(self.c.ok("ping"))


def ref(r):
    """The reference @r as `info` reports it ("ref"): ext 1, 16 bytes."""
    assert isinstance(r, msgpack.ExtType) and r.code == 1, r
    assert len(r.data) == 16, r
    return r


def forged(obj_id, secret=bytes(8)):
    """A reference made up from an id, as a client without it would."""
    return msgpack.ExtType(1, struct.pack(">Q", obj_id) + secret)


class References(Base):
    def objects(self):
        return self.c.ok("stats")["objects"]

    def test_stored_reference_keeps_an_anonymous_object_alive(self):
        base = self.objects()
        d = self.open("dict")
        lst = self.open("list")
        self.c.ok("list.append", lst, "inner")
        lid = self.c.ok("info", lst)["ref"]
        self.c.ok("dict.set", d, "jobs", ref(lid))
        self.c.ok("close", lst)
        self.assertEqual(self.objects(), base + 2)
        other = Conn(self.server)
        got = self.c.ok("dict.getitem", d, "jobs")
        self.assertEqual(got, ref(lid))
        h = other.ok("open_ref", got)
        self.assertEqual(other.ok("list.copy", h), ["inner"])
        other.close()
        self.c.ok("dict.delete", d, "jobs")
        self.assertEqual(self.objects(), base + 1)
        self.assertEqual(self.c.err("open_ref", ref(lid)), "NO_OBJECT")

    def test_reference_to_a_missing_object_is_no_object(self):
        d = self.open("dict")
        self.assertEqual(self.c.err("dict.set", d, "k", forged(10**12)),
                         "NO_OBJECT")
        self.assertEqual(self.c.ok("dict.len", d), 0)
        bad = msgpack.ExtType(1, b"1234567")
        old = msgpack.ExtType(1, struct.pack(">Q", 1))  # 8 bytes: v1's
        self.assertEqual(self.c.err("dict.set", d, "k", old), "VALUE")
        self.assertEqual(self.c.err("dict.set", d, "k", bad), "VALUE")
        self.assertEqual(self.c.err("open_ref", bad), "VALUE")
        self.assertEqual(self.c.err("open_ref", 5), "ARGS")

    def test_queue_of_anonymous_objects_passes_holds(self):
        base = self.objects()
        q = self.open("queue")
        v = self.open("value", None, {"initial": 42})
        vid = self.c.ok("info", v)["ref"]
        self.c.ok("queue.put", q, [ref(vid)])
        self.c.ok("close", v)
        consumer = Conn(self.server)
        # The consumer takes the item through a handle of its own.
        qid = self.c.ok("info", q)["ref"]
        cq = consumer.ok("open_ref", ref(qid))
        item = consumer.ok("queue.get", cq)
        # Held for the consumer until it opens it: still alive.
        self.assertEqual(self.objects(), base + 2)
        h = consumer.ok("open_ref", item[0])
        self.assertEqual(consumer.ok("value.get", h), 42)
        consumer.close()
        while self.objects() > base + 1:
            time.sleep(0.01)
        self.assertEqual(self.objects(), base + 1)

    def test_passed_hold_goes_with_the_connection(self):
        base = self.objects()
        lst = self.open("list")
        inner = self.open("list")
        iid = self.c.ok("info", inner)["ref"]
        self.c.ok("list.append", lst, ref(iid))
        self.c.ok("close", inner)
        lid = self.c.ok("info", lst)["ref"]
        taker = Conn(self.server)
        th = taker.ok("open_ref", ref(lid))
        self.assertEqual(taker.ok("list.pop", th), ref(iid))
        taker.close()
        while self.objects() > base + 1:
            time.sleep(0.01)
        self.assertEqual(self.c.err("open_ref", ref(iid)), "NO_OBJECT")

    def test_reference_is_unforgeable(self):
        # Another client's anonymous objects cannot be named by counting
        # ids: a reference needs the secret the server drew for it.
        other = Conn(self.server)
        q = other.ok("open", "queue", None, {})
        other.ok("queue.put", q, "private")
        info = other.ok("info", q)
        qid, real = info["id"], info["ref"]
        self.assertEqual(real.data[:8], struct.pack(">Q", qid))
        d = self.open("dict")
        for guess in (forged(qid), forged(qid, real.data[8:15] + b"\0"),
                      forged(qid, bytes(reversed(real.data[8:])))):
            if guess == real:
                continue
            self.assertEqual(self.c.err("open_ref", guess), "NO_OBJECT")
            self.assertEqual(self.c.err("dict.set", d, "k", guess),
                             "NO_OBJECT")
        # Counting through every id near it opens nothing either.
        for i in range(max(1, qid - 50), qid + 50):
            self.assertEqual(self.c.err("open_ref", forged(i)), "NO_OBJECT")
        # With the real reference, passed on, it opens.
        h = self.c.ok("open_ref", real, "queue")
        self.assertEqual(self.c.ok("queue.get", h), "private")
        other.close()

    def test_open_ref_with_a_type_checks_it(self):
        v = self.open("value")
        vid = self.c.ok("info", v)["ref"]
        h = self.c.ok("open_ref", ref(vid), "value")
        self.assertEqual(self.c.ok("value.get", h), 0)
        self.assertEqual(self.c.err("open_ref", ref(vid), "list"), "TYPE")
        self.assertEqual(self.c.err("open_ref", ref(vid), "nosuch"), "ARGS")

    def test_named_object_dropped_lives_while_referenced(self):
        d = self.open("dict")
        n = self.open("namespace", "refs.named")
        nid = self.c.ok("info", n)["ref"]
        self.c.ok("namespace.set", n, "a", 1)
        self.c.ok("dict.set", d, "ns", ref(nid))
        self.c.ok("close", n)
        self.assertIs(self.c.ok("drop", "refs.named"), True)
        h = self.c.ok("open_ref", ref(nid))
        self.assertEqual(self.c.ok("namespace.get", h, "a"), 1)


class Fencing(Base):
    """lock.acquire_fenced and rlock.acquire_fenced (section 4.7), and the
    `fence` and `owner_addr` fields of info; the server listens on TCP as
    well, for a holder that has an address."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(tcp=True)

    def test_tokens_go_up_with_every_holder_and_timeouts_are_false(self):
        other = Conn(self.server)
        h = self.open("lock")
        h2 = other.ok("open_ref", self.c.ok("info", h)["ref"])
        self.assertEqual(self.c.ok("info", h)["fence"], 0)
        t = self.c.ok("lock.acquire_fenced", h)
        self.assertIsInstance(t, int)
        self.assertGreaterEqual(t, 1)
        # Held elsewhere: false, at once or after the timeout; no token.
        self.assertIs(other.ok("lock.acquire_fenced", h2, False), False)
        self.assertIs(other.ok("lock.acquire_fenced", h2, True, 0.05), False)
        self.assertEqual(self.c.ok("info", h)["fence"], t)
        # A parked call is answered the token of the hand-over (the
        # server's next: no other lock is taken meanwhile).
        msgid = other.send("lock.acquire_fenced", [h2, True, 10.0])
        while self.c.ok("info", h)["waiters"] < 1:
            time.sleep(0.01)
        self.assertIsNone(self.c.ok("lock.release", h))
        self.assertEqual(other.recv(), [1, msgid, None, t + 1])
        self.assertIsNone(other.ok("lock.release", h2))
        # A plain acquire takes a token too.
        self.assertIs(self.c.ok("lock.acquire", h), True)
        self.assertIsNone(self.c.ok("lock.release", h))
        self.assertEqual(self.c.ok("info", h)["fence"], t + 2)
        self.assertEqual(self.c.ok("lock.acquire_fenced", h, True, None),
                         t + 3)
        self.assertEqual(self.c.err("lock.acquire_fenced", h, 1), "ARGS")
        other.close()

    def test_a_lock_opened_anew_under_a_dropped_name_gives_larger_tokens(self):
        other = Conn(self.server)
        old = other.ok("open", "lock", "conf.fence", {})
        t_old = other.ok("lock.acquire_fenced", old)
        self.assertIs(self.c.ok("drop", "conf.fence"), True)
        new = self.open("lock", "conf.fence")
        self.assertEqual(self.c.ok("info", new)["fence"], 0)
        self.assertGreater(self.c.ok("lock.acquire_fenced", new), t_old)
        other.close()

    def test_rlock_reentrance_answers_the_token_held(self):
        r = self.open("rlock")
        t = self.c.ok("rlock.acquire_fenced", r)
        self.assertEqual(self.c.ok("rlock.acquire_fenced", r, False), t)
        info = self.c.ok("info", r)
        self.assertEqual((info["count"], info["fence"]), (2, t))
        self.c.ok("rlock.release", r)
        self.c.ok("rlock.release", r)
        self.assertEqual(self.c.ok("rlock.acquire_fenced", r), t + 1)
        cv = self.open("condition", None, {"lock": r})
        self.assertEqual(self.c.err("condition.acquire_fenced", cv),
                         "NO_METHOD")
        self.assertEqual(self.c.ok("info", cv)["fence"], t + 1)

    def test_info_names_a_tcp_holder_by_address(self):
        tcp = Conn(self.server, tcp=True)
        h = self.open("lock")
        th = tcp.ok("open_ref", self.c.ok("info", h)["ref"])
        t = tcp.ok("lock.acquire_fenced", th)
        info = self.c.ok("info", h)
        host, port = tcp.sock.getsockname()[:2]
        self.assertEqual(info["owner_addr"], "%s:%d" % (host, port))
        self.assertIsNone(info["owner_pid"])
        self.assertIsNone(info["owner_uid"])
        # Gone while holding: abandoned, and the next token is larger.
        tcp.close()
        while self.c.ok("info", h)["abandoned"] < 1:
            time.sleep(0.01)
        info = self.c.ok("info", h)
        self.assertIsNone(info["owner"])
        self.assertIsNone(info["owner_addr"])
        self.assertEqual(self.c.ok("info", h)["fence"], t)
        self.assertEqual(self.c.ok("lock.acquire_fenced", h), t + 1)
        info = self.c.ok("info", h)
        if TLS:  # over TCP too: told by its address
            host, port = self.c.sock.getsockname()[:2]
            self.assertEqual(info["owner_addr"], "%s:%d" % (host, port))
            self.assertIsNone(info["owner_pid"])
        else:
            self.assertIsNone(info["owner_addr"])
            self.assertEqual(info["owner_pid"], os.getpid())


def is_run_id(s):
    return (isinstance(s, str) and len(s) == 32 and
            all(ch in "0123456789abcdef" for ch in s))


class RestartAndExistence(Base):
    """Added after 0.1.0: hello's and stats' run, started and uptime, and
    open's options create and exclusive (sections 2 and 3.1)."""

    def test_hello_carries_run_and_started(self):
        a, b = Conn(self.server), Conn(self.server)
        self.assertTrue(is_run_id(a.hello["run"]), a.hello)
        self.assertEqual(a.hello["run"], b.hello["run"])
        self.assertIsInstance(a.hello["started"], float)
        self.assertEqual(a.hello["started"], b.hello["started"])
        self.assertLessEqual(a.hello["started"], time.time() + 1)
        a.close()
        b.close()

    def test_stats_carry_run_started_and_uptime(self):
        st = self.c.ok("stats")
        self.assertEqual(st["run"], self.c.hello["run"])
        self.assertEqual(st["started"], self.c.hello["started"])
        self.assertIsInstance(st["uptime"], float)
        self.assertGreaterEqual(st["uptime"], 0)
        # The class's server started before this test; uptime counts
        # from then, as does the wall clock (a minute of slack for a
        # clock set meanwhile or a loaded machine).
        self.assertLess(abs(time.time() - st["started"] - st["uptime"]), 60)
        self.assertGreaterEqual(self.c.ok("stats")["uptime"], st["uptime"])

    def test_create_false_joins_only(self):
        before = self.c.ok("stats")["objects"]
        self.assertEqual(self.c.err("open", "list", "rx.join",
                                    {"create": False}), "NO_OBJECT")
        self.assertEqual(self.c.ok("stats")["objects"], before)
        self.assertNotIn("rx.join", [o["name"] for o in self.c.ok("ls")])
        a = self.open("list", "rx.join")
        b = self.c.ok("open", "list", "rx.join", {"create": False})
        self.assertEqual(self.c.ok("info", a)["id"],
                         self.c.ok("info", b)["id"])
        self.assertEqual(self.c.err("open", "dict", "rx.join",
                                    {"create": False}), "TYPE")
        # nil is the default, true the same.
        self.c.ok("open", "list", "rx.join", {"create": None})
        self.c.ok("open", "list", "rx.join2", {"create": True})

    def test_exclusive_creates_only(self):
        h = self.c.ok("open", "queue", "rx.excl",
                      {"exclusive": True, "maxsize": 3})
        self.assertEqual(self.c.ok("info", h)["maxsize"], 3)
        err, res = self.c.call("open", "queue", "rx.excl",
                               {"exclusive": True})
        self.assertEqual(err[:2], [17, "EXISTS"])
        self.assertIsNone(res)
        self.assertEqual(self.c.err("open", "lock", "rx.excl",
                                    {"exclusive": True}), "EXISTS")
        self.c.ok("open", "queue", "rx.excl", {"exclusive": False})
        a = self.c.ok("open", "list", None, {"exclusive": True})
        b = self.c.ok("open", "list", None, {"exclusive": True})
        self.assertNotEqual(self.c.ok("info", a)["id"],
                            self.c.ok("info", b)["id"])

    def test_family_options_pass_with_open_options(self):
        h = self.c.ok("open", "barrier", "rx.bar",
                      {"parties": 2, "create": True, "exclusive": True})
        self.assertEqual(self.c.ok("info", h)["parties"], 2)
        self.assertEqual(self.c.err("open", "barrier", "rx.bar2",
                                    {"exclusive": True}), "ARGS")
        self.assertEqual(self.c.err("open", "list", "rx.bar3",
                                    {"create": True, "bogus": 1}), "ARGS")

    def test_open_option_errors(self):
        before = self.c.ok("stats")["objects"]
        for opts in ({"create": 1}, {"create": "no"}, {"exclusive": 0},
                     {"exclusive": []}, {"create": False, "exclusive": True}):
            self.assertEqual(self.c.err("open", "list", "rx.bad", opts),
                             "ARGS", opts)
        self.assertEqual(self.c.err("open", "list", None, {"create": False}),
                         "ARGS")
        # Read even when the name exists.
        self.open("list", "rx.exists")
        self.assertEqual(self.c.err("open", "list", "rx.exists",
                                    {"create": 1}), "ARGS")
        self.assertEqual(self.c.ok("stats")["objects"], before + 1)


class Lifetimes(Base):
    """Added after 1.1.0: open's options ephemeral and ttl, the server
    methods expire and ttl, and ls's and info's fields of them (section
    3.1)."""

    def own_id(self, conn):
        return [e for e in conn.ok("clients") if e["self"]][0]["id"]

    def entry(self, name, conn=None):
        e = [o for o in (conn or self.c).ok("ls") if o["name"] == name]
        return e[0] if e else None

    def test_an_ephemeral_name_goes_with_its_creator(self):
        a = Conn(self.server)
        h = a.ok("open", "event", "lt.worker-7", {"ephemeral": True})
        e = self.entry("lt.worker-7")
        self.assertEqual(e["ephemeral_owner"], self.own_id(a))
        self.assertNotIn("ttl", e)
        self.assertEqual(a.ok("info", h)["ephemeral_owner"], self.own_id(a))
        # Joined by a plain open, or by another ephemeral one.
        b = self.c.ok("open", "event", "lt.worker-7", {"ephemeral": True})
        self.c.ok("event.set", b)
        a.close()
        deadline = time.monotonic() + 10
        while self.entry("lt.worker-7") is not None:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        # The handle keeps the object, as after drop.
        self.assertIs(self.c.ok("event.is_set", b), True)
        self.assertIsNone(self.c.ok("info", b)["name"])
        self.assertNotIn("ephemeral_owner", self.c.ok("info", b))

    def test_ephemeral_option_errors(self):
        self.assertEqual(self.c.err("open", "list", None,
                                    {"ephemeral": True}), "ARGS")
        self.assertEqual(self.c.err("open", "list", "lt.e",
                                    {"ephemeral": 1}), "ARGS")
        self.open("list", "lt.lasting")
        self.assertEqual(self.c.err("open", "list", "lt.lasting",
                                    {"ephemeral": True}), "VALUE")
        # false, nil: as without it.
        self.c.ok("open", "list", "lt.lasting", {"ephemeral": False})
        self.c.ok("open", "list", "lt.lasting", {"ephemeral": None})
        self.assertNotIn("ephemeral_owner", self.entry("lt.lasting"))

    def test_ttl_expire_and_what_they_refuse(self):
        h = self.c.ok("open", "dict", "lt.d", {"ttl": 100})
        left = self.c.ok("ttl", "lt.d")
        self.assertIsInstance(left, float)
        self.assertTrue(99 < left <= 100, left)
        e = self.entry("lt.d")
        self.assertTrue(abs(e["expires"] - (time.time() + 100)) < 30, e)
        self.assertTrue(99 < e["ttl"] <= 100, e)
        self.assertIsNone(self.c.ok("expire", h, 10))
        self.assertTrue(9 < self.c.ok("ttl", h) <= 10)
        self.assertIsNone(self.c.ok("expire", "lt.d", None))
        self.assertIsNone(self.c.ok("ttl", "lt.d"))
        self.assertNotIn("expires", self.entry("lt.d"))
        self.assertEqual(self.c.err("expire", "lt.none", 5), "NO_OBJECT")
        self.assertEqual(self.c.err("ttl", "lt.none"), "NO_OBJECT")
        self.assertEqual(self.c.err("ttl", 999), "NO_OBJECT")
        self.assertEqual(self.c.err("expire", "lt.d", 0), "VALUE")
        self.assertEqual(self.c.err("expire", "lt.d", -3), "VALUE")
        self.assertEqual(self.c.err("expire", "lt.d", 1e10), "VALUE")
        self.assertEqual(self.c.err("expire", "lt.d", "soon"), "ARGS")
        self.assertEqual(self.c.err("expire", 1.5, 5), "ARGS")
        self.assertEqual(self.c.err("expire", "lt.d"), "ARGS")
        anon = self.open("list")
        self.assertEqual(self.c.err("expire", anon, 5), "NO_OBJECT")
        for ttl in (0, -1, 1e10):
            self.assertEqual(self.c.err("open", "list", "lt.t",
                                        {"ttl": ttl}), "VALUE", ttl)
        self.assertEqual(self.c.err("open", "list", "lt.t",
                                    {"ttl": "1"}), "ARGS")
        self.assertEqual(self.c.err("open", "list", None, {"ttl": 5}),
                         "ARGS")
        self.assertIsNone(self.entry("lt.t"))

    def test_a_name_past_its_deadline_is_never_found(self):
        h = self.c.ok("open", "value", "lt.short", {"ttl": 0.2})
        t1 = time.time()  # the server's deadline is before t1 + 0.2
        while time.time() <= t1 + 0.2:
            time.sleep(t1 + 0.2 - time.time() + 0.001)
        self.assertIsNone(self.entry("lt.short"))
        self.assertEqual(self.c.err("open", "value", "lt.short",
                                    {"create": False}), "NO_OBJECT")
        self.assertEqual(self.c.err("ttl", "lt.short"), "NO_OBJECT")
        self.assertIs(self.c.ok("drop", "lt.short"), False)
        self.assertEqual(self.c.ok("value.get", h), 0)
        self.assertIsNone(self.c.ok("info", h)["name"])
        # open makes a new one, without a deadline.
        n = self.open("value", "lt.short")
        self.assertNotEqual(self.c.ok("info", n)["id"],
                            self.c.ok("info", h)["id"])
        self.assertIsNone(self.c.ok("ttl", "lt.short"))


class Watches(Base):
    """Watches and object versions (section 11.1)."""

    def notes(self, conn, n):
        """The next @n notifications @conn receives (the ones kept while
        it waited for answers first)."""
        got = conn.notes[:n]
        del conn.notes[:n]
        while len(got) < n:
            msg = conn.recv()
            self.assertIsNotNone(msg, "closed after %d notifications" % len(got))
            self.assertEqual(msg[0], 2, msg)
            got.append(msg)
        for m in got:
            self.assertEqual(len(m), 3)
            self.assertEqual(len(m[2]), 1)
        return [(m[1], m[2][0]) for m in got]

    def test_every_change_in_order_with_its_key_and_version(self):
        h = self.open("dict", "w-cfg")
        other = Conn(self.server)
        ho = other.ok("open", "dict", "w-cfg", {})
        w = self.c.ok("watch", h)
        self.assertEqual(set(w), {"watch", "version", "run"})
        self.assertEqual(w["version"], self.c.ok("info", h)["version"])
        self.assertEqual(w["run"], self.c.ok("stats")["run"])
        other.ok("dict.set", ho, "a", 1)
        other.ok("dict.update", ho, {"b": 2, "c": 3})
        other.ok("dict.delete", ho, "a")
        other.ok("dict.get", ho, "b")  # a read: no notification
        other.err("dict.delete", ho, "nope")  # failed: none
        other.ok("dict.setdefault", ho, "b", 9)  # a write, even a no-op
        got = self.notes(self.c, 4)
        self.assertEqual([m for m, _ in got], ["watch"] * 4)
        ops = [(p["op"], p.get("key")) for _, p in got]
        self.assertEqual(ops, [("dict.set", "a"), ("dict.update", None),
                               ("dict.delete", "a"), ("dict.setdefault", "b")])
        versions = [p["version"] for _, p in got]
        self.assertEqual(versions, sorted(set(versions)))
        self.assertGreater(versions[0], w["version"])
        self.assertEqual(versions[-1], self.c.ok("info", h)["version"])
        self.assertTrue(all(p["watch"] == w["watch"] for _, p in got))
        other.close()

    def test_a_key_watch_gets_its_key_and_changes_of_every_key(self):
        h = self.open("dict")
        w = self.c.ok("watch", h, {"key": "x"})
        self.c.ok("dict.set", h, "y", 1)
        self.c.ok("dict.set", h, "x", 1)
        self.c.ok("dict.incr", h, "x", 2)
        self.c.ok("dict.clear", h)
        got = [(p["op"], p.get("key")) for _, p in self.notes(self.c, 3)]
        self.assertEqual(got, [("dict.set", "x"), ("dict.incr", "x"),
                               ("dict.clear", None)])
        self.assertTrue(self.c.ok("unwatch", w["watch"]))
        self.assertFalse(self.c.ok("unwatch", w["watch"]))
        self.c.ok("dict.set", h, "x", 5)
        self.c.ok("ping")
        self.assertEqual(self.c.notes, [])

    def test_namespace_attribute_watch(self):
        h = self.open("namespace")
        self.c.ok("watch", h, {"key": "ready"})
        self.c.ok("namespace.set", h, "other", 1)
        self.c.ok("namespace.set", h, "ready", True)
        (_, p), = self.notes(self.c, 1)
        self.assertEqual((p["op"], p["key"]), ("namespace.set", "ready"))

    def test_resume_says_whether_anything_changed(self):
        h = self.open("list")
        w = self.c.ok("watch", h)
        v, run = w["version"], w["run"]
        again = self.c.ok("watch", h, {"since": v, "run": run})
        self.assertIs(again["changed"], False)
        self.c.ok("list.append", h, 1)
        self.assertIs(self.c.ok("watch", h, {"since": v, "run": run})["changed"], True)
        now = self.c.ok("info", h)["version"]
        self.assertIs(self.c.ok("watch", h, {"since": now, "run": run})["changed"], False)
        self.assertIs(self.c.ok("watch", h, {"since": now, "run": "another"})["changed"], True)

    def test_an_object_made_again_under_the_name_is_a_change(self):
        h = self.open("dict", "w-again")
        v = self.c.ok("info", h)["version"]
        run = self.c.ok("stats")["run"]
        self.c.ok("drop", "w-again")
        h2 = self.open("dict", "w-again")
        self.assertIs(self.c.ok("watch", h2, {"since": v, "run": run})["changed"], True)

    def test_a_put_is_notified_before_the_get_it_serves(self):
        q = self.open("queue", "w-q")
        taker = Conn(self.server)
        tq = taker.ok("open", "queue", "w-q", {})
        self.c.ok("watch", q)
        taker.send("queue.get", [tq])
        deadline = time.time() + 5
        while self.c.ok("info", q)["waiters"] == 0:
            self.assertLess(time.time(), deadline)
            time.sleep(0.01)
        self.c.ok("queue.put", q, "job")
        self.assertEqual(taker.recv()[3], "job")
        got = [p["op"] for _, p in self.notes(self.c, 2)]
        self.assertEqual(got, ["queue.put", "queue.get"])
        taker.close()

    def test_a_dead_holder_release_and_the_hand_over_are_changes(self):
        lk = self.open("lock", "w-lock")
        holder = Conn(self.server)
        hl = holder.ok("open", "lock", "w-lock", {})
        self.assertTrue(holder.ok("lock.acquire", hl))
        self.c.ok("watch", lk)
        self.c.send("lock.acquire", [lk])
        deadline = time.time() + 5
        while True:  # wait until the acquire is parked
            info = holder.ok("info", hl)
            if info["waiters"] == 1:
                break
            self.assertLess(time.time(), deadline)
            time.sleep(0.01)
        holder.close()
        msgs = []
        while len([m for m in msgs if m[0] == 1]) == 0 or len([m for m in msgs if m[0] == 2]) < 2:
            msgs.append(self.c.recv())
        ops = [m[2][0]["op"] for m in msgs if m[0] == 2]
        self.assertEqual(ops, ["lock.release", "lock.acquire"])

    def test_a_condition_wait_lets_its_lock_go_and_takes_it_back(self):
        lk = self.open("lock")
        cv = self.open("condition", None, {"lock": lk})
        other = Conn(self.server)
        self.c.ok("watch", lk)
        self.assertTrue(self.c.ok("condition.acquire", cv))
        self.assertIs(self.c.ok("condition.wait", cv, 0.05), False)
        self.c.ok("condition.release", cv)
        got = [p["op"] for _, p in self.notes(self.c, 4)]
        self.assertEqual(got, ["lock.acquire", "lock.release",
                               "lock.acquire", "lock.release"])
        other.close()

    def test_a_broken_barrier_is_a_change(self):
        b = self.open("barrier", None, {"parties": 2})
        self.c.ok("watch", b)
        self.assertEqual(self.c.err("barrier.wait", b, 0.01), "BROKEN")
        self.c.ok("barrier.reset", b)
        got = [p["op"] for _, p in self.notes(self.c, 2)]
        self.assertEqual(got, ["barrier.broken", "barrier.reset"])

    def test_drop_is_notified_and_the_watch_keeps_the_object(self):
        h = self.open("value", "w-drop")
        self.c.ok("watch", h)
        other = Conn(self.server)
        self.assertTrue(other.ok("drop", "w-drop"))
        (_, p), = self.notes(self.c, 1)
        self.assertEqual(p["op"], "value.drop")
        self.c.ok("close", h)
        other.close()

    def test_bad_options_are_args(self):
        h = self.open("dict")
        q = self.open("queue")
        self.assertEqual(self.c.err("watch", h, []), "ARGS")
        self.assertEqual(self.c.err("watch", h, {"bogus": 1}), "ARGS")
        self.assertEqual(self.c.err("watch", q, {"key": "k"}), "ARGS")
        self.assertEqual(self.c.err("watch", h, {"since": -1}), "ARGS")
        self.assertEqual(self.c.err("watch", h, {"run": "r"}), "ARGS")
        self.assertEqual(self.c.err("watch", 999), "NO_OBJECT")
        self.assertEqual(self.c.err("unwatch", "x"), "ARGS")

    def test_what_watches_keep_counts_against_max_memory(self):
        srv = Server(args=["--max-memory", "1048576", "--max-output", "65536"])
        try:
            greedy, other = Conn(srv), Conn(srv)
            h = greedy.ok("open", "dict", "w-mem", {})
            ho = other.ok("open", "dict", "w-mem", {})
            key = "k" * 100000
            closed = False
            for i in range(100):  # 10 MB of keys if nothing stopped it
                try:
                    greedy.send("watch", [h, {"key": key + str(i)}])
                    msg = greedy.recv()
                except OSError:  # closed while sending (TLS: no notify)
                    msg = None
                if msg is None:
                    closed = True
                    break
                self.assertIsNone(msg[2], msg)
            self.assertTrue(closed, "100 watches of 100 kB keys were kept")
            self.assertIn("past its memory limit; closing it", srv.log())
            other.ok("dict.set", ho, "still", "served")
            other.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_a_watcher_that_does_not_read_is_cut_after_its_backlog(self):
        srv = Server(args=["--max-output", "65536"])
        try:
            watcher = Conn(srv)
            writer = Conn(srv)
            h = watcher.ok("open", "dict", "w-slow", {})
            hw = writer.ok("open", "dict", "w-slow", {})
            v0 = watcher.ok("watch", h)["version"]
            # 20 MB of notifications (their keys): more than the
            # socket buffers of a TCP loopback hold, and --max-output.
            n, pad = 10000, "x" * 2000
            for i in range(0, n, 500):  # pipelined, 500 at a time
                for j in range(i, i + 500):
                    writer.send("dict.set", [hw, "k%d%s" % (j, pad), j])
                for j in range(i, i + 500):
                    self.assertEqual(writer.recv()[2], None)
            # The writer was never held up; the watcher's backlog ends
            # with the cut, and then the connection.
            versions, cut = [], None
            while True:
                msg = watcher.recv()
                if msg is None:
                    break
                self.assertEqual(msg[0], 2)
                if msg[1] == "cut":
                    cut = msg[2][0]
                    continue
                self.assertIsNone(cut, "a notification after the cut")
                versions.append(msg[2][0]["version"])
            watcher.close()
            self.assertIsNotNone(cut)
            self.assertEqual(cut["reason"], "--max-output")
            self.assertGreater(cut["unsent"], 65536)
            self.assertGreater(len(versions), 0)
            self.assertLess(len(versions), n)
            self.assertEqual(versions, list(range(v0 + 1, v0 + 1 + len(versions))))
            writer.ok("ping")
            writer.close()
        finally:
            self.assertEqual(srv.stop(), 0)


class Restart(unittest.TestCase):
    def test_a_new_start_has_a_new_run(self):
        runs = []
        for _ in range(2):
            server = Server()
            try:
                t0 = time.time()
                c = Conn(server)
                runs.append(c.hello["run"])
                self.assertEqual(c.ok("stats")["run"], runs[-1])
                self.assertLessEqual(c.hello["started"], t0 + 1)
                c.close()
            finally:
                self.assertEqual(server.stop(), 0)
        self.assertTrue(all(is_run_id(r) for r in runs), runs)
        self.assertNotEqual(runs[0], runs[1])


WORKER_KEY = bytes(range(32))
MONITOR_KEY = bytes(range(1, 33))
ADMIN_KEY = bytes(range(2, 34))
USERS = """# worker: jobs.* only; monitor: reads everything; admin: all
worker  key=%s rights=read,write,create names=jobs.*
monitor key=%s rights=read
admin   key=%s rights=all
""" % (WORKER_KEY.hex(), MONITOR_KEY.hex(), ADMIN_KEY.hex())


class Users(unittest.TestCase):
    """Users with their own keys and rights (protocol sections 2 and 5):
    hello's third param names the user."""

    def setUp(self):
        self.server = Server(users=USERS)
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        self.assertEqual(self.server.stop(), 0)

    def conn(self, key, user):
        c = user_conn(self.server, key, user)
        self.conns.append(c)
        return c

    def denied(self, c, method, *params):
        err, res = c.call(method, *params)
        self.assertIsNotNone(err, "%s%r gave %r" % (method, params, res))
        self.assertEqual(err[:2], [18, "DENIED"])
        return err[2]

    def test_prefix_limited_worker(self):
        w = self.conn(WORKER_KEY, "worker")
        q = w.ok("open", "queue", "jobs.q", {})
        w.ok("queue.put", q, 7)
        self.assertEqual(w.ok("queue.get", q, False), 7)
        # another name: DENIED, whether it exists or not
        self.conn(self.server.key, None).ok("open", "dict", "other", {})
        msg = self.denied(w, "open", "dict", "other", {})
        self.assertIn("other", msg)
        self.assertEqual(self.denied(w, "open", "dict", "other2", {})[:4],
                         msg[:4])
        self.assertEqual([o["name"] for o in w.ok("ls")], ["jobs.q"])
        self.assertIn("admin", self.denied(w, "drop", "jobs.q"))
        self.assertIn("admin", self.denied(w, "clients"))
        # the connection stays usable
        self.assertEqual(w.ok("ping", "x"), "x")
        # anonymous objects: created and used by their handle
        a = w.ok("open", "list", None, {})
        w.ok("list.append", a, 1)

    def test_read_only_monitor(self):
        self.conn(self.server.key, None).ok("open", "queue", "jobs.q", {})
        m = self.conn(MONITOR_KEY, "monitor")
        q = m.ok("open", "queue", "jobs.q", {})
        self.assertEqual(m.ok("queue.qsize", q), 0)
        self.assertEqual(len(m.ok("ls")), 1)
        self.assertIsInstance(m.ok("stats"), dict)
        self.assertIn("write", self.denied(m, "queue.put", q, 1))
        self.assertIn("write", self.denied(m, "queue.get", q, False))
        self.assertIn("create", self.denied(m, "open", "list", "new", {}))
        self.assertEqual(m.ok("queue.qsize", q), 0)

    def test_admin_and_default_user(self):
        a = self.conn(ADMIN_KEY, "admin")
        w = self.conn(WORKER_KEY, "worker")
        a.ok("open", "list", "x", {})
        users = {e["self"]: e["user"] for e in a.ok("clients")
                 if e["self"] or e["user"] == "worker"}
        self.assertEqual(users, {True: "admin", False: "worker"})
        w.ok("ping")
        self.assertIs(a.ok("drop", "x"), True)
        # a nil user is the default user: the --authkey-file key
        d = self.conn(self.server.key, None)
        self.assertIs(d.ok("drop", "nothing"), False)

    def test_unknown_user_and_wrong_key_look_alike(self):
        outcomes = []
        for key, user in ((b"k" * 32, "nobody"), (b"k" * 32, "worker"),
                          (WORKER_KEY, "monitor")):
            c = Conn(self.server, auth=False)
            err, _ = c.handshake(key, user)
            self.assertEqual(len(c.hello["proof"]), 32)
            self.assertEqual(sorted(c.hello), ["nonce", "proof", "run",
                                               "server", "started",
                                               "version"])
            outcomes.append((c.server_proof_ok, err[:2]))
            self.assertTrue(c.closed())
        self.assertEqual(outcomes, [(False, [2, "AUTH"])] * 3)

    def test_without_authkey_there_is_no_default_user(self):
        server = Server(users=USERS, authkey=False)
        try:
            for user in (None, "nobody"):
                c = Conn(server, auth=False)
                err, _ = c.handshake(server.key, user)
                self.assertFalse(c.server_proof_ok)
                self.assertEqual(err[:2], [2, "AUTH"])
                self.assertTrue(c.closed())
            c = Conn(server, auth=False)
            err, res = c.handshake(ADMIN_KEY, "admin")
            self.assertTrue(c.server_proof_ok)
            self.assertIs(res, True)
            c.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def test_bad_user_param_is_args(self):
        c = Conn(self.server, auth=False)
        self.assertEqual(c.err("hello", 1, os.urandom(32), 5), "ARGS")
        self.assertTrue(c.closed())

    def test_reload_shrinks_rights_and_closes_removed_users(self):
        w = self.conn(WORKER_KEY, "worker")
        m = self.conn(MONITOR_KEY, "monitor")
        q = w.ok("open", "queue", "jobs.q", {})
        w.ok("queue.put", q, 1)
        # a bad file (a user without a key): the old users stay
        self.server.write_users("worker rights=read\n")
        self.server.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        w.ok("queue.put", q, 2)
        m.ok("ping")
        # rights shrink for worker, monitor is removed
        self.server.write_users(
            "worker key=%s rights=read names=jobs.*\n" % WORKER_KEY.hex())
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        puts = 2  # until the reload is done, puts still succeed
        while True:
            err, _ = w.call("queue.put", q, 3)
            if err is not None or time.monotonic() > deadline:
                break
            puts += 1
            time.sleep(0.02)
        self.assertEqual(err[1], "DENIED")
        self.assertEqual(w.ok("queue.qsize", q), puts)  # DENIED put none
        self.assertTrue(m.closed())  # monitor is gone
        c = Conn(self.server, auth=False)
        err, _ = c.handshake(MONITOR_KEY, "monitor")
        self.assertEqual(err[1], "AUTH")
        c.close()


class Shutdown(unittest.TestCase):
    def test_parked_request_gets_shutdown_and_socket_goes(self):
        server = Server()
        try:
            c = Conn(server)
            q = c.ok("open", "queue", None, {})
            msgid = c.send("queue.get", [q])
            probe = Conn(server)
            while probe.ok("stats")["waiters"] < 1:
                time.sleep(0.01)
            probe.close()
            server.proc.send_signal(signal.SIGTERM)
            msg = c.recv()
            self.assertEqual(msg[1], msgid)
            self.assertEqual(msg[2][1], "SHUTDOWN")
            self.assertEqual(server.proc.wait(10), 0)
            self.assertFalse(os.path.exists(server.path))
            c.close()
        finally:
            server.stop()


class Txn(Base):
    """Transactions (section 12): txn [conditions, then, else=[]]."""

    def txn(self, *params, conn=None):
        """txn's answer (err, result) on @conn (default: self.c)."""
        return (conn or self.c).call("txn", *params)

    def ok_txn(self, *params, conn=None):
        err, res = self.txn(*params, conn=conn)
        self.assertIsNone(err, "txn %r: %r" % (params, err))
        self.assertEqual(set(res), {"succeeded", "results"})
        self.assertIsInstance(res["succeeded"], bool)
        return res

    def err_txn(self, name, where, *params, conn=None):
        """The error of a txn that must fail with @name; @where: the
        (branch, call) its fourth element names, or None for none
        checked. Returns the message."""
        err, res = self.txn(*params, conn=conn)
        self.assertIsNotNone(err, "txn %r gave %r" % (params, res))
        self.assertIsNone(res)
        self.assertEqual(err[1], name, "txn %r: %r" % (params, err))
        self.assertIsInstance(err[0], int)
        self.assertIsInstance(err[2], str)
        self.assertTrue(err[2])
        if where is not None:
            self.assertEqual(len(err), 4, err)
            self.assertEqual(err[3], {"branch": where[0], "call": where[1]},
                             "txn %r: %r" % (params, err))
        return err[2]

    def wait_waiters(self, h, n):
        deadline = time.time() + 5
        while self.c.ok("info", h)["waiters"] < n:
            self.assertLess(time.time(), deadline)
            time.sleep(0.01)

    def test_answer_shape_and_results_in_call_order(self):
        d = self.open("dict")
        lst = self.open("list")
        res = self.ok_txn([], [["dict.set", [d, "a", 1]],
                               ["list.append", [lst, "x"]],
                               ["dict.get", [d, "a"]],
                               ["list.copy", [lst]]])
        self.assertEqual(res, {"succeeded": True,
                               "results": [None, None, 1, ["x"]]})
        self.assertEqual(self.ok_txn([], []),
                         {"succeeded": True, "results": []})
        self.assertEqual(self.ok_txn([], [], []),
                         {"succeeded": True, "results": []})

    def test_conditions_true_and_false(self):
        v = self.open("value", None, {"initial": 5})
        d = self.open("dict")
        lst = self.open("list")
        self.c.ok("dict.set", d, "k", "x")
        self.c.ok("list.append", lst, 1)
        lk = self.open("lock", "txn-cond-lk")
        free = self.open("lock")
        token = self.c.ok("lock.acquire_fenced", lk)
        other = Conn(self.server)
        olk = other.ok("open", "lock", "txn-cond-olk", {})
        otoken = other.ok("lock.acquire_fenced", olk)
        mine_olk = self.open("lock", "txn-cond-olk")
        cases = [
            (["eq", "value.get", [v], 5], True),
            (["eq", "value.get", [v], 6], False),
            (["eq", "value.get", [v], 5.0], False),  # an int is no float
            (["eq", "dict.getitem", [d, "nope"], 1], False),
            (["ne", "value.get", [v], 6], True),
            (["ne", "value.get", [v], 5], False),
            (["ne", "dict.getitem", [d, "nope"], 1], True),
            (["ne", "list.get", [lst, 9], 1], True),
            (["lt", "value.get", [v], 6], True),
            (["lt", "value.get", [v], 5], False),
            (["lt", "value.get", [v], 5.5], True),
            (["lt", "dict.getitem", [d, "nope"], 9], False),
            (["le", "value.get", [v], 5], True),
            (["le", "value.get", [v], 4], False),
            (["gt", "value.get", [v], 4], True),
            (["gt", "value.get", [v], 5], False),
            (["ge", "value.get", [v], 5], True),
            (["ge", "value.get", [v], 6], False),
            (["gt", "dict.getitem", [d, "k"], "w"], True),
            (["exists", "dict.getitem", [d, "k"]], True),
            (["exists", "dict.getitem", [d, "nope"]], False),
            (["exists", "list.get", [lst, 9]], False),
            (["missing", "dict.getitem", [d, "nope"]], True),
            (["missing", "list.get", [lst, 9]], True),
            (["missing", "dict.getitem", [d, "k"]], False),
            (["held", lk], True),
            (["held", free], False),
            (["held", mine_olk], False),  # another connection holds it
            (["fence", lk, token], True),
            (["fence", lk, token + 1], False),
            (["fence", lk, token - 1], False),
            (["fence", free, 0], False),
            (["fence", mine_olk, otoken], True),  # whoever holds it
        ]
        for cond, holds in cases:
            res = self.ok_txn([cond], [["value.get", [v]]],
                              [["dict.get", [d, "k"]]])
            self.assertEqual(res, {"succeeded": holds,
                                   "results": [5] if holds else ["x"]},
                             cond)
        # every condition must hold
        res = self.ok_txn([["held", lk], ["eq", "value.get", [v], 0]],
                          [["value.set", [v, 1]]])
        self.assertEqual(res, {"succeeded": False, "results": []})
        self.assertEqual(self.c.ok("value.get", v), 5)
        other.close()

    def test_a_stale_lock_holders_guarded_write_is_refused(self):
        lk = self.open("lock", "txn-stale")
        d = self.open("dict", "txn-stale-d")
        old = self.c.ok("lock.acquire_fenced", lk)
        self.c.ok("lock.release", lk)
        other = Conn(self.server)
        olk = other.ok("open", "lock", "txn-stale", {})
        od = other.ok("open", "dict", "txn-stale-d", {})
        new = other.ok("lock.acquire_fenced", olk)
        self.assertGreater(new, old)
        write = [["dict.set", [d, "owner", "stale"]]]
        self.assertEqual(self.ok_txn([["fence", lk, old]], write),
                         {"succeeded": False, "results": []})
        self.assertEqual(self.ok_txn([["fence", olk, new]],
                                     [["dict.set", [od, "owner", "new"]]],
                                     conn=other),
                         {"succeeded": True, "results": [None]})
        self.assertEqual(self.c.ok("dict.copy", d), {"owner": "new"})
        other.close()

    def test_the_else_branch(self):
        d = self.open("dict")
        res = self.ok_txn([["exists", "dict.getitem", [d, "k"]]],
                          [["dict.set", [d, "then", 1]]],
                          [["dict.set", [d, "else", 1]],
                           ["dict.len", [d]]])
        self.assertEqual(res, {"succeeded": False, "results": [None, 1]})
        self.assertEqual(self.c.ok("dict.copy", d), {"else": 1})
        # else defaults to none
        self.assertEqual(self.ok_txn([["exists", "dict.getitem", [d, "k"]]],
                                     [["dict.set", [d, "then", 1]]]),
                         {"succeeded": False, "results": []})

    def test_a_failing_call_undoes_everything_with_a_fourth_element(self):
        d = self.open("dict")
        lst = self.open("list")
        q = self.open("queue")
        self.c.ok("dict.set", d, "a", 1)
        before = [self.c.ok("info", h)["version"] for h in (d, lst, q)]
        msg = self.err_txn("KEY", ("then", 3), [],
                           [["dict.set", [d, "a", 2]],
                            ["list.append", [lst, 1]],
                            ["queue.put", [q, "job", False]],
                            ["dict.pop", [d, "absent"]],
                            ["dict.set", [d, "never", 1]]])
        self.assertIn("dict.pop", msg)
        self.assertEqual(self.c.ok("dict.copy", d), {"a": 1})
        self.assertEqual(self.c.ok("list.copy", lst), [])
        self.assertEqual(self.c.ok("queue.qsize", q), 0)
        self.assertEqual([self.c.ok("info", h)["version"]
                          for h in (d, lst, q)], before)
        # in the else branch
        self.err_txn("INDEX", ("else", 1), [["missing", "dict.get", [d, "a"]]],
                     [], [["list.append", [lst, 1]], ["list.pop", [lst, 5]]])
        self.assertEqual(self.c.ok("list.copy", lst), [])
        # a condition's read call that answers another error than KEY,
        # INDEX or EMPTY; a handle that is none
        self.err_txn("TYPE", ("conditions", 1),
                     [["exists", "dict.get", [d, "a"]],
                      ["lt", "dict.get", [d, "a"], "str"]],
                     [["list.append", [lst, 1]]])
        self.err_txn("NO_OBJECT", ("conditions", 0),
                     [["eq", "dict.get", [9999, "a"], 1]], [])
        self.err_txn("NO_OBJECT", ("then", 1), [],
                     [["list.append", [lst, 1]], ["list.append", [9999, 1]]])
        self.assertEqual(self.c.ok("list.copy", lst), [])
        # a client reading three elements reads the same error
        err, _ = self.txn([], [["dict.pop", [d, "absent"]]])
        self.assertEqual(err[:2], [8, "KEY"])

    def test_malformed_transactions_are_args(self):
        d = self.open("dict")
        q = self.open("queue")
        jq = self.open("joinable_queue")
        lk = self.open("lock")
        rl = self.open("rlock")
        sem = self.open("semaphore", None, {"value": 0})
        cond = self.open("condition")
        ev = self.open("event")
        bar = self.open("barrier", None, {"parties": 2})
        top = self.open("topic")
        self.c.ok("dict.set", d, "k", 1)
        # the part that is no array is named
        for params, part in (([1, []], "conditions"), ([[], 2], "then"),
                             ([[], [], 3], "else"),
                             ([None, []], "conditions")):
            self.assertIn(part, self.err_txn("ARGS", None, *params))
        self.err_txn("ARGS", None, [])
        self.err_txn("ARGS", None, [], [], [], [])
        # a call that is not [method, params]: named by its place
        for then in ([[1, 2]], [["dict.get"]], [["dict.get", d]],
                     [["dict.get", [d, "k"], 3]], [7]):
            self.err_txn("ARGS", ("then", 0), [], then)
        self.err_txn("ARGS", ("else", 1), [],
                     [["dict.get", [d, "k"]]],
                     [["dict.get", [d, "k"]], ["dict.get", "k"]])
        msg = self.err_txn("ARGS", ("conditions", 0),
                           [["bogus", "dict.get", [d, "k"], 1]], [])
        self.assertIn("bogus", msg)
        self.err_txn("ARGS", ("conditions", 0),
                     [["eq", "dict.get", [d, "k"]]], [])
        self.err_txn("ARGS", ("conditions", 0), [["held"]], [])
        self.err_txn("ARGS", ("conditions", 0), [["fence", lk]], [])
        self.err_txn("ARGS", ("conditions", 0), [7], [])
        # a condition's call must only read
        msg = self.err_txn("ARGS", ("conditions", 1),
                           [["exists", "dict.get", [d, "k"]],
                            ["eq", "dict.pop", [d, "k"], 1]], [])
        self.assertIn("dict.pop", msg)
        self.assertEqual(self.c.ok("dict.copy", d), {"k": 1})
        # refused calls, even after a write and in the branch not run
        refused = [
            ["open", ["list", "x", {}]], ["ping", []], ["close", [d]],
            ["txn", [[], []]],
            ["queue.get", [q]], ["queue.get", [q, True, 0]],
            ["queue.put", [q, 1]], ["queue.take", [q]],
            ["joinable_queue.get", [jq]], ["joinable_queue.join", [jq, 0]],
            ["lock.acquire", [lk]], ["lock.acquire", [lk, True, 1]],
            ["lock.acquire_fenced", [lk]], ["rlock.acquire", [rl]],
            ["rlock.acquire_fenced", [rl, True]],
            ["semaphore.acquire", [sem]], ["condition.acquire", [cond]],
            ["condition.wait", [cond, 0]], ["event.wait", [ev, 0]],
            ["barrier.wait", [bar, 0]], ["topic.subscribe", [top]],
            ["topic.unsubscribe", [top]],
        ]
        for call in refused:
            msg = self.err_txn("ARGS", ("then", 1), [],
                               [["dict.set", [d, "z", 1]], call])
            self.assertIn(call[0], msg)
            self.err_txn("ARGS", ("else", 0), [],
                         [["dict.set", [d, "z", 1]]], [call])
        self.assertEqual(self.c.ok("dict.copy", d), {"k": 1})
        self.assertIs(self.c.ok("lock.locked", lk), False)
        self.assertEqual(self.c.ok("info", bar)["broken"], False)
        # their forms that do not wait are ordinary calls
        self.err_txn("EMPTY", ("then", 0), [], [["queue.get", [q, False]]])
        self.assertEqual(self.ok_txn([], [["queue.put", [q, 1, False]],
                                          ["queue.get", [q, False]],
                                          ["lock.acquire", [lk, False]],
                                          ["semaphore.acquire",
                                           [sem, False]]])["results"],
                         [None, 1, True, False])
        self.assertIs(self.c.ok("lock.locked", lk), True)

    def test_max_txn(self):
        server = Server(args=["--max-txn", "4"])
        try:
            c = Conn(server)
            d = c.ok("open", "dict", None, {})
            call = ["dict.set", [d, "k", 1]]
            cond = ["exists", "dict.get", [d, "k"]]
            self.assertIsNone(c.call("txn", [], [call] * 4)[0])
            self.assertIsNone(c.call("txn", [cond] * 2, [call], [call])[0])
            for params in ([[], [call] * 5], [[cond] * 2, [call] * 3],
                           [[cond], [call] * 2, [call] * 2],
                           [[cond] * 5, []]):
                err, _ = c.call("txn", *params)
                self.assertEqual(err[1], "ARGS", params)
                self.assertIn("4", err[2])
            c.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def test_each_call_needs_its_right(self):
        server = Server(users=USERS)
        try:
            a = user_conn(server, ADMIN_KEY, "admin")
            m = user_conn(server, MONITOR_KEY, "monitor")
            a.ok("open", "dict", "jobs.d", {})
            md = m.ok("open", "dict", "jobs.d", {})
            # read calls and conditions need read only
            self.assertEqual(self.ok_txn([["missing", "dict.getitem",
                                           [md, "k"]]],
                                         [["dict.len", [md]]], conn=m),
                             {"succeeded": True, "results": [0]})
            err, _ = m.call("txn", [], [["dict.len", [md]],
                                        ["dict.set", [md, "k", 1]]])
            self.assertEqual(err[:2], [18, "DENIED"])
            self.assertIn("write", err[2])
            self.assertEqual(err[3], {"branch": "then", "call": 1})
            self.assertEqual(m.ok("dict.len", md), 0)
            for c in (a, m):
                c.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def notes(self, conn, n):
        got = conn.notes[:n]
        del conn.notes[:n]
        while len(got) < n:
            msg = conn.recv()
            self.assertIsNotNone(msg)
            self.assertEqual(msg[0], 2, msg)
            got.append(msg)
        return [(m[1], m[2][0]) for m in got]

    def test_watchers_see_the_changes_after_the_answer_in_call_order(self):
        d = self.open("dict", "txn-w-d")
        lst = self.open("list", "txn-w-l")
        watcher = Conn(self.server)
        wd = watcher.ok("open", "dict", "txn-w-d", {})
        wl = watcher.ok("open", "list", "txn-w-l", {})
        v0 = watcher.ok("watch", wd)["version"]
        watcher.ok("watch", wl)
        self.c.ok("watch", d)  # the transaction's own connection too
        res = self.ok_txn([["exists", "dict.get", [d, "a"]]],
                          [["dict.set", [d, "a", 1]],
                           ["list.append", [lst, 2]],
                           ["dict.get", [d, "a"]],
                           ["dict.set", [d, "b", 3]]])
        self.assertEqual(res["results"], [None, None, 1, None])
        # the answer came first: no notification before it
        self.assertEqual(self.c.notes, [])
        mine = self.notes(self.c, 2)
        self.assertEqual([p["op"] for _, p in mine], ["dict.set"] * 2)
        got = self.notes(watcher, 3)
        self.assertEqual([(p["op"], p.get("key")) for _, p in got],
                         [("dict.set", "a"), ("list.append", None),
                          ("dict.set", "b")])
        versions = [p["version"] for _, p in got]
        self.assertGreater(versions[0], v0)
        self.assertEqual(versions, list(range(versions[0],
                                              versions[0] + 3)))
        self.assertEqual(watcher.ok("info", wd)["version"], versions[2])
        self.assertEqual(watcher.ok("info", wl)["version"], versions[1])
        # a failing transaction: nothing notified, versions as they were
        self.err_txn("KEY", ("then", 2), [],
                     [["dict.set", [d, "c", 1]], ["list.clear", [lst]],
                      ["dict.pop", [d, "absent"]]])
        self.assertTrue(nothing_pending(watcher))
        self.assertTrue(nothing_pending(self.c))
        self.assertEqual(watcher.ok("info", wd)["version"], versions[2])
        self.assertEqual(watcher.ok("info", wl)["version"], versions[1])
        watcher.close()

    def test_waiters_are_served_after_the_commit_and_never_on_failure(self):
        q = self.open("queue", "txn-wake-q")
        d = self.open("dict")
        getter = Conn(self.server)
        gq = getter.ok("open", "queue", "txn-wake-q", {})
        gid = getter.send("queue.get", [gq])
        self.wait_waiters(q, 1)
        # failed: the parked get is not served, the queue holds nothing
        self.err_txn("KEY", ("then", 1), [],
                     [["queue.put", [q, "lost", False]],
                      ["dict.pop", [d, "absent"]]])
        self.assertTrue(nothing_pending(getter))
        self.assertEqual(self.c.ok("info", q)["waiters"], 1)
        self.assertEqual(self.c.ok("queue.qsize", q), 0)
        # committed: served, once the transaction answered
        self.ok_txn([], [["queue.put", [q, "job", False]],
                         ["dict.set", [d, "k", 1]]])
        msg = getter.recv()
        self.assertEqual(msg[:4], [1, gid, None, "job"])
        # on the transaction's own connection: its answer first
        mid = self.c.send("queue.get", [q])
        tid = self.c.send("txn", [[], [["queue.put", [q, "mine", False]]]])
        first, second = self.c.recv(), self.c.recv()
        self.assertEqual(first[1], tid)
        self.assertEqual(first[3], {"succeeded": True, "results": [None]})
        self.assertEqual(second[:4], [1, mid, None, "mine"])
        # a lock released with a waiter, an event set with one
        lk = self.open("lock", "txn-wake-lk")
        ev = self.open("event", "txn-wake-ev")
        self.c.ok("lock.acquire", lk)
        glk = getter.ok("open", "lock", "txn-wake-lk", {})
        gev = getter.ok("open", "event", "txn-wake-ev", {})
        aid = getter.send("lock.acquire", [glk])
        self.wait_waiters(lk, 1)
        self.err_txn("KEY", ("then", 1), [],
                     [["lock.release", [lk]], ["dict.pop", [d, "absent"]]])
        self.assertTrue(nothing_pending(getter))
        self.assertEqual(self.ok_txn([["held", lk]],
                                     [["lock.release", [lk]]])["results"],
                         [None])
        self.assertEqual(getter.recv()[:4], [1, aid, None, True])
        self.assertIs(self.ok_txn([["held", lk]], [])["succeeded"], False)
        wid = getter.send("event.wait", [gev])
        self.wait_waiters(ev, 1)
        self.err_txn("KEY", ("then", 1), [],
                     [["event.set", [ev]], ["dict.pop", [d, "absent"]]])
        self.assertTrue(nothing_pending(getter))
        self.assertIs(self.c.ok("event.is_set", ev), False)
        self.ok_txn([], [["event.set", [ev]]])
        self.assertEqual(getter.recv()[:4], [1, wid, None, True])
        getter.close()

    def test_parked_requests_keep_their_place(self):
        lk = self.open("lock", "txn-place-lk")
        sem = self.open("semaphore", "txn-place-sem", {"value": 0})
        ev = self.open("event", "txn-place-ev")
        other = Conn(self.server)
        olk = other.ok("open", "lock", "txn-place-lk", {})
        osem = other.ok("open", "semaphore", "txn-place-sem", {})
        oev = other.ok("open", "event", "txn-place-ev", {})
        self.c.ok("lock.acquire", lk)
        aid = other.send("lock.acquire", [olk])
        self.wait_waiters(lk, 1)
        # released with a waiter: the lock is the waiter's at the commit,
        # and the transaction's own acquire after it answers false
        res = self.ok_txn([], [["lock.release", [lk]],
                               ["lock.acquire", [lk, False]]])
        self.assertEqual(res["results"], [None, False])
        self.assertEqual(other.recv()[:4], [1, aid, None, True])
        self.assertIs(self.ok_txn([["held", lk]], [])["succeeded"], False)
        self.assertIs(self.ok_txn([["held", olk]], [], conn=other)
                      ["succeeded"], True)
        # so is a permit
        sid = other.send("semaphore.acquire", [osem])
        self.wait_waiters(sem, 1)
        res = self.ok_txn([], [["semaphore.release", [sem]],
                               ["semaphore.acquire", [sem, False]]])
        self.assertEqual(res["results"], [None, False])
        self.assertEqual(other.recv()[:4], [1, sid, None, True])
        self.assertEqual(self.c.ok("semaphore.value", sem), 0)
        # an event set and cleared again in one transaction wakes no one
        wid = other.send("event.wait", [oev])
        self.wait_waiters(ev, 1)
        self.ok_txn([], [["event.set", [ev]], ["event.clear", [ev]]])
        self.assertTrue(nothing_pending(other))
        self.assertEqual(self.c.ok("info", ev)["waiters"], 1)
        self.ok_txn([], [["event.set", [ev]]])
        self.assertEqual(other.recv()[:4], [1, wid, None, True])
        other.close()

    def test_a_topic_message_goes_out_after_the_commit_only(self):
        t = self.open("topic", "txn-topic")
        d = self.open("dict")
        sub = Conn(self.server)
        st = sub.ok("open", "topic", "txn-topic", {})
        sub.ok("topic.subscribe", st)
        self.err_txn("KEY", ("then", 1), [],
                     [["topic.publish", [t, "lost"]],
                      ["dict.pop", [d, "absent"]]])
        self.assertTrue(nothing_pending(sub))
        self.assertEqual(self.c.ok("info", t)["published"], 0)
        res = self.ok_txn([], [["topic.publish", [t, "m1"]],
                               ["topic.publish", [t, "m2"]]])
        self.assertEqual(res["results"], [1, 1])
        self.assertEqual(next_notification(sub),
                         ("topic", {"handle": st, "message": "m1"}))
        self.assertEqual(next_notification(sub),
                         ("topic", {"handle": st, "message": "m2"}))
        sub.close()

    def test_a_transaction_survives_a_restart_whole(self):
        data = tempfile.mkdtemp(prefix="agora-conf-data-")
        try:
            server = Server(args=["--data-dir", data, "--fsync", "always"])
            try:
                c = Conn(server)
                d = c.ok("open", "dict", "txn.d", {})
                lst = c.ok("open", "list", "txn.l", {})
                q = c.ok("open", "queue", "txn.q", {})
                c.ok("dict.set", d, "n", 1)
                err, res = c.call("txn", [["eq", "dict.get", [d, "n"], 1]],
                                  [["dict.incr", [d, "n"]],
                                   ["list.append", [lst, "moved"]],
                                   ["queue.put", [q, "job", False]]])
                self.assertIsNone(err)
                self.assertEqual(res["results"], [2, None, None])
                # a lock's state (its fence) changed inside one
                lk = c.ok("open", "lock", "txn.lk", {})
                err, res = c.call("txn", [], [["lock.acquire_fenced",
                                               [lk, False]],
                                              ["dict.set", [d, "t", 1]]])
                self.assertIsNone(err)
                token = res["results"][0]
                err, _ = c.call("txn", [], [["dict.set", [d, "n", 100]],
                                            ["list.clear", [lst]],
                                            ["queue.get", [q, False]],
                                            ["dict.pop", [d, "absent"]]])
                self.assertEqual(err[1], "KEY")
                # a crash: nothing is written at stop
                server.proc.send_signal(signal.SIGKILL)
                server.proc.wait()
                c.close()
            finally:
                server.stop()
            server = Server(args=["--data-dir", data])
            try:
                c = Conn(server)
                d = c.ok("open", "dict", "txn.d", {"create": False})
                lst = c.ok("open", "list", "txn.l", {"create": False})
                q = c.ok("open", "queue", "txn.q", {"create": False})
                self.assertEqual(c.ok("dict.copy", d), {"n": 2, "t": 1})
                self.assertEqual(c.ok("list.copy", lst), ["moved"])
                self.assertEqual(c.ok("queue.peek", q, 5), ["job"])
                lk = c.ok("open", "lock", "txn.lk", {"create": False})
                self.assertIs(c.ok("lock.locked", lk), False)
                self.assertGreater(c.ok("lock.acquire_fenced", lk), token)
                c.close()
            finally:
                self.assertEqual(server.stop(), 0)
        finally:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    if TLS:
        require_openssl()
    unittest.main(verbosity=2)
