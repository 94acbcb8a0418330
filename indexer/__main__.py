"""Command line: `python -m indexer rebuild|update|rollback|status|schedule|extract ...`.

Exit status: 0 done (also "nothing to do"), 1 failed or refused (the served
index is left as it was), 75 another job holds the lock (try again later),
130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click
from tqdm import tqdm
from whoosh.index import IndexError as WhooshIndexError

from indexer.extract import ExtractionError, Skipped, extract
from indexer.jobs import JobRefused, JobReport, Progress, is_stale, rebuild, rollback, update
from indexer.locking import JobBusy, lock_state
from indexer.schedule import Cron, ScheduleError, next_interval_run, parse_interval
from indexer.sources import read_source
from indexer.verify import VerificationError
from search.errors import IndexUnavailable
from search.index import IndexLocation

DEFAULT_INDEX = os.environ.get("DATELINE_INDEX_DIR", "var/index")
# Jobs are background work beside a live server: by default they run at nice 10 (their
# worker processes inherit it), so searches keep the CPU when both want it.
JOB_NICE_ENV = "DATELINE_JOB_NICE"
DEFAULT_JOB_NICE = 10
EXIT_BUSY = 75  # EX_TEMPFAIL: cron and systemd treat it as "try again later"

log = logging.getLogger("indexer")


@click.group()
def cli() -> None:
    """Dateline indexer: turn article files into a searchable index."""


index_option = click.option(
    "--index",
    "index_dir",
    default=DEFAULT_INDEX,
    show_default=True,
    help="Index directory (env DATELINE_INDEX_DIR).",
)
wait_option = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for a running job before giving up.",
)
report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Also write the job report as JSON to this file.",
)
progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: when stderr is a terminal).",
)


def cluster_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the distributed-ingest flags (optional Dask extra: `make cluster-deps`)."""
    f = click.option(
        "--shard-procs",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="With --workers/--cluster: processes writing each shard (for workers with spare "
        "cores; same index, more memory).",
    )(f)
    f = click.option(
        "--merge-shards",
        is_flag=True,
        help="With --workers/--cluster: merge the shards into one segment (slower publish).",
    )(f)
    f = click.option(
        "--partitions",
        type=click.IntRange(min=1),
        help="With --workers/--cluster: number of partitions (default: 2 per worker thread).",
    )(f)
    f = click.option(
        "--cluster",
        "cluster",
        metavar="ADDRESS",
        help="Extract and index on the Dask cluster at ADDRESS (tcp://host:8786).",
    )(f)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Extract and index on a local Dask cluster of N worker processes.",
    )(f)


def _rebuild_job(
    sources: tuple[str, ...],
    index_dir: str,
    wait: float,
    job: str,
    cluster: tuple[int | None, str | None, int | None, bool, int],
    progress: bool | None,
) -> tuple[Callable[[Progress], JobReport], bool]:
    """Return the rebuild to run (in this process, or on a Dask cluster), and if it counts docs."""
    workers, address, partitions, merge, shard_procs = cluster
    if workers and address:
        raise click.UsageError("give --workers or --cluster, not both")
    if not (workers or address):
        if partitions or merge or shard_procs > 1:
            raise click.UsageError(
                "--partitions, --merge-shards and --shard-procs need --workers or --cluster"
            )
        return lambda p: rebuild(list(sources), index_dir, wait=wait, progress=p, job=job), True
    from indexer.distributed import ClusterOptions, rebuild_distributed

    logging.getLogger("distributed").setLevel(logging.WARNING)
    options = ClusterOptions(
        workers=workers,
        address=address,
        partitions=partitions,
        merge=merge,
        shard_procs=shard_procs,
    )

    def run(p: Progress) -> JobReport:
        bars = _PartitionBars(_shows(progress))
        try:
            return rebuild_distributed(
                list(sources), index_dir, options, wait=wait, progress=p, job=job,
                on_partition=bars,
            )  # fmt: skip
        finally:
            bars.close()

    return run, False


