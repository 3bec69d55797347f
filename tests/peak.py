"""The peak memory of a whole command, for the tests that hold a process to check's figure of
it: the command's peak resident memory, plus the peak private memory of the worker processes
it forks (cnnspec.engine.processes runs parts of a split batch in them; their pages shared
with the command, such as the interpreter and the data set, are counted once, in its)."""
from __future__ import annotations

import subprocess
import sys

# Runs the command as a child and prints the child's peak resident memory (getrusage's maxrss
# of the children, which this small parent does not raise: it keeps the parent's peak across
# exec) plus the most private memory its own children held at once, read from /proc every
# 10 ms.
PEAK_OF_CHILD = """
import os, resource, subprocess, sys, tempfile, time

def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found

def private_bytes(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return 1024 * sum(int(line.split()[1]) for line in rollup
                              if line.startswith(("Private_Clean:", "Private_Dirty:")))
    except (OSError, ValueError):
        return 0

with tempfile.TemporaryFile("w+") as output:
    child = subprocess.Popen(sys.argv[1:], stdout=output, stderr=subprocess.STDOUT, text=True)
    workers = 0
    while child.poll() is None:
        workers = max(workers, sum(private_bytes(pid) for pid in children_of(child.pid)))
        time.sleep(0.01)
    if child.returncode:
        output.seek(0)
        sys.exit(output.read())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 + workers)
"""


def peak_of(command: list[str]) -> int:
    """The peak memory of a process running ``command`` and of the workers it forks."""
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, *command],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])
