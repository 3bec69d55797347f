"""The peak memory of a whole command, for the tests that hold a process to check's figure of
it: the command's peak resident memory, plus the peak private memory of the worker processes
it forks (cnnspec.engine.processes runs parts of a split batch in them; their pages shared
with the command, such as the interpreter and the data set, are counted once, in its). Its
other children are not its workers: a program it runs (matplotlib runs fc-list to list the
fonts where its cache has none) shares the command's own memory between vfork and exec, where
/proc showed all of it private to the child, counted a second time (292 MiB measured against
192, once under load)."""
from __future__ import annotations

# Nothing of cnnspec or NumPy is imported here: run as a script, this module is the small
# parent peak_of measures through, and a parent's own peak would be counted in its child's
# (getrusage's maxrss is kept across fork and exec).
import os
import resource
import subprocess
import sys
import tempfile
import time


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
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


def is_worker(pid: int, prefix: str) -> bool:
    """Whether process ``pid`` is a worker of a split batch (named ``prefix`` and its part)."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().startswith(prefix)
    except OSError:
        return False


def private_bytes(pid: int) -> int:
    """The memory process ``pid`` holds alone (its private pages: a worker's include those it
    was forked with that the other process has written since), 0 once it has ended."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return 1024 * sum(int(line.split()[1]) for line in rollup
                              if line.startswith(("Private_Clean:", "Private_Dirty:")))
    except (OSError, ValueError):
        return 0


def peak_of(command: list[str]) -> int:
    """The peak memory of a process running ``command`` and of the workers it forks."""
    from cnnspec.engine.processes import WORKER_NAME

    # This file run as a script, in isolated mode (-I): the standard library alone, neither
    # the tests' folder nor the environment's paths on its sys.path.
    done = subprocess.run([sys.executable, "-I", __file__, WORKER_NAME.format(""), *command],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def main(prefix: str, command: list[str]) -> None:
    """Run ``command`` as a child and print its peak resident memory (getrusage's maxrss of
    the children, which this small parent does not raise) plus the most private memory its
    children named as workers (``prefix``) held at once, read from /proc every 10 ms; a
    command that fails ends this one with its output."""
    with tempfile.TemporaryFile("w+") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True)
        workers = 0
        while child.poll() is None:
            workers = max(workers, sum(private_bytes(pid) for pid in children_of(child.pid)
                                       if is_worker(pid, prefix)))
            time.sleep(0.01)
        if child.returncode:
            output.seek(0)
            sys.exit(output.read())
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 + workers)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
