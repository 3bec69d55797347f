"""The tuned convolution's thresholds: measured quickly, kept once per machine, the first
writer's file used by everyone, and fallback constants where measuring or keeping fails."""
import json
import math

import numpy as np
import pytest

from cnnspec.engine import calibrate, chunking, conv_tuned
from cnnspec.engine.blas import blas_threads


def timer(chunk_bytes, candidates):
    """A stand-in for conv_tuned.time_columns where the file's handling is under test: 1024
    columns the fastest, at once."""
    return {columns: 1.0 if columns == 1024 else 1.5 for columns in candidates}


def winograd_timer(candidates):
    """A stand-in for conv_tuned.time_winograd: the largest limit the fastest, by a little."""
    return {limit: 1.0 if limit == max(candidates) else 1.01 for limit in candidates}


def block_timer(candidates):
    """A stand-in for conv_tuned.time_blocks: the smallest limit the fastest (not the
    fallback's)."""
    return {limit: 1.0 if limit == min(candidates) else 1.2 for limit in candidates}


def test_measuring_picks_a_candidate_of_each_limit():
    with blas_threads(1):
        found = calibrate.measure(conv_tuned.time_columns, conv_tuned.time_winograd,
                                  conv_tuned.time_blocks)
    assert found.chunk_columns in chunking.COLUMN_CANDIDATES
    assert found.winograd_bytes in chunking.WINOGRAD_CANDIDATES
    assert found.block_bytes in chunking.BLOCK_CANDIDATES
    assert found.chunk_bytes >= 2 ** 15 and found.source == "measured"


def test_the_fastest_winograd_and_block_limits_win_however_close():
    """A Winograd chunk and a block hold a few MB at most: speed decides, not the 5% the
    column limit allows for a smaller chunk."""
    found = calibrate.measure(timer, winograd_timer, block_timer)
    assert found.winograd_bytes == max(chunking.WINOGRAD_CANDIDATES)
    assert found.block_bytes == min(chunking.BLOCK_CANDIDATES)
    assert found.chunk_columns == 1024


def test_measuring_times_each_limit_on_the_candidates_of_the_calibration_table(monkeypatch):
    """measure() reads which candidates each timer times, and which limit its winner sets,
    from chunking.CALIBRATION_TIMERS alone: narrowed there, each timer is given the narrowed
    candidates and its winner lands in its own limit."""
    given = {}

    def recording(name, stand_in):
        def timed(*args):
            given[name] = tuple(args[-1])
            return stand_in(*args)
        return timed

    table = tuple((name, layers, candidates[1:]) for name, layers, candidates
                  in chunking.CALIBRATION_TIMERS)
    monkeypatch.setattr(calibrate, "CALIBRATION_TIMERS", table)
    found = calibrate.measure(recording("chunk_columns", timer),
                              recording("winograd_bytes", winograd_timer),
                              recording("block_bytes", block_timer))
    assert given == {name: candidates for name, _, candidates in table}
    assert found.chunk_columns == 1024
    assert found.winograd_bytes == max(chunking.WINOGRAD_CANDIDATES)
    # the smallest candidate left in the table, not the smallest of all
    assert found.block_bytes == chunking.BLOCK_CANDIDATES[1]


def test_the_timer_gives_each_candidate_its_time_over_the_fastest():
    relative = conv_tuned.time_columns(2 ** 20, (1024, 4096), rounds=1)
    assert set(relative) == {1024, 4096}
    # each layer's fastest candidate scores 1 there, the other more: a mean of 1 or more,
    # finite (every candidate timed on every layer)
    assert all(1 <= value < math.inf for value in relative.values())
    assert conv_tuned._trial.limits is None  # the machine's limits again after timing


def test_the_winograd_timer_times_layers_that_run_by_winograd_with_each_limit(monkeypatch):
    chunks = []
    forward = conv_tuned.winograd.conv2d_forward

    def counted(x, w, b, win, work, relu, chunk_bytes, *rest):
        chunks.append(chunk_bytes)
        return forward(x, w, b, win, work, relu, chunk_bytes, *rest)

    monkeypatch.setattr(conv_tuned.winograd, "conv2d_forward", counted)
    relative = conv_tuned.time_winograd((2 ** 19, 2 ** 21), rounds=1)
    assert set(relative) == {2 ** 19, 2 ** 21}
    assert all(1 <= value < math.inf for value in relative.values())
    # every layer, every round (the untimed one too), each limit in turn
    layers = len(chunking.WINOGRAD_CALIBRATION_LAYERS)
    assert chunks == [2 ** 19, 2 ** 21] * 2 * layers
    assert conv_tuned._trial.limits is None


