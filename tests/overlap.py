"""Two threads holding one process-wide setting with overlapping holds, for the tests of the
engine's holds (BLAS threads, the switch interval)."""
from __future__ import annotations

import threading


def read_after_the_first_left(hold, read):
    """``read()`` inside the second of two overlapping ``hold()`` blocks, in two threads, after
    the first thread's block has closed."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with hold():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with hold():
            second_in.set()
            first_out.wait(10)
            seen.append(read())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen[0]
