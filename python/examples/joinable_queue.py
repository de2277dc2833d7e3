"""Producer/consumer with a JoinableQueue: each eater calls task_done()
for every item, and q.join() returns once all of them are done.

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
import time
from multiprocessing import Process

from agora import Manager


def producer(q, food):
    for i in range(3):
        time.sleep(0.002)
        q.put("%s%d" % (food, i))


def consumer(q, eaten):
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            break
        time.sleep(0.005)  # eating takes a while
        eaten.append(item)
        q.task_done()  # tells q.join() this item is done


if __name__ == "__main__":
    with Manager() as manager:
        q = manager.JoinableQueue()
        eaten = manager.list()
        cooks = [Process(target=producer, args=(q, food))
                 for food in ("bun", "soup", "pork")]
        eaters = [Process(target=consumer, args=(q, eaten)) for _ in range(2)]
        for p in cooks + eaters:
            p.start()
        for p in cooks:
            p.join()
        q.join()  # every item put so far has been eaten
        print("done at join:", len(eaten))
        for _ in eaters:
            q.put(None)
        for p in eaters:
            p.join()
        print("eaten:", sorted(eaten))
