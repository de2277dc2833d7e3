"""The package installs with pip from python/pyproject.toml, and the
installed copy talks to a server.

What a user does (``pip install ./python``), into a temporary --target
instead of the system (no venv, no network: --no-deps, --no-index,
--no-build-isolation use the setuptools already installed). Skipped, with
the reason, where pip or setuptools is missing (Debian: python3-pip,
python3-setuptools).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)

import agora  # noqa: E402  (conftest put python/ on sys.path)


def _have(module: str) -> bool:
    r = subprocess.run([sys.executable, "-c", "import " + module],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
    return r.returncode == 0


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="agora-pkg-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_pip_install_then_use(server, tmp):
    for module, deb in (("pip", "python3-pip"),
                        ("setuptools", "python3-setuptools")):
        if not _have(module):
            pytest.skip("%s cannot import %s (Debian: apt-get install %s)"
                        % (sys.executable, module, deb))
    # A copy of what pip reads, so the build leaves nothing in python/.
    src = os.path.join(tmp, "src")
    os.mkdir(src)
    shutil.copy(os.path.join(PYDIR, "pyproject.toml"), src)
    shutil.copytree(os.path.join(PYDIR, "agora"), os.path.join(src, "agora"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    site = os.path.join(tmp, "site")
    pip_env = dict(os.environ)
    pip_env.pop("PYTHONPATH", None)  # pip sees the copy only
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
         "--no-build-isolation", "--no-compile",
         "--disable-pip-version-check", "--target", site, src],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp,
        env=pip_env, timeout=300)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "pip install failed:\n" + out
    dist = glob.glob(os.path.join(site, "agora-*.dist-info"))
    assert [os.path.basename(d) for d in dist] == \
        ["agora-%s.dist-info" % agora.__version__]
    with open(os.path.join(dist[0], "METADATA")) as f:
        meta = f.read()
    assert "Requires-Dist: msgpack" in meta
    assert "Requires-Python: >=3.9" in meta

    # The installed copy, alone on the path, in a fresh interpreter.
    code = (
        "import agora, sys\n"
        "assert agora.__file__.startswith(sys.argv[1]), agora.__file__\n"
        "c = agora.connect(sys.argv[2])\n"
        "d = c.dict('installed')\n"
        "d['k'] = [1, 2.5, 'three', b'4']\n"
        "print(agora.__version__, d['k'])\n")
    env = dict(os.environ, PYTHONPATH=site, AGORA_AUTHKEY_FILE=server.keyfile)
    env.pop("AGORA_AUTHKEY", None)
    r = subprocess.run([sys.executable, "-c", code, site, server.address],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=tmp, env=env, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout.decode().split("\n")[0] == \
        "%s [1, 2.5, 'three', b'4']" % agora.__version__
    # and the server holds what it wrote
    c = server.client()
    try:
        assert c.dict("installed")["k"] == [1, 2.5, "three", b"4"]
    finally:
        c.close()


def test_the_package_has_the_project_version():
    # one version for agorad, libagora and the package: meson.build's
    import re
    import agora
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
        m = re.search(r"^\s*version\s*:\s*'([^']+)'", f.read(), re.M)
    assert m, "no version in meson.build"
    assert agora.__version__ == m.group(1)
