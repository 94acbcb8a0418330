"""What a job did, as shown by the CLI and kept in the manifest and INDEX_DIR/last-job.json."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from indexer.extract import Skipped
from search.index import IndexLocation


@dataclass(frozen=True)
class JobReport:
    """What a job did; printed by the CLI, stored in the manifest and last-job.json."""

    job: str
    outcome: str  # published | no-op | rolled-back | failed | refused | interrupted
    generation: str | None
    doc_count: int = 0
    previous: str | None = None
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    duplicates: int = 0
    files: int = 0
    files_changed: int = 0
    files_touched: int = 0
    removed_files: dict[str, int] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()
    started_at: str = ""
    duration_s: float = 0.0
    message: str = ""
    error: str | None = None

    @property
    def indexed(self) -> int:
        return self.added + self.updated

    @property
    def ok(self) -> bool:
        return self.outcome in ("published", "no-op", "rolled-back")

    @property
    def docs_per_s(self) -> float:
        return self.indexed / self.duration_s if self.duration_s > 0 else 0.0

    def skipped_by_reason(self) -> dict[str, int]:
        """Group skip reasons, ignoring details after a colon ("broken gzip: ...")."""
        return dict(Counter(s.reason.split(":")[0] for s in self.skipped).most_common())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [asdict(s) for s in self.skipped]
        d["skipped_by_reason"] = self.skipped_by_reason()
        d["docs_per_s"] = round(self.docs_per_s, 1)
        d["duration_s"] = round(self.duration_s, 3)
        return d


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record_last_job(location: IndexLocation, report: JobReport) -> None:
    """Write last-job.json, carrying over when the last successful job finished."""
    data = report.to_dict()
    data.update(
        pid=os.getpid(),
        host=socket.gethostname(),
        finished_at=None if report.outcome == "running" else now_iso(),
    )
    previous = location.last_job() or {}
    if report.ok:
        data["last_success"] = {k: data[k] for k in ("job", "outcome", "finished_at", "generation")}
    else:
        data["last_success"] = previous.get("last_success")
    location.write_last_job(data)
