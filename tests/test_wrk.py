"""bench/wrk.py: reading wrk's result line, and both tools' scripts run by a real wrk.

The captured outputs below are real: wrk 4.1.0 (Debian) run for one second against
`python -m http.server` on loopback, once with each tool's script and once without one.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench import web as bench_web
from bench import wrk
from loadtest import __main__ as loadtest

BENCH_OUTPUT = """\
Running 1s test @ http://127.0.0.1:18731
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.63ms    3.17ms  19.92ms   85.69%
    Req/Sec   626.24    195.96     1.03k    61.90%
  1310 requests in 1.10s, 383.57KB read
  Non-2xx or 3xx responses: 436
Requests/sec:   1190.09
Transfer/sec:    348.46KB
BENCHJSON {"requests": 1310, "duration_us": 1100761, "bytes": 392780, "non2xx": 436, "socket_errors": 0, "timeouts": 0, "p50_ms": 2.381, "p90_ms": 7.911, "p99_ms": 16.065, "max_ms": 19.924, "mean_ms": 3.629}
"""

LOADTEST_OUTPUT = """\
Running 1s test @ http://127.0.0.1:18731
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.50ms   10.50ms  62.04ms   87.66%
    Req/Sec   467.10    257.28   777.00     50.00%
  930 requests in 1.00s, 472.63KB read
  Non-2xx or 3xx responses: 930
Requests/sec:    928.93
Transfer/sec:    472.08KB
RESULT {"requests": 930, "seconds": 1.001, "p50_ms": 2.75, "p95_ms": 32.18, "p99_ms": 50.13, "max_ms": 62.04, "non_2xx_3xx": 930, "socket_errors": 0}
"""

NO_SCRIPT_OUTPUT = """\
Running 1s test @ http://127.0.0.1:18731/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.47ms    2.48ms  15.77ms   85.16%
    Req/Sec     0.99k   114.90     1.15k    60.00%
  988 requests in 1.00s, 183.32KB read
Requests/sec:    983.77
Transfer/sec:    182.54KB
"""


def test_parse_reads_the_bench_line() -> None:
    assert wrk.parse(BENCH_OUTPUT, "BENCHJSON") == {
        "requests": 1310,
        "duration_us": 1100761,
        "bytes": 392780,
        "non2xx": 436,
        "socket_errors": 0,
        "timeouts": 0,
        "p50_ms": 2.381,
        "p90_ms": 7.911,
        "p99_ms": 16.065,
        "max_ms": 19.924,
        "mean_ms": 3.629,
    }


def test_parse_reads_the_loadtest_line() -> None:
    assert wrk.parse(LOADTEST_OUTPUT, "RESULT") == {
        "requests": 930,
        "seconds": 1.001,
        "p50_ms": 2.75,
        "p95_ms": 32.18,
        "p99_ms": 50.13,
        "max_ms": 62.04,
        "non_2xx_3xx": 930,
        "socket_errors": 0,
    }


@pytest.mark.parametrize(
    ("output", "marker"),
    [
        (BENCH_OUTPUT, "RESULT"),  # another tool's line is not this one's
        (LOADTEST_OUTPUT, "BENCHJSON"),
        (NO_SCRIPT_OUTPUT, "RESULT"),  # wrk's own summary is not read
        (NO_SCRIPT_OUTPUT, "Requests/sec:"),  # a marker must start a `MARKER {json}` line
        ("", "RESULT"),
    ],
)
def test_parse_without_the_marker_line_raises(output: str, marker: str) -> None:
    with pytest.raises(ValueError, match="no line starting"):
        wrk.parse(output, marker)


# --- Both tools' scripts, run by a real wrk against a local server -------------------------

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Serve `tmp_path` (one page, index.html) on a free loopback port."""
    (tmp_path / "index.html").write_text("hello\n", encoding="utf-8")

    def handler(*args: Any) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(tmp_path))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@needs_wrk
def test_bench_script_counts_non_2xx_responses(server: str, tmp_path: Path) -> None:
    script = tmp_path / "bench.lua"
    script.write_text(
        bench_web.lua_script(["/index.html?q=a", "/index.html?q=b", "/missing"]), encoding="utf-8"
    )
    data = wrk.run(server, script, marker="BENCHJSON", seconds=1, threads=2, connections=2)
    assert data["requests"] > 0 and data["socket_errors"] == 0
    # One path in three is a 404, and wrk spreads its requests over the rotation.
    assert 0 < data["non2xx"] < data["requests"]
    assert data["p50_ms"] <= data["p99_ms"] <= data["max_ms"]


@needs_wrk
def test_loadtest_script_counts_every_404(server: str, tmp_path: Path) -> None:
    script = tmp_path / "loadtest.lua"
    script.write_text(loadtest.lua_script(["oil", "budget talks"]), encoding="utf-8")  # no /search
    data = wrk.run(server, script, marker="RESULT", seconds=1, threads=1, connections=2)
    assert data["requests"] > 0 and data["non_2xx_3xx"] == data["requests"]
    assert data["p50_ms"] <= data["p95_ms"] <= data["p99_ms"] <= data["max_ms"]


@needs_wrk
def test_run_without_a_result_says_what_wrk_said(tmp_path: Path) -> None:
    script = tmp_path / "silent.lua"
    script.write_text("-- prints no result line\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="unable to connect"):
        wrk.run("http://127.0.0.1:1", script, marker="RESULT", seconds=1, threads=1, connections=1)
