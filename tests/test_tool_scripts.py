"""The measurement scripts of tools/ that no other test runs end to end, run at their smallest
sizes, so that a change to what they read breaks a test rather than the next measurement.
Their figures are the machine's and are not asserted; the lines that carry them are."""
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
SPECS = TOOLS.parent / "specs"


def _run(*args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_signal_spread_sets_the_estimate_beside_the_engine():
    out = _run(str(TOOLS / "signal_spread.py"), str(SPECS / "plain30.cnn"), "--seeds", "2",
               "--layers", "body_1")
    rows = [line.split() for line in out.splitlines() if line.startswith("body_1")]
    assert rows and all(len(row) == 7 for row in rows)
    assert all(float(value) > 0 for row in rows for value in row[1:5])


@pytest.mark.alone
def test_sweep_scaling_times_each_configuration():
    """Starts real Dask clusters of one and two workers on 127.0.0.1 (hence `alone`)."""
    pytest.importorskip("distributed")
    out = _run(str(TOOLS / "sweep_scaling.py"), "--rounds", "1", "--epochs", "1",
               "--seeds", "1", timeout=540)
    assert out.startswith("CPU: ")
    assert "4 cells: digits.cnn, --set init=he_normal,glorot_uniform --set lr=0.05,0.1" in out
    for name in ("in this process", "Dask, 1 worker", "Dask, 2 workers"):
        assert f"  round 1: {name}" in out and f"  {name}" in out.split("medians:")[1]
    assert "speed-up of 2 workers over 1: " in out
    assert "Dask's overhead per task (1 worker against this process): " in out
