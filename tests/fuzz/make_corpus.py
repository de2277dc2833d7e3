#!/usr/bin/python3
"""make_corpus.py - write the seed corpus of the fuzz targets.

Usage: tests/fuzz/make_corpus.py   (rewrites tests/fuzz/corpus/*; needs Debian's
python3-msgpack)

Each seed is written in the input format its target's file describes:
  corpus/reader     4-byte header + a MessagePack stream
  corpus/handshake  handshake operations
  corpus/request    request operations: a valid request for every method
                    (the method table is read from fuzz_request.c, so
                    that the indices stay right), a few scenarios across
                    two connections, and known-bad frames
  corpus/graph      graph programs: chains (one deep enough to overflow
                    a recursive free), cycles, fan-out, holds passed by
                    queue.get, names dropped, forged references
File names are the seed's content hash, as libFuzzer names its finds.
"""
import hashlib
import os
import re
import shutil
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def pack(o):
    return msgpack.packb(o, use_bin_type=True)


def ref(obj_id):
    """A well-formed reference: the id, then 8 bytes of secret. A made-up
    secret names nothing; the request target swaps in real ones."""
    return msgpack.ExtType(1, struct.pack(">Q", obj_id) + bytes(8))


def request_bytes(msgid, method, params):
    return pack([0, msgid, method, params])


def write(target, seeds):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for s in seeds:
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)


# ---- reader ---------------------------------------------------------------

def reader_seeds():
    hello = request_bytes(1, "hello", [1, bytes(range(32))])
    auth = request_bytes(2, "auth", [bytes(32)])
    stream = hello + auth + request_bytes(3, "open", ["list", "jobs", {}])
    values = [
        [0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2**32,
         2**63, 2**64 - 1, -2**63, -129, -32769, -2**31 - 1],
        [1.5, -0.0, float("nan"), float("inf"), True, False, None],
        ["", "a" * 31, "b" * 32, "c" * 300, b"", b"\x00" * 300],
        {"k": [1, {"n": None}], 2: b"x"},
        [msgpack.ExtType(1, bytes(16)), msgpack.ExtType(1, bytes(8)),
         msgpack.ExtType(1, bytes(3)),
         msgpack.ExtType(5, bytes(16)), msgpack.ExtType(9, b"")],
        [1, 1.0], [2**64 - 1, -1], [[1, "a"], [1, "b"]], ["a", "b"],
    ]
    seeds = [
        bytes([3, 4, 0, 0]) + stream,          # 1 KiB, byte by byte
        bytes([4, 1, 2, 2]) + stream,          # 4 KiB, then 64 B
        bytes([4, 4, 0, 3]) + b"".join(pack(v) for v in values),
        bytes([4, 4, 0, 1]) + pack(values[0]) + pack(values[2]),
        bytes([1, 4, 0, 2]) + pack(values[2]),  # over 64 B
        bytes([4, 4, 0, 2]) + pack(struct.pack(">f", 1.5)) +
        b"\xca\x3f\xc0\x00\x00",                # float32
        bytes([4, 4, 0, 3]) + b"\x91" * 32 + b"\xc0",   # 32 deep: fine
        bytes([4, 4, 0, 3]) + b"\x91" * 33 + b"\xc0",   # 33: refused
        bytes([4, 4, 0, 3]) + b"\x91" * 32 + b"\x90",
        bytes([4, 4, 0, 3]) + b"\xdd\xff\xff\xff\xff",  # 4G items
        bytes([4, 4, 0, 3]) + b"\xdf\x00\x00\x08\x00\x01",
        bytes([4, 4, 0, 3]) + b"\xc6\x7f\xff\xff\xff",  # 2 GiB bin
        bytes([4, 4, 0, 3]) + b"\x94\x00\x01\xc1",      # never used
        bytes([2, 0, 0, 0]) + b"\xc7\x03\x01abc" + b"\xd8\x01" + bytes(16),
    ]
    return seeds


# ---- handshake ------------------------------------------------------------

