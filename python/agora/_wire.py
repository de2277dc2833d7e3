"""One connection to agorad: the socket, the handshake, calls.

The wire contract is docs/protocol.md: MessagePack-RPC requests
``[0, msgid, method, params]``, answers ``[1, msgid, error, result]`` and
notifications ``[2, method, params]`` over a Unix socket, TCP or TLS, after
the mutual HMAC-SHA256 handshake of section 2 (bound to the TLS channel
over TLS, section 2.1; a named user, section 2.2).

A :class:`Connection` is used by one thread at a time (the
:class:`agora.Client` gives each thread and each process its own). Object
references (section 8) travel as MessagePack ext 1 and are :class:`Ref`
here; the client turns them into proxies.
"""
from __future__ import annotations

import collections
import hashlib
import hmac
import os
import select
import socket
import ssl
import time
from typing import Any, Deque, List, Optional, Set, Tuple, Union

import msgpack

from .errors import AuthError, ConnectionLost, Error, ProtocolError, from_wire

__all__ = ["Ref", "Connection", "parse_address", "default_address",
           "resolve_key", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_PEER_TIMEOUT",
           "DEFAULT_SPIN"]

PROTOCOL_VERSION = 1
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_PEER_TIMEOUT = 30.0
_KEYFILE_MAX = 4096
# Bytes read at most at once, into a buffer each connection keeps
# (recv_into): a recv(n) allocates n bytes for every call, and past glibc
# malloc's mmap threshold (128 KiB) each became an mmap, an mremap and a
# munmap with their page faults, three times the CPU of a call.
_RECV_SIZE = 65536

# A call's poll for its answer before it sleeps (Connection's @spin):
# 40 us by default; after _SPIN_MISSES polls in a row that found nothing,
# the next _SPIN_REST calls sleep at once.
DEFAULT_SPIN = 40e-6
_SPIN_MISSES = 8
_SPIN_BUSY = 5e-6  # a sched_yield that took longer: another process ran
_SPIN_REST = 1000
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_now = time.perf_counter
_yield = getattr(os, "sched_yield", lambda: None)


class Ref:
    """A reference to a shared object (protocol section 8): the 16 bytes of
    the ext 1 (the object's id, then its secret). Values read from the
    server carry references as proxies; a Ref is what travels."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)

    @property
    def id(self) -> int:
        """The object's id (unique while the server runs)."""
        return int.from_bytes(self.data[:8], "big")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return "Ref(id=%d)" % self.id

    def __reduce__(self):
        return (Ref, (self.data,))


def _freeze(k: Any) -> Any:
    """A map key that came as an array: a tuple (a Python key must be
    hashable), nested arrays too."""
    if isinstance(k, list):
        return tuple(_freeze(x) for x in k)
    return k


def _pairs(pairs: List[Tuple[Any, Any]]) -> dict:
    try:
        return dict(pairs)
    except TypeError:  # an array key: a tuple here
        return {_freeze(k): v for k, v in pairs}


def default_address() -> str:
    """AGORA_ADDRESS, else agorad's default address:
    unix:$XDG_RUNTIME_DIR/agora.sock, else unix:/tmp/agora-$UID/agora.sock."""
    addr = os.environ.get("AGORA_ADDRESS")
    if addr:
        return addr
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return "unix:%s/agora.sock" % xdg
    return "unix:/tmp/agora-%d/agora.sock" % os.getuid()


def parse_address(address: str) -> Tuple[str, Any]:
    """("unix", path), ("tcp", (host, port)) or ("tls", (host, port)) for
    "unix:PATH", "tcp:HOST:PORT", "tls:HOST:PORT" ("[V6]" for an IPv6
    literal); a string starting with "/" is a Unix socket's path.
    ValueError naming the address otherwise."""
    if not isinstance(address, str):
        raise TypeError("address must be a str like 'unix:/path' or "
                        "'tcp:host:port', not %r" % (address,))
    if address.startswith("/"):
        return "unix", address
    kind, sep, rest = address.partition(":")
    if sep and kind == "unix" and rest:
        return "unix", rest
    if sep and kind in ("tcp", "tls"):
        host, sep2, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if sep2 and host and port.isdigit() and 0 < int(port) < 65536:
            return kind, (host, int(port))
    raise ValueError("address %r: expected unix:PATH, tcp:HOST:PORT or "
                     "tls:HOST:PORT" % (address,))


