#!/usr/bin/python3
"""make_journal_corpus.py - write the seeds of fuzz_journal (corpus/journal).

Usage: tests/fuzz/make_journal_corpus.py [BUILD_DIR]
  (BUILD_DIR: default build; it must hold server/agorad and client/cli/agora;
  rewrites tests/fuzz/corpus/journal; needs Debian's python3-msgpack)

A real agorad is started on a fresh data directory and changed with the
agora tool: lists, dicts with nested values and references (a reference to
an object whose name is then dropped, a dict that holds itself), queues,
values, a namespace, an array, locks, semaphores, a condition, a barrier,
an event; then `agora save` (a snapshot), more changes, and a lock held by
a client when the server is killed. Its files become the seeds, each with
the flag byte of fuzz_journal.c in front: the journal as the last one and
as one followed by another, the snapshot alone, the snapshot with the
journal after it, each also after an earlier generation, and the same files damaged (a torn tail, zeros after
the records, a flipped byte with and without --data-repair, a newer format
version, a journal missing), plus a few hand-made records (unknown ones,
calls without an object, "@new" gone wrong, the lifetime records
"@ephemeral" and "@expire" right and wrong, transactions' "@txn"). File names are the seed's
content hash, as libFuzzer names its finds.
"""
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "journal")
TOP = os.path.dirname(os.path.dirname(HERE))

JOURNAL, NOT_LAST, SNAPSHOT, BOTH = 0, 1, 2, 3
REPAIR, FIX_CRC, GAP, EARLIER = 4, 8, 16, 32


def seed(flags, body):
    return bytes([flags]) + body


def both(flags, snap, journal):
    return bytes([BOTH | flags]) + struct.pack(">H", len(snap)) + snap + \
        journal


def header(magic=b"AGORA-J\n", version=1):
    return magic + struct.pack(">II", version, 0)


def record(payload):
    return struct.pack(">II", len(payload), zlib.crc32(payload)) + payload


def req(seq, method, params):
    return record(msgpack.packb([0, seq, method, params], use_bin_type=True))


def txn(seq, records):
    """A transaction's record: [0, seq, "@txn", [records]], records a bin
    of framed records (section 12)."""
    return req(seq, "@txn", [records])


def strip_zeros(b):
    """A running server's journal is reserved ahead: zeros after the
    last record."""
    return b.rstrip(b"\0")


def flip(b, at):
    return b[:at] + bytes([b[at] ^ 0x40]) + b[at + 1:]


