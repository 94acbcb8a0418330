"""Indexer jobs run at a lower CPU priority than the server (DATELINE_JOB_NICE).

The load test (`make loadtest`) showed why: on two cores a rebuild beside gunicorn
took the CPU the searches needed. A real `python -m indexer` process is started and
its nice value read from the kernel while it works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.jobfixtures import news_lines, write_lines

ROOT = Path(__file__).resolve().parents[1]


def _job(src: Path, ix: Path, nice: str, slow: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATELINE_JOB_NICE=nice, DATELINE_TEST_SLOW=str(slow))
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", "rebuild", str(src), "--index", str(ix),
         "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _nice_while_running(job: subprocess.Popen[bytes], ix: Path) -> int:
    """Wait until the job holds its lock (it is past start-up), then read its nice value."""
    deadline = time.monotonic() + 60
    while not (ix / "job.lock").exists():
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline, "the job never took its lock"
        time.sleep(0.05)
    return int(psutil.Process(job.pid).nice())


@pytest.mark.parametrize("nice", ["7", "0"])
def test_job_runs_at_the_configured_nice_value(tmp_path: Path, shared_data: Path, nice: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_lines(src / "a.jsonl", news_lines(shared_data, 20))
    base = os.nice(0)
    job = _job(src, tmp_path / "ix", nice, slow=0.05)
    try:
        seen = _nice_while_running(job, tmp_path / "ix")
    finally:
        job.kill()
        job.communicate()
    assert seen == max(base, int(nice))


def test_bad_nice_value_is_refused_before_any_work(tmp_path: Path, shared_data: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_lines(src / "a.jsonl", news_lines(shared_data, 3))
    job = _job(src, tmp_path / "ix", "fast", slow=0)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 2
    assert b"DATELINE_JOB_NICE must be a whole number 0-19" in err
    assert not (tmp_path / "ix" / "CURRENT").exists()
