"""The seeds' scenarios (python/examples) run as a user runs them: each
example in a process of its own, under the start methods fork and spawn,
its printed result checked as its user would check it. Two of them run
again with multiprocessing's Manager, the one import line changed, to show
that this line is the only difference.
"""
from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
EXAMPLES = os.path.join(PYTHON_DIR, "examples")
RUNNER = os.path.join(HERE, "run_example.py")
PYTHON = "/usr/bin/python3"
TIMEOUT = 60
AGORA_IMPORT = "from agora import Manager\n"
MP_IMPORT = "from multiprocessing import Manager\n"

NAMES = ["dict_list", "producer_consumer", "joinable_queue", "tickets",
         "semaphore", "traffic_light", "counter"]
METHODS = ["fork", "spawn"]


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [PYTHON_DIR] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                        if p])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    agorad = env.get("AGORAD")
    if agorad:  # the Manager finds the build's agorad on PATH
        env["PATH"] = os.path.dirname(os.path.abspath(agorad)) + \
            os.pathsep + env.get("PATH", "")
    return env


def run_example(path: str, method: str) -> Dict[str, Any]:
    """Run @path under @method; the values it printed as "label: value"
    lines, by label (the value read back with ast.literal_eval when it is
    a Python literal). Fails the test on a non-zero exit or a timeout."""
    proc = subprocess.Popen([PYTHON, RUNNER, method, path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # The example's workers are in its session: end them all.
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail("%s (%s) did not finish in %d s\nstdout:\n%s\nstderr:\n%s"
                    % (os.path.basename(path), method, TIMEOUT,
                       out.decode(errors="replace"),
                       err.decode(errors="replace")))
    finally:
        try:  # a worker left behind is killed too
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        pytest.fail("%s (%s) exited with %d\nstdout:\n%s\nstderr:\n%s"
                    % (os.path.basename(path), method, proc.returncode,
                       text, err.decode(errors="replace")))
    # A traceback in a worker does not change the parent's exit status.
    assert "Traceback" not in err.decode(errors="replace"), \
        err.decode(errors="replace")
    results: Dict[str, Any] = {}
    for line in text.splitlines():
        label, sep, value = line.partition(": ")
        if not sep:
            continue
        try:
            results[label] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            results[label] = value
    return results


# ---- what a user of each example checks ----------------------------------

def check_dict_list(r: Dict[str, Any]) -> None:
    d, l, parent = r["dict"], r["list"], r["parent"]
    assert len(l) == 10 and len(set(l)) == 10, l
    assert set(d) == set(l), (d, l)
    assert parent not in d
    assert all(ppid == parent for ppid in d.values()), (d, parent)


def _foods(names: List[str], n: int) -> List[str]:
    return sorted("%s%d" % (f, i) for f in names for i in range(n))


def check_producer_consumer(r: Dict[str, Any]) -> None:
    # Every item consumed once: none lost, none twice, no sentinel.
    assert r["eaten"] == _foods(["bun", "soup", "pork"], 5)


def check_joinable_queue(r: Dict[str, Any]) -> None:
    # q.join() returned only once all nine items were done.
    assert r["done at join"] == 9
    assert r["eaten"] == _foods(["bun", "soup", "pork"], 3)


def check_tickets(r: Dict[str, Any]) -> None:
    sold = r["sold"]
    assert r["left"] == 0
    tickets = [t for t, _ in sold]
    buyers = [b for _, b in sold]
    # Three tickets, each sold once, each to a different buyer; the
    # count seen never went below one (else the ticket would be 0 or less).
    assert sorted(tickets) == [1, 2, 3], sold
    assert len(set(buyers)) == 3, sold


def check_semaphore(r: Dict[str, Any]) -> None:
    seen = r["inside at each entry"]
    assert len(seen) == 12, seen
    assert max(seen) <= 3, seen
    assert r["most inside"] == max(seen)
    assert r["inside at the end"] == 0


def check_traffic_light(r: Dict[str, Any]) -> None:
    log = r["log"]
    assert log.count("green") == 1, log
    green = log.index("green")
    for n in range(5):
        # Each car waited at red, and went only after the light was green.
        assert log.index("car%d waits at red" % n) < green, log
        assert log.index("car%d goes" % n) > green, log
    assert len(log) == 11, log


def check_counter(r: Dict[str, Any]) -> None:
    assert r["counter"] == 1000


CHECKS = {name: globals()["check_" + name] for name in NAMES}


def test_every_example_is_tested() -> None:
    present = sorted(f[:-3] for f in os.listdir(EXAMPLES)
                     if f.endswith(".py"))
    assert present == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_imports_agora_manager(name: str) -> None:
    # The one line that makes it an Agora program.
    with open(os.path.join(EXAMPLES, name + ".py")) as f:
        lines = f.readlines()
    assert lines.count(AGORA_IMPORT) == 1
    assert not any("agora" in l for l in lines if l != AGORA_IMPORT
                   and l.startswith(("import", "from"))), lines


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", NAMES)
def test_example(name: str, method: str) -> None:
    CHECKS[name](run_example(os.path.join(EXAMPLES, name + ".py"), method))


@pytest.mark.parametrize("name,method", [("dict_list", "spawn"),
                                         ("counter", "fork")])
def test_example_with_multiprocessing_manager(name: str, method: str) -> None:
    # The same file with multiprocessing's import line passes the same
    # checks: that line is the only change.
    with open(os.path.join(EXAMPLES, name + ".py")) as f:
        src = f.read()
    assert src.count(AGORA_IMPORT) == 1
    with tempfile.TemporaryDirectory(prefix="agora-seeds-") as d:
        path = os.path.join(d, name + ".py")
        with open(path, "w") as f:
            f.write(src.replace(AGORA_IMPORT, MP_IMPORT))
        CHECKS[name](run_example(path, method))


def test_every_test_file_is_a_meson_test() -> None:
    # python/meson.build lists the test files by hand (one meson test
    # each): a file missing there would never run in scripts/test.sh.
    with open(os.path.join(PYTHON_DIR, "meson.build")) as f:
        listed = {line.strip()[2:].split("'")[0] for line in f
                  if line.strip().startswith("['test_")}
    present = {f[:-3] for f in os.listdir(HERE)
               if f.startswith("test_") and f.endswith(".py")}
    assert present - listed == set(), "not in python/meson.build"
