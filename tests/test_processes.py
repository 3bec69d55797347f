"""A batch's parts run in forked worker processes (cnnspec.engine.processes): the same bits as
the parts in threads, batch norm's sums included; errors, warnings and a killed worker reach
the parent as what they are, and the next step starts afresh; workers end with their model."""
import gc
import mmap
import multiprocessing
import os
import signal
import threading
import warnings

import numpy as np
import pytest
from test_resume import FAST, STEPS_PER_EPOCH, assert_same_run, spec_file
from test_split_batchnorm import RESNETISH, _steps  # a net with batch norms, training steps
from threadpoolctl import threadpool_limits

from cnnspec import resume, train
from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.engine import blas, processes
from cnnspec.errors import RunError
from cnnspec.lang import parse
from cnnspec.training.loop import Stopped

pytestmark = pytest.mark.skipif(not processes.available(),
                                reason="worker processes are forked on Linux only")

def _model(parts_in, threads=2, dtype="float64", text=RESNETISH):
    model = compile_spec(check(parse(text)), seed=0, dtype=dtype)
    model.threads, model.parts_in = threads, parts_in
    return model


def _batch(n=21, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 10, n)


def _workers(model):
    return [worker.process for worker in model._parallel._workers]


def _stepped():
    """A batch, and a model in processes that took a step on it, with its one worker."""
    x, y = _batch(32)
    model = _model("processes")
    _steps(model, x, y, steps=1)
    (worker,) = _workers(model)
    return x, y, model, worker


@pytest.mark.parametrize("threads,dtype", [(2, "float64"), (3, "float32")])
def test_processes_give_the_bits_of_threads(threads, dtype):
    x, y = _batch(21 if threads == 2 else 25)  # parts of 11 and 10; of 9, 8 and 8
    in_threads, in_processes = _model("threads", threads, dtype), _model("processes", threads,
                                                                         dtype)
    ours, theirs = _steps(in_processes, x, y, steps=3), _steps(in_threads, x, y, steps=3)
    assert in_processes._split and len(_workers(in_processes)) == threads - 1
    for mine, reference in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(mine, reference)
    for name, grad in theirs[2].items():
        np.testing.assert_array_equal(ours[2][name], grad, err_msg=name)
    for name, value in in_threads.state_dict().items():  # weights and running statistics
        np.testing.assert_array_equal(in_processes.state_dict()[name], value, err_msg=name)
    for model in (in_threads, in_processes):  # evaluation reads the running statistics
        model.eval()
    np.testing.assert_array_equal(in_processes.forward(x), in_threads.forward(x))


def test_weights_the_model_is_given_between_steps_reach_the_workers():
    x, y = _batch()
    model, reference = _model("processes"), _model("threads")
    _steps(model, x, y, steps=1)
    new = {name: np.full_like(value, 0.01) for name, value in model.state_dict().items()}
    for target in (model, reference):
        target.load_state_dict(new)
        target.nodes[0].layer.params["weight"] = np.ones_like(new["c1.weight"])  # rebound
    np.testing.assert_array_equal(_steps(model, x, y, steps=1)[0],
                                  _steps(reference, x, y, steps=1)[0])



def test_the_arrays_of_params_taken_before_the_workers_stay_the_models():
    """A training loop of the caller's own takes ``model.params()`` once and updates those
    arrays in place: the workers forked at the first split batch must not swap them for
    arrays of their own (the updates would then miss the model and its workers)."""
    x, y = _batch()
    model, reference = _model("processes"), _model("threads")
    for target in (model, reference):
        params = target.params()
        for _ in range(2):
            _, dout = target.loss(target.forward(x), y)
            target.backward(dout)
            for name, grad in target.grads().items():
                params[name] -= 0.1 * grad
        assert all(target.params()[name] is value for name, value in params.items())
    for name, value in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value, err_msg=name)