def test_the_block_timer_times_blocks_of_each_limit(monkeypatch):
    """At 64 images, LeNet-5's second layer multiplied by kernel rows in blocks as large as
    each limit allows (8 images a block under 256 KiB, the whole batch under 2 MiB), and its
    first layer's kept im2col chunks of 2 images built in groups as large (one chunk a group
    under 256 KiB, 13 under 2 MiB, by the fallback chunk and column limits)."""
    blocks, groups = [], []
    correlate = conv_tuned.row_taps.correlate
    monkeypatch.setattr(conv_tuned.row_taps, "correlate",
                        lambda xt, *args: blocks.append(xt.shape[-1]) or correlate(xt, *args))
    chunks = conv_tuned.im2col_chunks
    monkeypatch.setattr(conv_tuned, "im2col_chunks",
                        lambda xp, win, step, out: groups.append(len(out)) or chunks(xp, win,
                                                                                   step, out))
    relative = conv_tuned.time_blocks((2 ** 18, 2 ** 21), rounds=1)
    assert set(relative) == {2 ** 18, 2 ** 21}
    assert all(1 <= value < math.inf for value in relative.values())
    # every round (the untimed one too), each limit in turn
    assert chunking.BLOCK_CALIBRATION_LAYERS == ((64, 6, 16, 5, 14, 0), (64, 1, 6, 5, 28, 2))
    assert blocks == [8, 64] * 2
    assert groups == ([1] * 32 + [13, 13, 6]) * 2
    assert conv_tuned._trial.limits is None


def test_a_candidate_being_timed_holds_for_the_timing_thread_only():
    """A network another thread runs meanwhile (the batch halves of two cores) chunks by the
    machine's limits, never by a candidate."""
    import threading

    machine = conv_tuned.thresholds()
    candidate = calibrate.Thresholds(2 ** 16, 512, source="timed")
    seen = []
    conv_tuned._trial.limits = candidate
    try:
        assert conv_tuned.thresholds() is candidate
        other = threading.Thread(target=lambda: seen.append(conv_tuned.thresholds()))
        other.start()
        other.join()
    finally:
        conv_tuned._trial.limits = None
    assert seen == [machine] and conv_tuned.thresholds() is machine


def test_the_smallest_candidate_within_five_percent_of_the_best_wins():
    assert calibrate.choose_columns({512: 2.0, 1024: 1.04, 2048: 1.0, 4096: 1.03}) == 1024
    assert calibrate.choose_columns({512: 2.0, 1024: 1.06, 2048: 1.0, 4096: 1.03}) == 2048


def test_the_file_is_named_after_how_the_limits_were_timed():
    """A file an earlier way of timing wrote holds another measurement's choice: the key,
    whose digest names the file, says how the limits were timed."""
    assert calibrate.machine_key().endswith(f"calibration {chunking.CALIBRATION}")


def test_measured_once_then_read_from_the_machines_file(cache_home, monkeypatch):
    first = calibrate.thresholds(timer, winograd_timer, block_timer)
    assert first.source == "cached" and first.chunk_columns == 1024
    # what the file holds, even for the process that wrote it
    assert first.winograd_bytes == max(chunking.WINOGRAD_CANDIDATES)
    assert first.block_bytes == min(chunking.BLOCK_CANDIDATES)
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    record = json.loads(path.read_text())
    assert record["key"] == calibrate.machine_key()
    assert (record["chunk_bytes"], record["chunk_columns"], record["winograd_bytes"],
            record["block_bytes"]) == (first.chunk_bytes, first.chunk_columns,
                                         first.winograd_bytes, first.block_bytes)
    monkeypatch.setattr(calibrate, "measure", lambda *timers: pytest.fail("measured twice"))
    calibrate.thresholds.cache_clear()
    assert calibrate.thresholds(timer, winograd_timer, block_timer) == first


