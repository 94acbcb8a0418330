"""Command line: `python -m indexer build|extract ...`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from indexer.extract import ExtractionError, Skipped, extract
from indexer.jobs import JobReport, Progress, build, is_stale
from indexer.sources import read_source
from search.index import IndexLocation

DEFAULT_INDEX = os.environ.get("DATELINE_INDEX_DIR", "var/index")


@click.group()
def cli() -> None:
    """Dateline indexer: turn article files into a searchable index."""


def _print_report(report: JobReport) -> None:
    click.echo(
        f"{report.job}: indexed {report.indexed:,}, updated {report.updated:,}, "
        f"duplicates {report.duplicates:,}, skipped {len(report.skipped):,} "
        f"of {report.files:,} files in {report.duration_s:.1f} s "
        f"({report.docs_per_s:,.0f} docs/s); generation {report.generation}"
    )
    for reason, n in report.skipped_by_reason().items():
        click.echo(f"  skipped {n:>6,}  {reason}")
    for s in report.skipped[:20]:
        click.echo(f"    {s.path}: {s.reason}", err=True)
    if len(report.skipped) > 20:
        click.echo(f"    ... and {len(report.skipped) - 20:,} more (see --report)", err=True)


@cli.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--index", "index_dir", default=DEFAULT_INDEX, show_default=True,
              help="Index directory (env DATELINE_INDEX_DIR).")
@click.option("--if-stale", is_flag=True,
              help="Do nothing when the served index was built from these same files.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Also write the job report as JSON to this file.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when stderr is a terminal).")
def build_cmd(sources: tuple[str, ...], index_dir: str, if_stale: bool,
              report_path: str | None, progress: bool | None) -> None:
    """Build a complete index of SOURCES (files or folders) and publish it."""
    location = IndexLocation(index_dir)
    if if_stale and not is_stale(location, list(sources)):
        gen = location.current()
        click.echo(f"index {index_dir} is up to date ({gen.doc_count:,} articles, "
                   f"generation {gen.name}); nothing to do")
        return
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(unit=" docs", disable=not show, file=sys.stderr, dynamic_ncols=True)
    skipped = [0]

    def on_skip(s: Skipped) -> None:
        skipped[0] += 1
        bar.set_postfix(skipped=skipped[0], refresh=False)

    try:
        report = build(
            list(sources),
            index_dir,
            progress=Progress(on_article=lambda a: bar.update(), on_skip=on_skip),
        )
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: the served index was left as it was", err=True)
        sys.exit(130)
    bar.close()
    _print_report(report)
    if report_path:
        Path(report_path).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")


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


def main() -> None:
    cli(prog_name="python -m indexer")


if __name__ == "__main__":
    main()
