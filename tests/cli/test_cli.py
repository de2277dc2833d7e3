#!/usr/bin/python3
"""The agora tool against a real agorad.

Starts $AGORAD on a Unix socket in a temporary directory, runs
$AGORA_CLI_FIXTURE to make one named object of each kind (it holds the lock
"mutex" until its stdin closes), then runs $AGORA_CLI's subcommands and
checks their output and exit codes: 0 ok, 1 the server said no, 2 usage,
3 cannot connect or authenticate. Every run also checks that the authkey
never shows in the output. Afterwards the server is stopped (it must exit
0 and remove its socket) and the directory removed.

Python 3's standard library only. The last lines are unittest's
"Ran N tests" and "OK", which scripts/test.sh counts.
"""

import json
import os
import pty
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

AGORAD = os.environ.get("AGORAD", "build/server/agorad")
AGORA = os.environ.get("AGORA_CLI", "build/client/cli/agora")
FIXTURE = os.environ.get("AGORA_CLI_FIXTURE", "build/tests/cli/cli-fixture")
TIMEOUT = 60

OK, SERVER_ERROR, USAGE, CONNECT = 0, 1, 2, 3

state = {}


def read_line(proc, deadline):
    """One line of proc's stdout, waiting until the deadline (no sleeps)."""
    line = b""
    fd = proc.stdout.fileno()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError("no line from %s in time" % proc.args[0])
        c = os.read(fd, 1)
        if not c:
            raise AssertionError("%s closed its output" % proc.args[0])
        line += c
    return line.decode()


def base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_ADDRESS"] = state["address"]
    env["AGORA_AUTHKEY_FILE"] = state["keyfile"]
    return env


def setUpModule():
    d = tempfile.mkdtemp(prefix="agora-cli-")
    state["dir"] = d
    # A printable key, so that AGORA_AUTHKEY can carry it too.
    state["key"] = secrets.token_hex(16)
    state["keyfile"] = os.path.join(d, "key")
    fd = os.open(state["keyfile"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, state["key"].encode() + b"\n")
    os.close(fd)
    state["sock"] = os.path.join(d, "s")
    state["address"] = "unix:" + state["sock"]
    # Under valgrind (CI wraps this script with --trace-children) a client
    # can take longer than the default 5 s to authenticate.
    server = subprocess.Popen(
        [AGORAD, "--listen", state["address"], "--listen", "tcp:127.0.0.1:0",
         "--authkey-file", state["keyfile"], "--auth-timeout", "120"],
        stdout=subprocess.PIPE)
    state["server"] = server
    line = read_line(server, time.monotonic() + TIMEOUT)
    assert line.strip() == "agorad: listening on " + state["address"], line
    line = read_line(server, time.monotonic() + TIMEOUT)
    assert line.startswith("agorad: listening on tcp:127.0.0.1:"), line
    state["tcp"] = line.split()[-1]
    fixture = subprocess.Popen([FIXTURE], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=base_env())
    state["fixture"] = fixture
    words = read_line(fixture, time.monotonic() + TIMEOUT).split()
    assert words[0] == "ready", words
    state["fixture_pid"] = int(words[1])


def tearDownModule():
    fixture = state.get("fixture")
    server = state.get("server")
    try:
        if fixture is not None:
            fixture.stdin.close()
            fixture.stdout.close()
            assert fixture.wait(TIMEOUT) == 0, "the fixture failed"
        if server is not None:
            server.send_signal(signal.SIGTERM)
            rc = server.wait(TIMEOUT)
            server.stdout.close()
            assert rc == 0, "agorad exited %d" % rc
            assert not os.path.exists(state["sock"]), "socket left behind"
    finally:
        for p in (fixture, server):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(state["dir"], ignore_errors=True)


def agora(*args, env=None, drop_env=()):
    """Run the tool; returns (exit code, stdout, stderr)."""
    e = base_env()
    e.update(env or {})
    for k in drop_env:
        e.pop(k, None)
    # stdin is never a terminal here: no command means a usage error.
    p = subprocess.run([AGORA, *args], env=e, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    out = p.stdout.decode()
    err = p.stderr.decode()
    if state["key"] in out or state["key"] in err:
        raise AssertionError("agora %s printed the authkey" % " ".join(args))
    return p.returncode, out, err


class Case(unittest.TestCase):
    def ok(self, *args, **kw):
        rc, out, err = agora(*args, **kw)
        self.assertEqual(rc, OK, "agora %s: %s" % (" ".join(args), err))
        self.assertEqual(err, "")
        return out

    def json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def fails(self, code, *args, **kw):
        rc, out, err = agora(*args, **kw)
        self.assertEqual(rc, code, "agora %s: %r %r" % (" ".join(args), out, err))
        self.assertTrue(err.startswith("agora: "), err)
        return err


class ServerCommands(Case):
    def test_ping_names_the_server(self):
        self.assertIn("pong from agora/", self.ok("ping"))
        doc = self.json("ping")
        self.assertIs(doc["ok"], True)
        self.assertEqual(doc["address"], state["address"])

    def test_stats_table_and_json(self):
        out = self.ok("stats")
        for field in ("connections", "objects", "requests", "waiters", "memory"):
            self.assertRegex(out, r"(?m)^%s +\d" % field)
        doc = self.json("stats")
        self.assertGreaterEqual(doc["connections"], 2)  # the fixture and us

    def test_ls_lists_named_objects_with_type_and_length(self):
        out = self.ok("ls").splitlines()
        self.assertEqual(out[0].split(), ["NAME", "TYPE", "LEN"])
        rows = {line.split()[0]: line.split()[1:] for line in out[1:]}
        self.assertEqual(rows["results"][0], "dict")
        self.assertEqual(rows["arr"], ["array", "3"])
        self.assertEqual(rows["mutex"], ["lock", "-"])
        doc = self.json("ls")
        self.assertIn({"name": "arr", "type": "array", "len": 3}, doc)
        self.assertIn({"name": "ev", "type": "event", "len": None}, doc)

    def test_watch_prints_count_rows(self):
        out = self.ok("watch", "--interval", "0.05", "--count", "2").splitlines()
        self.assertEqual(len(out), 3)
        self.assertEqual(out[0].split()[:3], ["TIME", "CONNECTIONS", "OBJECTS"])
        lines = self.ok("--json", "watch", "--interval=0.05", "--count=3").splitlines()
        self.assertEqual(len(lines), 3)
        for line in lines:
            doc = json.loads(line)
            self.assertIn("requests", doc)
            self.assertIn("time", doc)

    def test_top_is_watch_without_a_name(self):
        out = self.ok("top", "--interval", "0.05", "--count", "2").splitlines()
        self.assertEqual(len(out), 3)
        self.assertEqual(out[0].split()[:3], ["TIME", "CONNECTIONS", "OBJECTS"])

    def watcher(self, *args, opts=()):
        """agora OPTS watch ARGS in the background, once it says it
        watches."""
        p = subprocess.Popen([AGORA, *opts, "watch", *args], env=base_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(),
                                 p.stdout.close(), p.stderr.close()))
        fd = p.stderr.fileno()
        line = b""
        deadline = time.monotonic() + TIMEOUT
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            self.assertTrue(left > 0 and select.select([fd], [], [], left)[0],
                            "agora watch did not start")
            c = os.read(fd, 1)
            self.assertTrue(c, "agora watch ended: %r" % line)
            line += c
        self.assertIn("watching", line.decode())
        return p

    def test_watch_prints_each_change_as_it_happens(self):
        self.ok("new", "dict", "watched")
        p = self.watcher("watched", "--count", "4")
        self.ok("set", "watched", "a", "1")
        self.ok("set", "watched", "b", "2")
        self.ok("del", "watched", "a")
        self.ok("clear", "watched")
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, OK, err)
        rows = [line.split() for line in out.decode().splitlines()]
        self.assertEqual([r[1:] for r in rows],
                         [["dict.set", "a"], ["dict.set", "b"],
                          ["dict.delete", "a"], ["dict.clear"]])
        versions = [int(r[0]) for r in rows]
        self.assertEqual(versions, sorted(set(versions)))

    def test_watch_of_a_key_and_json_lines(self):
        self.ok("new", "dict", "keyed")
        p = self.watcher("keyed", "k", "--count", "1", opts=("--json",))
        self.ok("set", "keyed", "other", "1")
        self.ok("set", "keyed", "k", "2")
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, OK, err)
        doc = json.loads(out)
        self.assertEqual((doc["op"], doc["key"]), ("dict.set", "k"))

    def test_watch_ends_with_exit_0_on_sigterm(self):
        self.ok("new", "dict", "stopped")
        p = self.watcher("stopped")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, OK, err)
        self.assertEqual(out, b"")

    def test_watch_refuses_what_it_cannot_watch(self):
        self.fails(SERVER_ERROR, "watch", "no-such-object")
        self.ok("new", "list", "watched-list")
        self.fails(USAGE, "watch", "watched-list", "0")
        self.fails(USAGE, "watch", "watched-list", "--interval", "1")

    def test_help_and_version(self):
        self.assertIn("usage: agora", self.ok("--help"))
        self.assertRegex(self.ok("--version"), r"^agora \d+\.\d+\.\d+")


