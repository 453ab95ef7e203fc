"""Drive load with wrk (a second process, C, on loopback) and read its figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUA = Path(__file__).with_name("post.lua")


@dataclass
class LoadResult:
    """One wrk run: latency percentiles (ms), throughput and failures."""

    concurrency: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed (benchmarks/run.sh installs it with apt-get)")
    return path


def run_wrk(url: str, body: dict[str, Any], concurrency: int, seconds: float) -> LoadResult:
    """POST ``body`` to ``url`` with ``concurrency`` open connections for ``seconds``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(body, f)
        body_path = f.name
    try:
        threads = min(concurrency, 2)  # two cores: the load generator gets at most two threads
        out = subprocess.run(
            [require_wrk(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s",
             "--timeout", "30s", "-s", str(LUA), url],
            capture_output=True, text=True, timeout=seconds + 60,
            env={"BENCH_BODY": body_path, "PATH": "/usr/bin:/bin"}, check=True,
        )
    finally:
        Path(body_path).unlink(missing_ok=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("BENCH "))
    data = json.loads(line[len("BENCH "):])
    return LoadResult(
        concurrency=concurrency, requests=data["requests"], seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p95_ms=data["p95_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        non_2xx=data["non_2xx"], socket_errors=data["socket_errors"],
    )
