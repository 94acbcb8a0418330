"""kill -9 the indexer at random points of `update` and `rebuild`; search must never notice.

After every kill the served index opens with exactly the old or the new set of
documents, every stored document reads, and the next job succeeds and removes
what the killed one left behind. DATELINE_TEST_SLOW stretches each document and
each step (copy, commit, verify, manifest, publish, prune) so random kill times
land in every phase. Most jobs run the CLI in a forked child (no second
interpreter start-up), one of each kind as a real `python -m indexer` process.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from indexer import jobs
from indexer.__main__ import cli
from indexer.locking import LOCK_FILE, read_holder
from search.index import IndexLocation
from tests.jobfixtures import edited, news_lines, stored_docs, write_lines

SLOW = 0.005  # seconds per document; each step sleeps 25 times as long
KILLS = 10  # per job kind
ROOT = Path(__file__).resolve().parents[1]


def write_state(src: Path, lines: list[str], state: str) -> None:
    """Two versions of an archive: B edits 4 articles of A, adds 16, drops a file of 20."""
    src.mkdir(exist_ok=True)
    for p in src.iterdir():
        p.unlink()
    if state == "A":
        write_lines(src / "a.jsonl", lines[:40])
        write_lines(src / "b.jsonl", lines[40:60])
    else:
        a = [
            edited(x, title=f"Edited headline {i}") if i < 4 else x
            for i, x in enumerate(lines[:40])
        ]
        write_lines(src / "a.jsonl", [*a, *lines[60:76]])


def start(kind: str, src: Path, ix: Path, *, real_cli: bool) -> int | subprocess.Popen[bytes]:
    args = [kind, str(src), "--index", str(ix), "--no-progress"]
    env = dict(os.environ, DATELINE_TEST_SLOW=str(SLOW))
    if real_cli:
        return subprocess.Popen(
            [sys.executable, "-m", "indexer", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    pid = os.fork()
    if pid == 0:  # child: the CLI, as `python -m indexer` would run it
        code = 1
        try:
            os.environ["DATELINE_TEST_SLOW"] = str(SLOW)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            cli.main(args, prog_name="indexer", standalone_mode=False)
            code = 0
        finally:
            os._exit(code)
    return pid


def pid_of(job: int | subprocess.Popen[bytes]) -> int:
    return job if isinstance(job, int) else job.pid


def finished(job: int | subprocess.Popen[bytes]) -> bool:
    """True (and reaped) when the job already exited."""
    if isinstance(job, int):
        return os.waitpid(job, os.WNOHANG)[0] != 0
    return job.poll() is not None


def reap(job: int | subprocess.Popen[bytes]) -> None:
    if isinstance(job, int):
        try:
            os.waitpid(job, 0)
        except ChildProcessError:
            pass
    else:
        job.wait()


def wait_for_lock(ix: Path, job: int | subprocess.Popen[bytes]) -> float:
    """Wait until the job holds the lock (its start-up done); return that moment."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        h = read_holder(ix)
        if h is not None and h.pid == pid_of(job):
            return time.monotonic()
        time.sleep(0.002)
    raise AssertionError("the job never took the lock")


def run_to_end(kind: str, src: Path, ix: Path) -> float:
    """Run one slowed job without killing it; return its duration after taking the lock."""
    job = start(kind, src, ix, real_cli=False)
    t0 = wait_for_lock(ix, job)
    reap(job)
    return time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["update", "rebuild"])
def test_kill_9_at_random_points(kind: str, tmp_path: Path, shared_data: Path) -> None:
    lines = news_lines(shared_data, 76)
    src, ix = tmp_path / "src", tmp_path / "ix"
    loc = IndexLocation(ix)
    ids: dict[str, frozenset[str]] = {}
    for state in ("A", "B"):
        write_state(src, lines, state)
        jobs.update([src], ix)
        ids[state] = frozenset(stored_docs(ix))
    assert len(ids["A"]) == 60 and len(ids["B"]) == 56 and ids["A"] != ids["B"]
    durations = []
    for state in ("A", "B"):  # one slowed job each way, not killed: how long a job takes
        write_state(src, lines, state)
        durations.append(run_to_end(kind, src, ix))
    duration, served = sum(durations) / 2, "B"

    rng = random.Random(f"dateline-kill-{kind}")
    seen: Counter[str] = Counter()
    for i in range(KILLS):
        target = "B" if served == "A" else "A"
        write_state(src, lines, target)
        job = start(kind, src, ix, real_cli=i == 0)
        done = False
        kill_at = wait_for_lock(ix, job) + rng.uniform(0, duration * 1.1)
        while time.monotonic() < kill_at and not (done := finished(job)):
            time.sleep(0.005)
        if done:  # reaped: its pid must not be signalled any more
            seen["finished before the kill"] += 1
        else:
            os.kill(pid_of(job), signal.SIGKILL)
            reap(job)

        # Search side: the served index opens and holds the old or the new set, all readable.
        now = frozenset(stored_docs(ix))
        assert now in (ids[served], ids[target]), f"kill {i}: served a mixed document set"
        leftovers = set(loc.list_generations()) - {loc.current_name(), loc.previous_name()}
        seen["served new" if now == ids[target] else "served old"] += 1
        seen["left a half-built generation"] += bool(leftovers)

        # The next job recovers: it succeeds, cleans up, and serves the target state.
        report = jobs.update([src], ix)
        assert report.ok
        assert frozenset(stored_docs(ix)) == ids[target]
        assert set(loc.list_generations()) <= {loc.current_name(), loc.previous_name()}
        assert (ix / LOCK_FILE).read_text() == ""
        served = target
    print(f"\nkill -9 during {kind}, {KILLS} kills (job ~{duration:.2f} s): {dict(seen)}")
    assert seen["served old"] >= 1


def run_together(args: list[list[str]], slow: float) -> list[tuple[int, str]]:
    """Start CLI jobs at the same moment; return (exit status, stderr) of each."""
    env = dict(os.environ, DATELINE_TEST_SLOW=str(slow))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "indexer", *a, "--no-progress"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in args
    ]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errs, strict=True)]


@pytest.mark.slow
def test_two_jobs_started_at_once(tmp_path: Path, shared_data: Path) -> None:
    lines = news_lines(shared_data, 76)
    src, ix = tmp_path / "src", tmp_path / "ix"
    ids = {}
    for state in ("A", "B"):
        write_state(src, lines, state)
        jobs.update([src], ix)
        ids[state] = frozenset(stored_docs(ix))
    where = [str(src), "--index", str(ix)]

    # With --wait, the second job waits for the first: both succeed.
    write_state(src, lines, "A")
    results = run_together(
        [["update", *where, "--wait", "60"], ["rebuild", *where, "--wait", "60"]], SLOW
    )
    assert [code for code, _ in results] == [0, 0], results
    assert frozenset(stored_docs(ix)) == ids["A"]  # stored_docs also checks for duplicates

    # With --wait 0, the one that comes second refuses clearly and changes nothing.
    write_state(src, lines, "B")
    results = sorted(run_together([["update", *where, "--wait", "0"]] * 2, SLOW))
    assert [code for code, _ in results] == [0, 75], results
    # The holder's name and pid are shown once it has written them; a refusal in the
    # instant between taking the lock and writing them says only that a job is running.
    assert "another indexer job is running" in results[1][1]
    assert frozenset(stored_docs(ix)) == ids["B"]
    loc = IndexLocation(ix)
    assert set(loc.list_generations()) == {loc.current_name(), loc.previous_name()}