def handshake_seeds():
    doc_hello = bytes.fromhex(
        "940001a568656c6c6f9201c420") + bytes(range(32))
    return [
        bytes([1, 1, 0, 0, 2, 2]),                   # hello, auth
        bytes([1, 1, 0, 0, 2, 2, 7, 1, 0, 7, 3, 5, 6, 7, 0, 200]),
        bytes([1, 1, 7, 6, 2, 2, 5, 1, 1, 0, 2, 3, 30]),
        bytes([2, 1]),                              # auth first
        bytes([1, 1, 0, 1, 2, 0]),                  # hello twice
        bytes([3, 1, 0, 2, 3, 1, 0, 1, 3, 1, 1, 31, 5, 3, 1, 2, 0]),
        bytes([3, 1, 3, 0, 5, 3, 1, 4, 1, 5, 3, 1, 5, 9, 5, 3, 1, 6, 0,
               5, 3, 1, 7, 0]),
        bytes([1, 1, 0, 4, 1, 0, 9, 5, 1, 1, 0, 4, 1, 1, 40, 5, 1, 1,
               0, 4, 1, 2, 0]),
        bytes([1, 1, 0, 4, 1, 3, 0, 5, 1, 1, 0, 4, 1, 4, 0]),
        bytes([7, 0, 200]),                         # 1.6 KB before auth
        bytes([7, 4, 0]),                           # a notification
        bytes([0, len(doc_hello)]) + doc_hello,
        bytes([0, 5, 0x94, 0x00, 0xce, 0xff, 0xff, 0, 3, 0xff, 0xff,
               0xc1]),
        # users: "fuzzer" (read, names l*): open and append are DENIED
        bytes([1, 1, 0x40, 0, 2, 2, 0, 7, 1, 0, 0, 7, 3, 5, 0, 7, 2, 0, 0]),
        bytes([1, 1, 0x80, 0, 2, 2, 0]),            # unknown user
        bytes([1, 1, 0xc0, 0, 2, 2, 0, 7, 1, 0, 0]),  # nil: the default
        bytes([3, 1, 5, 7, 0, 3, 1, 5, 8, 0]),      # user a str, an int
    ]


# ---- request --------------------------------------------------------------

def method_table():
    src = open(os.path.join(HERE, "fuzz_request.c")).read()
    body = src[src.index("METHODS[] = {"):]
    body = body[:body.index("};")]
    return re.findall(r'\{\s*"([^"]+)",', body)


