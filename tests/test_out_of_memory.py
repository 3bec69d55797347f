"""Memory: ``check`` holds a spec to the memory this process may use (a limit on the process
or its control group, not only the machine's memory)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cnnspec.check import memory

# 811 MiB to train (summary's "Training process memory"): more than a 600 MiB limit holds
HEAVY = """model heavy
input 1x8x8
conv 256 3x3 pad same relu
conv 256 3x3 pad same relu
flatten
dense 10
train {
  data digits
  batch 1024
  epochs 1
}
"""


def _check_under_address_limit(path, limit: int | None) -> subprocess.CompletedProcess:
    def limited():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))

    return subprocess.run([sys.executable, "-m", "cnnspec", "check", str(path)],
                          check=False, capture_output=True, text=True, timeout=120,
                          preexec_fn=limited if limit else None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ulimit -v as Linux has it")
def test_check_refuses_a_spec_beyond_the_address_space_limit_of_its_process(tmp_path):
    """Under `ulimit -v` train's allocations fail however much memory the machine has: check
    refuses what the limit cannot hold, naming the limit."""
    if (memory.machine_memory() or 0) < 4 << 30:
        pytest.skip("the spec must fit this machine's memory without the limit")
    path = tmp_path / "heavy.cnn"
    path.write_text(HEAVY)
    assert _check_under_address_limit(path, None).returncode == 0
    limited = _check_under_address_limit(path, 600 << 20)
    assert limited.returncode == 2, limited.stderr
    assert "heavy.cnn:4:1: error: training would need up to about" in limited.stderr
    assert "more than the 600.0 MiB this process may use (its `ulimit -v`)" in limited.stderr


def test_a_control_group_memory_limit_is_the_lowest_of_its_group_and_those_above(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/box/job\n")
    (tmp_path / "box" / "job").mkdir(parents=True)
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "box" / "memory.max").write_text(f"{3 << 30}\n")
    (tmp_path / "box" / "job" / "memory.max").write_text("max\n")
    assert memory._cgroup_limit(proc, tmp_path) == 3 << 30
    (tmp_path / "box" / "memory.max").write_text("max\n")
    assert memory._cgroup_limit(proc, tmp_path) is None


def test_a_cgroup_v1_memory_limit_counts_and_its_unlimited_value_does_not(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("5:cpu,cpuacct:/x\n4:memory:/x\n0::/\n")
    (tmp_path / "memory" / "x").mkdir(parents=True)
    unlimited = tmp_path / "memory" / "x" / "memory.limit_in_bytes"
    unlimited.write_text("9223372036854771712\n")
    assert memory._cgroup_limit(proc, tmp_path) is None
    unlimited.write_text(f"{1 << 30}\n")
    assert memory._cgroup_limit(proc, tmp_path) == 1 << 30


def test_a_limit_is_named_where_it_is_lower_than_the_machine(monkeypatch):
    machine = (64 << 30, "this machine's {} of memory")
    cgroup = (2 << 30, "the {} its control group may use (a container's limit)")
    monkeypatch.setattr(memory, "_memory_limits", lambda: [machine, cgroup])
    assert memory.machine_memory() == 2 << 30
    assert memory.room_text(2 << 30) == "the 2.0 GiB its control group may use (a container's limit)"
    monkeypatch.setattr(memory, "_memory_limits", lambda: [machine])
    assert memory.room_text(64 << 30) == "this machine's 64.0 GiB of memory"
