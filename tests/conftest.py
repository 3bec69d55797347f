"""Specs shared by the training, evaluation and lab tests (each trains in well under a second,
so tests can train them freely), a local HTTP server for the download tests, and
tools/fuzz.py as a module."""
from __future__ import annotations

import atexit
import http.server
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import threading
from functools import partial
from pathlib import Path

import pytest

# The tests press Ctrl-C (SIGINT) in this process and in the commands they start. A shell
# starting the suite as a background job has SIGINT ignored, which Python then leaves alone
# and child processes inherit: Ctrl-C is taken back here, for this process and its children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The suite's own cache folder, which the commands it starts inherit: the engine's thresholds
# measured on first use while tests load the machine would otherwise be kept as the user's for
# good, and a cache the user has would spare the suite the first use it tests.
_CACHE_HOME = tempfile.mkdtemp(prefix="cnnspec-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME
atexit.register(shutil.rmtree, _CACHE_HOME, ignore_errors=True)

# Two classes of 8x8 synthetic shapes: small enough that a run takes a fraction of a second,
# distinct enough that two epochs learn them.
TINY_SHAPES = """\
model tiny
input 1x8x8
conv1: conv 4 3x3 pad same relu
pool1: maxpool 2
flatten
fc: dense 2

train {
  data shapes(size=8, classes=[x, plus], count=240)
  preprocess standardize
  lr 0.05
  batch 16
  epochs 2
  seed 3
}
"""

# One conv layer on the built-in digits: what the lab's init variants are tried on.
TINY_DIGITS = """\
model tiny
input 1x8x8
conv 4 3x3 relu
flatten
dense 10
train {
  data digits
  epochs 1
  batch 64
  lr 0.05
}
"""


@pytest.fixture(scope="session")
def tiny_shapes_text() -> str:
    """The source of the tiny two-class shapes spec (for fixtures wider than one test)."""
    return TINY_SHAPES


@pytest.fixture
def tiny_shapes_spec(tmp_path) -> Path:
    """``tmp_path/tiny.cnn``: the tiny two-class shapes spec."""
    path = tmp_path / "tiny.cnn"
    path.write_text(TINY_SHAPES)
    return path


@pytest.fixture
def tiny_digits_spec(tmp_path) -> Path:
    """``tmp_path/tiny.cnn``: one conv layer on the built-in digits."""
    path = tmp_path / "tiny.cnn"
    path.write_text(TINY_DIGITS)
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# How the program is named in the commands its hints suggest when it was started from an
# environment that is not activated (`make run`'s `.venv/bin/cnnspec`, not on PATH).
VENV_PROGRAM = ".venv/bin/cnnspec"


@pytest.fixture(autouse=True)
def cnnspec_on_path(monkeypatch) -> None:
    """The tests call the command line in this process, and the commands its hints suggest
    start with ``cnnspec`` only where that name is on PATH (:func:`cnnspec.cli.invoked_as`):
    with the venv not activated (`make test` runs `.venv/bin/python`) they would read
    ``.venv/bin/python -m cnnspec``. Every test sees ``cnnspec`` on PATH, other programs as
    they are; :func:`started_from_venv` takes it away."""
    import shutil

    found = shutil.which
    monkeypatch.setattr(shutil, "which", lambda program, *args, **kwargs: (
        "cnnspec" if program == "cnnspec" else found(program, *args, **kwargs)))


@pytest.fixture
def started_from_venv(monkeypatch) -> str:
    """The command line started as ``.venv/bin/cnnspec`` with no ``cnnspec`` on PATH: the
    commands a hint suggests must then start with that path (``cnnspec train`` would be
    'command not found'). Returns the program as the hints name it."""
    from cnnspec import cli

    monkeypatch.setattr(sys, "argv", [VENV_PROGRAM])
    monkeypatch.setattr(cli.shutil, "which", lambda program: None)
    return VENV_PROGRAM


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """``$XDG_CACHE_HOME`` at ``tmp_path`` with calibration on: a machine's thresholds file
    of its own, read afresh in the test and forgotten after it."""
    from cnnspec.engine import calibrate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CNNSPEC_CALIBRATE", raising=False)
    calibrate.thresholds.cache_clear()
    yield tmp_path
    calibrate.thresholds.cache_clear()


@pytest.fixture
def serve_handler():
    """Start a threaded HTTP server on 127.0.0.1 for a request handler class; returns its base
    URL. Every server started is stopped after the test."""
    servers = []

    def start(handler):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def serve(serve_handler):
    """Start a server for a folder; returns its base URL. Stopped after the test."""
    return lambda folder: serve_handler(partial(QuietHandler, directory=str(folder)))


# The optional packages some tests need: (what a summary calls it, the word its skip reasons
# name, what was skipped, how to install it into the test environment: a function of the
# interpreter). PyTorch's version is the one constraints.txt pins (CI's).
OPTIONAL = [
    ("PyTorch", "torch", "the cross-checks against it",
     lambda python: f"{python} -m pip install {_tested('torch')}"),
    ("ONNX", "onnx", "the ONNX export's checks (onnx and onnxruntime)",
     lambda python: f"{python} -m pip install onnx onnxruntime"),
    ("Keras", "keras", "the Keras importer's checks against models real Keras builds",
     lambda python: f"{python} -m pip install {_tested('keras')}"),
    ("Dask distributed", "distributed", "the sweeps' tests on a real cluster",
     lambda python: f"{python} -m pip install 'dask[distributed]'"),
]


def _skipped_for(terminalreporter, word: str) -> list:
    """The skip reports (tests, or whole modules skipped at collection) whose reason names
    the package ``word``."""
    found = []
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        if word in reason:
            found.append(report)
    return found


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say at the end of the run which optional package's tests did not run, and how to run
    them: otherwise a run without PyTorch looks as thorough as one with it."""
    for name, word, what_skipped, install in OPTIONAL:
        skipped = _skipped_for(terminalreporter, word)
        if not skipped:
            continue
        modules = sorted({Path(report.location[0] if report.location else report.nodeid).name
                          for report in skipped} - {""})
        whole = sum(1 for report in skipped if report.when == "collect")
        tests = len(skipped) - whole
        what = ", ".join(filter(None, [f"{tests} test(s)" if tests else "",
                                        f"{whole} whole module(s)" if whole else ""]))
        terminalreporter.write_line(
            f"{name} is not installed: {what_skipped} were skipped ({what}: "
            f"{', '.join(modules)}); to run them, install it into the test environment "
            f"(`{install(_interpreter())}`) and run the tests again", yellow=True)


def _tested(package: str) -> str:
    """The version of ``package`` the tests were written against, as constraints.txt pins it
    (the version CI installs): another PyTorch may differ in the last bits the cross-checks'
    tolerances allow, another Keras write its JSON otherwise."""
    constraints = Path(__file__).resolve().parent.parent / "constraints.txt"
    for line in constraints.read_text().splitlines():
        if line.startswith(f"{package}=="):
            return line.strip()
    return package


def _interpreter() -> str:
    """The Python running the tests, as a user would type it here (.venv/bin/python)."""
    path = Path(sys.executable)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_shapes_text):
    """A run folder of the tiny shapes spec (one epoch), an input image for it, and the spec
    it was trained from (the command-line tests' RUN and INPUT; never changed)."""
    import numpy as np

    from cnnspec.cli import main

    folder = tmp_path_factory.mktemp("trained")
    spec = folder / "tiny.cnn"
    spec.write_text(tiny_shapes_text.replace("epochs 2", "epochs 1"))
    assert main(["train", str(spec), "--out", str(folder / "run"), "--quiet"]) == 0
    np.save(folder / "input.npy", np.zeros((1, 8, 8), dtype=np.float32))
    return {"spec": str(spec), "run": str(folder / "run"), "input": str(folder / "input.npy")}


def _tool(name: str):
    """The script tools/``name``.py as a module (a script, not part of the package), named in
    sys.modules while a test holds it (dataclasses look their module up)."""
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"cnnspec_{name}_tool", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fuzz():
    """tools/fuzz.py as a module: the fuzz tests run its mutations, the memory tests its
    measured training step."""
    module = _tool("fuzz")
    yield module
    del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def bench():
    """tools/bench.py as a module, which imports its sibling scripts (nets.py,
    profile_engine.py) as a script does: from the tools folder, on the path while it loads."""
    tools = str(Path(__file__).resolve().parent.parent / "tools")
    sys.path.insert(0, tools)
    try:
        module = _tool("bench")
    finally:
        sys.path.remove(tools)
    yield module
    del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def quality():
    """tools/quality.py as a module: the quality bars README's table quotes."""
    module = _tool("quality")
    yield module
    del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def doc_images():
    """tools/doc_images.py as a module: the list of the pictures the docs ship."""
    module = _tool("doc_images")
    yield module
    del sys.modules[module.__name__]
