"""Run an example program under a chosen start method, unchanged.

    run_example.py fork|spawn EXAMPLE.py

Sets multiprocessing's start method, then runs EXAMPLE.py as __main__
(runpy.run_path), so that spawned children re-import it by its path as
__mp_main__, as they would the script a user runs.
"""
import multiprocessing
import runpy
import sys

if __name__ == "__main__":
    method, path = sys.argv[1], sys.argv[2]
    multiprocessing.set_start_method(method)
    sys.argv = [path] + sys.argv[3:]
    runpy.run_path(path, run_name="__main__")