class Server:
    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.sock = os.path.join(tmp, "s")
        self.key = os.path.join(tmp, "key")
        self.data = os.path.join(tmp, "data")
        with open(self.key, "w") as f:
            f.write("journal corpus key, 32 bytes ok.")
        os.chmod(self.key, 0o600)
        self.proc = subprocess.Popen(
            [os.path.join(build, "server", "agorad"),
             "--listen", "unix:" + self.sock, "--authkey-file", self.key,
             "--data-dir", self.data, "--fsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.sock):
                return
            time.sleep(0.05)
        raise SystemExit("agorad did not start")

    def cli_args(self):
        return [os.path.join(self.build, "client", "cli", "agora"),
                "--address", "unix:" + self.sock,
                "--authkey-file", self.key]

    def __call__(self, *args, ok=True):
        r = subprocess.run(self.cli_args() + list(args),
                           capture_output=True, text=True, timeout=30)
        if ok and r.returncode != 0:
            raise SystemExit("agora %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def ref(self, name):
        """The reference of @name, as the agora tool's JSON says it."""
        info = json.loads(self("--json", "info", name))
        return json.dumps(info["ref"])

    def file(self, prefix):
        names = sorted(n for n in os.listdir(self.data)
                       if n.startswith(prefix) and "." in n and
                       not n.endswith((".tmp", ".damaged")))
        with open(os.path.join(self.data, names[-1]), "rb") as f:
            return strip_zeros(f.read())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def changes_before_save(a):
    a("new", "list", "l")
    a("push", "l", "1", "2", '"three"', '{"k": [1, 2.5, null, true]}')
    a("insert", "l", "0", '"first"')
    a("set", "l", "1", '{"$bin": "AAH/"}')
    a("pop", "l")
    a("del", "l", "0")
    a("call", "l", "extend", '[[1, 2], [3], {"$uint": "18446744073709551615"}]')
    a("call", "l", "reverse")
    a("new", "dict", "d")
    a("set", "d", "a", "1")
    a("set", "d", "b", '{"nested": {"x": [1, {"y": null}], "f": -0.5}}')
    a("incr", "d", "a", "5")
    a("call", "d", "update", '{"u": 1, "v": [2, "w"]}')
    a("del", "d", "u")
    a("set", "d", "list", a.ref("l"))
    a("new", "queue", "q", "--maxsize", "10")
    a("push", "q", "1", '"two"', '[3]')
    a("pop", "q")
    a("set", "d", "queue", a.ref("q"))
    a("drop", "q")  # reachable through d only
    a("new", "dict", "self")
    a("set", "self", "me", a.ref("self"))  # a cycle
    a("new", "joinable_queue", "jq")
    a("push", "jq", '"t1"', '"t2"')
    a("pop", "jq")
    a("call", "jq", "task_done")
    a("new", "value", "v", "--initial", "5")
    a("incr", "v", "3")
    a("call", "v", "cas", "8", '"eight"')
    a("call", "v", "swap", '{"$float": "inf"}')
    a("new", "namespace", "ns")
    a("set", "ns", "attr", "1")
    a("set", "ns", "other", "[1, 2]")
    a("del", "ns", "attr")
    a("new", "array", "arr", "--typecode", "d", "--length", "4")
    a("set", "arr", "1", "2.5")
    a("call", "arr", "set_slice", "2", "[1.0, 2.0]")
    a("new", "array", "ints", "--typecode", "b", "--items", "[1, -2, 3]")
    a("new", "lock", "lk")
    a("new", "rlock", "rl")
    a("new", "condition", "cv", "--lock", "lk")
    a("new", "semaphore", "sem", "--value", "3")
    a("new", "semaphore", "owned", "--value", "2", "--owned")
    a("new", "bounded_semaphore", "bs", "--value", "2")
    a("new", "barrier", "bar", "--parties", "3")
    a("new", "event", "ev")
    a("call", "ev", "set")
    a("call", "lk", "acquire")     # the tool's connection ends: abandoned
    a("call", "rl", "acquire_fenced")
    a("call", "sem", "acquire")
    a("call", "owned", "acquire")  # returned when the connection ends
    a("call", "bs", "acquire")
    a("call", "bs", "release")


def changes_after_save(a):
    a("push", "l", "9")
    a("set", "d", "z", '{"$ext": 5, "data": "AQI="}')
    a("drop", "ns")
    a("call", "ev", "clear")
    a("new", "list", "late")
    a("set", "late", "0", "1", ok=False)  # INDEX: not journaled
    a("push", "late", "1")
    a("set", "d", "late", a.ref("late"))
    a("drop", "late")


def server_seeds(build):
    tmp = tempfile.mkdtemp(prefix="agora-journal-corpus-")
    try:
        a = Server(build, tmp)
        try:
            changes_before_save(a)
            j1 = a.file("journal-")
            a("save")
            snap = a.file("snapshot-")
            changes_after_save(a)
            # a client holding a lock when the server dies
            held = subprocess.Popen(a.cli_args() + ["-i"],
                                    stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, text=True)
            held.stdin.write("call rl acquire\ncall sem acquire\n")
            held.stdin.flush()
            time.sleep(0.5)
            j2 = a.file("journal-")
        finally:
            a.kill()
        held.kill()
        held.wait()
    finally:
        shutil.rmtree(tmp)
    return j1, snap, j2


def made_seeds():
    """Records a server never writes."""
    h = header()
    secret = bytes(range(8))
    good = req(0, "@new", [1, "list", "l", secret, None]) + \
        req(1, "list.append", [1, 7])
    return [
        # unknown records, unknown methods, calls without an object
        seed(JOURNAL, h + req(0, "@bogus", [1]) + good),
        seed(JOURNAL, h + good + req(2, "list.nope", [1])),
        seed(JOURNAL, h + good + req(2, "list.append", ["x", 1])),
        seed(JOURNAL, h + good + req(2, "list.append", [99, 1])),
        seed(JOURNAL, h + good + req(2, "dict.set", [1, 1, 2])),
        seed(JOURNAL, h + good + record(b"\x93\x00\x00\xa4ping")),
        seed(JOURNAL, h + good + record(b"\xc1")),
        # server methods where a family's call should be
        seed(JOURNAL, h + good + req(2, "close", [1]) +
             req(3, "list.append", [1, 2])),
        seed(JOURNAL, h + good + req(2, "info", [1]) + req(3, "ping", [1])),
        # "@new" gone wrong: id in use, unknown type, bad secret, options
        seed(JOURNAL, h + good + req(2, "@new", [1, "dict", None, secret,
                                                 None])),
        seed(JOURNAL, h + req(0, "@new", [2, "nosuch", "x", secret, None])),
        seed(JOURNAL, h + req(0, "@new", [2, "list", "x", b"123", None])),
        seed(JOURNAL, h + req(0, "@new", [0, "list", "x", secret, None])),
        seed(JOURNAL, h + req(0, "@new", [2, "queue", "q", secret,
                                          {"maxsize": -1}])),
        seed(JOURNAL, h + req(0, "@new", [3, "lock", "lk", secret, None]) +
             req(1, "@new", [4, "condition", "c", secret, {"lock": 3}]) +
             req(2, "@new", [5, "condition", "c2", secret, {"lock": 99}])),
        seed(JOURNAL, h + good + req(2, "@new", [2, "list", "l", secret,
                                                 None])),
        seed(JOURNAL, h + req(0, "@new", [2 ** 64 - 1, "list", "x", secret,
                                          None])),
        # names open refuses: empty, too long, not UTF-8; then dropped
        seed(JOURNAL, h + req(0, "@new", [1, "list", "", secret, None]) +
             req(1, "@new", [2, "list", "n" * 256, secret, None]) +
             record(msgpack.packb([0, 2, "@new", [3, "list", "ZZ", secret,
                                                 None]], use_bin_type=True)
                    .replace(b"\xa2ZZ", b"\xa2\xff\xfe")) +
             req(3, "@drop", [1]) + req(4, "@drop", [2])),
        # server methods that end things: the loading connection's own
        seed(JOURNAL, h + good + req(2, "kill", [1]) +
             req(3, "list.append", [1, 3])),
        # "@drop", "@state", "@server" gone wrong
        seed(JOURNAL, h + good + req(2, "@drop", [1]) + req(3, "@drop", [1]) +
             req(4, "@drop", [5])),
        seed(JOURNAL, h + good + req(2, "@state", [1, {"x": 1}]) +
             req(3, "@state", [1]) + req(4, "@state", [9, 1])),
        seed(JOURNAL, h + req(0, "@new", [3, "lock", "lk", secret, None]) +
             req(1, "@state", [3, [1, 2, 3]]) + req(2, "@state", [3, None])),
        seed(SNAPSHOT, header(b"AGORA-S\n") +
             req(0, "@server", [2 ** 64 - 1, 2 ** 64 - 1]) +
             req(1, "@server", ["x", 1]) + good),
        seed(JOURNAL, h + req(0, "@new", [2 ** 64 - 2, "list", "a", secret,
                                          None]) +
             req(1, "@new", [2 ** 64 - 1, "list", "b", secret, None])),
        # a name's lifetime (added after 1.1.0): an ephemeral name, a
        # deadline far ahead, one long past, one cleared; then gone wrong
        seed(JOURNAL, h + req(0, "@new", [1, "event", "w", secret, None]) +
             req(1, "@ephemeral", [1]) +
             req(2, "@new", [2, "dict", "d", secret, None]) +
             req(3, "@expire", [2, 4102444800.0]) +
             req(4, "@new", [3, "list", "old", secret, None]) +
             req(5, "@expire", [3, 1000.0]) +
             req(6, "@new", [4, "list", "cleared", secret, None]) +
             req(7, "@expire", [4, 4102444800]) + req(8, "@expire", [4, None])
             + req(9, "@drop", [1]) + req(10, "@ephemeral", [1])),
        seed(JOURNAL, h + good + req(2, "@new", [2, "list", None, secret,
                                                 None]) +
             req(3, "@ephemeral", [99]) + req(4, "@ephemeral", [1, 2]) +
             req(5, "@ephemeral", ["x"]) + req(6, "@ephemeral", [2]) +
             req(7, "@expire", [1]) + req(8, "@expire", [1, "soon"]) +
             req(9, "@expire", [1, -5.0]) + req(10, "@expire", [99, 5.0]) +
             req(11, "@expire", [1, 1e300]) + req(12, "@expire", [2, 5.0]) +
             req(13, "@expire", [1, 2.5])),
        # transactions (section 12): one "@txn" record holding the framed
        # records of its calls, replayed all or none; then gone wrong: a
        # damaged inner record, a call that fails inside, a nested "@txn",
        # a param that is no bin, an inner record cut short, empty, last
        # and torn
        seed(JOURNAL, h + good + txn(2, req(0, "list.append", [1, 8]) +
                                     req(0, "@new", [2, "dict", "d", secret,
                                                     None]) +
                                     req(0, "dict.set", [2, "k", [1, 2]]) +
                                     req(0, "list.pop", [1, 0])) +
             req(3, "list.append", [1, 9])),
        seed(JOURNAL, h + good + txn(2, flip(req(0, "list.append", [1, 8]),
                                             3) +
                                     req(0, "list.append", [1, 9]))),
        seed(JOURNAL, h + good + txn(2, req(0, "list.append", [1, 8]) +
                                     req(0, "list.set", [1, 99, 0]) +
                                     req(0, "list.append", [99, 1]))),
        seed(JOURNAL, h + good + txn(2, txn(0, req(0, "list.append", [1, 8]))
                                     + req(0, "list.append", [1, 9]))),
        seed(JOURNAL, h + good + req(2, "@txn", ["not a bin"]) +
             req(3, "@txn", []) + req(4, "@txn", [b"", 1])),
        seed(JOURNAL, h + good + txn(2, req(0, "list.append", [1, 8])[:-2])),
        seed(JOURNAL, h + good + txn(2, b"") + txn(3, bytes(12))),
        seed(JOURNAL, h + good + txn(2, req(0, "list.append", [1, 8]) +
                                     req(0, "list.append", [1, 9]))[:-4]),
        seed(FIX_CRC, h + good + txn(2, req(0, "list.append", [1, 8]) +
                                     struct.pack(">II", 1 << 30, 0))),
        # the states a transaction's calls touched (a lock's) inside its
        # record, right and wrong
        seed(JOURNAL, h + good +
             req(2, "@new", [3, "lock", "lk", secret, None]) +
             txn(3, req(0, "list.append", [1, 8]) +
                 req(0, "@state", [3, {"fence": 7, "abandoned": 0,
                                       "held": True}])) +
             txn(4, req(0, "@state", [3, {"fence": "x"}]) +
                 req(0, "list.append", [1, 9]))),
        # lengths: 0, past the end, cut short
        seed(JOURNAL, h + good + struct.pack(">II", 0, 0)),
        seed(JOURNAL, h + good + struct.pack(">II", 1 << 31, 0) + b"x"),
        seed(NOT_LAST, h + good + struct.pack(">II", 5, 0) + b"ab"),
        seed(FIX_CRC, h + good + struct.pack(">II", 5, 0) + b"\x91\x00"),
        seed(JOURNAL, h[:10]),
        seed(JOURNAL, b""),
    ]


def server_file_seeds(j1, snap, j2):
    mid = len(j1) // 2
    return [
        seed(JOURNAL, j1),
        seed(FIX_CRC, j1),
        seed(NOT_LAST, j1),
        seed(NOT_LAST | GAP, j1),
        seed(NOT_LAST | GAP | REPAIR, j1),
        seed(SNAPSHOT, snap),
        seed(SNAPSHOT | FIX_CRC, snap),
        both(0, snap, j2),
        both(FIX_CRC, snap, j2),
        # after an earlier generation
        seed(JOURNAL | EARLIER, j1),
        seed(SNAPSHOT | EARLIER, snap),
        both(EARLIER, snap, j2),
        seed(NOT_LAST | GAP | EARLIER, j1),
        seed(JOURNAL, j2),  # its objects are in the snapshot: calls fail
        # torn tails: a record cut short, zeros after the records
        seed(JOURNAL, j1[:-5]),
        seed(JOURNAL, j1 + bytes(64)),
        seed(JOURNAL, j1[:-5] + bytes(32)),
        both(0, snap, j2[:-3]),
        # damage: a flipped byte with valid records after it
        seed(JOURNAL, flip(j1, mid)),
        seed(JOURNAL | REPAIR, flip(j1, mid)),
        seed(NOT_LAST, j1[:-5]),
        seed(NOT_LAST | REPAIR, j1[:-5]),
        seed(SNAPSHOT, flip(snap, len(snap) // 2)),
        seed(SNAPSHOT | REPAIR, flip(snap, len(snap) // 2)),
        both(REPAIR, flip(snap, 40), j2),
        both(REPAIR, snap, flip(j2, len(j2) // 2)),
        # headers: a newer version, the wrong magic
        seed(JOURNAL, header(version=2) + j1[16:]),
        seed(SNAPSHOT, j1),
        seed(JOURNAL, snap),
    ]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build")
    j1, snap, j2 = server_seeds(os.path.abspath(build))
    seeds = server_file_seeds(j1, snap, j2) + made_seeds()
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for s in seeds:
        if len(s) > 4096:
            raise SystemExit("a seed of %d bytes: keep them under 4 KiB "
                             "(.ci/run fuzzes with -max_len=4096)" % len(s))
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(s)
    print("%d seeds in %s (journal %d bytes, snapshot %d, journal after "
          "it %d)" % (len(seeds), OUT, len(j1), len(snap), len(j2)))


if __name__ == "__main__":
    main()
