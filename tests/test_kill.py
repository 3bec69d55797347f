"""SIGKILL a real training process at random moments (some inside a file write) and resume
it each time: it must end bitwise as an uninterrupted run (tools/kill_test.py;
docs/measurements.md gives the 20-kill figures). Ctrl-C at random moments of each command must
print no traceback (tools/interrupt_test.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "kill_test.py"


@pytest.mark.slow
def test_runs_killed_at_random_moments_resume_to_the_uninterrupted_result(tmp_path):
    done = subprocess.run([sys.executable, str(TOOL), "--kills", "4", "--seed", "1",
                           "--work", str(tmp_path)], check=False, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kills (1 inside a file write)" in done.stdout
    assert "ended bitwise as the uninterrupted run" in done.stdout


INTERRUPT_TOOL = TOOL.with_name("interrupt_test.py")


@pytest.mark.slow
def test_ctrl_c_at_random_moments_of_each_command_prints_no_traceback(tmp_path):
    """Ctrl-C (SIGINT to the process group) at random moments of check, export, import,
    diagram and train (tools/interrupt_test.py): each ends interrupted in one line, or as it
    would have, never with a traceback of its own."""
    done = subprocess.run([sys.executable, str(INTERRUPT_TOOL), "--interrupts", "4",
                           "--seed", "1", "--work", str(tmp_path)], check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("s uninterrupted; exit codes") == 5
    assert "no traceback from a command" in done.stdout
