"""A test run without an optional package (PyTorch, onnx) ends by saying which of its tests were
skipped and how to run them (tests/conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def summary_without(package: str, tests: str, tmp_path) -> str:
    """The summary line a run of the test module ``tests`` ends with when ``package`` cannot
    be imported (a stand-in that raises, first on the path: as if it were not installed)."""
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{package}'\", name='{package}')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(TESTS / tests)],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 5, done.stdout + done.stderr  # 5: every test skipped
    return next(text for text in done.stdout.strip().splitlines()
                if " is not installed: " in text)


def test_a_run_without_torch_says_what_was_skipped(tmp_path):
    line = summary_without("torch", "test_torch_crosscheck.py", tmp_path)
    assert line.startswith("PyTorch is not installed")
    assert "1 whole module(s): test_torch_crosscheck.py" in line
    assert "-m pip install torch==" in line  # the version constraints.txt pins, CI's


def test_a_run_without_onnx_says_what_was_skipped(tmp_path):
    line = summary_without("onnx", "test_export_onnx.py", tmp_path)
    assert line.startswith("ONNX is not installed")
    assert "1 whole module(s): test_export_onnx.py" in line
    assert "-m pip install onnx onnxruntime" in line
