"""The engine's matrix products run on one BLAS thread whichever Python thread calls them.

OpenBLAS's pthreads build has one process-wide thread count, and threadpoolctl (3.8) lets only
the first Python thread that set it change it again: the engine, trained in a thread after the
main thread had trained, ran its products on every core while its own two threads ran too.
These tests record the count each forward and backward sees, in every thread that runs a part.
"""
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from overlap import read_after_the_first_left
from threadpoolctl import threadpool_limits

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine import blas
from cnnspec.engine import model as model_module
from cnnspec.lang import parse

pytestmark = pytest.mark.skipif(not blas.available(), reason="no BLAS library to control")

NET = """model t
input 1x8x8
c1: conv 4 3x3 pad same relu
p: maxpool 2
f: flatten
fc: dense 10
"""


def _step(model, x, y):
    out = model.forward(x)
    _, dout = model.loss(out, y)
    model.backward(dout)


@pytest.fixture
def seen(monkeypatch):
    """(thread name, pass, BLAS thread count) of every forward and backward of a batch part."""
    records = []
    forward, backward = model_module.Model._forward, model_module.Model._backward

    def recording_forward(self, x):
        records.append((threading.current_thread().name, "forward", blas.get_threads()))
        return forward(self, x)

    def recording_backward(self, dout, fused, input_grad):
        records.append((threading.current_thread().name, "backward", blas.get_threads()))
        return backward(self, dout, fused, input_grad)

    monkeypatch.setattr(model_module.Model, "_forward", recording_forward)
    monkeypatch.setattr(model_module.Model, "_backward", recording_backward)
    return records


def _in_thread(fn):
    """``fn()`` in a new thread named ``user-thread`` (its error raised here)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="user-thread") as pool:
        pool.submit(fn).result()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_thread_training_after_the_main_thread_runs_one_blas_thread(seen, threads):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 1, 8, 8)), rng.integers(0, 10, 32)
    model = compile_spec(check(parse(NET)), seed=0, dtype="float64")
    model.threads, model.parts_in = threads, "threads"  # the parts' threads are this test's
    with threadpool_limits(limits=2, user_api="blas"):  # the user's count: more than one
        _step(model, x, y)  # the main thread sets the count first
        _in_thread(lambda: _step(model, x, y))
        _in_thread(lambda: _step(model, x, y))
        assert blas.get_threads() == 2  # restored for the user's own NumPy work
    names = {name for name, _, _ in seen}
    assert any(name.startswith("user-thread") for name in names) and "MainThread" in names
    if threads == 2:
        assert any(name.startswith("cnnspec-part") for name in names)
    assert [record for record in seen if record[2] != 1] == []


def test_overlapping_holds_in_two_threads_keep_one_thread_until_the_last_leaves():
    with threadpool_limits(limits=2, user_api="blas"):
        assert read_after_the_first_left(lambda: blas.blas_threads(1), blas.get_threads) == 1
        assert blas.get_threads() == 2


def test_the_users_own_limits_still_work_after_the_engine_ran_in_a_thread():
    model = compile_spec(check(parse(NET)), seed=0, dtype="float64")
    x = np.zeros((4, 1, 8, 8))
    _in_thread(lambda: model.forward(x))
    with threadpool_limits(limits=1, user_api="blas"):
        assert blas.get_threads() == 1
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas.get_threads() == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_process_forked_inside_a_hold_starts_with_none():
    with threadpool_limits(limits=2, user_api="blas"), blas.blas_threads(1):
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child: its own hold sets and restores the count it inherited
            try:
                with blas.blas_threads(2):
                    inside = blas.get_threads()
                os.write(write, f"{inside} {blas.get_threads()}".encode())
            finally:
                os._exit(0)
        os.close(write)
        reported = os.read(read, 100).decode()
        os.close(read)
        os.waitpid(child, 0)
    assert reported == "2 1"


def test_the_blas_is_named_with_its_kernels_and_who_chose_them(monkeypatch):
    """A figure is read beside the kernels that ran it: OpenBLAS's own choice for the CPU,
    or the ones OPENBLAS_CORETYPE names (set on some machines for older builds' sake), which
    can give up half an AVX-512 core's peak. ``cnnspec time`` and tools/bench.py print it."""
    if not any(info.startswith("openblas ") for info in blas.library_names()):
        pytest.skip("NumPy's BLAS here is not OpenBLAS")
    monkeypatch.delenv(blas.CORETYPE_VARIABLE, raising=False)
    chosen = blas.blas_text()
    assert chosen.startswith("openblas ") and " kernels)" in chosen
    assert "OPENBLAS_CORETYPE" not in chosen
    monkeypatch.setenv(blas.CORETYPE_VARIABLE, "Haswell")
    assert blas.blas_text() == chosen.replace(
        " kernels)", " kernels, as OPENBLAS_CORETYPE=Haswell asks, not chosen for this CPU)")


def test_time_names_the_blas_in_text_and_json(tmp_path, capsys):
    from cnnspec.cli import main

    spec = tmp_path / "tiny.cnn"
    spec.write_text("model tiny\ninput 1x8x8\nconv 2 3x3\nflatten\ndense 10\n")
    assert main(["time", str(spec), "--iterations", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["blas"] == blas.blas_text()
