"""A program run by test_py39.py under the oldest Python the package
supports: the Manager with fork and spawn children, named objects, the
errors. Prints "py39 smoke: ok" when every check held."""
import multiprocessing as mp
import os
import queue
import sys

import agora


def worker(d, l, q, lock, v):
    d[os.getpid()] = os.getppid()
    l.append(os.getpid())
    with lock:
        v.add(1)
    q.put(("done", os.getpid()))


def main() -> None:
    assert sys.version_info[:2] == (3, 9), sys.version
    for method in ("fork", "spawn"):
        ctx = mp.get_context(method)
        with agora.Manager() as m:
            d, l, q = m.dict(), m.list(), m.Queue()
            lock, v = m.Lock(), m.Value("i", 0)
            ps = [ctx.Process(target=worker, args=(d, l, q, lock, v))
                  for _ in range(3)]
            for p in ps:
                p.start()
            got = sorted(q.get(timeout=30)[1] for _ in ps)
            for p in ps:
                p.join(30)
                assert p.exitcode == 0, (method, p.exitcode)
            assert got == sorted(p.pid for p in ps), (method, got)
            assert sorted(d.keys()) == got and sorted(l) == got
            assert v.value == 3
            try:
                d["missing"]
            except KeyError as e:
                assert e.args[0] == "missing"
            else:
                raise AssertionError("no KeyError")
            try:
                q.get(timeout=0.01)
            except queue.Empty:
                pass
            else:
                raise AssertionError("no queue.Empty")
            named = agora.connect(m.address, m.authkey).dict("results")
            named["x"] = [1, 2.5, "s", b"b", {"k": None}]
            assert m.client.dict("results")["x"] == \
                [1, 2.5, "s", b"b", {"k": None}]
    print("py39 smoke: ok")


if __name__ == "__main__":
    main()
