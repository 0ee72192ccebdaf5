"""Benchmark: the reference production-log parser against a json.loads-per-line loop.

    python benchmarks/parse_production_logs.py [--lines N] [--repeat R]

Writes N simulated production lines (default 1,000,000, malformed lines included) to a
temporary file, then parses it both ways. Every run is a fresh Python process, so that peak
memory (the process's maximum resident set size) belongs to one parser only, and the two
parsers take turns, so that a busy machine slows both alike. Prints lines per second (best of
R runs each), the speed-up, and peak memory.

The baseline is what a first attempt usually looks like: ``json.loads`` on every line inside
``try``, a DataFrame from the list of dicts, then the same typing the reference does
(UTC timestamps, categorical level, nullable integers).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def parse_with_json_loads(path: Path):
    import pandas as pd

    from course.trainer.reference.logparse import LEVELS

    rows, malformed = [], 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                malformed += 1
                continue
            if isinstance(record, dict):
                rows.append(record)
            else:
                malformed += 1
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    frame["level"] = frame["level"].astype(LEVELS)
    for column in ("statusCode", "durationMs"):
        frame[column] = frame[column].astype("Int64")
    return frame, malformed


def parse_with_reference(path: Path):
    from course.trainer.reference.logparse import parse_production

    frame = parse_production(path)
    return frame, frame.attrs["malformed_count"]


PARSERS = {
    "reference": ("reference parse_production (pyarrow JSON reader)", parse_with_reference),
    "json_loads": ("json.loads per line + DataFrame", parse_with_json_loads),
}


def _rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's VmHWM starts afresh in the new process; ru_maxrss would carry over the parent's
    peak (it survives exec), so it is only the fallback.
    """
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, path: Path) -> None:
    """Run one parser once in this process; print the figures as JSON."""
    import course.trainer.reference.logparse  # noqa: F401  (imports count neither as time nor as memory)

    _, parse = PARSERS[method]
    before = _rss_mb()
    start = time.perf_counter()
    frame, malformed = parse(path)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": len(frame), "malformed": malformed,
                      "rss_before_mb": before, "peak_rss_mb": _rss_mb()}))


def run_once(method: str, path: Path) -> dict:
    child = subprocess.run([sys.executable, __file__, "--worker", method, str(path)],
                           capture_output=True, text=True, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def measure(path: Path, repeat: int) -> dict[str, dict]:
    """Best time and highest peak memory of each parser over ``repeat`` alternating runs."""
    runs: dict[str, list[dict]] = {method: [] for method in PARSERS}
    for _ in range(repeat):
        for method in PARSERS:
            runs[method].append(run_once(method, path))
    return {method: {"seconds": min(r["seconds"] for r in found), "rows": found[0]["rows"],
                     "malformed": found[0]["malformed"], "peak_rss_mb": max(r["peak_rss_mb"] for r in found),
                     "rss_before_mb": min(r["rss_before_mb"] for r in found)}
            for method, found in runs.items()}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=1_000_000, help="lines to generate (default 1,000,000)")
    options.add_argument("--repeat", type=int, default=3, help="runs per parser; the best counts (default 3)")
    options.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return

    from course.data import world
    from course.data.backend_logs import write_production_lines

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "production.log"
        start = time.perf_counter()
        write_production_lines(path, args.lines, world.Variant())  # the canonical day, on every machine
        print(f"wrote {args.lines:,} lines ({path.stat().st_size / 1e6:,.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s; best of {args.repeat} runs each, every run in a fresh process")
        results = measure(path, args.repeat)

    for method, figures in results.items():
        best = figures["seconds"]
        print(f"{PARSERS[method][0]:<52} {best:6.2f} s  {args.lines / best:>10,.0f} lines/s  "
              f"rows {figures['rows']:,}  malformed {figures['malformed']}  "
              f"peak RSS {figures['peak_rss_mb']:,.0f} MB (+{figures['peak_rss_mb'] - figures['rss_before_mb']:,.0f} "
              f"MB over the imports)")
    ratio = results["json_loads"]["seconds"] / results["reference"]["seconds"]
    print(f"speed-up of the reference parser: {ratio:.1f}x")


if __name__ == "__main__":
    main()
