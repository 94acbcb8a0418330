"""One indexer job at a time per index directory, across processes.

Whoosh allows one writer, and jobs prune generations they did not write, so
every job holds `INDEX_DIR/job.lock` with `fcntl.flock` for its whole run. The
kernel releases a flock when its process dies, even by `kill -9`, so a killed
job never leaves a lock that blocks the next one; the record it wrote into the
file (pid, host, start time) stays behind and tells the next job that the
previous one was interrupted. The file itself is never deleted: unlinking a
flock file lets two processes lock two different inodes at the same time.
Needs a local file system (flock over NFS is not reliable everywhere).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

LOCK_FILE = "job.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the job lock."""

    pid: int
    host: str
    job: str
    started_at: str

    def describe(self) -> str:
        return f"{self.job}, pid {self.pid} on {self.host}, since {self.started_at}"

    def is_alive(self) -> bool:
        """True when the process still runs (only knowable on this host)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class JobBusy(Exception):
    """Another job holds the lock and did not finish within the wait."""

    def __init__(self, holder: Holder | None, waited_s: float) -> None:
        who = f" ({holder.describe()})" if holder else ""
        waited = f"; waited {waited_s:.0f} s" if waited_s else ""
        super().__init__(
            f"another indexer job is running{who}{waited}. Try again later, or pass "
            "--wait SECONDS to wait for it."
        )
        self.holder = holder


def read_holder(root: Path) -> Holder | None:
    """Return the record in the lock file, or None (free, empty or unreadable)."""
    try:
        text = (root / LOCK_FILE).read_text(encoding="utf-8")
        return Holder(**json.loads(text)) if text.strip() else None
    except (OSError, ValueError, TypeError):
        return None


class JobLock:
    """Exclusive, cross-process lock on an index directory; a context manager.

    `wait` is how long to wait for a running job, in seconds (0: fail at once).
    After acquiring, `interrupted` holds the record of a previous job that died
    while holding the lock, if any.
    """

    POLL_S = 0.1

    def __init__(self, root: str | os.PathLike[str], job: str, *, wait: float = 0.0) -> None:
        self.root = Path(root)
        self.job = job
        self.wait = wait
        self.interrupted: Holder | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= self.wait:
                    os.close(fd)
                    raise JobBusy(read_holder(self.root), waited) from None
                time.sleep(min(self.POLL_S, self.wait - waited))
        self._fd = fd
        self.interrupted = read_holder(self.root)  # a clean release leaves the file empty
        me = Holder(
            pid=os.getpid(),
            host=socket.gethostname(),
            job=self.job,
            started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> JobLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_state(root: str | os.PathLike[str]) -> tuple[str, Holder | None]:
    """Describe the lock without taking it: ("free"|"running"|"interrupted", holder)."""
    holder = read_holder(Path(root))
    if holder is None:
        return "free", None
    return ("running" if holder.is_alive() else "interrupted"), holder
