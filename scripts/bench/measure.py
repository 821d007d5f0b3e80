"""What the bench sections' Python parts share: one command measured (wall time, the CPU of its processes)."""
import resource
import subprocess
import time


def measure(argv, stdin=None):
    """Runs argv (stdin from the file `stdin`, else nothing); returns the completed process, the wall seconds,
    the CPU seconds of the command's processes (rusage of children: not of servers it talks to), and the
    largest child's max RSS so far in MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    inp = open(stdin) if stdin else subprocess.DEVNULL
    proc = subprocess.run(argv, stdin=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stdin:
        inp.close()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu, after.ru_maxrss / 1024
