"""Does a measurement repeat? Issue 24's acceptance: over 10 models × 4 fresh runs, the share of
fresh-run medians that fall inside the range an earlier `--processes K` run reported, beside the
same share for one process's p10–p90 (the spread a single run shows).

For each model, in turn (models interleaved, so a change of load weighs on all alike):

1. `cnnprof latency MODEL --processes K --threads T --format json`: the between-process range
   (the smallest and largest process median) and what it cost;
2. `cnnprof latency MODEL --processes 1 --threads T --format json`: one process's p10–p90;
3. ``--fresh`` (4) more `--processes 1` runs, each a fresh `cnnprof latency` process, in rounds
   across the models: their medians are what the next user will see.

Prints per model and overall the share of fresh medians inside (a) the K-process range and
(b) the one-process p10–p90, the median width of each interval relative to its median, and the
wall time each mode cost: what the lead needs to choose `DEFAULT_PROCESSES`. Every cnnprof run
is a fresh subprocess of the CLI, as a user runs it. Calibrate first (`cnnprof device --threads
T`), so that no run spends its budget calibrating the device.

    .venv/bin/python benchmarks/repeat.py [--threads 2] [--processes 3] [--fresh 4]
    .venv/bin/python benchmarks/repeat.py --threads 1 --models mobilenet,resnet18
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from predict import REGISTRY

# Ten of the held-out registry CNNs `predict.py` uses (the two heaviest left out).
MODELS = tuple(m for m in REGISTRY if m not in ("resnext50_32x4d", "densenet121"))


@dataclass
class Model:
    """What one model's runs gave: the K-process range, the one-process p10–p90, the fresh
    medians, and the wall seconds each mode took."""

    name: str
    between: tuple[float, float] = (0.0, 0.0)
    between_median: float = 0.0
    within: tuple[float, float] = (0.0, 0.0)
    within_median: float = 0.0
    fresh: list[float] = field(default_factory=list)
    wall: dict[str, list[float]] = field(default_factory=dict)

    def inside(self, interval: tuple[float, float]) -> int:
        low, high = interval
        return sum(low <= m <= high for m in self.fresh)


def latency(model: str, threads: int, processes: int, budget: float) -> tuple[dict, float]:
    """One fresh `cnnprof latency` process: its JSON document and the wall seconds it took."""
    command = [
        sys.executable,
        "-m",
        "cnnprof",
        "latency",
        model,
        "--threads",
        str(threads),
        "--processes",
        str(processes),
        "--budget",
        f"{budget:g}",
        "--format",
        "json",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:])}: exit {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout), wall


def measure(args: argparse.Namespace, models: list[str]) -> list[Model]:
    """The K-process run and the one-process run of each model, then the fresh runs in rounds."""
    found = [Model(name) for name in models]
    for m in found:
        doc, wall = latency(m.name, args.threads, args.processes, args.budget * args.processes)
        m.between = (doc["between_min_s"], doc["between_max_s"])
        m.between_median = doc["median_s"]
        m.wall.setdefault(f"--processes {args.processes}", []).append(wall)
        doc, wall = latency(m.name, args.threads, 1, args.budget)
        m.within, m.within_median = (doc["p10_s"], doc["p90_s"]), doc["median_s"]
        m.wall.setdefault("--processes 1", []).append(wall)
        print(f"  {m.name}: measured with --processes {args.processes} and 1", file=sys.stderr)
    for round_ in range(args.fresh):
        for m in found:
            doc, wall = latency(m.name, args.threads, 1, args.budget)
            m.fresh.append(doc["median_s"])
            m.wall["--processes 1"].append(wall)
        print(f"  fresh round {round_ + 1} of {args.fresh} done", file=sys.stderr)
    return found


def _width(interval: tuple[float, float], median: float) -> float:
    return (interval[1] - interval[0]) / median if median else 0.0


def report(found: list[Model], args: argparse.Namespace) -> None:
    """Per model and overall: the share of fresh medians inside each interval, its width."""
    k = args.processes
    print(f"\nat {args.threads} thread(s); {args.fresh} fresh runs per model; K = {k}\n")
    header = (
        f"{'model':<22}{'K-range ms':>18}{'in':>6}{'p10–p90 ms':>18}{'in':>6}  fresh medians ms"
    )
    print(header)
    for m in found:
        between = f"{m.between[0] * 1e3:.2f}–{m.between[1] * 1e3:.2f}"
        within = f"{m.within[0] * 1e3:.2f}–{m.within[1] * 1e3:.2f}"
        fresh = ", ".join(f"{s * 1e3:.2f}" for s in m.fresh)
        print(
            f"{m.name:<22}{between:>18}{m.inside(m.between):>4}/{len(m.fresh)}"
            f"{within:>18}{m.inside(m.within):>4}/{len(m.fresh)}  {fresh}"
        )
    runs = sum(len(m.fresh) for m in found)
    share_between = sum(m.inside(m.between) for m in found) / runs
    share_within = sum(m.inside(m.within) for m in found) / runs
    spread = statistics.median(
        abs(s - statistics.median(m.fresh)) / statistics.median(m.fresh)
        for m in found
        for s in m.fresh
    )
    print(f"\nfresh medians inside the --processes {k} range: {100 * share_between:.0f} %")
    print(f"fresh medians inside one process's p10–p90:   {100 * share_within:.0f} %")
    width_b = statistics.median(_width(m.between, m.between_median) for m in found)
    width_w = statistics.median(_width(m.within, m.within_median) for m in found)
    print(
        f"median interval width over its median: K-range {100 * width_b:.1f} %, "
        f"p10–p90 {100 * width_w:.1f} %"
    )
    print(f"median deviation of a fresh median from its model's: ±{100 * spread:.1f} %")
    modes = ((f"--processes {k}", "between_median"), ("--processes 1", "within_median"))
    for label, median in modes:
        off = statistics.median(
            abs(getattr(m, median) / statistics.median(m.fresh) - 1) for m in found
        )
        print(f"the {label} median, off the fresh runs' median of medians: ±{100 * off:.1f} %")
    for mode in (f"--processes {k}", "--processes 1"):
        walls = [w for m in found for w in m.wall.get(mode, [])]
        print(f"wall time {mode}: median {statistics.median(walls):.1f} s per run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    parser.add_argument("--processes", type=int, default=3, help="K, the processes of the range")
    parser.add_argument("--fresh", type=int, default=4, help="fresh runs per model (default 4)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per process")
    parser.add_argument("--models", default="", help="comma list (default: 10 registry CNNs)")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m] or list(MODELS)
    report(measure(args, models), args)


if __name__ == "__main__":
    main()
