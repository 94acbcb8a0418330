"""Web throughput: the production server (gunicorn, `web:create_app()`) under `wrk`.

The server runs exactly as `make serve` starts it (same worker and thread counts, access
log on) against the benchmark's largest index, bound to a free loopback port. `wrk`
(Debian package `wrk`) drives it for a bounded time with a Lua script that rotates
through the benchmark's query URLs; latency percentiles, requests/s and non-2xx
responses come from the script's `done` hook. Without `wrk` the part is skipped and the
report says why. Only 127.0.0.1 is ever contacted.

The same server settings and load then serve the run's SQLite FTS5 database through
`bench.fts5_web` (the baseline's search as a JSON endpoint in Flask), so requests per
second also come as a ratio to a baseline measured minutes apart on the same machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import fts5_web
from bench import wrk as wrk_tool
from bench.proc import TreeSampler, stop
from bench.queries import BenchQuery

HOST = "127.0.0.1"
READY_TIMEOUT_S = 120

LUA = r"""
local paths = {PATHS}
local threads = {}
local counter = 0
non2xx = 0 -- global, not local: done() reads it from each thread with t:get("non2xx")

function setup(thread)
  thread:set("offset", #threads * 17)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, '
    .. '"socket_errors": %d, "timeouts": %d, "p50_ms": %.3f, "p90_ms": %.3f, '
    .. '"p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration, summary.bytes, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
"""


def paths_for(queries: list[BenchQuery], endpoint: str) -> list[str]:
    out = []
    for bq in queries:
        params: dict[str, str] = {"q": bq.q}
        if bq.source:
            params["source"] = bq.source
        if bq.sort != "relevance":
            params["sort"] = bq.sort
        out.append(f"{endpoint}?{urlencode(params)}")
    return out


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(paths: list[str]) -> str:
    """Return the wrk script that rotates through `paths` and prints one BENCHJSON line."""
    return LUA.replace("{PATHS}", "{" + ",\n".join(_lua_string(p) for p in paths) + "}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


def _wrk(
    wrk: str, url: str, script: Path, seconds: int, threads: int, connections: int
) -> dict[str, Any]:
    data = wrk_tool.run(
        url,
        script,
        marker="BENCHJSON",
        seconds=seconds,
        threads=threads,
        connections=connections,
        wrk=wrk,
    )
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def run(
    index_dir: Path,
    queries: list[BenchQuery],
    *,
    repo: Path,
    work: Path,
    seconds: int,
    warmup_s: int,
    workers: int,
    threads: int,
    connections: int,
    endpoints: list[str],
    log: Path,
    baseline_db: Path | None = None,
) -> dict[str, Any]:
    """Serve `index_dir` with gunicorn and load it; a dict with results or `skipped`.

    With `baseline_db` (the run's FTS5 database), the FTS5 baseline app
    (`bench.fts5_web`) is then served and loaded the same way at `/api/search`, and
    `baseline.ratios` gives Dateline's figures over its.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk not installed (Debian: apt-get install wrk)"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        return {"skipped": f"gunicorn not found beside {sys.executable}"}
    load = {"tool": "wrk", "connections": connections, "threads": 2, "seconds": seconds,
            "warmup_s": warmup_s}
    serve = Serve(gunicorn=gunicorn, wrk=wrk, repo=repo, work=work, workers=workers,
                  threads=threads, seconds=seconds, warmup_s=warmup_s,
                  connections=connections, log=log)
    result: dict[str, Any] = {
        **serve.load("web:create_app()", {"DATELINE_INDEX_DIR": str(index_dir)}, queries,
                     endpoints, "dateline"),
        "load": load,
    }
    if baseline_db is not None and "/api/search" in endpoints:
        try:
            base = serve.load("bench.fts5_web:create_app()", {fts5_web.DB_ENV: str(baseline_db)},
                              queries, ["/api/search"], "fts5")
        except (RuntimeError, OSError) as e:  # reported; Dateline's figures are kept
            result["baseline"] = {"engine": "fts5", "error": f"{type(e).__name__}: {e}"}
            return result
        ours, theirs = result["endpoints"]["/api/search"], base["endpoints"]["/api/search"]
        base["ratios"] = {"/api/search": {
            k: ours[k] / theirs[k] if theirs[k] else None for k in ("rps", "p50_ms", "p99_ms")}}
        result["baseline"] = {"engine": "fts5", **base}
    return result


@dataclass(frozen=True)
class Serve:
    """How each app is served and loaded: the same server settings and load for both."""

    gunicorn: Path
    wrk: str
    repo: Path
    work: Path
    workers: int
    threads: int
    seconds: int
    warmup_s: int
    connections: int
    log: Path

    def load(self, app: str, env_extra: dict[str, str], queries: list[BenchQuery],
             endpoints: list[str], tag: str) -> dict[str, Any]:
        """Start gunicorn on `app`, load each endpoint in turn, stop it; return the figures."""
        port = _free_port()
        env = dict(os.environ, **env_extra)
        argv = [str(self.gunicorn), "--workers", str(self.workers), "--threads",
                str(self.threads), "--bind", f"{HOST}:{port}", "--access-logfile", "-", app]
        result: dict[str, Any] = {
            "server": {"argv": " ".join(argv[1:]), "workers": self.workers,
                       "threads": self.threads},
            "endpoints": {},
        }
        with open(self.log, "ab") as logf:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=self.repo, env=env, stdout=subprocess.DEVNULL,
                                    stderr=logf)
            try:
                base = f"http://{HOST}:{port}"
                _wait_ready(f"{base}/api/health", proc)
                result["server"]["ready_s"] = time.perf_counter() - t0
                for endpoint in endpoints:
                    paths = paths_for(queries, endpoint)
                    name = endpoint.strip("/").replace("/", "-")
                    script = self.work / f"wrk-{tag}-{name}.lua"
                    script.write_text(lua_script(paths), encoding="utf-8")
                    if self.warmup_s:
                        _wrk(self.wrk, base, script, self.warmup_s, 2, self.connections)
                    with TreeSampler(proc.pid) as sampler:
                        data = _wrk(self.wrk, base, script, self.seconds, 2, self.connections)
                    data["server_tree_rss_peak_mb"] = (sampler.peak or 0) / 2**20
                    data["server_tree_pss_peak_mb"] = (sampler.peak_pss or 0) / 2**20
                    result["endpoints"][endpoint] = data
            finally:
                stop(proc, timeout=30)
        return result