VALID = {
    "open": [["list", "L2", {}], ["queue", "Q2", {"maxsize": 1}],
             ["array", "A2", {"typecode": "d", "items": [1.0, 2]}],
             ["barrier", "P2", {"parties": 1}],
             ["condition", None, {"lock": 10}],
             ["semaphore", "S2", {"value": 0, "owned": True}],
             ["value", None, {"initial": [ref(1)]}]],
    "open_ref": [[ref(1)]],
    "close": [[]], "drop": [["L"]], "ls": [[], ["L*"]], "info": [[]],
    "ping": [[[1, "x"]]], "stats": [[]],
    "list.append": [[42]], "list.extend": [[[1, 2, 3]]],
    "list.insert": [[0, "x"]], "list.get": [[0]], "list.set": [[0, 1]],
    "list.delete": [[0]], "list.slice": [[None, None, -1]],
    "list.set_slice": [[0, 1, [7, 8]]], "list.del_slice": [[None, 1]],
    "list.pop": [[]], "list.remove": [[42]], "list.index": [[42, 0, None]],
    "list.count": [[1]], "list.contains": [[1]], "list.len": [[]],
    "list.reverse": [[]], "list.sort": [[True]], "list.clear": [[]],
    "list.copy": [[]],
    "dict.get": [["k", 0]], "dict.getitem": [["k"]], "dict.set": [["k", 1]],
    "dict.delete": [["k"]], "dict.contains": [["k"]], "dict.len": [[]],
    "dict.keys": [[]], "dict.values": [[]], "dict.items": [[]],
    "dict.pop": [["k", None]], "dict.popitem": [[]],
    "dict.setdefault": [["k", 2]], "dict.update": [[{"a": 1, "b": 2}]],
    "dict.clear": [[]], "dict.copy": [[]], "dict.incr": [["n", 5]],
    "queue.put": [[1]], "queue.get": [[False]], "queue.put_nowait": [[2]],
    "queue.get_nowait": [[]], "queue.qsize": [[]], "queue.empty": [[]],
    "queue.full": [[]], "queue.peek": [[2]],
    "joinable_queue.put": [[1, True, 0.001]],
    "joinable_queue.get": [[True, 0]],
    "joinable_queue.put_nowait": [[2]], "joinable_queue.get_nowait": [[]],
    "joinable_queue.qsize": [[]], "joinable_queue.empty": [[]],
    "joinable_queue.full": [[]], "joinable_queue.task_done": [[]],
    "joinable_queue.join": [[0]], "joinable_queue.peek": [[]],
    "value.get": [[]], "value.set": [[{"a": [1]}]], "value.add": [[1.5]],
    "value.cas": [[0, 1]], "value.swap": [["s"]],
    "array.get": [[0]], "array.set": [[1, 7]], "array.len": [[]],
    "array.slice": [[1, None]], "array.set_slice": [[0, [1, 2]]],
    "array.copy": [[]],
    "namespace.get": [["a"]], "namespace.set": [["a", 1]],
    "namespace.delete": [["a"]], "namespace.items": [[]],
    "lock.acquire": [[True, 0.001]], "lock.release": [[]],
    "lock.locked": [[]], "lock.acquire_fenced": [[True, 0.001]],
    "rlock.acquire": [[]], "rlock.release": [[]], "rlock.locked": [[]],
    "rlock.acquire_fenced": [[]],
    "semaphore.acquire": [[False]], "semaphore.release": [[1]],
    "semaphore.value": [[]],
    "bounded_semaphore.acquire": [[]], "bounded_semaphore.release": [[1]],
    "bounded_semaphore.value": [[]],
    "condition.acquire": [[]], "condition.release": [[]],
    "condition.wait": [[0]], "condition.notify": [[1]],
    "condition.notify_all": [[]],
    "event.set": [[]], "event.clear": [[]], "event.is_set": [[]],
    "event.wait": [[0]],
    "barrier.wait": [[0.001]], "barrier.reset": [[]], "barrier.abort": [[]],
    "barrier.parties": [[]], "barrier.n_waiting": [[]],
    "barrier.broken": [[]],
    "nosuch.method": [[]], "list.nosuch": [[]],
    "clients": [[]], "kill": [[999]],
    "queue.take": [[], [False, None, 0.001, True]], "queue.ack": [[1]],
    "queue.nack": [[1]], "queue.pending": [[]],
    "joinable_queue.take": [[True, 0, None, True]],
    "joinable_queue.ack": [[1]], "joinable_queue.nack": [[1]],
    "joinable_queue.pending": [[]],
    "get_any": [[[3, 4], False], [[3, 4, 3]]],
    "take_any": [[[4, 3], True, 0.001, 0.001, True]],
    "cancel": [[1]],
    "wait_any": [[[15], 0]], "acquire_any": [[[9, 10], False]],
    "dict.expire": [["k", 5]], "dict.expire_at": [["k", 4e9]],
    "dict.ttl": [["k"]], "dict.expired": [[["k"]]],
    "expire": [["L", 10], [1, None]], "ttl": [["L"]],
    "watch": [[], [{"key": "k"}], [{"since": 3, "run": "r"}]],
    "unwatch": [[1]],
    "topic.subscribe": [[]], "topic.unsubscribe": [[]],
    "topic.publish": [["m"], [{"a": [1, ref(1)]}]],
    # Transactions (section 12): handles are the set-up ones (1 L, 2 D,
    # 3 Q, 4 J, 5 V, 9 K, 10 R, 11 S, 13 C, 15 E, 16 P, 17 T).
    "txn": [
        [[], [["list.append", [1, 42]], ["dict.set", [2, "k", 1]]]],
        [[["eq", "dict.get", [2, "k"], 1], ["ne", "value.get", [5], 3],
          ["lt", "list.len", [1], 10], ["le", "queue.qsize", [3], 2],
          ["gt", "value.get", [5], -1], ["ge", "list.len", [1], 0],
          ["exists", "dict.getitem", [2, "k"]],
          ["missing", "dict.getitem", [2, "absent"]],
          ["held", 9], ["fence", 9, 1]],
         [["queue.put", [3, 1, False]], ["queue.get", [3, False]]],
         [["value.set", [5, 2]], ["event.set", [15]]]],
        # a failing call after writes of several objects: all undone
        [[], [["dict.set", [2, "a", [1, ref(1)]]], ["list.append", [1, 7]],
              ["queue.put_nowait", [3, "x"]], ["queue.take", [4, False]],
              ["value.add", [5, 1]], ["dict.pop", [2, "absent"]]], []],
        [[["eq", "value.get", [5], "nope"]], [["list.clear", [1]]],
         [["list.append", [1, 1]], ["list.pop", [1, 99]]]],
        # refused: a server method, a nested txn, calls that may park
        [[], [["open", ["list", "L", {}]]], []],
        [[], [["txn", [[], [], []]]], []],
        [[], [["queue.get", [3]], ["lock.acquire", [9]],
              ["condition.wait", [13, 0]], ["barrier.wait", [16]],
              ["topic.subscribe", [17]]], []],
        # malformed: not arrays, a call not [method, params], an unknown
        # op, a condition with a write method
        [1, [], []], [[], 2, [3]], [[], [[1, 2, 3]], []],
        [[], [["dict.set"]], []], [[["bogus", "dict.get", [2, "k"], 1]],
                                    [], []],
        [[["eq", "dict.pop", [2, "k"], 1]], [], []],
        [[["eq", "dict.get", [2, "k"]]], [], []],
        [[["held"], ["fence", 9]], [], []],
        # the lock's release, a topic's publish, a notify: deferred
        [[["held", 9]], [["lock.release", [9]], ["topic.publish", [17, 1]],
                         ["semaphore.release", [11]]], []],
    ],
}

