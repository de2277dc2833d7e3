"""The ticket rush: ten buyers look at the tickets left and buy one. The
Lock makes the look and the purchase one step, so no ticket is sold twice
and the count never goes below zero.

The same program as with multiprocessing.Manager: only the import of
Manager changes.
"""
import time
from multiprocessing import Process

from agora import Manager


def buy(i, db, mutex, sold):
    print("buyer %d sees %d tickets left" % (i, db["count"]))
    with mutex:
        left = db["count"]
        if left > 0:
            time.sleep(0.005)  # paying: without the lock, all see the same ticket
            db["count"] = left - 1
            sold.append([left, i])  # ticket number, buyer
            print("buyer %d got ticket %d" % (i, left))
        else:
            print("buyer %d found none" % i)


if __name__ == "__main__":
    with Manager() as manager:
        db = manager.dict()
        db["count"] = 3
        mutex = manager.Lock()
        sold = manager.list()
        buyers = [Process(target=buy, args=(i, db, mutex, sold))
                  for i in range(1, 11)]
        for p in buyers:
            p.start()
        for p in buyers:
            p.join()
        print("left:", db["count"])
        print("sold:", list(sold))