def test_an_error_in_the_first_part_stops_the_workers_waiting_for_it(monkeypatch):
    x, _, model, worker = _stepped()
    first = model._parallel.replicas[0]
    layer = next(node.layer for node in first.nodes if node.name == "c2")
    monkeypatch.setattr(layer, "forward", lambda xs, training: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        model.forward(x)
    assert not worker.is_alive()
    with pytest.raises(RunError, match="forward pass before this backward pass failed"):
        model.backward(np.ones((32, 10)))  # not half a batch's gradients, silently


@pytest.mark.parametrize("sent, said, hint", [
    (signal.SIGKILL, r"was killed by signal 9 \(SIGKILL\)", "out of memory"),
    (signal.SIGUSR1, r"was stopped by signal 10 \(SIGUSR1\)", "something outside cnnspec"),
])
def test_a_killed_worker_is_a_run_error_and_the_next_step_runs(sent, said, hint):
    x, y, model, worker = _stepped()
    os.kill(worker.pid, sent)
    worker.join()
    with pytest.raises(RunError, match="part 2 of the batch " + said) as info:
        _steps(model, x, y, steps=1)
    assert hint in info.value.hint
    reference = _model("threads")
    _steps(reference, x, y, steps=1)
    np.testing.assert_array_equal(_steps(model, x, y, steps=1)[0],
                                  _steps(reference, x, y, steps=1)[0])


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_a_worker_ignores_ctrl_c_and_sigterm_the_parent_decides(sent):
    x, y, model, worker = _stepped()
    os.kill(worker.pid, sent)
    _steps(model, x, y, steps=1)
    assert _workers(model) == [worker] and worker.is_alive()


def test_a_workers_warnings_are_warned_here_under_this_process_filters():
    text = RESNETISH.replace("c2: conv 4 3x3 pad same", "c2: conv 4 3x3 pad same\nt: tanh")
    model = _model("processes", dtype="float32", text=text)
    x, _ = _batch(32)
    x[16:] = 1e30  # only the worker's part overflows
    with pytest.warns(RuntimeWarning, match="overflow"):
        model.forward(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning, match="overflow"):
            model.forward(x)


def test_the_workers_end_with_their_model():
    _, _, model, worker = _stepped()
    del model
    gc.collect()
    worker.join(5)
    assert worker.exitcode == 0


def test_a_model_released_releases_its_workers_caches_and_goes_on():
    x, y, model, _ = _stepped()
    model.release()
    np.testing.assert_array_equal(_steps(model, x, y, steps=1)[0],
                                  _steps(_model("threads"), x, y, steps=2)[0])


def _train_in(parts_in):
    x, y = _batch(32)
    model = _model(parts_in)
    return type(model._data_parallel()).__name__, _steps(model, x, y, steps=1)[0]


def test_a_daemonic_process_runs_the_parts_in_threads():
    with multiprocessing.get_context("fork").Pool(1) as pool:  # its workers are daemonic
        runner, out = pool.apply(_train_in, ("processes",))
    assert runner == "DataParallel"
    np.testing.assert_array_equal(out, _train_in("threads")[1])


def test_a_python_without_memory_files_runs_the_parts_in_threads(monkeypatch):
    monkeypatch.delattr(os, "memfd_create")
    runner, out = _train_in("processes")
    assert runner == "DataParallel"
    np.testing.assert_array_equal(out, _train_in("threads")[1])


class _KillWorkerAt:
    """A step hook that kills the model's worker process after step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def __call__(self, step, model):
        if step == self.step:
            (worker,) = _workers(model)
            os.kill(worker.pid, signal.SIGKILL)
            worker.join()


def test_a_worker_killed_in_training_stops_it_at_its_checkpoint_and_resume_goes_on(tmp_path):
    spec = spec_file(tmp_path)  # batch 24: halves of 12
    straight = train(spec, run_dir=tmp_path / "straight", **FAST)
    with pytest.raises(Stopped,
                       match=r"killed by signal 9 \(SIGKILL\); the last checkpoint in .* is kept") \
            as info:
        train(spec, run_dir=tmp_path / "cut", on_step=_KillWorkerAt(STEPS_PER_EPOCH + 2), **FAST)
    assert "memory" in info.value.hint and "cnnspec.resume(" in info.value.hint
    assert_same_run(resume(tmp_path / "cut", **FAST), straight)


# A net with the pieces a split batch must get right: a conv with its ReLU fused, batch norms
# (sums across the parts), a residual sum and a softmax output (the loss's gradient starts
# below it).
MIXED = """model m
input 1x8x8
c1: conv 4 3x3 pad same relu
bn1: batchnorm relu
c2: conv 4 3x3 pad same
bn2: batchnorm
sum: add(c1, bn2)
g: global_avgpool
fc: dense 10
out: softmax
"""


def _random_calls(model, seed: int, calls: int = 60):
    """What ``model`` returns for a seeded random sequence of the calls a user makes: training
    and evaluation passes at batch sizes that split or not, backward with and without the
    input's gradient, the training loop's steps in one call, released caches, weights given
    anew, and SGD updates in place."""
    rng = np.random.default_rng(seed)
    seen = []
    for _ in range(calls):
        n = int(rng.choice([3, 15, 16, 17, 40]))
        x, y = rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 10, n)
        action = rng.choice(["step", "step", "one call", "eval", "release", "weights"])
        if action == "eval":
            model.eval()
            seen.append(model.forward(x))
            model.train()
        elif action == "release":
            model.release()
        elif action == "one call":  # the training loop's step
            model.train()
            loss, out = model.loss_and_grads(x, y)
            seen += [np.array(loss), out]
            for name, grad in model.grads().items():
                model.params()[name] -= 0.05 * grad
        elif action == "weights":
            state = model.state_dict()
            model.load_state_dict({k: v * 0.9 for k, v in state.items()})
        else:
            out = model.forward(x)
            _, dout = model.loss(out, y)
            seen.append(model.backward(dout, input_grad=bool(rng.integers(2))))
            for name, grad in model.grads().items():
                model.params()[name] -= 0.05 * grad
            seen.append(out)
    return seen + list(model.state_dict().values())


@pytest.mark.parametrize("seed", [0, 1])
def test_a_random_sequence_of_calls_gives_the_bits_of_threads(seed):
    model = _model("processes", text=MIXED)
    ours = _random_calls(model, seed)
    assert len(_workers(model)) == 1  # the batches that split ran there
    theirs = _random_calls(_model("threads", text=MIXED), seed)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        if reference is None:
            assert mine is None
        else:
            np.testing.assert_array_equal(mine, reference)


def test_a_sweep_cell_whose_worker_was_killed_fails_without_a_checkpoint_to_resume(
        monkeypatch, tmp_path):
    """A cell trains in a scratch folder that is deleted once it ends: its failure is the
    worker's, with no word of a checkpoint kept there."""
    from cnnspec.sweep import cells

    def stopped(*args, **kwargs):
        raise Stopped("the process running part 2 of the batch was killed by signal 9; the "
                      "last checkpoint in /tmp/x/run is kept", "continue with: ...",
                      reason="the process running part 2 of the batch was killed by signal 9")

    monkeypatch.setattr(cells, "train", stopped)
    ir = parse(spec_file(tmp_path).read_text()).ir
    result = cells.run_cell(cells.Task(cells.Cell((), 0, ir)))
    assert result.failed == "the process running part 2 of the batch was killed by signal 9"


# A process that trains with a worker and exits without freeing its model: its workers are
# stopped at exit, before multiprocessing's handler sends them the SIGTERM they ignore and
# waits.
EXITS = """
import numpy as np
from cnnspec.check.checker import check
from cnnspec.compiler import compile_spec
from cnnspec.lang import parse
model = compile_spec(check(parse("input 1x8x8\\nconv 4 3x3\\nflatten\\ndense 10\\n")), seed=0)
x = np.zeros((32, 1, 8, 8), np.float32)
_, dout = model.loss(model.forward(x), np.zeros(32, int))
model.backward(dout)
assert model._parallel._workers
"""


def test_a_process_with_a_worker_exits_without_waiting_for_it():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXITS], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr


