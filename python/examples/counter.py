"""A shared counter: ten workers each add 1 a hundred times, under a Lock,
so no increment is lost: the count is exactly 1000.

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
from multiprocessing import Process

from agora import Manager


def increment(counter, lock):
    for _ in range(100):
        with lock:
            counter.value += 1


if __name__ == "__main__":
    with Manager() as manager:
        counter = manager.Value("i", 0)
        lock = manager.Lock()
        workers = [Process(target=increment, args=(counter, lock))
                   for _ in range(10)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
        print("counter:", counter.value)