def test_the_first_writers_values_win(cache_home, monkeypatch):
    """Another process wrote its file between this one's look and its write: this one uses
    that file, not its own measurement, so both run with the same chunks."""
    theirs = calibrate.Thresholds(2 ** 19, 1024, 2 ** 19, 2 ** 18, "measured")
    ours = calibrate.Thresholds(2 ** 20, 8192, 2 ** 21, 2 ** 21, "measured")

    def measure(*timers):
        calibrate._write_once(calibrate._cache_path(), theirs)  # the other process
        return ours

    monkeypatch.setattr(calibrate, "measure", measure)
    found = calibrate.thresholds(timer, winograd_timer, block_timer)
    assert (found.chunk_bytes, found.chunk_columns, found.winograd_bytes,
            found.block_bytes) == (2 ** 19, 1024, 2 ** 19, 2 ** 18)
    assert not list((cache_home / "cnnspec").glob(".*"))  # no temporary file left


def test_a_file_from_before_the_cap_is_read_capped(cache_home, monkeypatch):
    """A file measured on a core with a larger L2 cache, before chunks were capped: its
    chunks are read as at most MAX_CHUNK_BYTES, the size check's memory estimate counts."""
    larger = calibrate.Thresholds(3 * calibrate.MAX_CHUNK_BYTES, 1024, source="measured")
    monkeypatch.setattr(calibrate, "measure", lambda *timers: larger)
    found = calibrate.thresholds(timer, winograd_timer, block_timer)
    assert (found.chunk_bytes, found.chunk_columns) == (calibrate.MAX_CHUNK_BYTES, 1024)


def test_switched_off_or_unwritable_means_the_fallback_constants(cache_home, monkeypatch):
    monkeypatch.setenv("CNNSPEC_CALIBRATE", "0")
    assert calibrate.thresholds(timer, winograd_timer, block_timer) == calibrate.Thresholds()
    monkeypatch.delenv("CNNSPEC_CALIBRATE")
    calibrate.thresholds.cache_clear()
    (cache_home / "cnnspec").write_text("a file where the folder should be")
    assert calibrate.thresholds(timer, winograd_timer, block_timer) == calibrate.Thresholds(
        2 * 2 ** 20, 2048, 2 ** 20, 2 ** 21, "fallback")


def test_a_damaged_file_is_not_trusted(cache_home):
    calibrate.thresholds(timer, winograd_timer, block_timer)
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    path.write_text("{not json")
    calibrate.thresholds.cache_clear()
    assert calibrate.thresholds(timer, winograd_timer, block_timer) == calibrate.Thresholds()


# A file measure could have written, as JSON text by field.
KEPT = {"chunk_bytes": "1048576", "chunk_columns": "2048", "winograd_bytes": "1048576",
        "block_bytes": "1048576"}


def kept_file(**changes: str | None) -> str:
    """The text of KEPT with the fields ``changes`` names given that JSON text (None: left
    out)."""
    fields = {**KEPT, **changes}
    return "{" + ", ".join(f'"{name}": {text}' for name, text in fields.items()
                           if text is not None) + "}"


@pytest.mark.parametrize("text", [
    kept_file(chunk_bytes="1e400"),  # infinity: no int
    kept_file(chunk_columns="1e400"),
    "[" * 100_000,  # deeper than json's recursion
    kept_file(chunk_bytes="0"),
    kept_file(chunk_bytes="-5"),
    kept_file(chunk_columns="0"),
    kept_file(chunk_columns="99999999999999999999"),
    kept_file(chunk_bytes="true"),
    kept_file(chunk_bytes='"1048576"'),
    kept_file(chunk_bytes="1048576.5"),
    kept_file(chunk_columns="2048.0"),
    kept_file(winograd_bytes=None),  # written before Winograd's limit
    kept_file(winograd_bytes="1000000"),
    kept_file(winograd_bytes="1048576.0"),
    kept_file(winograd_bytes="0"),
    kept_file(winograd_bytes="null"),
    kept_file(block_bytes=None),  # written before the block limit
    kept_file(block_bytes="1000000"),
    kept_file(block_bytes="1048576.0"),
    kept_file(block_bytes="true"),
    kept_file(block_bytes="null"),
])
def test_a_file_with_values_measure_could_not_have_written_is_not_trusted(cache_home, text):
    path = calibrate._cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert calibrate.thresholds(timer, winograd_timer, block_timer) == calibrate.Thresholds()


