"""While a batch runs as parts in threads, CPython's switch interval is the engine's
(cnnspec.engine.parallel.SWITCH_INTERVAL); before and after, the user's, whichever threads
hold it and however a part ends."""
import os
import sys
import threading

import numpy as np
import pytest
from overlap import read_after_the_first_left

from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine import model as model_module
from cnnspec.engine import parallel
from cnnspec.lang import parse

NET = "model t\ninput 1x8x8\nc: conv 2 3x3 relu\nf: flatten\nout: dense 10\n"
USERS = 0.004  # an interval of the user's, neither CPython's default nor the engine's


@pytest.fixture
def users_interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(USERS)
    yield
    sys.setswitchinterval(before)


def _model():
    model = compile_spec(check(parse(NET)), seed=0)
    model.threads, model.parts_in = 2, "threads"  # the interval is the threads' concern
    return model


def test_parts_run_with_the_engines_interval_and_the_users_comes_back(users_interval,
                                                                       monkeypatch):
    seen = []
    forward = model_module.Model._forward

    def recording_forward(self, x):
        seen.append((threading.current_thread().name, sys.getswitchinterval()))
        return forward(self, x)

    monkeypatch.setattr(model_module.Model, "_forward", recording_forward)
    model = _model()
    x = np.random.default_rng(0).standard_normal((32, 1, 8, 8)).astype(np.float32)
    _, dout = model.loss(model.forward(x), np.zeros(32, int))
    model.backward(dout)
    assert sorted(name.startswith("cnnspec-part") for name, _ in seen) == [False, True]
    assert [interval for _, interval in seen] == pytest.approx([parallel.SWITCH_INTERVAL] * 2)
    assert sys.getswitchinterval() == pytest.approx(USERS)


def test_a_failing_part_restores_the_users_interval(users_interval):
    with pytest.raises(RuntimeError), parallel.switch_interval(parallel.SWITCH_INTERVAL):
        raise RuntimeError("a part failed")
    assert sys.getswitchinterval() == pytest.approx(USERS)


def test_overlapping_holds_in_two_threads_keep_it_until_the_last_leaves(users_interval):
    seen = read_after_the_first_left(lambda: parallel.switch_interval(0.0005),
                                     sys.getswitchinterval)
    assert seen == pytest.approx(0.0005)
    assert sys.getswitchinterval() == pytest.approx(USERS)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_process_forked_inside_a_hold_gets_the_users_interval_back(users_interval):
    with parallel.switch_interval(0.0005):
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if the user's interval is back and no hold open
            ok = (abs(sys.getswitchinterval() - USERS) < 1e-9
                  and parallel._switch_holds.depth == 0)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sys.getswitchinterval() == pytest.approx(USERS)


@pytest.mark.parametrize("users", [0.007, 0.019997, 0.0123456])
def test_the_users_interval_comes_back_to_the_microsecond(users):
    """CPython reads 7 ms back as 0.006999999999999999, which set again is 6999 us: the
    interval the user had must come back exactly, not a microsecond shorter each time."""
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(users)
        theirs = sys.getswitchinterval()
        for _ in range(3):
            with parallel.switch_interval(parallel.SWITCH_INTERVAL):
                pass
        assert sys.getswitchinterval() == theirs
    finally:
        sys.setswitchinterval(before)


def test_an_interval_the_user_sets_during_a_step_stays(users_interval):
    """Another thread of the user's sets its own interval while a batch runs in parts: the
    end of the step must not put back the one from before the step over it."""
    with parallel.switch_interval(parallel.SWITCH_INTERVAL):
        sys.setswitchinterval(0.002)
    assert sys.getswitchinterval() == pytest.approx(0.002)
