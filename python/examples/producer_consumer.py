"""Producer/consumer through a shared queue: three cooks put buns, two
eaters take them until a None tells each to stop.

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
import os
import time
from multiprocessing import Process

from agora import Manager


def producer(q, food):
    for i in range(5):
        time.sleep(0.002)
        q.put("%s%d" % (food, i))


def consumer(q, eaten):
    while True:
        item = q.get()
        if item is None:  # the sentinel: no more food
            break
        eaten.append(item)
        print("%s ate %s" % (os.getpid(), item))


if __name__ == "__main__":
    with Manager() as manager:
        q = manager.Queue()
        eaten = manager.list()
        cooks = [Process(target=producer, args=(q, food))
                 for food in ("bun", "soup", "pork")]
        eaters = [Process(target=consumer, args=(q, eaten)) for _ in range(2)]
        for p in cooks + eaters:
            p.start()
        for p in cooks:
            p.join()
        for _ in eaters:  # one sentinel per eater
            q.put(None)
        for p in eaters:
            p.join()
        print("eaten:", sorted(eaten))