_KEPT = []


def _step_and_keep_the_model():
    x, y = _batch(32)
    model = _model("processes")
    _steps(model, x, y, steps=1)
    _KEPT.append(model)  # alive, with its worker, as this process's target returns


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_process_multiprocessing_started_stops_its_workers_as_it_ends(method):
    """A pool's worker trains a sweep's cell: multiprocessing ends it by its own exit function
    (not at exit), which sends daemonic children SIGTERM and waits for them; a worker ignores
    SIGTERM, so the process must stop its workers first, or it waits for ever."""
    child = multiprocessing.get_context(method).Process(target=_step_and_keep_the_model)
    child.start()
    child.join(60)
    ended = child.exitcode is not None
    if not ended:
        child.kill()
    assert ended and child.exitcode == 0


def _echo(line, parents_end):
    parents_end.close()
    while line.poll(None):
        try:
            message = line.recv()
        except EOFError:
            return
        line.send(message)


def _echoing_line():
    context = multiprocessing.get_context("fork")
    ours, theirs = processes._Line.pair(context)
    child = context.Process(target=_echo, args=(theirs, ours), daemon=True)
    child.start()
    theirs.close()
    return ours, child


def test_a_line_carries_messages_larger_than_its_pipes_buffer_both_ways():
    """A message larger than the pipe's buffer is written only as the other end reads: the
    bell rings before the write, and the reader waits for the whole of it."""
    line, child = _echoing_line()
    large = np.random.default_rng(0).standard_normal(1 << 20)  # 8 MB, far past the buffer
    for message in (("x", large), ("small", 1), ("x", large[::-1].copy())):
        line.send(message)
        assert line.poll(30)
        kind, value = line.recv()
        assert kind == message[0]
        np.testing.assert_array_equal(value, message[1])
    line.hang_up()
    child.join(30)
    assert child.exitcode == 0