class _PartitionBars:
    """Show partitions done of total per phase, documents and failed (retried) attempts."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.phase: str | None = None
        self.bar: Any = None

    def __call__(self, p: Any) -> None:  # a distributed.PartitionProgress
        if p.phase != self.phase:
            self.close()
            self.phase = p.phase
            self.bar = tqdm(
                total=p.total, desc=p.phase, unit=" partitions", disable=not self.show,
                file=sys.stderr, dynamic_ncols=True,
            )  # fmt: skip
        self.bar.set_postfix(docs=p.docs, failures=p.failures, refresh=False)
        self.bar.update(p.done - self.bar.n)
        # Drawn at every step (a task completes every few seconds at most), so the line
        # never lags the last completion as tqdm's rate limiting otherwise allows.
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _shows(progress: bool | None) -> bool:
    """Show progress bars on a terminal, or when asked with --progress."""
    return sys.stderr.isatty() if progress is None else progress


def _print_report(report: JobReport) -> None:
    if report.job == "sync":
        click.echo(
            f"sync: {report.message} (generation {report.generation}, "
            f"{report.doc_count:,} articles)"
        )
        return
    if report.outcome == "rolled-back":
        click.echo(f"rollback: {report.message} ({report.doc_count:,} articles)")
        return
    if report.outcome == "no-op":
        click.echo(
            f"{report.job}: {report.message} in {report.files:,} files "
            f"({report.doc_count:,} articles, generation {report.generation}); "
            f"no index write, {report.duration_s:.2f} s"
        )
    else:
        _print_changes(report)
    for reason, n in report.skipped_by_reason().items():
        click.echo(f"  skipped {n:>6,}  {reason}")
    for s in report.skipped[:20]:
        click.echo(f"    {s.path}: {s.reason}", err=True)
    if len(report.skipped) > 20:
        click.echo(f"    ... and {len(report.skipped) - 20:,} more (see --report)", err=True)


def _print_changes(report: JobReport) -> None:
    click.echo(
        f"{report.job}: added {report.added:,}, updated {report.updated:,}, deleted "
        f"{report.deleted:,}, unchanged {report.unchanged:,}, duplicates {report.duplicates:,}; "
        f"skipped {len(report.skipped):,}; {report.files:,} files in {report.duration_s:.1f} s "
        f"({report.docs_per_s:,.0f} docs/s); generation {report.generation} published with "
        f"{report.doc_count:,} articles"
    )
    if report.message:
        click.echo(f"  {report.message}")
    for path, n in report.removed_files.items():
        click.echo(f"  removed {n:,} articles of {path} (file is gone)")


def _lower_priority() -> None:
    """Raise this process's nice value to DATELINE_JOB_NICE (default 10; 0 leaves it)."""
    raw = os.environ.get(JOB_NICE_ENV, str(DEFAULT_JOB_NICE))
    try:
        wanted = int(raw)
    except ValueError:
        raise click.UsageError(f"{JOB_NICE_ENV} must be a whole number 0-19, not {raw!r}") from None
    if not 0 <= wanted <= 19:
        raise click.UsageError(f"{JOB_NICE_ENV} must be a whole number 0-19, not {raw!r}")
    current = os.nice(0)
    if wanted > current:
        os.nice(wanted - current)


