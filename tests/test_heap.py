"""cnnspec.engine.heap: a training step's large arrays are served again from the heap at the
next step, not as fresh pages from the system, each of which is a page fault when written.

Counted in page faults (getrusage), not in time: a second array of a freed one's size, written
whole, faults on almost none of its pages once the thresholds are fixed, and on most of them
without (glibc then maps it afresh). Each case runs in a process of its own, whose heap no
other test has shaped."""
import subprocess
import sys

import pytest

from cnnspec.engine import heap

PROBE = """
import resource, sys
import numpy as np
from cnnspec.engine import heap
if sys.argv[1] == "fixed":
    assert heap.keep_arrays_for_reuse()
size = 24 << 20  # under heap.MMAP_THRESHOLD, past glibc's own first thresholds
def faults_of_a_written_array():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    array = np.empty(size, np.uint8)
    array.fill(1)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del array
    return faults
faults_of_a_written_array()  # the first is new memory either way
print(faults_of_a_written_array())
"""

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="the C library is not glibc")


def _second_array_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_a_freed_arrays_pages_serve_the_next_array_once_the_thresholds_are_fixed():
    pages = (24 << 20) // 4096
    fixed = _second_array_faults("fixed")
    assert fixed < pages // 20
    # glibc's own: the freed array went back to the system and the next is mapped afresh
    # (485 faults here: huge pages, where the system gives them, take 512 small ones each)
    plain = _second_array_faults("plain")
    assert plain > max(10 * fixed, 50)


def test_the_thresholds_are_fixed_when_a_model_is_built():
    """Every process that trains builds a model first: the engine's Model fixes them (once)."""
    import cnnspec
    from cnnspec.check.checker import check
    from cnnspec.lang import parse

    spec = check(parse("model m\ninput 1x8x8\nconv 2 3x3\nflatten\ndense 10\n"))
    heap.keep_arrays_for_reuse.cache_clear()
    cnnspec.compile(spec, seed=0)
    assert heap.keep_arrays_for_reuse.cache_info().currsize == 1