def test_a_file_measure_could_have_written_is_trusted(cache_home):
    """The cases above fail for the one value each changes, not for a missing field."""
    path = calibrate._cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(kept_file(winograd_bytes="524288", block_bytes="262144"))
    assert calibrate.thresholds(timer, winograd_timer, block_timer) == calibrate.Thresholds(
        2 ** 20, 2048, 2 ** 19, 2 ** 18, "cached")


def test_machine_facts():
    assert calibrate.cpu_model()
    size = calibrate.l2_cache_bytes()
    assert size is None or 2 ** 15 <= size <= 2 ** 30


CPUINFO = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
           "model name\t: AMD EPYC\nstepping\t: 1\n\nprocessor\t: 1\ncpu family\t: 26\n"
           "model\t\t: 2\nmodel name\t: Other\n")


def test_a_cpu_is_named_with_its_family_and_model_numbers():
    """A virtual machine's "AMD EPYC" names no generation; its numbers do (the first
    processor's: a later block is another core of the same CPU)."""
    assert chunking.cpu_model_in(CPUINFO) == "AMD EPYC (cpu family 25, model 17)"
    arm = "processor\t: 0\nBogoMIPS\t: 50.00\nmodel name\t: Neoverse-N1\n"
    assert chunking.cpu_model_in(arm) == "Neoverse-N1"
    with pytest.raises(ValueError, match="no model name"):
        chunking.cpu_model_in("processor\t: 0\nBogoMIPS\t: 50.00\n")


def test_two_generations_of_one_cpu_name_keep_thresholds_of_their_own(monkeypatch):
    """The thresholds are timed per generation: "AMD EPYC" of family 25 model 1 and model 17
    are kept under two keys."""
    monkeypatch.setattr(calibrate, "cpu_model", lambda: chunking.cpu_model_in(CPUINFO))
    zen4 = calibrate.machine_key()
    zen3 = CPUINFO.replace("model\t\t: 17", "model\t\t: 1", 1)
    monkeypatch.setattr(calibrate, "cpu_model", lambda: chunking.cpu_model_in(zen3))
    assert calibrate.machine_key() != zen4 and "model 1)" in calibrate.machine_key()


def slower_timer(chunk_bytes, candidates):
    """Another stand-in for conv_tuned.time_columns: 2048 columns the fastest."""
    return {columns: 1.0 if columns == 2048 else 1.5 for columns in candidates}


def test_recalibrating_replaces_the_kept_file(cache_home):
    """A first use kept 1024 columns; measured again, the file holds the new choice, this
    process chunks by it, and a later first use does not overwrite it."""
    first = calibrate.thresholds(timer, winograd_timer, block_timer)
    done = calibrate.recalibrate(slower_timer, winograd_timer, block_timer)
    assert done.old == first and done.old.chunk_columns == 1024
    assert done.new.chunk_columns == 2048 and done.new.source == "measured"
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    assert done.path == path
    assert json.loads(path.read_text())["chunk_columns"] == 2048
    assert not list((cache_home / "cnnspec").glob(".*"))  # no temporary file left
    # read afresh
    assert calibrate.thresholds(timer, winograd_timer, block_timer).chunk_columns == 2048
    calibrate._write_once(path, first)  # a first use elsewhere: the recalibrated file stands
    assert json.loads(path.read_text())["chunk_columns"] == 2048


def test_recalibrating_where_nothing_was_kept_says_so(cache_home):
    done = calibrate.recalibrate(timer, winograd_timer, block_timer)
    assert done.old is None and done.new.chunk_columns == 1024
    assert calibrate._read(done.path) == calibrate.Thresholds(
        done.new.chunk_bytes, 1024, max(chunking.WINOGRAD_CANDIDATES),
        min(chunking.BLOCK_CANDIDATES), "cached")


def test_recalibrating_with_calibration_off_is_a_setting_error(cache_home, monkeypatch):
    from cnnspec.errors import SettingError

    monkeypatch.setenv("CNNSPEC_CALIBRATE", "0")
    with pytest.raises(SettingError, match=r"switched off \(CNNSPEC_CALIBRATE=0\)") as raised:
        calibrate.recalibrate(timer, winograd_timer, block_timer)
    assert raised.value.invalid and "unset CNNSPEC_CALIBRATE" in raised.value.hint
    assert not (cache_home / "cnnspec").exists()