def _run_job(
    run: Callable[[Progress], JobReport],
    report_path: str | None,
    progress: bool | None,
    counts_docs: bool = True,
) -> JobReport:
    """Run a job with a progress bar; turn its failures into messages and exit codes."""
    _lower_priority()
    show = _shows(progress) and counts_docs  # a distributed build shows its own bars
    bar = tqdm(unit=" docs", disable=not show, file=sys.stderr, dynamic_ncols=True)
    skipped = [0]

    def on_skip(s: Skipped) -> None:
        skipped[0] += 1
        bar.set_postfix(skipped=skipped[0], refresh=False)

    try:
        report = run(Progress(on_article=lambda a: bar.update(), on_skip=on_skip))
    except JobBusy as e:
        bar.close()
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_BUSY)
    except JobRefused as e:
        bar.close()
        click.echo(f"refused: {e}", err=True)
        sys.exit(1)
    except (VerificationError, IndexUnavailable, WhooshIndexError, OSError, RuntimeError) as e:
        bar.close()
        click.echo(f"failed: {e}; the served index was left as it was", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: the served index was left as it was", err=True)
        sys.exit(130)
    bar.close()
    _print_report(report)
    if report_path:
        Path(report_path).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return report


@cli.command("rebuild")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@index_option
@wait_option
@report_option
@progress_option
@cluster_options
def rebuild_cmd(
    sources: tuple[str, ...],
    index_dir: str,
    wait: float,
    report_path: str | None,
    progress: bool | None,
    workers: int | None,
    cluster: str | None,
    partitions: int | None,
    merge_shards: bool,
    shard_procs: int,
) -> None:
    """Build a complete new index of SOURCES (files or folders), check it and publish it."""
    run, counts_docs = _rebuild_job(
        sources, index_dir, wait, "rebuild",
        (workers, cluster, partitions, merge_shards, shard_procs), progress,
    )  # fmt: skip
    _run_job(run, report_path, progress, counts_docs)


@cli.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@index_option
@wait_option
@click.option(
    "--if-stale",
    is_flag=True,
    help="Do nothing when the served index was built from these same files.",
)
@report_option
@progress_option
@cluster_options
def build_cmd(
    sources: tuple[str, ...],
    index_dir: str,
    wait: float,
    if_stale: bool,
    report_path: str | None,
    progress: bool | None,
    workers: int | None,
    cluster: str | None,
    partitions: int | None,
    merge_shards: bool,
    shard_procs: int,
) -> None:
    """Same as `rebuild` (kept for scripts), plus --if-stale."""
    run, counts_docs = _rebuild_job(
        sources, index_dir, wait, "build",
        (workers, cluster, partitions, merge_shards, shard_procs), progress,
    )  # fmt: skip
    location = IndexLocation(index_dir)
    if if_stale and not is_stale(location, list(sources)):
        gen = location.current()
        click.echo(
            f"index {index_dir} is up to date ({gen.doc_count:,} articles, "
            f"generation {gen.name}); nothing to do"
        )
        return
    _run_job(run, report_path, progress, counts_docs)


@cli.command("update")
@click.argument("sources", nargs=-1, type=click.Path(exists=True))
@index_option
@wait_option
@report_option
@progress_option
@click.option("--merge", is_flag=True,
              help="Also merge the index into one segment, even when nothing changed: "
                   "fewer lookups per query word, so faster searches; it rewrites every "
                   "posting and holds them in memory (at 57k articles ~2.4 min, "
                   "~1.2 GB), so run it off-peak.")
def update_cmd(
    sources: tuple[str, ...],
    index_dir: str,
    wait: float,
    report_path: str | None,
    progress: bool | None,
    merge: bool,
) -> None:
    """Add new, re-index changed and remove deleted files of SOURCES.

    SOURCES default to those the index was built from. Writes a new generation
    only when something changed (or, with --merge, when the index has more than
    one segment); with no index yet it builds the first one.
    """
    _run_job(
        lambda p: update(list(sources) or None, index_dir, wait=wait, progress=p, merge=merge),
        report_path,
        progress,
    )


@cli.command("rollback")
@index_option
@wait_option
def rollback_cmd(index_dir: str, wait: float) -> None:
    """Serve the previous generation again (running it twice undoes it)."""
    report = _run_job(lambda p: rollback(index_dir, wait=wait), None, False)
    del report


@cli.command("sync")
@click.argument("src_index", type=click.Path(exists=True, file_okay=False))
@click.argument("dst_index", type=click.Path(file_okay=False))
@wait_option
def sync_cmd(src_index: str, dst_index: str, wait: float) -> None:
    """Serve in DST_INDEX the generation SRC_INDEX serves (copied, verified, then flipped)."""
    from indexer.sync import sync

    report = _run_job(lambda p: sync(src_index, dst_index, wait=wait), None, False)
    del report


def _age(iso: str | None) -> str:
    if not iso:
        return ""
    seconds = (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(iso)).total_seconds()
    return f" ({seconds:,.0f} s ago)"


def status_of(location: IndexLocation) -> dict[str, Any]:
    """Gather what `status` shows: served generation, rollback target, last job, lock."""
    out: dict[str, Any] = {"index": str(location.root.resolve()), "generation": None}
    try:
        gen = location.current()
        out.update(
            generation=gen.name,
            doc_count=gen.doc_count,
            built_at=gen.built_at,
            schema_version=gen.manifest.get("schema_version"),
            sources=gen.manifest.get("sources"),
        )
    except IndexUnavailable as e:
        out["error"] = e.message
    out["previous"] = location.previous_name()
    out["last_job"] = location.last_job()
    state, holder = lock_state(location.root)
    out["lock"] = {"state": state, "holder": holder.__dict__ if holder else None}
    return out


@cli.command("status")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(index_dir: str, as_json: bool) -> None:
    """Show the served generation, its size, the last job and whether one is running."""
    st = status_of(IndexLocation(index_dir))
    if as_json:
        click.echo(json.dumps(st, indent=2, ensure_ascii=False))
        return
    click.echo(f"index:       {st['index']}")
    if st["generation"]:
        click.echo(
            f"generation:  {st['generation']}: {st['doc_count']:,} articles, built "
            f"{st['built_at']}{_age(st['built_at'])}, schema {st['schema_version']}"
        )
        click.echo(f"sources:     {', '.join(st['sources'] or [])}")
    else:
        click.echo(f"generation:  none ({st.get('error')})")
    click.echo(f"previous:    {st['previous'] or 'none'} (rollback target)")
    job = st["last_job"]
    if job:
        line = f"last job:    {job['job']} {job['outcome']}"
        if job.get("finished_at"):
            line += f" at {job['finished_at']}{_age(job['finished_at'])}"
        if job["outcome"] in ("published", "no-op"):
            line += (
                f": added {job['added']:,}, updated {job['updated']:,}, deleted "
                f"{job['deleted']:,}, skipped {len(job['skipped']):,}, "
                f"{job['duration_s']:.1f} s"
            )
        click.echo(line)
        if job.get("error"):
            click.echo(f"  error:     {job['error']}")
        ok = job.get("last_success") or {}
        click.echo(
            f"last success: {ok.get('job', 'never')} {ok.get('finished_at') or ''}"
            f"{_age(ok.get('finished_at'))}"
        )
    else:
        click.echo("last job:    none recorded")
    lock = st["lock"]
    if lock["state"] == "free":
        click.echo("lock:        free")
    else:
        h = lock["holder"]
        note = (
            "running"
            if lock["state"] == "running"
            else "interrupted (process gone; the next job cleans up)"
        )
        click.echo(
            f"lock:        {h['job']} pid {h['pid']} on {h['host']} since {h['started_at']}: {note}"
        )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # runs the same cleanup as Ctrl-C: the half-built generation goes


@cli.command("schedule")
@click.argument("sources", nargs=-1, type=click.Path(exists=True))
@index_option
@click.option("--every", help="Interval between runs: 30s, 15m, 1h, 1h30m.")
@click.option("--cron", "cron_expr", help='5-field cron expression, e.g. "*/15 * * * *".')
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="Seconds a run waits for another job before skipping this tick.",
)
@click.option("--runs", type=click.IntRange(min=1), help="Stop after this many runs.")
def schedule_cmd(
    sources: tuple[str, ...],
    index_dir: str,
    every: str | None,
    cron_expr: str | None,
    wait: float,
    runs: int | None,
) -> None:
    """Run `update` now and then on a timer, in the foreground, logging each run.

    With --every the first run starts at once; with --cron at the first match.
    A failed run is logged and the schedule goes on; stop with Ctrl-C or SIGTERM.
    """
    if bool(every) == bool(cron_expr):
        raise click.UsageError("give exactly one of --every or --cron")
    try:
        interval = parse_interval(every) if every else None
        cron = Cron.parse(cron_expr) if cron_expr else None
    except ScheduleError as e:
        raise click.BadParameter(str(e)) from e
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log.info("scheduling update of %s every %s", index_dir, every or f"cron {cron_expr!r}")
    started, done = time.time(), 0
    next_run = started if interval else 0.0
    try:
        while runs is None or done < runs:
            if cron is not None:
                next_run = cron.next_after(dt.datetime.now()).timestamp()
            time.sleep(max(0.0, next_run - time.time()))
            _scheduled_update(list(sources) or None, index_dir, wait)
            done += 1
            if interval:
                next_run = next_interval_run(started, interval, time.time())
    except KeyboardInterrupt:
        log.info("schedule stopped after %d runs", done)
        sys.exit(130)