def _read_keyfile(path: str) -> bytes:
    st = os.stat(path)
    import stat as _stat
    if not _stat.S_ISREG(st.st_mode):
        raise ValueError("key file %s is not a regular file" % path)
    if st.st_size > _KEYFILE_MAX:
        raise ValueError("key file %s is larger than %d bytes: the wrong "
                         "file?" % (path, _KEYFILE_MAX))
    with open(path, "rb") as f:
        key = f.read(_KEYFILE_MAX + 1)
    if key.endswith(b"\n"):
        key = key[:-1]
    if not key:
        raise ValueError("key file %s holds no key" % path)
    return key


def resolve_key(authkey: Union[bytes, str, None]) -> bytes:
    """The key to use: @authkey (bytes, or a str taken as UTF-8), else the
    file AGORA_AUTHKEY_FILE names (its bytes less one trailing newline),
    else AGORA_AUTHKEY, as every Agora client does."""
    if isinstance(authkey, str):
        authkey = authkey.encode()
    if authkey is not None:
        if not isinstance(authkey, (bytes, bytearray)) or not authkey:
            raise ValueError("authkey must be non-empty bytes")
        return bytes(authkey)
    path = os.environ.get("AGORA_AUTHKEY_FILE")
    if path:
        return _read_keyfile(path)
    env = os.environ.get("AGORA_AUTHKEY")
    if env:
        return env.encode()
    raise ValueError("no authkey: pass authkey=, or set AGORA_AUTHKEY_FILE "
                     "or AGORA_AUTHKEY")


def check_spin(spin: Any) -> float:
    """@spin as seconds (a Connection's poll), or ValueError naming it."""
    if isinstance(spin, bool) or not isinstance(spin, (int, float)) or \
            not 0 <= spin <= 0.01:
        raise ValueError("spin must be seconds from 0 to 0.01, not %r"
                         % (spin,))
    return float(spin)


def _tls_context(ca: Optional[str], cert: Optional[str],
                 key: Optional[str]) -> ssl.SSLContext:
    """A client's context: the server's certificate and host name
    verified against @ca (else AGORA_TLS_CA, else the system's CAs), and
    the client certificate @cert with its @key when given. ValueError
    naming a file that cannot be loaded."""
    ca = ca or os.environ.get("AGORA_TLS_CA") or None
    try:
        ctx = ssl.create_default_context(cafile=ca)
    except OSError as e:  # ssl.SSLError too
        raise ValueError("tls_ca %s: cannot load the CA certificates: %s"
                         % (ca, e.strerror or e)) from None
    if cert:
        key = key or os.environ.get("AGORA_TLS_KEY") or None
        try:
            ctx.load_cert_chain(cert, key)
        except OSError as e:
            raise ValueError("tls_cert %s%s: cannot load the client "
                             "certificate: %s" % (
                                 cert, ", tls_key %s" % key if key else "",
                                 e.strerror or e)) from None
    return ctx