def test_a_line_reads_messages_sent_before_it_looked_one_by_one():
    line, child = _echoing_line()
    for number in range(3):
        line.send(number)
    answers = []
    for _ in range(3):
        assert line.poll(30)
        answers.append(line.recv())
    assert answers == [0, 1, 2]
    assert not line.poll(0.05)  # nothing more is coming: the bell and the pipe agree
    line.hang_up()
    child.join(30)


def _ends():
    """Both ends of a line, in this process: what one sends the other reads, in order."""
    return processes._Line.pair(multiprocessing.get_context("fork"))


def test_a_line_posts_what_fits_and_pipes_the_rest_in_order():
    ours, theirs = _ends()
    sums = np.arange(7, dtype=np.float64)
    grads = np.arange(12, dtype=np.float32).reshape(3, 4)
    too_large = np.zeros(processes._POST_BYTES // 8 + 1)
    ours.send(("sum", sums))  # the post
    ours.send(("busy", 1))  # the post holds a message not read yet: the pipe
    ours.send(("total", grads))
    assert theirs.conn.poll(0)
    for kind, sent in [("sum", sums), ("busy", 1), ("total", grads)]:
        assert theirs.poll(0)
        got = theirs.recv()
        assert got[0] == kind
        np.testing.assert_array_equal(got[1], sent, strict=True)  # dtype and shape too
    assert not theirs.conn.poll(0) and not theirs.poll(0.01)
    objects = np.array([None, "x"], dtype=object)  # pickled, not copied raw
    messages = [("done", (grads, sums[::2]), []), ("sum", np.ones((1,) * 6, np.int8)),
                ("total", too_large), ("error", objects), ("x", grads.astype(">f4")),
                ("done", (np.zeros((0, 3), np.float32), grads.T, np.bool_([1, 0])), [])]
    received = []
    for message in messages:
        # in a thread: a message larger than the pipe's buffer is written as it is read
        sender = threading.Thread(target=ours.send, args=(message,))
        sender.start()
        assert theirs.poll(30)
        piped = message[1] is too_large
        assert theirs.conn.poll(30 if piped else 0) == piped  # rung before the pipe's write
        received.append(theirs.recv())
        sender.join()
    assert theirs.poll(0) is False
    for message, got in zip(messages, received):  # the post written again since: copies
        assert repr(got) == repr(message)  # the same types, dtypes, shapes and numbers
        arrays = got[1] if isinstance(got[1], tuple) else (got[1],)
        assert all(array.flags.writeable for array in arrays)


def test_a_line_hung_up_ends_the_other_ends_wait_and_its_answers():
    ours, theirs = _ends()
    ours.send(("forward", 1))
    ours.hang_up()
    assert theirs.poll(1) and theirs.recv() == ("forward", 1)  # read before the end
    assert theirs.poll(None)  # woken by the hang-up, not after _POLL_SECONDS
    with pytest.raises(EOFError):
        theirs.recv()
    with pytest.raises(BrokenPipeError):
        theirs.send(("sum", np.zeros(3)))


def test_a_line_whose_other_end_closes_without_a_word_sees_the_end():
    """A worker killed rings no bell: the pipe's end is found when the bell's wait times out."""
    ours, theirs = _ends()
    theirs.close()
    assert ours.poll(0.01)
    with pytest.raises(EOFError):
        ours.recv()


def test_parts_larger_than_the_pipes_buffer_give_the_bits_of_threads():
    x, y = _batch(2048)  # parts of 1,024 images of 512 bytes: 512 KB, past the buffer
    in_threads, in_processes = _model("threads"), _model("processes")
    ours, theirs = _steps(in_processes, x, y, steps=2), _steps(in_threads, x, y, steps=2)
    for mine, reference in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(mine, reference)


def test_a_parts_input_reaches_its_worker_through_shared_memory_grown_as_parts_grow():
    """The forward command carries the part's shape and dtype, not its values; the memory is
    made anew only for a part larger than any before, and the worker reads the new one."""
    model, reference = _model("processes"), _model("threads")
    sent = []
    for n in (16, 40, 17, 40):  # parts of 8, 20, 8 (and 9), 20 images
        x, y = _batch(n, seed=n)
        np.testing.assert_array_equal(_steps(model, x, y, steps=1)[0],
                                      _steps(reference, x, y, steps=1)[0])
        (worker,) = model._parallel._workers
        if not sent:  # from the second batch on, every message to the worker is seen
            worker.line.send = _recording(worker.line.send, sent)
        sent.append(("size", len(worker.inbox._memory)))
    forwards = [message for message in sent if message[0] == "forward"]
    assert forwards and not any(isinstance(part, np.ndarray) for _, part, _ in forwards)
    assert [message for message in sent if message[0] in ("grown", "size")] == [
        ("size", 8 * 64 * 8), ("grown",), ("size", 20 * 64 * 8), ("size", 20 * 64 * 8),
        ("size", 20 * 64 * 8)]


def _recording(send, sent: list):
    """``send``, which first appends its message to ``sent``."""
    def recorded(message):
        sent.append(message)
        send(message)
    return recorded


@pytest.mark.skipif(not blas.available(), reason="no BLAS library to control")
def test_a_worker_forked_before_training_sets_its_blas_count_once_not_every_step(monkeypatch):
    """Forked by start_parts, outside a step's hold, a worker inherits the process's count
    (two here): it holds one thread for its life, so its commands' own holds change nothing."""
    changes = np.frombuffer(mmap.mmap(-1, 16), np.int64)  # shared: [this process, workers]
    parent, set_count = os.getpid(), blas._set

    def counted(library, n):
        changes[int(os.getpid() != parent)] += 1
        set_count(library, n)

    monkeypatch.setattr(blas, "_set", counted)  # the worker, forked later, inherits it
    x, y = _batch(32)
    model = _model("processes")
    with threadpool_limits(limits=2, user_api="blas"):
        model.start_parts(len(x))
        _steps(model, x, y, steps=3)
    assert changes[0] >= 3 * 4  # each forward and backward here: to one thread and back
    assert changes[1] == 1
