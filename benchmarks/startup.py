"""Cold start of `cnnprof count mobilenet --alpha 0.5`, `cnnprof list` and `cnnprof --help`, each
as a ratio to `python -c "import torch"`, in fresh processes; and what the supervised worker
process adds to `cnnprof count FILE.py:factory` (a user's model), against the same count with the
factory run in cnnprof's own process (`CNNPROF_GUEST_IN_PROCESS=1`, as before the worker).

Every run is a new process (interpreter start, imports, the registry's cached index, count,
render), so this is the latency a user feels at the shell. The commands and their peers run
interleaved round by round, so that machine noise hits all alike: `python -c pass` (the floor no
Python tool can beat) and `python -c "import torch"` (what any torch-based counter pays before it
counts anything), which each command's median is divided by.

The cnnprof package that runs is byte-compiled first (`compileall`), as `pip install` compiles a
regular install: an editable install or a source tree run with PYTHONDONTWRITEBYTECODE=1 would
otherwise compile every module from source in every process, which torch, installed by pip,
never does. The header says which directory was compiled.

    python benchmarks/startup.py [--runs 15] [--warmup 2] [--max-ratio 0.10] [--max-worker 0.15]

Prints median, p10 and p90 of the wall time per command (and the median CPU time, user + system,
which a busy machine inflates less), then each command's median as a ratio to torch's, with PASS
or FAIL against --max-ratio, and the worker's cost: the supervised count's median minus the
in-process one's (and their ratio), PASS or FAIL against --max-worker seconds (issue #27: 0.15).
Exit code 1 on any FAIL, 2 when torch is not installed (no ratio).
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no CPU time of children
    resource = None  # type: ignore[assignment]

# The commands held to the target: a count of a registry model, the registry list, the help.
COMMANDS = (["count", "mobilenet", "--alpha", "0.5"], ["list"], ["--help"])
TORCH = 'python -c "import torch"'
# A user's model for the worker's cost: a small network, built by a factory in a file.
FACTORY = """from torch import nn


def small():
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3), nn.Flatten())
"""
IN_PROCESS = "CNNPROF_GUEST_IN_PROCESS"
SUPERVISED = "count model.py:small (worker)"
OWN_PROCESS = "count model.py:small (in-process)"


def cnnprof_command() -> tuple[list[str], str]:
    """The installed console script next to this interpreter, and its label; else
    `python -m cnnprof`."""
    bindir = Path(sys.executable).parent
    for name in ("cnnprof", "cnnprof.exe"):
        script = bindir / name
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)], script.name
    found = shutil.which("cnnprof")
    if found and Path(found).parent == bindir:
        return [found], "cnnprof"
    return [sys.executable, "-m", "cnnprof"], "python -m cnnprof"


def compile_package() -> Path:
    """Byte-compile the cnnprof package the timed command imports (as `pip install` does at
    install time), so that no timed process compiles it from source; its directory. Asked from
    where the command starts: the console script's folder first on the path, else the cwd."""
    base, _ = cnnprof_command()
    where = [sys.executable, "-c", "import cnnprof; print(cnnprof.__file__)"]
    cwd = Path(base[0]).parent if len(base) == 1 else None
    found = subprocess.run(where, capture_output=True, text=True, check=True, cwd=cwd)
    package = Path(found.stdout.strip()).parent
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"startup.py: cannot byte-compile {package}")
    return package


