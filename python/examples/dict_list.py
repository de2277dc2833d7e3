"""Ten workers each write d[pid] = ppid and l.append(pid) into a shared
dict and list; the parent prints both.

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
import os
from multiprocessing import Process

from agora import Manager


def work(d, l):
    # Each worker records itself: its pid and its parent's.
    d[os.getpid()] = os.getppid()
    l.append(os.getpid())


if __name__ == "__main__":
    with Manager() as manager:
        d = manager.dict()
        l = manager.list()
        workers = [Process(target=work, args=(d, l)) for _ in range(10)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
        print("parent:", os.getpid())
        print("dict:", dict(d))
        print("list:", list(l))