def _keepalive(sock: socket.socket, peer_timeout: float) -> None:
    """The kernel watches a TCP peer (protocol section 7): probes after a
    third of the timeout idle, every ninth, and unacknowledged data
    bounded by the timeout."""
    if peer_timeout <= 0:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle = max(1, int(peer_timeout / 3))
    intvl = max(1, int(peer_timeout / 9))
    for opt, val in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", intvl),
                     ("TCP_KEEPCNT", 3),
                     ("TCP_USER_TIMEOUT", int(peer_timeout * 1000))):
        if hasattr(socket, opt):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), val)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Connection:
    """One authenticated connection.

    Connection(address, authkey, user=None, tls_ca=None, tls_cert=None,
    tls_key=None, connect_timeout=10.0, peer_timeout=30.0,
    spin=DEFAULT_SPIN)

    ``call(method, params)`` sends a request and returns its result, or
    raises the error the server answered (agora.errors); notifications that
    arrive meanwhile are kept in ``notes`` (a deque of ``(method,
    params)``). ``hello`` is the server's answer to hello (``server``,
    ``run``, ``started``...). ``saw_ref`` is true after a call whose result
    held a reference (ext 1), so the caller knows to look for Refs.

    @spin: seconds a call polls for its answer before it sleeps (Unix and
    TCP sockets; 0: never). A call's answer usually comes within a few
    tens of microseconds; sleeping for it costs the two processors the
    wake-up of a halted one, about as long again. Polling yields the
    processor (sched_yield) between tries, so a server or another client
    waiting for it runs first; a connection whose answers keep coming
    later than @spin stops polling for a while (it costs nothing then).
    """

    def __init__(self, address: str, authkey: bytes, *,
                 user: Optional[str] = None, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 peer_timeout: float = DEFAULT_PEER_TIMEOUT,
                 spin: float = DEFAULT_SPIN) -> None:
        self.address = address
        self._spin = check_spin(spin)
        self._spin_miss = 0  # polls in a row that found no answer
        self._spin_skip = 0  # calls left that do not poll
        self.pid = os.getpid()
        self.closed = False
        self.msgid = 0
        self.notes: Deque[Tuple[str, Any]] = collections.deque()
        self.saw_ref = False
        # Answers nobody waits for (a close sent in passing, a call
        # withdrawn by an interrupt): read and dropped.
        self._ignore: Set[int] = set()
        self._pending_close: List[int] = []
        self._rbuf = bytearray(_RECV_SIZE)
        self._rview = memoryview(self._rbuf)
        self._unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=False, ext_hook=self._ext,
            object_pairs_hook=_pairs, max_buffer_size=0)
        self._pack = msgpack.Packer(use_bin_type=True,
                                    default=_encode_default).pack
        kind, where = parse_address(address)
        ctx = cert = None
        if kind == "tls":
            cert = tls_cert or os.environ.get("AGORA_TLS_CERT") or None
            ctx = _tls_context(tls_ca, cert, tls_key)
        deadline = time.monotonic() + connect_timeout
        try:
            if kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(connect_timeout)
                try:
                    sock.connect(where)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(where,
                                                timeout=connect_timeout)
                _keepalive(sock, peer_timeout)
                if ctx is not None:
                    try:
                        sock = ctx.wrap_socket(sock, server_hostname=where[0])
                    except BaseException:
                        sock.close()
                        raise
        except ssl.SSLCertVerificationError as e:
            raise AuthError("%s: the server's certificate was refused: %s"
                            % (address, e.verify_message or e)) from None
        except (OSError, ssl.SSLError) as e:
            raise ConnectionLost("cannot connect to %s: %s"
                                 % (address, e.strerror or e)) from None
        self.sock = sock
        if isinstance(sock, ssl.SSLSocket) or not _DONTWAIT:
            self._spin = 0.0  # (a TLS read cannot be asked not to wait)
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            self.hello = self._handshake(authkey, user)
            sock.settimeout(None)
        except socket.timeout:
            self.close()
            raise ConnectionLost("%s: no answer to the handshake within "
                                 "%g s" % (address, connect_timeout)) from None
        except ConnectionLost as e:
            if kind == "tls" and cert is None:  # a TLS 1.3 server says so late
                raise ConnectionLost("%s (does the server require a client "
                                     "certificate? tls_cert=, tls_key=)"
                                     % e) from None
            raise
        except BaseException:
            self.close()
            raise

    # ---- wire -----------------------------------------------------------

    def _ext(self, code: int, data: bytes) -> Any:
        if code == 1:
            self.saw_ref = True
            return Ref(data)
        return msgpack.ExtType(code, data)

    def _binding(self) -> bytes:
        if isinstance(self.sock, ssl.SSLSocket):
            der = self.sock.getpeercert(binary_form=True)
            return hashlib.sha256(der).digest()
        return b""

    def _handshake(self, key: bytes, user: Optional[str]) -> dict:
        cnonce = os.urandom(32)
        params: List[Any] = [PROTOCOL_VERSION, cnonce]
        if user is not None:
            params.append(user)
        hello = self.call("hello", params)
        snonce = hello["nonce"]
        cb = self._binding()
        want = hmac.new(key, b"agora-v1 server" + cnonce + snonce + cb,
                        hashlib.sha256).digest()
        if not hmac.compare_digest(want, hello.get("proof", b"")):
            raise AuthError("%s: the server did not prove it holds the key "
                            "(a wrong key%s, or not an agorad)"
                            % (self.address,
                               " for user %r" % user if user else ""))
        proof = hmac.new(key, b"agora-v1 client" + snonce + cnonce + cb,
                         hashlib.sha256).digest()
        self.call("auth", [proof])
        return hello

    def _lost(self, why: str) -> ConnectionLost:
        self.close()
        return ConnectionLost("connection to %s lost: %s"
                              % (self.address, why))

    def _recv(self) -> Any:
        """The next message (blocking)."""
        unpacker = self._unpacker
        while True:
            try:
                return next(unpacker)
            except StopIteration:
                pass
            except (ValueError, msgpack.UnpackException) as e:
                raise self._lost("undecodable bytes: %s" % e) from None
            try:
                n = self.sock.recv_into(self._rbuf)
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                n = 0
            except socket.timeout:
                raise
            except OSError as e:
                raise self._lost(e.strerror or str(e)) from None
            if not n:
                raise self._lost("the server closed the connection")
            unpacker.feed(self._rview[:n])

    def send(self, method: str, params: List[Any]) -> int:
        """Send one request (and the closes waiting to go); its msgid."""
        if self.closed:
            raise ConnectionLost("connection to %s is closed" % self.address)
        out = b""
        if self._pending_close:
            for h in self._pending_close:
                self.msgid += 1
                self._ignore.add(self.msgid)
                out += self._pack([0, self.msgid, "close", [h]])
            self._pending_close.clear()
        self.msgid += 1
        try:
            out += self._pack([0, self.msgid, method, params])
        except (TypeError, ValueError, OverflowError) as e:
            raise _unsendable(method, e) from None
        try:
            self.sock.sendall(out)
        except OSError as e:
            raise self._lost(e.strerror or str(e)) from None
        return self.msgid

    def result(self, msgid: int) -> Any:
        """Wait for the answer to @msgid: its result, or raise its error."""
        try:
            while True:
                msg = self._recv()
                if msg[0] == 1 and msg[1] == msgid:
                    if msg[2] is not None:
                        raise from_wire(msg[2])
                    return msg[3]
                self._other(msg, msgid)
        except (KeyboardInterrupt, SystemExit):
            # Interrupted while waiting: withdraw the call (protocol 3.1,
            # cancel) and drop its answer when it comes, so the connection
            # stays in step.
            self._withdraw(msgid)
            raise

    def _withdraw(self, msgid: int) -> None:
        if self.closed:
            return
        self._ignore.add(msgid)
        try:
            cid = self.send("cancel", [msgid])
            self._ignore.add(cid)
        except Error:
            pass

    def call(self, method: str, params: List[Any]) -> Any:
        """One round trip: the result of @method, or raise its error."""
        self.saw_ref = False
        if self._pending_close or self._ignore or self.closed:
            return self.result(self.send(method, params))
        # The common case, inlined: one request out, its answer next.
        self.msgid = msgid = self.msgid + 1
        try:
            data = self._pack([0, msgid, method, params])
        except (TypeError, ValueError, OverflowError) as e:
            raise _unsendable(method, e) from None
        sock = self.sock
        try:
            sock.sendall(data)
        except OSError as e:
            raise self._lost(e.strerror or str(e)) from None
        unpacker = self._unpacker
        try:
            n = -1
            if self._spin:
                if self._spin_skip:
                    self._spin_skip -= 1
                else:
                    n = self._poll(sock)
            if n < 0:
                n = sock.recv_into(self._rbuf)
        except (KeyboardInterrupt, SystemExit):
            self._withdraw(msgid)
            raise
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            n = 0
        except OSError as e:
            raise self._lost(e.strerror or str(e)) from None
        if not n:
            raise self._lost("the server closed the connection")
        unpacker.feed(self._rview[:n])
        try:
            msg = next(unpacker)
        except StopIteration:
            return self.result(msgid)
        except (ValueError, msgpack.UnpackException) as e:
            raise self._lost("undecodable bytes: %s" % e) from None
        if msg[0] != 1 or msg[1] != msgid:
            # A notification first (or something wrong): keep it and go
            # the general way for the answer.
            self._other(msg, msgid)
            return self.result(msgid)
        if msg[2] is not None:
            raise from_wire(msg[2])
        return msg[3]

    def _poll(self, sock: socket.socket) -> int:
        """Read what has come, polling for up to the spin time, yielding
        the processor between tries: the bytes read (0: the server
        closed), or -1 when nothing came in time."""
        buf = self._rbuf
        limit = _now() + self._spin
        while True:
            try:
                n = sock.recv_into(buf, 0, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                now = _now()
                if now < limit:
                    _yield()
                    if _now() - now < _SPIN_BUSY:
                        continue
                    # another process ran meanwhile: the processor is
                    # wanted, polling would take it from the server or
                    # other clients; sleep
                self._spin_miss += 1
                if self._spin_miss >= _SPIN_MISSES:
                    # answers keep coming later than that (a far host,
                    # calls that wait): stop polling for a while
                    self._spin_miss = 0
                    self._spin_skip = _SPIN_REST
                return -1
            self._spin_miss = 0
            return n

    def _other(self, msg: Any, msgid: Optional[int] = None) -> None:
        """A message that is not the answer awaited (to @msgid; None: to
        nothing): a notification is kept, the answer to a request nobody
        waits for dropped; anything else means the connection is out of
        step, and it is closed."""
        if msg[0] == 2:
            self.notes.append((msg[1], msg[2]))
        elif msg[0] == 1 and msg[1] in self._ignore:
            self._ignore.discard(msg[1])
        elif msgid is None:
            raise self._lost("an answer nobody asked for: %r" % (msg,))
        else:
            raise self._lost("%r, not the answer to request %d"
                             % (msg, msgid))

    def pipeline(self, calls: List[Tuple[str, List[Any]]]) -> List[Any]:
        """Send every call at once and read the answers: a list of results,
        an exception object in place of a call that failed."""
        self.saw_ref = False
        ids = []
        for method, params in calls:
            ids.append(self.send(method, params))
        out: List[Any] = []
        for i in ids:
            try:
                out.append(self.result(i))
            except ConnectionLost:
                raise
            except Error as e:
                out.append(e)
        return out

    def close_handle_later(self, handle: int) -> None:
        """Close @handle with the next request (a proxy was collected)."""
        if not self.closed and self.pid == os.getpid():
            self._pending_close.append(handle)

    def wait_note(self, timeout: Optional[float]) -> Optional[Tuple[str, Any]]:
        """The next notification ``(method, params)``, waiting up to
        @timeout seconds (None: for ever); None when none came."""
        if self.notes:
            return self.notes.popleft()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pending = self.sock.pending() if isinstance(
                self.sock, ssl.SSLSocket) else 0
            if not pending:
                try:
                    msg = next(self._unpacker)
                except StopIteration:
                    msg = None
                if msg is not None:
                    self._other(msg)
                    if self.notes:
                        return self.notes.popleft()
                    continue
                left = None if deadline is None else max(
                    0.0, deadline - time.monotonic())
                try:
                    r, _, _ = select.select([self.sock], [], [], left)
                except (OSError, ValueError):
                    if self.closed:  # closed by another thread
                        raise ConnectionLost("connection to %s was closed"
                                             % self.address) from None
                    raise
                if not r:
                    return None
            try:
                data = self.sock.recv(_RECV_SIZE)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                data = b""
            except OSError as e:
                raise self._lost(e.strerror or str(e)) from None
            if not data:
                raise self._lost("the server closed the connection")
            self._unpacker.feed(data)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        """Close the connection. In the process that made it, shut the
        socket down first, so that a thread waiting on it (a watch being
        iterated) wakes; a forked child only lets its copy go."""
        if not self.closed:
            self.closed = True
            try:
                if self.pid == os.getpid():
                    self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self.sock.close()
            except OSError:
                pass


def _unsendable(method: str, e: Exception) -> Exception:
    """The error for params that cannot be sent: of the same kind
    (TypeError, OverflowError, ValueError), naming the method."""
    kind = OverflowError if isinstance(e, OverflowError) else \
        ValueError if isinstance(e, ValueError) else TypeError
    return kind("%s: cannot send it: %s" % (method, e))


def _encode_default(obj: Any) -> Any:
    if isinstance(obj, int) and not isinstance(obj, bool):
        raise OverflowError("int %d is outside the integers Agora stores "
                            "(-2**63 to 2**64-1)" % obj)
    if isinstance(obj, Ref):
        return msgpack.ExtType(1, obj.data)
    ref = getattr(obj, "_agora_ref", None)
    if isinstance(ref, Ref):
        return msgpack.ExtType(1, ref.data)
    raise TypeError("%s is not a value Agora stores (None, bool, int, "
                    "float, str, bytes, list, tuple, dict, or a proxy)"
                    % type(obj).__name__)
