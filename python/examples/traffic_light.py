"""The traffic light: cars wait at the red light (an Event not set) and
go when the light turns green (the Event set).

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
import time
from multiprocessing import Process

from agora import Manager


def car(e, n, waiting, log):
    if not e.is_set():
        log.append("car%d waits at red" % n)
        waiting.append(n)
        e.wait()
    log.append("car%d goes" % n)


def traffic_light(e, waiting, log, cars):
    # Red until every car is queued, then green after a short interval.
    while len(waiting) < cars:
        time.sleep(0.005)
    time.sleep(0.01)
    log.append("green")
    e.set()


if __name__ == "__main__":
    with Manager() as manager:
        e = manager.Event()
        waiting = manager.list()
        log = manager.list()
        cars = [Process(target=car, args=(e, n, waiting, log))
                for n in range(5)]
        for p in cars:
            p.start()
        light = Process(target=traffic_light, args=(e, waiting, log, 5))
        light.start()
        for p in cars + [light]:
            p.join()
        print("log:", list(log))