# Operation bytes of fuzz_request.c.
RAW, RUN, SWITCH, CLOSE, WAIT, REPEAT = 10, 11, 12, 13, 14, 15


def request_seeds():
    table = method_table()
    missing = set(table) - set(VALID)
    assert not missing, missing
    idx = {m: i for i, m in enumerate(table)}

    def call(method, params, alt=False):
        # params byte 0: the params follow as MessagePack
        return bytes([0, idx[method], 1 if alt else 0, 0]) + pack(params)

    seeds = []
    for m in table:
        for params in VALID[m]:
            seeds.append(call(m, params) + bytes([RUN]))
    seeds += [
        # lock contention across connections, then the holder closes
        call("lock.acquire", []) + bytes([SWITCH]) +
        call("lock.acquire", [True, 0.001]) + call("lock.acquire", []) +
        bytes([WAIT, SWITCH, CLOSE, RUN]) + call("lock.locked", []),
        # condition: wait, notify from the other connection
        call("condition.acquire", []) + call("condition.wait", [None]) +
        bytes([SWITCH]) + call("condition.acquire", []) +
        call("condition.notify_all", []) + call("condition.release", []) +
        bytes([RUN, SWITCH]) + call("condition.release", []),
        # a parked get served by the other connection's put
        call("queue.get", []) + bytes([SWITCH]) + call("queue.put", [ref(1)]) +
        call("queue.put", [2]) + call("queue.put", [3]) +
        call("queue.put", [4, True, 0.001]) + bytes([WAIT, SWITCH, CLOSE]),
        # barrier of 2 parties across connections, then broken
        call("barrier.wait", []) + bytes([SWITCH]) + call("barrier.wait", []) +
        call("barrier.wait", []) + bytes([SWITCH, CLOSE, RUN]) +
        call("barrier.broken", []) + call("barrier.reset", []),
        # references: an anonymous list kept by a dict, then popped
        call("open", ["list", None]) + call("dict.set", ["r", ref(17)]) +
        call("close", [], alt=False) + call("dict.pop", ["r"]) +
        call("open_ref", [ref(17)]) + bytes([SWITCH]) +
        call("value.swap", [[ref(17), {"m": ref(3)}]]) + bytes([CLOSE]),
        # owned and bounded semaphores, joinable queue accounting
        call("semaphore.acquire", []) + call("semaphore.acquire", [True, 0]) +
        call("semaphore.release", [2]) + call("bounded_semaphore.release",
                                              [1]) +
        call("joinable_queue.put", [1]) + call("joinable_queue.join", []) +
        bytes([SWITCH]) + call("joinable_queue.get", []) +
        call("joinable_queue.task_done", []) +
        call("joinable_queue.task_done", []) + bytes([RUN]),
        # list work with values of every kind, sorted
        call("list.extend", [[3, 1.5, -2, 2**64 - 1, -2**63]]) +
        call("list.sort", []) + call("list.extend", [["a", None]]) +
        call("list.sort", [True]) + call("list.set_slice", [None, None, []]) +
        call("dict.incr", ["n", 2**63]) + call("dict.incr", ["n", 2**63]) +
        call("value.add", [2**63]) + call("array.set", [0, 2**31]),
        # kill: the other connection (id 2) holding the lock with a
        # waiter, then killing itself (id 3, the one made after it)
        bytes([SWITCH]) + call("lock.acquire", []) + bytes([SWITCH]) +
        call("lock.acquire", [True, None]) + call("clients", []) +
        call("kill", [2]) + bytes([RUN, SWITCH]) + call("clients", []) +
        call("kill", [3]) + bytes([RUN]) + call("lock.locked", []),
        # acknowledged delivery: a take with a lease, a take parked on
        # the other connection that gets the item when the taker's
        # connection closes, nack and ack, and J's dead letters (after 2
        # deliveries) to Q
        call("queue.put", [1]) + call("queue.take", [True, None, 0.001]) +
        bytes([SWITCH]) + call("queue.take", []) +
        call("queue.pending", []) + bytes([SWITCH, CLOSE, RUN, SWITCH]) +
        call("queue.nack", [1]) +
        call("queue.take", [False, None, None, True]) +
        call("queue.ack", [1]) + call("joinable_queue.put", ["p"]) +
        call("joinable_queue.take", []) + call("joinable_queue.nack", [2]) +
        call("joinable_queue.take", []) + call("joinable_queue.nack", [2]) +
        bytes([WAIT, RUN]) + call("joinable_queue.join", [0]) +
        call("queue.peek", [3]),
        # get_any parked on the queue and the joinable queue, served by
        # the other connection's put to the second; take_any parked and
        # cancelled (msgid 3 of that connection); acquire_any parked on
        # two locks and handed one; wait_any served by a set
        call("get_any", [[3, 4]]) + bytes([SWITCH]) +
        call("joinable_queue.put", [1]) + call("take_any", [[3, 4]]) +
        call("cancel", [3]) + call("lock.acquire", []) +
        call("rlock.acquire", []) + bytes([SWITCH]) +
        call("acquire_any", [[9, 10], True, 0.001]) +
        call("acquire_any", [[9, 10]]) + call("wait_any", [[15]]) +
        bytes([SWITCH]) + call("rlock.release", []) +
        call("event.set", []) + bytes([WAIT, SWITCH, CLOSE, RUN]),
        # an array request repeated, then the connection drops the handles
        call("array.set_slice", [1, [1, 2, 3]]) + bytes([REPEAT, 7]) +
        call("drop", ["AI"]) + call("open", ["array", "AI", {"length": 2}]),
        # a topic subscribed on both connections (one of them twice and
        # through another handle), published from each, a subscribed
        # handle closed, then a subscribed connection closed
        call("topic.subscribe", []) + call("topic.subscribe", []) +
        call("open", ["topic", "T", {}]) + call("topic.publish", [[1, ref(1)]]) +
        bytes([SWITCH]) + call("topic.subscribe", []) +
        call("topic.publish", ["m"]) + call("close", []) +
        call("topic.publish", [{"k": None}]) + bytes([SWITCH]) +
        call("topic.unsubscribe", []) + call("topic.publish", [2]) +
        bytes([CLOSE, RUN, SWITCH]) + call("topic.publish", [3]) +
        call("info", []),
        # transactions whose wakes wait for the commit: a get parked on
        # the other connection, served by a put inside a txn; a lock
        # released inside one with a waiter; a failing txn that wakes no
        # one; a watch and a subscriber seeing the txn's changes
        call("queue.get", []) + call("watch", [3]) +
        call("topic.subscribe", []) + bytes([SWITCH]) +
        call("lock.acquire", []) + bytes([SWITCH]) +
        call("lock.acquire", [True, None]) + bytes([SWITCH]) +
        call("txn", [[], [["queue.put", [3, 9, False]],
                          ["dict.pop", [2, "absent"]]]]) +
        call("txn", [[["held", 9]],
                     [["queue.put_nowait", [3, 8]], ["lock.release", [9]],
                      ["topic.publish", [17, "t"]], ["list.append", [1, 1]]],
                     []]) + bytes([RUN, SWITCH]) + call("lock.release", []) +
        bytes([RUN]),
        # txns synthesized by the target (params byte 13: three params,
        # conditions and calls made from the bytes that follow), then a
        # nested one (method byte 133 inside: txn itself)
        bytes([0, idx["txn"], 0, 13]) + bytes(range(1, 96)) + bytes([RUN]),
        bytes([0, idx["txn"], 0, 9]) +
        bytes([2, 9, 0, idx["txn"], 1, 3, 0, 2, 40, 3, 1, 5]) +
        bytes(range(200, 140, -1)) + bytes([RUN]),
        # a condition notified inside a txn, its waiter on the other side
        call("condition.acquire", []) + call("condition.wait", [None]) +
        bytes([SWITCH]) + call("condition.acquire", []) +
        call("txn", [[], [["condition.notify", [13]],
                          ["condition.release", [13]]], []]) +
        bytes([RUN, SWITCH]) + call("condition.release", []),
    ]
    bad = [
        b"\x94\x00\x01",                         # truncated
        b"\xc1",                                 # never used
        b"\x94\x00\x01\xa4ping\xdd\xff\xff\xff\xff",  # 4G params
        b"\x91" * 40,                            # too deep
        b"\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa4ping\x90",
        b"\x94\x00\x01\xa4ping\x80",             # params not an array
        b"\x93\x02\xa4ping\x90",                 # a notification
        b"\x94\x01\x01\xc0\xc0",                 # a response
        b"\x94\x00\x01\xc4\x04ping\x90",         # method as bin
        b"\x90",
    ]
    for b in bad:
        seeds.append(call("ping", []) + bytes([RAW, len(b)]) + b +
                     call("ping", []))
    return seeds


