"""A command's wall time and its own peak memory. Measured through a small launcher: a child forked straight
from a bench process that holds large arrays (a scene it just built) inherits that process's resident size in
its peak (Linux keeps the high-water mark across fork and exec), which would overstate the run's peak."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import List, Tuple

_LAUNCHER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
             "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
             "sys.exit(code)")


def run_measured(cmd: List[str], cwd) -> Tuple[float, float, int, str]:
    """(seconds, peak RSS MB, exit code, stderr without the launcher's line) of `cmd`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = done.stderr.splitlines()
    peak_kb = next((int(line.split()[1]) for line in reversed(lines) if line.startswith("peak_kb ")), 0)
    return seconds, peak_kb / 1024, done.returncode, "\n".join(ln for ln in lines if not ln.startswith("peak_kb "))