def test_recalibrating_into_a_file_where_the_folder_should_be_fails_before_timing(
        cache_home, monkeypatch):
    from cnnspec.errors import RunError

    (cache_home / "cnnspec").write_text("a file where the folder should be")
    monkeypatch.setattr(calibrate, "measure", lambda *timers: pytest.fail("timed in vain"))
    with pytest.raises(RunError, match="it is a file, not a folder") as raised:
        calibrate.recalibrate(timer, winograd_timer, block_timer)
    assert str(cache_home / "cnnspec") in raised.value.message
    assert "XDG_CACHE_HOME" in raised.value.hint
    assert (cache_home / "cnnspec").read_text() == "a file where the folder should be"


def test_recalibrating_where_the_file_cannot_be_replaced_keeps_it(cache_home, monkeypatch):
    """A write that fails (a full disk, say) leaves the kept file as it was."""
    import errno

    from cnnspec import atomic
    from cnnspec.errors import RunError

    calibrate.thresholds(timer, winograd_timer, block_timer)
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    kept = path.read_text()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full)
    with pytest.raises(RunError, match="No space left on device"):
        calibrate.recalibrate(slower_timer, winograd_timer, block_timer)
    assert path.read_text() == kept


def test_check_knows_whether_a_first_convolution_will_time_the_thresholds(cache_home,
                                                                           monkeypatch):
    """check (without NumPy) says a process calibrates exactly where the thresholds will be
    timed: no file, or a damaged one, or one of another CPU; not once they are kept, nor with
    calibration switched off."""
    assert chunking._installed_numpy_version() == np.__version__  # what the file's key says
    assert chunking.calibrates_on_first_use()
    calibrate.thresholds(timer, winograd_timer, block_timer)
    assert not chunking.calibrates_on_first_use()
    monkeypatch.setenv("CNNSPEC_CALIBRATE", "0")
    assert not chunking.calibrates_on_first_use()
    monkeypatch.delenv("CNNSPEC_CALIBRATE")
    with monkeypatch.context() as changed:
        changed.setattr(chunking, "_installed_numpy_version", lambda: None)
        assert chunking.calibrates_on_first_use()  # unknown: counted
    with monkeypatch.context() as changed:
        changed.setattr(chunking, "cpu_model", lambda: "Another CPU (cpu family 6, model 1)")
        assert chunking.calibrates_on_first_use()  # the file is another CPU's
    assert not chunking.calibrates_on_first_use()
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    path.write_text(path.read_text().replace('"chunk_columns": 1024', '"chunk_columns": 7'))
    assert chunking.calibrates_on_first_use()  # not trusted: timed again


def test_threads_meeting_their_first_convolution_at_once_time_the_thresholds_once(cache_home):
    """The parts of a split batch in threads: the second waits for the first's thresholds."""
    import threading
    import time

    timed = []

    def slow_timer(chunk_bytes, candidates):
        timed.append(threading.get_ident())
        time.sleep(0.2)
        return timer(chunk_bytes, candidates)

    found = []
    threads = [threading.Thread(target=lambda: found.append(
        calibrate.thresholds(slow_timer, winograd_timer, block_timer))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(timed) == 1 and found[0] is found[1]


def test_worker_processes_are_forked_after_the_thresholds_are_timed(cache_home, monkeypatch,
                                                                    tmp_path):
    """Each worker of a split batch would otherwise time them too, all at once."""
    import cnnspec
    from cnnspec.engine import processes

    if not processes.available():
        pytest.skip("worker processes need fork (Linux)")
    monkeypatch.setattr(conv_tuned, "time_columns", timer)
    monkeypatch.setattr(conv_tuned, "time_winograd", winograd_timer)
    monkeypatch.setattr(conv_tuned, "time_blocks", block_timer)
    spec = tmp_path / "split.cnn"
    spec.write_text("input 1x8x8\nconv 4 3x3\nflatten\ndense 10\n"
                    "train {\n  data digits\n  batch 32\n  cores 2\n}\n")
    model = cnnspec.compile(cnnspec.load(spec), seed=0)
    assert not list(cache_home.glob("cnnspec/engine-thresholds-*.json"))
    model.start_parts(32)
    try:
        assert list(cache_home.glob("cnnspec/engine-thresholds-*.json"))
    finally:
        model.release()
        model._parallel.close()
