"""Semaphore(3): twelve workers, at most three inside at a time. Each one
counts itself in and out of a shared Value and records how many were
inside when it entered.

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
import time
from multiprocessing import Process

from agora import Manager


def worker(sem, mutex, inside, seen, user):
    with sem:
        with mutex:
            inside.value += 1
            seen.append(inside.value)
        print("%s takes a seat" % user)
        time.sleep(0.02)
        with mutex:
            inside.value -= 1


if __name__ == "__main__":
    with Manager() as manager:
        sem = manager.Semaphore(3)
        mutex = manager.Lock()
        inside = manager.Value("i", 0)
        seen = manager.list()
        workers = [Process(target=worker,
                           args=(sem, mutex, inside, seen, "user%d" % i))
                   for i in range(12)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
        print("inside at each entry:", list(seen))
        print("most inside:", max(seen))
        print("inside at the end:", inside.value)