# ---- graph ----------------------------------------------------------------

# Operations and kinds of fuzz_graph.c (its header says what each does).
(OPEN, STORE, CLOSE, OPEN_REF, DROP, CLEAR, OVERWRITE, TAKE, PING, CHAIN,
 FAN, SWITCH, CLOSE_CONN, SETTLE, FORGE, CYCLE) = range(16)
LIST, DICT, QUEUE, JQUEUE, VALUE, NAMESPACE = range(6)
ANON, NAMED_A = 0x00, 0xc0   # OPEN's name byte: anonymous, "a"
NOTHING = 8                  # CHAIN/FAN's t: hold no slot's reference
MIXED = 0x37                 # CHAIN/FAN's kind byte: kinds mixed


def graph_seeds():
    return [bytes(p) for p in [
        # two objects, one holding the other, both closed
        [OPEN, 0, LIST, ANON, OPEN, 1, DICT, ANON, STORE, 0, 1, 0,
         CLOSE, 0, CLOSE, 1, PING],
        # each kind holding the one before, every way of storing
        [OPEN, 0, LIST, ANON, OPEN, 1, DICT, ANON, OPEN, 2, QUEUE, ANON,
         OPEN, 3, JQUEUE, ANON, OPEN, 4, VALUE, ANON,
         OPEN, 5, NAMESPACE, ANON,
         STORE, 0, 1, 1, STORE, 1, 2, 1, STORE, 2, 3, 0, STORE, 3, 4, 1,
         STORE, 4, 5, 0, STORE, 5, 0, 2, STORE, 1, 0, 1,
         CLOSE, 5, CLOSE, 4, CLOSE, 3, CLOSE, 2, CLOSE, 1, CLOSE, 0],
        # a chain of 1,025 mixed objects, freed from its head
        [CHAIN, 0, NOTHING, 8, MIXED, CLOSE, 0, SETTLE, PING],
        # a chain of 32,641: deeper than a recursive free's stack
        [CHAIN, 0, NOTHING, 255, MIXED, CLOSE, 0, SETTLE, PING],
        # a cycle through a chain of 513, left to the server's end
        [OPEN, 0, LIST, ANON, CHAIN, 1, 0, 4, MIXED, STORE, 1, 0, 0,
         CLOSE, 0, CLOSE, 1, SETTLE],
        # two objects holding each other, and one holding itself
        [OPEN, 0, VALUE, ANON, OPEN, 1, NAMESPACE, ANON, CYCLE, 0, 1,
         OPEN, 2, DICT, ANON, STORE, 2, 2, 1,
         CLOSE, 0, CLOSE, 1, CLOSE, 2],
        # fan-out of 321 objects each holding one dict, cleared
        [OPEN, 0, DICT, ANON, FAN, 1, 0, 20, 0x29, CLOSE, 0,
         CLEAR, 1, 0, SETTLE, CLOSE, 1],
        # a named list holding a chain: the handles go, then the name
        [OPEN, 0, LIST, NAMED_A, CHAIN, 1, NOTHING, 2, MIXED,
         STORE, 1, 0, 0, CLOSE, 1, CLOSE, 0, DROP, 0, SETTLE],
        # a queue's get passes the hold to the connection; open_ref uses
        # it; the connection closes with another passed hold
        [OPEN, 0, QUEUE, ANON, OPEN, 1, LIST, ANON, OPEN, 2, DICT, ANON,
         STORE, 1, 0, 0, STORE, 2, 0, 0, CLOSE, 1, CLOSE, 2,
         TAKE, 0, 0, OPEN_REF, 1, CLOSE, 1, TAKE, 0, 0, CLOSE_CONN],
        # list.pop, dict.pop, value.swap pass holds too
        [OPEN, 0, LIST, ANON, OPEN, 1, DICT, ANON, OPEN, 2, VALUE, ANON,
         CHAIN, 3, NOTHING, 1, MIXED, STORE, 3, 0, 0, STORE, 3, 1, 0,
         STORE, 3, 2, 0, CLOSE, 3, TAKE, 0, 1, TAKE, 1, 0, TAKE, 2, 0,
         SWITCH, CLOSE_CONN, SWITCH, SWITCH, CLOSE_CONN],
        # one object on three connections, closed one by one
        [OPEN, 0, LIST, ANON, CHAIN, 1, NOTHING, 1, MIXED,
         STORE, 1, 0, 0, CLOSE, 1, SWITCH, OPEN_REF, 0, SWITCH,
         OPEN_REF, 0, CLOSE_CONN, SWITCH, CLOSE_CONN, SWITCH, CLOSE_CONN],
        # a value and a dict let go of chains by set and delete
        [OPEN, 0, VALUE, ANON, CHAIN, 1, NOTHING, 3, MIXED,
         STORE, 1, 0, 0, CLOSE, 1, OVERWRITE, 0, 1,
         OPEN, 2, DICT, ANON, CHAIN, 3, NOTHING, 3, 0x41,
         STORE, 3, 2, 0, CLOSE, 3, TAKE, 2, 2, OVERWRITE, 2, 0],
        # forged references: an id, an id with a zero secret, a real
        # reference with one byte changed
        [OPEN, 0, LIST, ANON, FORGE, 0, 0, FORGE, 0, 1, FORGE, 0, 2,
         FORGE, 0, 0x1e, FORGE, 0, 0x3a, CLOSE, 0, FORGE, 0, 2],
        # while a long chain is being freed: open what its tail held,
        # build more, store into it, drop the connection
        [OPEN, 0, LIST, ANON, CHAIN, 1, 0, 40, MIXED, CLOSE, 0, CLOSE, 1,
         OPEN_REF, 0, CHAIN, 2, 0, 1, MIXED, STORE, 2, 0, 0, PING,
         CLOSE_CONN],
    ]]


write("reader", reader_seeds())
write("handshake", handshake_seeds())
write("request", request_seeds())
write("graph", graph_seeds())
