"""The tuned convolution's thresholds: measured quickly, kept once per machine, the first
writer's file used by everyone, and fallback constants where measuring or keeping fails."""
import json
import time

import pytest

from cnnspec.engine import calibrate
from cnnspec.engine.blas import blas_threads


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CNNSPEC_CALIBRATE", raising=False)
    calibrate.thresholds.cache_clear()
    yield tmp_path
    calibrate.thresholds.cache_clear()


def test_measuring_is_fast_and_picks_a_candidate():
    with blas_threads(1):
        start = time.perf_counter()
        found = calibrate.measure()
        assert time.perf_counter() - start < 0.3
    assert found.chunk_columns in calibrate.COLUMN_CANDIDATES
    assert found.chunk_bytes >= 2 ** 15 and found.source == "measured"


def test_the_smallest_candidate_within_ten_percent_of_the_fastest_wins():
    assert calibrate.choose_columns({512: 2.0, 1024: 1.09, 2048: 1.0, 4096: 1.05}) == 1024
    assert calibrate.choose_columns({512: 2.0, 1024: 1.11, 2048: 1.0, 4096: 1.05}) == 2048


def test_measured_once_then_read_from_the_machines_file(cache_home, monkeypatch):
    first = calibrate.thresholds()
    assert first.source == "cached"  # what the file holds, even for the process that wrote it
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    record = json.loads(path.read_text())
    assert record["key"] == calibrate.machine_key()
    assert (record["chunk_bytes"], record["chunk_columns"]) == (first.chunk_bytes,
                                                                first.chunk_columns)
    monkeypatch.setattr(calibrate, "measure", lambda: pytest.fail("measured twice"))
    calibrate.thresholds.cache_clear()
    assert calibrate.thresholds() == first


def test_the_first_writers_values_win(cache_home, monkeypatch):
    """Another process wrote its file between this one's look and its write: this one uses
    that file, not its own measurement, so both run with the same chunks."""
    theirs = calibrate.Thresholds(2 ** 19, 1024, "measured")
    ours = calibrate.Thresholds(2 ** 20, 8192, "measured")

    def measure():
        calibrate._write_once(calibrate._cache_path(), theirs)  # the other process
        return ours

    monkeypatch.setattr(calibrate, "measure", measure)
    found = calibrate.thresholds()
    assert (found.chunk_bytes, found.chunk_columns) == (2 ** 19, 1024)
    assert not list((cache_home / "cnnspec").glob(".*"))  # no temporary file left


def test_a_file_from_before_the_cap_is_read_capped(cache_home, monkeypatch):
    """A file measured on a core with a larger L2 cache, before chunks were capped: its
    chunks are read as at most MAX_CHUNK_BYTES, the size check's memory estimate counts."""
    larger = calibrate.Thresholds(3 * calibrate.MAX_CHUNK_BYTES, 1024, "measured")
    monkeypatch.setattr(calibrate, "measure", lambda: larger)
    found = calibrate.thresholds()
    assert (found.chunk_bytes, found.chunk_columns) == (calibrate.MAX_CHUNK_BYTES, 1024)


def test_switched_off_or_unwritable_means_the_fallback_constants(cache_home, monkeypatch):
    monkeypatch.setenv("CNNSPEC_CALIBRATE", "0")
    assert calibrate.thresholds() == calibrate.Thresholds()
    monkeypatch.delenv("CNNSPEC_CALIBRATE")
    calibrate.thresholds.cache_clear()
    (cache_home / "cnnspec").write_text("a file where the folder should be")
    assert calibrate.thresholds() == calibrate.Thresholds(2 * 2 ** 20, 2048, "fallback")


def test_a_damaged_file_is_not_trusted(cache_home):
    calibrate.thresholds()
    (path,) = (cache_home / "cnnspec").glob("engine-thresholds-*.json")
    path.write_text("{not json")
    calibrate.thresholds.cache_clear()
    assert calibrate.thresholds() == calibrate.Thresholds()


@pytest.mark.parametrize("text", [
    '{"chunk_bytes": 1e400, "chunk_columns": 2048}',  # infinity: no int
    '{"chunk_bytes": 1048576, "chunk_columns": 1e400}',
    "[" * 100_000,  # deeper than json's recursion
    '{"chunk_bytes": 0, "chunk_columns": 2048}',
    '{"chunk_bytes": -5, "chunk_columns": 2048}',
    '{"chunk_bytes": 1048576, "chunk_columns": 0}',
    '{"chunk_bytes": 1048576, "chunk_columns": 99999999999999999999}',
    '{"chunk_bytes": true, "chunk_columns": 2048}',
    '{"chunk_bytes": "1048576", "chunk_columns": 2048}',
    '{"chunk_bytes": 1048576.5, "chunk_columns": 2048}',
    '{"chunk_bytes": 1048576, "chunk_columns": 2048.0}',
])
def test_a_file_with_values_measure_could_not_have_written_is_not_trusted(cache_home, text):
    path = calibrate._cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert calibrate.thresholds() == calibrate.Thresholds()


def test_machine_facts():
    assert calibrate.cpu_model()
    size = calibrate.l2_cache_bytes()
    assert size is None or 2 ** 15 <= size <= 2 ** 30
