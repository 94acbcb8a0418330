"""Run a child process tree and measure it: wall time, CPU time, peak RSS.

Peak RSS comes two ways, both stdlib: `ru_maxrss` from os.wait4 (the largest single
process of the tree, as the kernel saw it) and a sampler that sums the RSS of the whole
tree from /proc every SAMPLE_S (catches concurrent workers; misses spikes shorter than
the interval). Linux only for the sampler; elsewhere it reports None.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_S = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _pss(pid: int) -> int:
    """Proportional set size: shared pages (mmapped index files) split between sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_memory(pid: int) -> tuple[int, int] | None:
    """Sum RSS and PSS of `pid` and all its descendants, in bytes.

    The RSS sum counts a page shared by several processes (the same index file mapped by
    every gunicorn worker) once per process; the PSS sum counts it once in all.
    """
    if not os.path.isdir("/proc"):
        return None
    kids = _children()
    rss, pss, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        pss += _pss(p)
        todo.extend(kids.get(p, ()))
    return rss, pss


def tree_rss(pid: int) -> int | None:
    """Sum the resident memory of `pid` and all its descendants, in bytes."""
    mem = tree_memory(pid)
    return None if mem is None else mem[0]


def stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Ask a server to stop (SIGTERM: gunicorn then stops its workers); kill it when it has
    not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class TreeSampler:
    """Background thread recording the peak summed RSS of a process tree."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak: int | None = None
        self.peak_pss: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            mem = tree_memory(self.pid)
            if mem is not None and mem[0] > 0:
                self.peak = max(self.peak or 0, mem[0])
                self.peak_pss = max(self.peak_pss or 0, mem[1])
            self._stop.wait(SAMPLE_S)


@dataclass(frozen=True)
class ChildUsage:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the child and its waited-for descendants
    maxrss_bytes: int  # largest single process (ru_maxrss)
    tree_peak_bytes: int | None  # sampled sum over the tree
    tree_pss_peak_bytes: int | None  # the same as proportional set size


def run_child(
    argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, log: Path | None = None
) -> ChildUsage:
    """Run `argv` to completion and return its resource usage."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # closed below
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=out)
        with TreeSampler(proc.pid) as sampler:
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return ChildUsage(
        proc.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * scale,
        sampler.peak,
        sampler.peak_pss,
    )