def _scheduled_update(sources: list[str] | None, index_dir: str, wait: float) -> None:
    try:
        r = update(sources, index_dir, wait=wait)
    except JobBusy as e:
        log.warning("skipped this run: %s", e)
    except JobRefused as e:
        log.error("update refused: %s", e)
    except (VerificationError, IndexUnavailable, WhooshIndexError, OSError, RuntimeError):
        log.exception("update failed; the served index was left as it was")
    else:
        log.info(
            "update %s: generation %s, %d articles (added %d, updated %d, deleted %d, "
            "skipped %d) in %.1f s",
            r.outcome,
            r.generation,
            r.doc_count,
            r.added,
            r.updated,
            r.deleted,
            len(r.skipped),
            r.duration_s,
        )


@cli.command("extract")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def extract_cmd(file: str) -> None:
    """Print the article(s) extracted from FILE as JSON (one object per line)."""
    src = read_source(Path(file))
    if isinstance(src, Skipped):
        raise click.ClickException(src.reason)
    try:
        for item in extract(src.path, src.data, src.kind):
            if isinstance(item, Skipped):
                click.echo(json.dumps({"skipped": item.path, "reason": item.reason}), err=True)
            else:
                click.echo(json.dumps(item.to_dict(), ensure_ascii=False, indent=None))
    except ExtractionError as e:
        raise click.ClickException(f"cannot extract {file}: {e.reason}") from e


from indexer.evaluate import evaluate_cmd  # noqa: E402  (issue #3: extraction quality)

cli.add_command(evaluate_cmd)


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    cli(prog_name="python -m indexer")


if __name__ == "__main__":
    main()
