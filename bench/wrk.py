"""Drive `wrk` (Debian package `wrk`) and read the one result line its Lua `done` hook prints.

wrk's own summary is text meant for people; each tool's Lua script instead writes its
numbers as one line, `MARKER {json}`, which is what is read here. The benchmark
(`bench/web.py`, marker `BENCHJSON`) and the load test (`loadtest`, marker `RESULT`)
keep their own scripts and fields and share this way of running and reading wrk.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

REQUEST_TIMEOUT = "10s"  # a slower response counts as a wrk timeout, not a latency
EXIT_GRACE_S = 60  # beyond --duration, before the run counts as hung


def parse(stdout: str, marker: str) -> dict[str, Any]:
    """Return the JSON object of the first `MARKER {json}` line of wrk's stdout."""
    prefix = marker + " {"  # an object, so wrk's own "Requests/sec: 983.77" never passes
    for line in stdout.splitlines():
        if line.startswith(prefix):
            data: dict[str, Any] = json.loads(line.removeprefix(marker))
            return data
    raise ValueError(f"no line starting {prefix!r} in wrk's output")


def run(
    url: str,
    script: Path,
    *,
    marker: str,
    seconds: int,
    threads: int,
    connections: int,
    wrk: str = "wrk",
) -> dict[str, Any]:
    """Run wrk with `script` against `url` for `seconds`; return its `marker` line's object."""
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        REQUEST_TIMEOUT,
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + EXIT_GRACE_S, check=False
    )
    try:
        return parse(out.stdout, marker)
    except ValueError:
        said = (out.stderr + out.stdout).strip()[-500:]  # "unable to connect" goes to stdout
        raise RuntimeError(f"wrk printed no result (exit {out.returncode}): {said}") from None
