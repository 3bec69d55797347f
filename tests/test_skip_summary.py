"""A test run without PyTorch ends by saying that its cross-checks were skipped and how to run
them (tests/conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_a_run_without_torch_says_what_was_skipped(tmp_path):
    # A torch that cannot be imported, first on the path: as if it were not installed.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(TESTS / "test_torch_crosscheck.py")],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 5, done.stdout + done.stderr  # 5: every test skipped
    last = done.stdout.strip().splitlines()
    line = next(text for text in last if text.startswith("PyTorch is not installed"))
    assert "1 whole module(s): test_torch_crosscheck.py" in line
    assert "-m pip install torch==" in line  # the version constraints.txt pins, CI's
