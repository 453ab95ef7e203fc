"""Drive load with wrk (a second process, C, on loopback) and read its figures."""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
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
    #: CPU time of wrk itself (user + system) during the run, ms per request: the load
    #: generator shares the two cores with the servers
    wrk_cpu_ms: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Spread:
    """Several cells of the same measurement: their median and range, so that one cell taken at
    a bad moment of the shared machine does not decide a figure or a ratio."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else 0.0

    def text(self, fmt: str = "{:.0f}", suffix: str = "") -> str:
        """``median (min-max)``, or the one value when there is only one."""
        if len(self.values) < 2:
            return fmt.format(self.median) + suffix
        return f"{fmt.format(self.median)}{suffix} ({fmt.format(min(self.values))}-{fmt.format(max(self.values))})"


def ratios(numerators: list[float], denominators: list[float]) -> Spread:
    """Per-round ratios (cells of the same round side by side), as a Spread."""
    return Spread([n / d for n, d in zip(numerators, denominators, strict=True) if d])


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
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [require_wrk(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s",
             "--timeout", "30s", "-s", str(LUA), url],
            capture_output=True, text=True, timeout=seconds + 60,
            env={"BENCH_BODY": body_path, "PATH": "/usr/bin:/bin"}, check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        Path(body_path).unlink(missing_ok=True)
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("BENCH "))
    data = json.loads(line[len("BENCH "):])
    return LoadResult(
        concurrency=concurrency, requests=data["requests"], seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p95_ms=data["p95_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        non_2xx=data["non_2xx"], socket_errors=data["socket_errors"],
        wrk_cpu_ms=wrk_cpu * 1000 / max(data["requests"], 1),
    )
