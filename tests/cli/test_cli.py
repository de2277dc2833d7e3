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
    p = subprocess.run([AGORA, *args], env=e, capture_output=True,
                       timeout=TIMEOUT)
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
        self.assertEqual(out[0].split(), ["ID", "STATE", "PEER", "AGE", "IDLE",
                                          "HANDLES", "PARKED", "HOLDS"])
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


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout,
                                                     verbosity=2))
