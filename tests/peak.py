"""The peak resident memory of a whole command, for the tests that hold a process to check's
figure of it."""
from __future__ import annotations

import subprocess
import sys

# Runs the command as a child and prints the child's peak resident memory: getrusage's maxrss
# of the children, which this small parent does not raise (it keeps the parent's peak across
# exec).
PEAK_OF_CHILD = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if done.returncode:
    sys.exit(done.stdout + done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def peak_of(command: list[str]) -> int:
    """The peak resident memory of a process running ``command``."""
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, *command],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])
