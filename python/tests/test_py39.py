"""The package on Python 3.9, the oldest it supports, when this machine
has a 3.9 interpreter (AGORA_PYTHON39, python3.9 on PATH, or a pyenv
3.9); skipped, saying so, when it has none.

A 3.9 without its own msgpack gets Debian's msgpack package (the one
/usr/bin/python3 imports) through its pure-Python implementation
(MSGPACK_PUREPYTHON=1): the same package, no compiled part.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from typing import Optional

import msgpack
import pytest

from conftest import ROOT, agorad_path

HERE = os.path.dirname(os.path.abspath(__file__))


def python39() -> Optional[str]:
    cands = [os.environ.get("AGORA_PYTHON39")]
    cands += sorted(glob.glob(os.path.expanduser(
        "~/.pyenv/versions/3.9*/bin/python3.9")))
    cands.append(shutil.which("python3.9"))
    for c in cands:
        if not c or not os.access(c, os.X_OK):
            continue
        # a shim may stand there without an interpreter behind it
        r = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0 and r.stdout.strip() == "(3, 9)":
            return c
    return None


@pytest.fixture
def py39_env():
    exe = python39()
    if exe is None:
        pytest.skip("no Python 3.9 interpreter here (set AGORA_PYTHON39)")
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    tmp = tempfile.mkdtemp(prefix="agora-py39-")
    paths = [os.path.join(ROOT, "python"), HERE]
    if subprocess.run([exe, "-c", "import msgpack"], env=env,
                      capture_output=True).returncode != 0:
        os.symlink(os.path.dirname(msgpack.__file__),
                   os.path.join(tmp, "msgpack"))
        paths.insert(0, tmp)
        env["MSGPACK_PUREPYTHON"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["AGORAD"] = agorad_path()
    try:
        yield exe, env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_every_module_compiles_on_39(py39_env):
    exe, env = py39_env
    # compile() each file with 3.9's parser, writing nothing
    files = sorted(glob.glob(os.path.join(ROOT, "python", "agora", "*.py")))
    assert files
    code = ("import sys\n"
            "for f in sys.argv[1:]:\n"
            "    compile(open(f, encoding='utf-8').read(), f, 'exec')\n")
    r = subprocess.run([exe, "-c", code] + files, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_manager_fork_and_spawn_on_39(py39_env):
    exe, env = py39_env
    r = subprocess.run([exe, os.path.join(HERE, "py39_smoke.py")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "py39 smoke: ok" in r.stdout, \
        r.stdout + r.stderr