class Get(Case):
    def test_each_type_reads_as_documented(self):
        self.assertEqual(self.json("get", "counter"), 7)
        self.assertEqual(self.json("get", "blob"), {"$bin": "AAH/"})
        self.assertEqual(self.json("get", "arr"), [1, 2, 3])
        self.assertEqual(self.json("get", "arr", "-1"), 3)
        self.assertEqual(self.json("get", "ns"), {"mode": "fast"})
        self.assertEqual(self.json("get", "ns", "mode"), "fast")
        self.assertIs(self.json("get", "ev"), True)
        self.assertEqual(self.json("get", "sem"), 3)
        self.assertIs(self.json("get", "mutex"), True)
        self.assertIs(self.json("get", "rl"), False)
        self.assertEqual(self.json("get", "bar"), 0)

    def test_dict_keys_are_json_or_else_strings(self):
        self.assertEqual(self.ok("get", "results", "job:3"), "9\n")
        self.assertEqual(self.ok("get", "results", '"job:3"'), "9\n")
        self.assertEqual(self.ok("get", "results", "42"), '"answer"\n')
        self.assertEqual(self.json("get", "results", "nested"), {"a": [1, 2.5]})

    def test_whole_dict_with_an_int_key_is_a_map_of_pairs(self):
        doc = self.json("get", "results")
        pairs = doc["$map"]
        self.assertIn(["job:3", 9], pairs)
        self.assertIn([42, "answer"], pairs)
        out = self.ok("get", "results")
        self.assertRegex(out, r'(?m)^"job:3" +9$')
        self.assertRegex(out, r'(?m)^42 +"answer"$')

    def test_missing_key_and_index_are_server_errors(self):
        err = self.fails(SERVER_ERROR, "get", "results", "nope")
        self.assertIn("(KEY)", err)
        err = self.fails(SERVER_ERROR, "get", "arr", "7")
        self.assertIn("(INDEX)", err)

    def test_unknown_object_is_named(self):
        for cmd in (["get", "nope"], ["info", "nope"], ["set", "nope", "1"],
                    ["push", "nope", "1"], ["pop", "nope"], ["drop", "nope"]):
            err = self.fails(SERVER_ERROR, *cmd)
            self.assertIn('no object named "nope"', err)


class Change(Case):
    VALUES = ['null', 'true', '-5', '1.5', '0.1', '"text"', '""', '[1, [2]]',
              '{"a": {"b": null}}', '{"$bin": "AAH/"}', '{"$ext": 5, "data": "AQI="}',
              '{"$uint": "18446744073709551615"}', '{"$float": "inf"}',
              '{"$map": [[1, 2], [[3], "x"]]}', '"caf\u00e9"']

    def test_values_round_trip_through_a_dict(self):
        for i, text in enumerate(self.VALUES):
            self.assertEqual(self.ok("set", "results", "rt%d" % i, text), "")
        # One read of the whole dict (its int key 42 makes it "$map" pairs).
        stored = dict((k, v) for k, v in self.json("get", "results")["$map"]
                      if isinstance(k, str))
        for i, text in enumerate(self.VALUES):
            self.assertEqual(stored["rt%d" % i], json.loads(text), text)
        self.assertEqual(self.json("get", "results", "rt13"),
                         {"$map": [[1, 2], [[3], "x"]]})

    def test_set_a_value_list_item_attribute_and_array_item(self):
        self.ok("set", "total", "8")
        self.assertEqual(self.json("get", "total"), 8)
        self.ok("set", "cfg", "level", "3")
        self.assertEqual(self.json("get", "cfg", "level"), 3)
        self.ok("set", "nums", "0", "99")
        self.assertEqual(self.json("get", "nums", "0"), 99)
        self.assertEqual(self.ok("--json", "set", "total", "9"), "null\n")
        err = self.fails(SERVER_ERROR, "set", "nums", "1", "1.5")
        self.assertIn("(TYPE)", err)

    def test_list_push_set_pop(self):
        self.ok("push", "jobs", '"last"')
        self.assertEqual(self.json("get", "jobs", "-1"), "last")
        self.ok("set", "jobs", "0", '"first"')
        self.assertEqual(self.json("get", "jobs", "0"), "first")
        self.assertEqual(self.ok("pop", "jobs"), '"last"\n')
        self.assertEqual(self.json("get", "jobs"), ["first", "two", 3.5])

    def test_queue_push_then_pop_in_order_until_empty(self):
        self.ok("push", "q", '{"n": 30}')
        self.assertEqual(self.json("get", "q"), 3)
        self.assertEqual(self.json("pop", "q"), 10)
        self.assertEqual(self.ok("pop", "q"), "20\n")
        self.assertEqual(self.json("pop", "q"), {"n": 30})
        err = self.fails(SERVER_ERROR, "pop", "q")
        self.assertIn("(EMPTY)", err)

    def test_drop_removes_the_name(self):
        self.assertEqual(self.ok("drop", "scratch"), "")
        err = self.fails(SERVER_ERROR, "get", "scratch")
        self.assertIn('no object named "scratch"', err)
        err = self.fails(SERVER_ERROR, "drop", "scratch")
        self.assertIn('no object named "scratch"', err)


