"""Downloads from misbehaving servers on 127.0.0.1: a response cut off mid-body (chunked or
with a Content-Length), a server trickling a byte at a time and one sending bytes without end
each fail that mirror with a clear reason, and the next mirror is tried."""
from __future__ import annotations

import hashlib
import http.server
import time

import pytest

from cnnspec.data.download import download
from cnnspec.errors import RunError

BODY = bytes(range(256)) * 64  # 16 KiB
DIGEST = hashlib.sha256(BODY).hexdigest()


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """Serves BODY the way the server's ``mode`` says."""

    mode = "good"

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            self._respond()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on it, as the tests of a trickle or a deadline want

    def _respond(self):
        self.send_response(200)
        if self.mode == "chunked-cut":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = BODY[:len(BODY) // 2]
            self.wfile.write(f"{len(BODY):x}\r\n".encode() + half)  # a chunk, left unfinished
        elif self.mode == "length-cut":
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:1000])
        elif self.mode == "endless":  # no Content-Length: bytes until the client hangs up
            self.end_headers()
            while True:
                self.wfile.write(BODY)
        elif self.mode == "trickle":
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            for byte in BODY:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.02)
        else:
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        self.close_connection = True


@pytest.fixture
def server(serve_handler):
    """Start a server of one mode; returns its base URL. Stopped after the test."""
    return lambda mode: serve_handler(type(f"Handler_{mode}", (Misbehaving,), {"mode": mode}))


@pytest.mark.parametrize("mode", ["chunked-cut", "length-cut"])
def test_a_response_cut_off_mid_body_moves_on_to_the_next_mirror(tmp_path, server, mode):
    path = download("f.bin", DIGEST, [server(mode), server("good")], tmp_path, timeout=5)
    assert path.read_bytes() == BODY
    with pytest.raises(RunError, match="cut off after") as info:
        download("g.bin", DIGEST, [server(mode)], tmp_path / "alone", timeout=5)
    assert "Traceback" not in info.value.message
    assert list((tmp_path / "alone").iterdir()) == []  # no partial file


def test_a_trickling_server_is_given_up_at_the_deadline(tmp_path, server):
    started = time.monotonic()
    path = download("f.bin", DIGEST, [server("trickle"), server("good")], tmp_path,
                    timeout=5, deadline=0.5)
    assert path.read_bytes() == BODY
    # Each read got a byte well within the 5 s timeout; only the deadline stopped a transfer
    # that would have taken 16384 x 0.02 s = 5.5 minutes.
    assert time.monotonic() - started < 60
    with pytest.raises(RunError, match="not complete by the deadline"):
        download("g.bin", DIGEST, [server("trickle")], tmp_path / "alone", timeout=5,
                 deadline=0.3)


def test_a_mirror_sending_more_than_the_files_size_is_cut_off_there(tmp_path, server):
    """A mirror that never ends its response (a misconfigured CNNSPEC_MNIST_MIRROR, file:///dev/zero
    or a server streaming without end) was read until the 600 s deadline, the temporary file
    growing as fast as the disk took it: where the file's size is known, a response is cut off
    as soon as it passes it, and the next mirror is tried."""
    path = download("f.bin", DIGEST, [server("endless"), server("good")], tmp_path, timeout=5,
                    size=len(BODY))
    assert path.read_bytes() == BODY
    with pytest.raises(RunError, match=f"longer than the file's published {len(BODY):,} bytes"):
        download("g.bin", DIGEST, [server("endless")], tmp_path / "alone", timeout=5,
                 size=len(BODY))
    assert list((tmp_path / "alone").iterdir()) == []  # no partial file
