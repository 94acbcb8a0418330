"""Run wrk against gunicorn on loopback: first idle, then while update/rebuild publish.

    python -m loadtest [--seconds 30] [--docs 2000] [--connections 16]

Builds its own index from the demo corpus (corpus/data/newsarticles.jsonl) in a
temporary directory, so the served var/index is never touched. During both phases a
checker asks one query every 50 ms and compares the total with the totals the two
possible corpora give when nothing is running: any other total, and any 5xx, counts
as a wrong answer. Prints one JSON report (and a table) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import wrk

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "data" / "newsarticles.jsonl"
QUERIES = [
    "president",
    "trump",
    "election",
    "budget talks",
    '"white house"',
    "title:senate",
    "health care",
    "immigration",
    "court",
    "russia",
    "tax",
    "china trade",
]
CHECK_QUERY = "president"

WRK_LUA = """
local queries = {%s}
local i = 0
request = function()
  i = i + 1
  local q = queries[(i %% #queries) + 1]
  local path = (i %% 2 == 0) and "/api/search?q=" or "/search?q="
  return wrk.format("GET", path .. q)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%.3f, "p50_ms": %%.2f, "p95_ms": %%.2f, "p99_ms": %%.2f, ' ..
    '"max_ms": %%.2f, "non_2xx_3xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _quote(q: str) -> str:
    return urllib.request.quote(q)


def lua_script(queries: list[str]) -> str:
    """Return the wrk script that alternates page and API searches and prints one RESULT line."""
    return WRK_LUA % ", ".join(f'"{_quote(q)}"' for q in queries)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _indexer(*args: str, index: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "indexer", *args, "--index", str(index)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _total(base: str) -> tuple[int, int | None]:
    url = f"{base}/api/search?q={_quote(CHECK_QUERY)}&page_size=1"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())["total"]
    except urllib.error.HTTPError as e:
        return e.code, None


class Checker(threading.Thread):
    """Ask the check query every 50 ms; remember statuses and totals."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.stop, self.seen = base, threading.Event(), []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.append(_total(self.base))
            except OSError as e:
                self.seen.append((0, repr(e)))
            time.sleep(0.05)


def _wrk(base: str, seconds: int, connections: int, threads: int, script: Path) -> dict:
    result = wrk.run(
        base, script, marker="RESULT", seconds=seconds, threads=threads, connections=connections
    )
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    return result


def _phase(
    name: str,
    base: str,
    args: argparse.Namespace,
    script: Path,
    allowed: set[int],
    during: threading.Thread | None = None,
) -> dict:
    checker = Checker(base)
    checker.start()
    if during:
        during.start()
    result = _wrk(base, args.seconds, args.connections, args.threads, script)
    checker.stop.set()
    checker.join()
    if during:
        during.join()
    result["phase"] = name
    result["checks"] = len(checker.seen)
    result["wrong_answers"] = sum(
        1 for status, total in checker.seen if status != 200 or total not in allowed
    )
    result["check_5xx"] = sum(1 for status, _ in checker.seen if status >= 500)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--docs", type=int, default=2000, help="articles in the base corpus")
    ap.add_argument("--extra", type=int, default=500, help="articles update adds and removes")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run: 2)")
    ap.add_argument(
        "--server-threads", type=int, default=1, help="gunicorn threads per worker (make run: 1)"
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    if not CORPUS.exists():
        print(
            f"{CORPUS} is missing: run `make index` (it fetches the demo corpus)", file=sys.stderr
        )
        return 2

    work = Path(tempfile.mkdtemp(prefix="dateline-loadtest-"))
    src, index = work / "src", work / "index"
    src.mkdir()
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    (src / "base.jsonl").write_text("\n".join(lines[: args.docs]) + "\n", encoding="utf-8")
    extra = "\n".join(lines[args.docs : args.docs + args.extra]) + "\n"
    script = work / "queries.lua"
    script.write_text(lua_script(QUERIES), encoding="utf-8")

    print(f"building the index of {args.docs} articles in {index} ...", file=sys.stderr)
    (src / "extra.jsonl").write_text(extra, encoding="utf-8")
    _indexer("rebuild", str(src), index=index)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.server_threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "web:create_app()",
        ],
        cwd=ROOT,
        env=dict(os.environ, DATELINE_INDEX_DIR=str(index)),
    )
    try:
        for _ in range(100):
            try:
                if _total(base)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        with_extra = _total(base)[1]
        (src / "extra.jsonl").unlink()
        _indexer("update", index=index)
        without_extra = _total(base)[1]
        allowed = {t for t in (with_extra, without_extra) if t is not None}
        # Warm every worker and thread before measuring.
        _wrk(base, seconds=3, connections=16, threads=2, script=script)

        idle = _phase("idle", base, args, script, allowed)
        jobs: list[str] = []

        def reindex() -> None:
            end = time.monotonic() + args.seconds - 2
            while time.monotonic() < end:
                extra_file = src / "extra.jsonl"
                if extra_file.exists():
                    extra_file.unlink()
                else:
                    extra_file.write_text(extra, encoding="utf-8")
                _indexer("update", index=index)
                jobs.append("update")
                if time.monotonic() < end:
                    _indexer("rebuild", str(src), index=index)
                    jobs.append("rebuild")

        busy = _phase("reindex", base, args, script, allowed, threading.Thread(target=reindex))
        busy["jobs_published"] = len(jobs)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    report = {
        "idle": idle,
        "reindex": busy,
        "p99_ratio": round(busy["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None,
        "allowed_totals": sorted(allowed),
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))
    print(
        f"{'phase':8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'5xx':>5} {'wrong':>6}",
        file=sys.stderr,
    )
    for r in (idle, busy):
        print(
            f"{r['phase']:8} {r['rps']:8.1f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} "
            f"{r['p99_ms']:8.1f} {r['non_2xx_3xx'] + r['check_5xx']:5d} {r['wrong_answers']:6d}",
            file=sys.stderr,
        )
    ok = busy["non_2xx_3xx"] == idle["non_2xx_3xx"] == 0 and busy["wrong_answers"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
