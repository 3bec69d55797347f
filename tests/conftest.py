"""Specs shared by the training, evaluation and lab tests (each trains in well under a second,
so tests can train them freely), and a local HTTP server for the download tests."""
from __future__ import annotations

import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

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


@pytest.fixture
def serve():
    """Start a server for a folder; returns its base URL. Stopped after the test."""
    servers = []

    def start(folder):
        handler = partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
