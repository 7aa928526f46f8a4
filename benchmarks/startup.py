"""Cold start of `cnnprof count mobilenet --alpha 0.5`, against its peers, in fresh processes.

Every run is a new process (interpreter start, imports, YAML, count, render), so this is the
latency a user feels at the shell. Peers, in the same run and interleaved round by round so that
machine noise hits all three alike: `python -c pass` (the floor no Python tool can beat) and
`python -c "import torch"` (what any torch-based counter pays before it counts anything).

    python benchmarks/startup.py [--runs 15] [--warmup 2] [--target 0.3]

Prints median, p10 and p90 of the wall time per command (and the median CPU time, user + system,
which a busy machine inflates less), the ratios cnnprof/python and torch/cnnprof, and PASS or FAIL
against the target for cnnprof's median wall time. Exit code 1 on FAIL.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no CPU time of children
    resource = None  # type: ignore[assignment]

ARGS = ["count", "mobilenet", "--alpha", "0.5"]


def cnnprof_command() -> tuple[list[str], str]:
    """The installed console script next to this interpreter; else `python -m cnnprof`."""
    bindir = Path(sys.executable).parent
    for name in ("cnnprof", "cnnprof.exe"):
        script = bindir / name
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script), *ARGS], f"{script.name} {' '.join(ARGS)}"
    found = shutil.which("cnnprof")
    if found and Path(found).parent == bindir:
        return [found, *ARGS], f"cnnprof {' '.join(ARGS)}"
    return [sys.executable, "-m", "cnnprof", *ARGS], f"python -m cnnprof {' '.join(ARGS)}"


def has_torch() -> bool:
    probe = [sys.executable, "-c", "import importlib.util as u; exit(u.find_spec('torch') is None)"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def children_cpu() -> float:
    if resource is None:
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_once(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process."""
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise SystemExit(f"startup.py: {' '.join(command)} failed: {' '.join(message)}")
    return elapsed, children_cpu() - cpu


def spread(samples: list[float]) -> tuple[float, float, float]:
    """Median, p10, p90 (inclusive quantiles: p10/p90 stay within the samples)."""
    deciles = statistics.quantiles(samples, n=10, method="inclusive")
    return statistics.median(samples), deciles[0], deciles[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (page cache)")
    parser.add_argument("--target", type=float, default=0.3, help="seconds, cnnprof's median")
    options = parser.parse_args(argv)
    if options.runs < 2:
        parser.error("--runs must be at least 2")

    command, label = cnnprof_command()
    commands: dict[str, list[str]] = {
        label: command,
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    torch_label = 'python -c "import torch"'
    if has_torch():
        commands[torch_label] = [sys.executable, "-c", "import torch"]

    for _ in range(options.warmup):
        for cmd in commands.values():
            time_once(cmd)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(options.runs):
        for name, cmd in commands.items():
            wall, used = time_once(cmd)
            samples[name].append(wall)
            cpu[name].append(used)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "–"
    print(
        f"cold start, {options.runs} fresh processes each after {options.warmup} warm-ups; "
        f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs, "
        f"load average {load})"
    )
    width = max(len(name) for name in commands)
    print(f"{'command':<{width}}  {'median':>8}  {'p10':>8}  {'p90':>8}  {'cpu':>8}")
    stats = {name: spread(values) for name, values in samples.items()}
    for name, (median, p10, p90) in stats.items():
        used = statistics.median(cpu[name])
        print(f"{name:<{width}}  {median:>7.3f}s  {p10:>7.3f}s  {p90:>7.3f}s  {used:>7.3f}s")

    ours = stats[label][0]
    python = stats["python -c pass"][0]
    print(f"cnnprof / python: {ours / python:.1f}×")
    if torch_label in stats:
        print(f"torch / cnnprof:  {stats[torch_label][0] / ours:.1f}×")
    else:
        print("torch / cnnprof:  – (torch not installed)")
    passed = ours <= options.target
    verdict = "PASS" if passed else "FAIL"
    print(f"{verdict}: cnnprof median {ours:.3f}s {'≤' if passed else '>'} {options.target:g}s")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