def has_torch() -> bool:
    probe = [sys.executable, "-c", "import importlib.util as u; exit(u.find_spec('torch') is None)"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def children_cpu() -> float:
    if resource is None:
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_once(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process (a leading ``NAME=VALUE``
    is set in its environment)."""
    env = dict(os.environ)
    if "=" in command[0]:
        key, _, value = command[0].partition("=")
        env[key], command = value, command[1:]
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise SystemExit(f"startup.py: {' '.join(command)} failed: {' '.join(message)}")
    return elapsed, children_cpu() - cpu


def spread(samples: list[float]) -> tuple[float, float, float]:
    """Median, p10, p90 (inclusive quantiles: p10/p90 stay within the samples)."""
    deciles = statistics.quantiles(samples, n=10, method="inclusive")
    return statistics.median(samples), deciles[0], deciles[-1]


def commands(folder: Path) -> dict[str, list[str]]:
    """Label → argv of every process timed: cnnprof's commands, the two peers, then the count
    of a factory in ``folder`` supervised and in-process."""
    base, label = cnnprof_command()
    out = {f"{label} {' '.join(args)}": [*base, *args] for args in COMMANDS}
    out["python -c pass"] = [sys.executable, "-c", "pass"]
    out[TORCH] = [sys.executable, "-c", "import torch"]
    (folder / "model.py").write_text(FACTORY)
    guest = [*base, "count", str(folder / "model.py") + ":small", "--input", "3,32,32"]
    out[SUPERVISED] = guest
    out[OWN_PROCESS] = [f"{IN_PROCESS}=1", *guest]
    return out


def worker_verdict(stats: dict[str, tuple[float, float, float]], most: float) -> bool:
    """Print what the worker adds to a count of a user's model; whether it is within ``most``
    seconds."""
    added = stats[SUPERVISED][0] - stats[OWN_PROCESS][0]
    ratio = stats[SUPERVISED][0] / stats[OWN_PROCESS][0]
    passed = added <= most
    verdict, sign = ("PASS", "≤") if passed else ("FAIL", ">")
    print(
        f"{verdict}: the worker adds {added:+.3f} s to count model.py:small "
        f"({ratio:.3f}× the in-process count; {sign} {most:g} s)"
    )
    return passed


def measure(
    timed: dict[str, list[str]], runs: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall times and CPU times per label, the commands interleaved round by round."""
    for _ in range(warmup):
        for cmd in timed.values():
            time_once(cmd)
    walls: dict[str, list[float]] = {name: [] for name in timed}
    cpus: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(runs):
        for name, cmd in timed.items():
            wall, used = time_once(cmd)
            walls[name].append(wall)
            cpus[name].append(used)
    return walls, cpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (page cache)")
    parser.add_argument(
        "--max-ratio", type=float, default=0.10, help="each median ÷ torch's median at most this"
    )
    parser.add_argument(
        "--max-worker", type=float, default=0.15, help="seconds the worker may add at most"
    )
    options = parser.parse_args(argv)
    if options.runs < 2:
        parser.error("--runs must be at least 2")
    if not has_torch():
        print("startup.py: torch is not installed: no `import torch` to compare with")
        return 2

    package = compile_package()
    with tempfile.TemporaryDirectory() as folder:
        timed = commands(Path(folder))
        walls, cpus = measure(timed, options.runs, options.warmup)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "–"
    print(
        f"cold start, {options.runs} fresh processes each after {options.warmup} warm-ups; "
        f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs, "
        f"load average {load})"
    )
    shown = os.path.relpath(package) if str(package).startswith(os.getcwd()) else package
    print(f"byte-compiled first (compileall, as pip install does): {shown}")
    width = max(len(name) for name in timed)
    print(f"{'command':<{width}}  {'median':>8}  {'p10':>8}  {'p90':>8}  {'cpu':>8}")
    stats = {name: spread(walls[name]) for name in timed}
    for name, (median, p10, p90) in stats.items():
        used = statistics.median(cpus[name])
        print(f"{name:<{width}}  {median:>7.3f}s  {p10:>7.3f}s  {p90:>7.3f}s  {used:>7.3f}s")

    torch = stats[TORCH][0]
    failed = 0
    for name in list(timed)[: len(COMMANDS)]:
        ratio = stats[name][0] / torch
        passed = ratio <= options.max_ratio
        failed += not passed
        verdict, sign = ("PASS", "≤") if passed else ("FAIL", ">")
        print(f"{verdict}: {name}: {ratio:.3f}× import torch ({sign} {options.max_ratio:g}×)")
    failed += not worker_verdict(stats, options.max_worker)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