class Info(Case):
    def test_held_lock_shows_its_owner(self):
        out = self.ok("info", "mutex")
        self.assertRegex(out, r"(?m)^state +held by connection \d+ \(pid %d, uid %d\)$"
                         % (state["fixture_pid"], os.getuid()))
        self.assertRegex(out, r"(?m)^since +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(")
        self.assertRegex(out, r"(?m)^waiters +0$")
        self.assertRegex(out, r"(?m)^abandoned +0$")
        doc = self.json("info", "mutex")
        self.assertEqual(doc["type"], "lock")
        self.assertEqual(doc["owner_pid"], state["fixture_pid"])
        self.assertEqual(doc["owner_uid"], os.getuid())
        self.assertIsInstance(doc["owner"], int)
        self.assertIsInstance(doc["since"], float)

    def test_free_rlock_and_a_queue(self):
        self.assertRegex(self.ok("info", "rl"), r"(?m)^state +free$")
        doc = self.json("info", "arr")
        self.assertEqual((doc["type"], doc["len"], doc["typecode"]),
                         ("array", 3, "i"))


class Operators(Case):
    """agora clients and agora kill, with holders of the lock "printer"
    started as `cli-fixture --hold printer`."""

    def hold(self, address):
        env = base_env()
        env["AGORA_ADDRESS"] = address
        p = subprocess.Popen([FIXTURE, "--hold", "printer"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=env)
        self.addCleanup(self.reap, p)
        return p

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()
        for f in (p.stdin, p.stdout):
            f.close()

    def finish(self, p):
        """Close the holder's stdin; its last line says how its ping went."""
        p.stdin.close()
        line = read_line(p, time.monotonic() + TIMEOUT).strip()
        self.assertEqual(p.wait(TIMEOUT), 0)
        return line

    def wait_info(self, name, field, want):
        deadline = time.monotonic() + TIMEOUT
        while self.json("info", name)[field] != want:
            self.assertLess(time.monotonic(), deadline,
                            "info %s never showed %s %r" % (name, field, want))
            time.sleep(0.01)

    def test_clients_lists_every_connection_and_what_it_holds(self):
        out = self.ok("clients").splitlines()
        self.assertEqual(out[0].split(), ["ID", "STATE", "USER", "PEER", "AGE",
                                          "IDLE", "HANDLES", "PARKED",
                                          "HOLDS"])
        fixture = [l for l in out[1:]
                   if "unix pid %d uid %d " % (state["fixture_pid"], os.getuid())
                   in l]
        self.assertEqual(len(fixture), 1, out)
        self.assertRegex(fixture[0], r" ready .* lock mutex$")
        self.assertEqual(len([l for l in out[1:] if l.split()[1] == "this"]), 1)
        doc = self.json("clients")
        mine = [e for e in doc if e["self"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]["transport"], mine[0]["holds"]), ("unix", []))
        fx = [e for e in doc if e["pid"] == state["fixture_pid"]][0]
        self.assertEqual(fx["uid"], os.getuid())
        self.assertTrue(fx["authenticated"])
        self.assertGreater(fx["handles"], 10)
        self.assertEqual(fx["parked"], 0)
        self.assertIsInstance(fx["since"], float)
        self.assertIsInstance(fx["idle"], float)
        self.assertEqual([(h["type"], h["name"], h["count"]) for h in fx["holds"]],
                         [("lock", "mutex", 1)])

    def test_kill_ends_a_tcp_holder_and_its_lock_passes_on(self):
        first = self.hold(state["tcp"])
        self.assertEqual(read_line(first, time.monotonic() + TIMEOUT).split()[0],
                         "ready")
        doc = self.json("clients")
        tcp = [e for e in doc if e["transport"] == "tcp"]
        self.assertEqual(len(tcp), 1, doc)
        victim = tcp[0]
        self.assertRegex(victim["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertIsNone(victim["pid"])
        self.assertEqual([(h["type"], h["name"]) for h in victim["holds"]],
                         [("lock", "printer")])
        row = [l for l in self.ok("clients").splitlines()
               if l.split()[0] == str(victim["id"])]
        self.assertEqual(len(row), 1)
        self.assertIn("tcp " + victim["peer"], row[0])
        self.assertTrue(row[0].endswith("lock printer"), row[0])
        # info names the TCP holder by its address.
        self.assertRegex(self.ok("info", "printer"),
                         r"(?m)^state +held by connection %d \(%s\)$"
                         % (victim["id"], re.escape(victim["peer"])))

        second = self.hold(state["address"])
        self.wait_info("printer", "waiters", 1)
        self.assertEqual(self.ok("kill", str(victim["id"])), "")
        words = read_line(second, time.monotonic() + TIMEOUT).split()
        self.assertEqual(words[0], "ready")
        self.assertEqual(self.json("info", "printer")["owner_pid"], int(words[1]))
        self.assertNotIn(victim["id"], [e["id"] for e in self.json("clients")])
        self.assertEqual(self.finish(first), "ping IO")
        self.assertEqual(self.finish(second), "ping ok")

    def test_kill_of_an_unknown_or_bad_id(self):
        err = self.fails(SERVER_ERROR, "kill", "999999")
        self.assertIn("no connection 999999", err)
        for bad in ("0", "-1", "x", "1x"):
            self.fails(USAGE, "kill", bad)
        self.fails(USAGE, "kill")
        self.fails(USAGE, "clients", "extra")


class New(Case):
    """agora new TYPE NAME [options]: named objects made from the shell."""

    def test_seed_a_queue_before_any_worker_exists(self):
        sh = '"$AGORA" new queue seeded && "$AGORA" push seeded 3'
        env = base_env()
        env["AGORA"] = AGORA
        p = subprocess.run(["sh", "-c", sh], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Both tools have exited: the queue and its item are still there.
        self.assertIn({"name": "seeded", "type": "queue", "len": 1},
                      self.json("ls"))
        self.assertEqual(self.json("pop", "seeded"), 3)
        self.assertEqual(self.json("get", "seeded"), 0)

    def test_every_creation_option(self):
        self.ok("new", "queue", "nq", "--maxsize", "10")
        info = self.json("info", "nq")
        self.assertEqual((info["type"], info["maxsize"]), ("queue", 10))
        self.ok("new", "joinable_queue", "njq", "--maxsize=2")
        self.assertEqual(self.json("info", "njq")["maxsize"], 2)
        self.ok("new", "queue", "ndead")
        self.ok("new", "joinable_queue", "ndl", "--max-deliveries", "3",
                "--dead-letter=ndead")
        info = self.json("info", "ndl")
        self.assertEqual((info["max_deliveries"], info["dead_letter"],
                          info["dead_lettered"]), (3, "ndead", 0))
        self.ok("new", "value", "nv", "--initial", '{"a": [1]}')
        self.assertEqual(self.json("get", "nv"), {"a": [1]})
        self.ok("new", "semaphore", "nsem", "--value", "3", "--owned")
        info = self.json("info", "nsem")
        self.assertEqual((info["value"], info["owned"]), (3, True))
        self.ok("new", "bounded_semaphore", "nbs", "--value", "2")
        info = self.json("info", "nbs")
        self.assertEqual((info["type"], info["value"], info["owned"]),
                         ("bounded_semaphore", 2, False))
        self.ok("new", "barrier", "nb", "--parties", "4")
        self.assertEqual(self.json("info", "nb")["parties"], 4)
        self.ok("new", "array", "na", "--typecode", "d", "--items", "[1, 2.5]")
        self.assertEqual(self.json("get", "na"), [1.0, 2.5])
        self.ok("new", "array", "na2", "--typecode", "B", "--length", "3")
        self.assertEqual(self.json("get", "na2"), [0, 0, 0])
        self.ok("new", "rlock", "nl")
        self.ok("new", "condition", "nc", "--lock", "nl")
        self.assertEqual(self.json("info", "nc")["lock"],
                         self.json("info", "nl")["id"])
        for t in ("list", "dict", "namespace", "lock", "event"):
            self.ok("new", t, "n" + t)
            self.assertEqual(self.json("info", "n" + t)["type"], t)
        self.assertEqual(self.ok("--json", "new", "list", "njson"), "null\n")

    def test_an_existing_name_is_exists_unless_exist_ok(self):
        self.ok("new", "queue", "taken")
        self.ok("push", "taken", "1")
        err = self.fails(SERVER_ERROR, "new", "queue", "taken")
        self.assertIn("(EXISTS)", err)
        self.assertIn("--exist-ok", err)
        err = self.fails(SERVER_ERROR, "new", "dict", "taken")
        self.assertIn("(EXISTS)", err)
        self.ok("new", "queue", "taken", "--exist-ok")
        self.assertEqual(self.json("get", "taken"), 1)  # the same queue
        err = self.fails(SERVER_ERROR, "new", "dict", "taken", "--exist-ok")
        self.assertIn("(TYPE)", err)

    def test_wrong_options_are_usage_errors_naming_them(self):
        err = self.fails(USAGE, "new", "lock", "bad1", "--maxsize", "3")
        self.assertIn("--maxsize does not go with lock", err)
        err = self.fails(USAGE, "new", "queue", "bad2", "--parties", "2")
        self.assertIn("--parties", err)
        err = self.fails(USAGE, "new", "list", "bad6", "--dead-letter", "q")
        self.assertIn("--dead-letter does not go with list", err)
        err = self.fails(USAGE, "new", "queue", "bad7", "--max-deliveries",
                         "many")
        self.assertIn("--max-deliveries many", err)
        # both or neither, an existing queue: the server's word
        err = self.fails(SERVER_ERROR, "new", "queue", "bad8",
                         "--max-deliveries", "2")
        self.assertIn("(ARGS)", err)
        err = self.fails(SERVER_ERROR, "new", "queue", "bad9",
                         "--max-deliveries", "2", "--dead-letter", "nosuch")
        self.assertIn("(VALUE)", err)
        self.assertIn("nosuch", err)
        err = self.fails(USAGE, "new", "frob", "bad3")
        self.assertIn('unknown type "frob"', err)
        err = self.fails(USAGE, "new", "barrier", "bad4")
        self.assertIn("--parties", err)
        err = self.fails(USAGE, "new", "array", "bad5")
        self.assertIn("--typecode", err)
        err = self.fails(USAGE, "new", "queue", "bad6", "--maxsize", "ten")
        self.assertIn("--maxsize ten", err)
        err = self.fails(USAGE, "new", "array", "bad7", "--typecode", "i",
                         "--items", "{}")
        self.assertIn("--items", err)
        self.fails(USAGE, "get", "counter", "--maxsize", "3")
        self.fails(USAGE, "ls", "--exist-ok")
        self.fails(USAGE, "new", "queue")
        err = self.fails(SERVER_ERROR, "new", "queue", "bad8", "--maxsize",
                         "-1")
        self.assertIn("(VALUE)", err)
        err = self.fails(SERVER_ERROR, "new", "array", "bad9", "--typecode",
                         "i", "--length", "2", "--items", "[1]")
        self.assertIn("(ARGS)", err)
        names = [o["name"] for o in self.json("ls")]
        for n in ("bad1", "bad2", "bad3", "bad4", "bad5", "bad6", "bad7",
                  "bad8", "bad9"):
            self.assertNotIn(n, names)


class Queues(Case):
    def test_push_several_then_peek_takes_nothing(self):
        self.ok("new", "queue", "pq")
        self.assertEqual(self.ok("push", "pq", "1", '"two"', "[3]"), "")
        self.assertEqual(self.json("get", "pq"), 3)
        self.assertEqual(self.ok("peek", "pq"), "1\n")
        self.assertEqual(self.json("peek", "pq"), 1)
        self.assertEqual(self.ok("peek", "pq", "2"), '1\n"two"\n')
        self.assertEqual(self.json("peek", "pq", "10"), [1, "two", [3]])
        self.assertEqual(self.json("peek", "pq", "0"), [])
        self.assertEqual(self.json("len", "pq"), 3)  # nothing taken
        self.assertEqual(self.json("pop", "pq"), 1)
        self.assertEqual(self.json("peek", "pq"), "two")
        self.fails(USAGE, "peek", "pq", "-1")
        self.fails(USAGE, "peek", "results")

    def test_peek_and_pop_of_an_empty_queue_say_empty(self):
        self.ok("new", "queue", "eq")
        err = self.fails(SERVER_ERROR, "peek", "eq")
        self.assertIn("(EMPTY)", err)
        self.assertEqual(self.ok("peek", "eq", "3"), "")
        err = self.fails(SERVER_ERROR, "pop", "eq")
        self.assertIn("(EMPTY)", err)

    def test_pop_timeout_waits_then_says_empty(self):
        self.ok("new", "queue", "tq")
        t0 = time.monotonic()
        err = self.fails(SERVER_ERROR, "pop", "tq", "--timeout", "0.3")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertIn("(EMPTY)", err)
        self.assertIn("0.3", err)
        err = self.fails(SERVER_ERROR, "pop", "tq", "--timeout", "0")
        self.assertIn("(EMPTY)", err)
        self.fails(USAGE, "pop", "tq", "--timeout", "-1")
        self.fails(USAGE, "pop", "tq", "--timeout", "1", "--wait")
        self.fails(USAGE, "pop", "jobs", "--timeout", "1")  # a list
        self.fails(USAGE, "get", "tq", "--wait")

    def test_pop_wait_takes_an_item_pushed_later(self):
        self.ok("new", "queue", "wq")
        popper = subprocess.Popen([AGORA, "--json", "pop", "wq", "--wait"],
                                  env=base_env(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + TIMEOUT
            while self.json("info", "wq")["waiters"] != 1:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
            self.ok("push", "wq", '{"job": 7}')
            out, err = popper.communicate(timeout=TIMEOUT)
        finally:
            if popper.poll() is None:
                popper.kill()
                popper.communicate()
        self.assertEqual(popper.returncode, 0, err)
        self.assertEqual(json.loads(out), {"job": 7})
        self.assertEqual(self.json("len", "wq"), 0)

    def test_push_to_a_full_queue(self):
        self.ok("new", "queue", "fq", "--maxsize", "1")
        err = self.fails(SERVER_ERROR, "push", "fq", "1", "2")
        self.assertIn("(FULL)", err)
        self.assertIn("1 of the 2 values went in", err)
        self.assertEqual(self.json("peek", "fq", "5"), [1])
        err = self.fails(SERVER_ERROR, "push", "fq", "3", "--timeout", "0.1")
        self.assertIn("(FULL)", err)


class Containers(Case):
    def test_dict_del_incr_keys_has_pop_clear(self):
        self.ok("new", "dict", "cd")
        self.ok("set", "cd", "a", "1")
        self.ok("set", "cd", "b", "2")
        self.ok("set", "cd", "42", '"int key"')
        self.assertEqual(self.ok("keys", "cd"), '"a"\n"b"\n42\n')
        self.assertEqual(self.json("keys", "cd"), ["a", "b", 42])
        self.assertEqual(self.ok("has", "cd", "a"), "true\n")
        self.assertIs(self.json("has", "cd", "zz"), False)
        self.assertEqual(self.ok("del", "cd", "a"), "")
        err = self.fails(SERVER_ERROR, "get", "cd", "a")
        self.assertIn("(KEY)", err)
        self.assertIs(self.json("has", "cd", "a"), False)
        err = self.fails(SERVER_ERROR, "del", "cd", "a")
        self.assertIn("(KEY)", err)
        self.assertEqual(self.ok("incr", "cd", "b"), "3\n")
        self.assertEqual(self.json("incr", "cd", "b", "10"), 13)
        self.assertEqual(self.json("incr", "cd", "b", "0.5"), 13.5)
        self.assertEqual(self.json("incr", "cd", "n", "-2"), -2)
        self.assertEqual(self.json("get", "cd", "n"), -2)
        err = self.fails(SERVER_ERROR, "incr", "cd", "42")
        self.assertIn("(TYPE)", err)
        self.fails(USAGE, "incr", "cd")
        self.fails(USAGE, "incr", "cd", "b", '"x"')
        self.assertEqual(self.json("pop", "cd", "b"), 13.5)
        self.assertIs(self.json("has", "cd", "b"), False)
        err = self.fails(SERVER_ERROR, "pop", "cd", "b")
        self.assertIn("(KEY)", err)
        self.assertEqual(self.json("pop", "cd"), ["n", -2])  # the last pair
        self.ok("del", "cd", "42")
        self.assertEqual(self.json("len", "cd"), 0)
        self.ok("set", "cd", "x", "1")
        self.ok("set", "cd", "y", "1")
        self.ok("del", "cd", "x", "y")
        self.assertEqual(self.json("get", "cd"), {})
        self.ok("set", "cd", "x", "1")
        self.assertEqual(self.ok("clear", "cd"), "")
        self.assertEqual(self.json("len", "cd"), 0)

    def test_value_incr(self):
        self.ok("new", "value", "cv", "--initial", "5")
        self.assertEqual(self.ok("incr", "cv"), "6\n")
        self.assertEqual(self.json("incr", "cv", "-10"), -4)
        self.assertEqual(self.json("get", "cv"), -4)
        self.fails(USAGE, "incr", "cv", "k", "1")
        self.fails(USAGE, "incr", "mutex")

    def test_list_insert_del_pop_index_clear(self):
        self.ok("new", "list", "cl")
        self.ok("push", "cl", "1", "2", "3")
        self.ok("insert", "cl", "0", '"first"')
        self.assertEqual(self.json("get", "cl"), ["first", 1, 2, 3])
        self.ok("del", "cl", "1")
        self.assertEqual(self.json("get", "cl"), ["first", 2, 3])
        self.fails(USAGE, "del", "cl", "0", "1")
        err = self.fails(SERVER_ERROR, "del", "cl", "9")
        self.assertIn("(INDEX)", err)
        self.assertEqual(self.json("pop", "cl", "0"), "first")
        self.assertEqual(self.json("pop", "cl"), 3)
        self.assertEqual(self.json("len", "cl"), 1)
        self.ok("clear", "cl")
        self.assertEqual(self.json("get", "cl"), [])
        err = self.fails(SERVER_ERROR, "pop", "cl")
        self.assertIn("(INDEX)", err)

    def test_namespace_del_and_keys(self):
        self.ok("new", "namespace", "cn")
        self.ok("set", "cn", "mode", '"fast"')
        self.ok("set", "cn", "level", "3")
        self.assertEqual(self.ok("keys", "cn"), "mode\nlevel\n")
        self.assertEqual(self.json("keys", "cn"), ["mode", "level"])
        self.ok("del", "cn", "mode")
        self.assertEqual(self.json("get", "cn"), {"level": 3})
        err = self.fails(USAGE, "len", "cn")
        self.assertIn("has no length", err)

    def test_commands_a_type_does_not_have(self):
        for args in (["del", "counter", "x"], ["keys", "arr"],
                     ["has", "arr", "1"], ["insert", "arr", "0", "1"],
                     ["clear", "q"], ["peek", "jobs"], ["pop", "counter"]):
            err = self.fails(USAGE, *args)
            self.assertIn(args[1], err)

    def test_call_any_method(self):
        self.ok("new", "list", "cc")
        self.ok("push", "cc", "3", "1", "2")
        self.assertEqual(self.ok("call", "cc", "sort"), "")
        self.assertEqual(self.json("get", "cc"), [1, 2, 3])
        self.assertEqual(self.json("call", "cc", "index", "2"), 1)
        self.assertEqual(self.json("call", "cc", "slice", "1", "null"), [2, 3])
        self.ok("new", "event", "cev")
        self.assertIs(self.json("get", "cev"), False)
        self.assertEqual(self.ok("--json", "call", "cev", "set"), "null\n")
        self.assertIs(self.json("get", "cev"), True)
        err = self.fails(SERVER_ERROR, "call", "cc", "frob")
        self.assertIn("(NO_METHOD)", err)
        self.fails(USAGE, "call", "cc", "list.sort")
        self.fails(USAGE, "call", "cc", "append", "bare")


class Names(Case):
    def test_drop_several_names(self):
        for n in ("d1", "d2", "d3"):
            self.ok("new", "list", n)
        self.assertEqual(self.ok("drop", "d1", "d2"), "")
        names = [o["name"] for o in self.json("ls")]
        self.assertNotIn("d1", names)
        self.assertNotIn("d2", names)
        err = self.fails(SERVER_ERROR, "drop", "d1", "d3")
        self.assertIn('no object named "d1"', err)
        self.assertNotIn("d3", [o["name"] for o in self.json("ls")])

    def test_ls_with_a_glob_sorted_by_name(self):
        for n in ("g.b", "g.a", "g.c", "h.a"):
            self.ok("new", "dict", n)
        self.assertEqual([o["name"] for o in self.json("ls", "g.*")],
                         ["g.a", "g.b", "g.c"])
        rows = self.ok("ls", "?.a").splitlines()
        self.assertEqual(rows[0].split(), ["NAME", "TYPE", "LEN"])
        self.assertEqual([r.split()[0] for r in rows[1:]], ["g.a", "h.a"])
        self.assertEqual(self.json("ls", "nothing*"), [])
        self.assertEqual(self.ok("ls", "nothing*"), "no named objects match\n")
        everything = [o["name"] for o in self.json("ls")]
        self.assertEqual(everything, sorted(everything))
        people = [r.split()[0] for r in self.ok("ls").splitlines()[1:]]
        self.assertEqual(people, everything)


class Lifetimes(Case):
    """new --ttl, expire, ttl, and ls's TTL column (its OWNER and TTL
    columns show only when a name listed has one: the names made here
    are dropped again, so that the other tests' ls stays as it was)."""

    def made(self, *args):
        self.ok("new", *args)
        self.addCleanup(agora, "drop", args[1])

    def test_new_with_a_ttl_expire_and_ttl(self):
        self.made("dict", "life.cache", "--ttl", "600")
        left = float(self.ok("ttl", "life.cache"))
        self.assertTrue(590 < left <= 600, left)
        self.assertTrue(590 < self.json("ttl", "life.cache") <= 600)
        rows = self.ok("ls", "life.*").splitlines()
        self.assertEqual(rows[0].split(), ["NAME", "TYPE", "LEN", "OWNER",
                                           "TTL"])
        self.assertRegex(rows[1], r"^life\.cache +dict +0 +- +9m\d\ds$")
        doc = self.json("ls", "life.*")
        self.assertTrue(590 < doc[0]["ttl"] <= 600)
        self.assertIsInstance(doc[0]["expires"], float)

        out = self.ok("info", "life.cache")
        self.assertRegex(out, r"(?m)^ttl +9m\d\ds$")
        self.assertRegex(out, r"(?m)^expires +\d{4}-\d\d-\d\d "
                         r"\d\d:\d\d:\d\d \(in \d+\.\d s\)$")
        self.assertIsInstance(self.json("info", "life.cache")["expires"],
                              float)

        self.made("list", "life.plain")
        self.assertNotIn("ttl", self.json("info", "life.plain"))
        self.assertEqual(self.ok("ttl", "life.plain"), "none\n")
        self.assertIsNone(self.json("ttl", "life.plain"))
        self.assertEqual(self.ok("expire", "life.plain", "30"), "")
        self.assertTrue(25 < float(self.ok("ttl", "life.plain")) <= 30)
        self.assertEqual(self.ok("expire", "life.plain", "none"), "")
        self.assertEqual(self.ok("ttl", "life.plain"), "none\n")
        self.assertEqual(self.ok("expire", "life.cache", "0"), "")
        self.assertEqual(self.ok("ls", "life.*").splitlines()[0].split(),
                         ["NAME", "TYPE", "LEN"])

    def test_a_name_past_its_ttl_is_gone(self):
        self.made("value", "life.short", "--ttl", "0.05")
        deadline = time.monotonic() + TIMEOUT
        while "life.short" in [o["name"] for o in self.json("ls")]:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        err = self.fails(SERVER_ERROR, "ttl", "life.short")
        self.assertIn('no object is named "life.short"', err)

    def test_what_they_refuse(self):
        err = self.fails(SERVER_ERROR, "expire", "life.none", "5")
        self.assertIn('no object is named "life.none"', err)
        self.fails(USAGE, "expire", "life.none", "soon")
        self.fails(USAGE, "expire", "life.none")
        self.fails(USAGE, "ttl")
        self.fails(USAGE, "new", "list", "life.t", "--ttl", "soon")
        err = self.fails(SERVER_ERROR, "new", "list", "life.t", "--ttl", "0")
        self.assertIn("ttl", err)
        self.assertNotIn("life.t", [o["name"] for o in self.json("ls")])


def with_libedit():
    """Whether the tool was built with line editing (its --version says)."""
    p = subprocess.run([AGORA, "--version"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    return b"libedit" in p.stdout


class Interactive(Case):
    """agora with no command on a terminal: driven through a pty."""

    def start(self, *args, env=None):
        e = base_env()
        e["TERM"] = "dumb"
        e["AGORA_HISTFILE"] = os.path.join(state["dir"], "history")
        e.update(env or {})
        master, slave = pty.openpty()
        p = subprocess.Popen([AGORA, *args], stdin=slave, stdout=slave,
                             stderr=slave, env=e, close_fds=True)
        os.close(slave)
        self.addCleanup(self.stop, p, master)
        self.master = master
        return p

    @staticmethod
    def stop(p, master):
        if p.poll() is None:
            p.kill()
        p.wait()
        os.close(master)

    def until(self, marker):
        """What the session printed up to @marker (no sleeps)."""
        buf = b""
        deadline = time.monotonic() + TIMEOUT
        while marker not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError("no %r in %r" % (marker, buf))
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the session ended
                chunk = b""
            if not chunk:
                raise AssertionError("session ended: %r" % buf)
            buf += chunk
        text = buf.decode().replace("\r\n", "\n")
        if state["key"] in text:
            raise AssertionError("the session printed the authkey")
        return text

    def type(self, line):
        """Type @line; what it printed before the next prompt, without
        the echo of the line."""
        os.write(self.master, line.encode() + b"\r")
        out = self.until(b"agora> ")
        lines = out.split("\n")
        # The echo of the line, once by the terminal and once more by the
        # line editor when typed before it took the terminal over.
        echo = [i for i, l in enumerate(lines) if l.strip().endswith(line)]
        self.assertTrue(echo, out)
        return "\n".join(lines[echo[-1] + 1:-1])

    def test_a_session_runs_commands_and_survives_errors(self):
        p = self.start()
        self.assertIn("connected to " + state["address"],
                      self.until(b"agora> "))
        self.assertEqual(self.type("new queue iq --maxsize 5"), "")
        self.assertEqual(self.type("push iq 1 '\"two words\"'"), "")
        self.assertEqual(self.type('peek iq 5'), '1\n"two words"')
        # Errors print and the session goes on.
        out = self.type("pop nope")
        self.assertIn('no object named "nope"', out)
        self.assertIn("unknown command", self.type("frob"))
        self.assertIn("unfinished", self.type("push iq 'x"))
        self.assertIn("usage: agora get", self.type("get"))
        self.assertEqual(self.type("pop iq"), "1")
        self.assertEqual(self.type("--json pop iq"), '"two words"')
        self.assertIn("(EMPTY)", self.type("pop iq --timeout 0.05"))
        self.assertEqual(json.loads(self.type("--json ls i?")),
                         [{"name": "iq", "type": "queue", "len": 0}])
        self.assertIn("usage: agora", self.type("help"))
        # One connection for the whole session, and handles closed after
        # each command.
        first = [c for c in json.loads(self.type("--json clients"))
                 if c["self"]][0]
        second = [c for c in json.loads(self.type("--json clients"))
                  if c["self"]][0]
        self.assertEqual(first["id"], second["id"])
        self.assertEqual(second["handles"], 0)
        self.assertIn("connected already", self.type("--address x ping"))
        os.write(self.master, b"quit\r")
        self.assertEqual(p.wait(TIMEOUT), 0)
        # The item pushed in the session is seen from outside too.
        self.assertEqual(self.json("len", "iq"), 0)
        if with_libedit():
            with open(os.path.join(state["dir"], "history")) as f:
                hist = f.read()
            self.assertIn("peek iq 5", hist.replace("\\040", " "))

    @unittest.skipUnless(with_libedit(), "built without libedit")
    def test_tab_completes_commands_and_names(self):
        self.ok("new", "queue", "tabq.only")
        self.ok("push", "tabq.only", "5")
        p = self.start()
        self.until(b"agora> ")
        # "pe" is only peek, "tabq." only that queue.
        os.write(self.master, b"pe\ttabq.\t\r")
        # (The line editor redraws the line after "\r agora> ".)
        out = self.until(b"\nagora> ")
        self.assertIn("peek tabq.only", out)
        self.assertEqual(out.split("\n")[-2], "5")
        os.write(self.master, b"new barr\tct --parties 2\r")
        self.until(b"\nagora> ")
        os.write(self.master, b"quit\r")
        self.assertEqual(p.wait(TIMEOUT), 0)
        self.assertEqual(self.json("info", "ct")["type"], "barrier")

    def test_dash_i_and_exit(self):
        # (The end of input, Ctrl-D, is tested through a pipe below: on a
        # pty it races with the line editor taking the terminal over.)
        p = self.start("-i")
        self.until(b"agora> ")
        self.assertEqual(self.type("new list il"), "")
        os.write(self.master, b"exit\r")
        self.assertEqual(p.wait(TIMEOUT), 0)
        self.assertIn({"name": "il", "type": "list", "len": 0},
                      self.json("ls", "il"))

    def test_lines_from_a_pipe(self):
        """-i reads a script from a pipe, without a prompt, to its end."""
        script = "new dict pd\nset pd k 1\nbogus\nincr pd k\nget pd k\n"
        p = subprocess.run([AGORA, "-i"], input=script.encode(),
                           env=base_env(), capture_output=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.decode(), "2\n2\n")
        self.assertIn("unknown command", p.stderr.decode())


class Reconnect(Case):
    def test_a_session_outlives_a_restart_of_agorad(self):
        """-i: after agorad's restart on the same address, the session
        reconnects, says so, and runs the next line on the new server."""
        sock = os.path.join(state["dir"], "restarted")
        address = "unix:" + sock
        argv = [AGORAD, "--listen", address, "--authkey-file",
                state["keyfile"], "--auth-timeout", "120"]
        env = base_env()
        env["AGORA_ADDRESS"] = address

        def start():
            p = subprocess.Popen(argv, stdout=subprocess.PIPE)
            line = read_line(p, time.monotonic() + TIMEOUT)
            self.assertEqual(line.strip(), "agorad: listening on " + address)
            return p

        def stop(p):
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(TIMEOUT), 0)
            p.stdout.close()

        server = start()
        session = subprocess.Popen([AGORA, "-i"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env)
        try:
            session.stdin.write(b"new value before --initial 1\nget before\n")
            session.stdin.flush()
            self.assertEqual(read_line(session, time.monotonic() + TIMEOUT),
                             "1\n")
            stop(server)
            server = start()
            session.stdin.write(b"ls\nnew value after --initial 2\n"
                                b"get after\n")
            session.stdin.close()
            out = session.stdout.read().decode()
            err = session.stderr.read().decode()
            self.assertEqual(session.wait(TIMEOUT), 0)
            # The new server is empty: no "before", then "after".
            self.assertNotIn("before", out)
            self.assertTrue(out.endswith("2\n"), out)
            self.assertIn("reconnected to " + address, err)
            self.assertIn("a new agorad", err)
        finally:
            if session.poll() is None:
                session.kill()
                session.wait()
            for f in (session.stdout, session.stderr):
                f.close()
            stop(server)


class Users(Case):
    """--user and AGORA_USER against an agorad with --users."""

    @classmethod
    def setUpClass(cls):
        d = state["dir"]
        cls.keys = {}
        lines = []
        for name, rights in (("worker", "read,write,create names=jobs.*"),
                             ("monitor", "read")):
            path = os.path.join(d, name + ".key")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, secrets.token_bytes(32))
            os.close(fd)
            cls.keys[name] = path
            lines.append("%s key-file=%s.key rights=%s\n"
                         % (name, name, rights))
        users = os.path.join(d, "users")
        fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, "".join(lines).encode())
        os.close(fd)
        cls.address = "unix:" + os.path.join(d, "users.sock")
        cls.server = subprocess.Popen(
            [AGORAD, "--listen", cls.address, "--users", users,
             "--authkey-file", state["keyfile"], "--auth-timeout", "120"],
            stdout=subprocess.PIPE)
        line = read_line(cls.server, time.monotonic() + TIMEOUT)
        assert line.strip() == "agorad: listening on " + cls.address, line

    @classmethod
    def tearDownClass(cls):
        cls.server.send_signal(signal.SIGTERM)
        rc = cls.server.wait(TIMEOUT)
        cls.server.stdout.close()
        assert rc == 0, "agorad exited %d" % rc

    def env(self, user=None):
        e = {"AGORA_ADDRESS": self.address}
        if user is not None:
            e["AGORA_AUTHKEY_FILE"] = self.keys[user]
        return e

    def test_user_by_option_and_by_environment(self):
        self.ok("new", "list", "jobs.a", env=self.env())
        self.ok("new", "list", "other.b", env=self.env())
        out = self.ok("--user", "worker", "ls", env=self.env("worker"))
        self.assertIn("jobs.a", out)
        self.assertNotIn("other.b", out)
        env = self.env("monitor")
        env["AGORA_USER"] = "monitor"
        out = self.ok("ls", env=env)
        self.assertIn("other.b", out)
        err = self.fails(SERVER_ERROR, "push", "jobs.a", "1", env=env)
        self.assertIn("(DENIED)", err)
        self.assertIn("write", err)
        # --user goes before AGORA_USER
        self.ok("--user", "worker", "push", "jobs.a", "1",
                env=dict(env, AGORA_AUTHKEY_FILE=self.keys["worker"]))

    def test_unknown_user_and_wrong_key_are_exit_3(self):
        for user, key in (("nobody", "worker"), ("monitor", "worker")):
            err = self.fails(CONNECT, "--user", user, "ls",
                             env=self.env(key))
            self.assertIn('not user "%s"\'s, or agorad has no such user'
                          % user, err)

    def test_clients_shows_each_connections_user(self):
        env = base_env()
        env.update(self.env("worker"))
        p = subprocess.Popen([AGORA, "--user", "worker", "-i"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        try:
            # The session is connected once it answered a line.
            p.stdin.write(b"ping\n")
            p.stdin.flush()
            read_line(p, time.monotonic() + TIMEOUT)
            out = self.ok("clients", env=self.env()).splitlines()
            self.assertEqual(out[0].split()[:4],
                             ["ID", "STATE", "USER", "PEER"])
            rows = [l.split() for l in out[1:]]
            self.assertIn(["this", "-"], [r[1:3] for r in rows])
            self.assertIn(["ready", "worker"], [r[1:3] for r in rows])
            doc = self.json("clients", env=self.env())
            self.assertIn("worker", [c["user"] for c in doc])
        finally:
            p.stdin.close()
            self.assertEqual(p.wait(TIMEOUT), 0)
            p.stdout.close()
            p.stderr.close()

    def test_empty_user_is_a_usage_error(self):
        err = self.fails(USAGE, "--user", "", "ls", env=self.env("worker"))
        self.assertIn("1 to 64 bytes", err)


class Errors(Case):
    def test_wrong_key_is_exit_3(self):
        bad = os.path.join(state["dir"], "wrong-key")
        with open(bad, "w") as f:
            f.write(secrets.token_hex(16))
        err = self.fails(CONNECT, "--authkey-file", bad, "ping")
        self.assertIn("authkey", err)
        err = self.fails(CONNECT, "ping", env={"AGORA_AUTHKEY": "x" * 32},
                         drop_env=["AGORA_AUTHKEY_FILE"])
        self.assertIn("AGORA_AUTHKEY", err)

    def test_key_from_the_environment_or_the_option(self):
        self.ok("ping", env={"AGORA_AUTHKEY": state["key"]},
                drop_env=["AGORA_AUTHKEY_FILE"])
        self.ok("--authkey-file", state["keyfile"], "ping",
                drop_env=["AGORA_AUTHKEY_FILE"])
        self.ok("--address", state["address"], "ping", drop_env=["AGORA_ADDRESS"])

    def test_unreachable_server_is_exit_3(self):
        err = self.fails(CONNECT, "--address",
                         "unix:" + os.path.join(state["dir"], "none"), "ping")
        self.assertIn("cannot connect", err)
        self.fails(CONNECT, "ping", env={"AGORA_AUTHKEY_FILE":
                                         os.path.join(state["dir"], "no-key")})

    def test_bad_usage_is_exit_2(self):
        for args in ([], ["frob"], ["get"], ["ls", "a*", "extra"], ["--nope", "ls"],
                     ["set", "counter", "hello"], ["get", "arr", "x"],
                     ["ls", "--count", "2"], ["watch", "--interval", "0"],
                     ["set", "counter", "k", "1"], ["push", "counter", "1"],
                     ["get", "ev", "1"], ["--address"]):
            self.fails(USAGE, *args)
        err = self.fails(USAGE, "ping", drop_env=["AGORA_AUTHKEY_FILE"])
        self.assertIn("no authkey", err)
        err = self.fails(USAGE, "set", "counter", "hello")
        self.assertIn("not JSON", err)


class Topics(Case):
    """agora new topic, agora subscribe and agora publish."""

    def wait_subscribers(self, name, want):
        deadline = time.monotonic() + TIMEOUT
        while self.json("info", name)["subscribers"] != want:
            self.assertLess(time.monotonic(), deadline,
                            "%s never had %d subscribers" % (name, want))
            time.sleep(0.01)

    def test_subscribe_prints_each_message_until_interrupted(self):
        self.ok("new", "topic", "cli.news")
        self.assertEqual(self.ok("publish", "cli.news", "1"), "0\n")
        sub = subprocess.Popen([AGORA, "subscribe", "cli.news"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=base_env())
        try:
            self.wait_subscribers("cli.news", 1)
            msgs = ['{"a": [1, 2]}', '"hi"', "null", "3.5"]
            for m in msgs:
                self.assertEqual(self.ok("publish", "cli.news", m), "1\n")
            deadline = time.monotonic() + TIMEOUT
            for m in msgs:
                self.assertEqual(read_line(sub, deadline).strip(), m)
            sub.send_signal(signal.SIGTERM)
            self.assertEqual(sub.wait(TIMEOUT), OK)
            self.assertEqual(sub.stdout.read(), b"")
            self.assertEqual(sub.stderr.read(), b"")
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait()
            sub.stdout.close()
            sub.stderr.close()
        self.wait_subscribers("cli.news", 0)

    def test_missing_topic_other_type_and_bad_message(self):
        err = self.fails(SERVER_ERROR, "publish", "cli.nothing", "1")
        self.assertIn('no topic named "cli.nothing"', err)
        err = self.fails(SERVER_ERROR, "subscribe", "cli.nothing")
        self.assertIn('no topic named "cli.nothing"', err)
        self.ok("new", "queue", "cli.notatopic")
        err = self.fails(SERVER_ERROR, "publish", "cli.notatopic", "1")
        self.assertIn("is not a topic", err)
        self.ok("new", "topic", "cli.t2")
        err = self.fails(USAGE, "publish", "cli.t2", "notjson")
        self.assertIn("not JSON", err)
        self.assertEqual(self.json("info", "cli.t2")["published"], 0)


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout,
                                                     verbosity=2))
