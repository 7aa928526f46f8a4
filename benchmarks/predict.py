"""How well cnnprof predicts torch eager latency on CNNs it was not designed on, the way a user
works: calibrate once (`cnnprof device --refresh --threads T --save FILE`, a fresh process), then
for each held-out model predict it from that profile (`cnnprof latency MODEL --device-profile
FILE --batch B`) and measure it in ``--runs`` fresh processes (`cnnprof latency MODEL --threads T
--batch B`), the models interleaved round by round so that a change of load weighs on all alike.

The measurement is the median of the fresh processes' medians; its own run-to-run spread (the
range of those medians over their median) is printed beside each prediction's error, so that
predictor error and measurement noise can be told apart. The baselines: the roofline (the same
profile's roofs) and MACs × a constant (for each model, the median seconds per MAC of the *other*
models, so it is not fitted to the model it predicts).

The held-out set: registry CNNs whose figures were never looked at while the calibration was
designed (it samples synthetic kernels only), and with ``--timm`` (the zoo's side environment,
`make zoo`: its python runs every step) 20 timm CNNs.

Prints per configuration the calibration (its seconds and the profile's own leave-one-out
error), a table per model and, per predictor, median |error|, worst ratio (the larger of
predicted / measured and its inverse), shares within ±10 % and ±25 %, Spearman's rank
correlation, and the share of models whose prediction falls inside the fresh runs' range; then
PASS or FAIL for the kernel models against the targets (issue #17: median error ≤ 10 %, ≥ 60 %
within ±10 %, worst ≤ 1.5×).

    .venv/bin/python benchmarks/predict.py [--threads 1,2] [--batch 1,8] [--runs 3]
    .venv-zoo/bin/python benchmarks/predict.py --timm --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fresh import cnnprof, passes, scores

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = (
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mnasnet_a1",
    "efficientnet_b0",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "resnet18",
    "resnext50_32x4d",
    "densenet121",
    "regnet_x_400mf",
    "regnet_y_800mf",
    "googlenet",
)
TIMM = tuple(
    f"timm:{name}"
    for name in (
        "ghostnet_100",
        "mobilenetv3_large_100",
        "mobilenetv3_small_100",
        "regnety_016",
        "rexnet_100",
        "lcnet_100",
        "mixnet_s",
        "tinynet_a",
        "densenet121",
        "dla34",
        "resnet26",
        "efficientnet_b0",
        "convnext_nano",
        "hardcorenas_a",
        "fbnetc_100",
        "spnasnet_100",
        "mnasnet_100",
        "semnasnet_100",
        "resnet18d",
        "cspresnet50",
    )
)
TARGETS = {"median_error": 0.10, "within_10": 0.60, "worst_ratio": 1.5}
PREDICTORS = (("kernel models", "predicted_s"), ("roofline", "roofline_s"), ("MACs × c", "macs_s"))


def calibrate(threads: int, folder: Path, env: dict[str, str]) -> tuple[Path, dict]:
    """One `cnnprof device` at ``threads``, saved as a profile: its path and its record."""
    profile = folder / f"cpu-{threads}t.json"
    args = ("device", "--refresh", "--threads", str(threads), "--save", str(profile))
    cnnprof(sys.executable, *args, env=env)
    return profile, json.loads(profile.read_text(encoding="utf-8"))


def profile_error(record: dict) -> float:
    """The profile's own error: the median of its kernel models' leave-one-out errors."""
    return statistics.median(k["loo_error"] for k in record["kernels"])


def measure(models: list[str], threads: int, batch: int, runs: int, env: dict) -> dict[str, list]:
    """Each model's documents from ``runs`` fresh `cnnprof latency` processes, interleaved."""
    found: dict[str, list] = {m: [] for m in models}
    for _ in range(runs):
        for model in models:
            args = ("latency", model, "--threads", str(threads), "--batch", str(batch))
            found[model].append(cnnprof(sys.executable, *args, env=env))
    return found


def judge(models: list[str], profile: Path, threads: int, batch: int, runs: int, env: dict):
    """Per model: the predictions from ``profile`` and the fresh runs' medians."""
    rows = []
    for model in models:
        args = ("latency", model, "--device-profile", str(profile), "--batch", str(batch))
        predicted = cnnprof(sys.executable, *args, env=env)
        rows.append({"model": model, **{k: predicted[k] for k in ("predicted_s", "roofline_s")}})
    started = time.monotonic()
    measured = measure(models, threads, batch, runs, env)
    for row in rows:
        docs = measured[row["model"]]
        medians = sorted(d["median_s"] for d in docs)
        row["medians_s"] = medians
        row["measured_s"] = statistics.median(medians)
        row["between"] = (medians[-1] - medians[0]) / row["measured_s"]
        row["within"] = statistics.median((d["p90_s"] - d["p10_s"]) / d["median_s"] for d in docs)
        row["macs"] = docs[0]["macs"]
    for i, row in enumerate(rows):
        others = [r["measured_s"] / r["macs"] for j, r in enumerate(rows) if j != i and r["macs"]]
        row["macs_s"] = row["macs"] * statistics.median(others) if others else row["measured_s"]
    return rows, time.monotonic() - started


def show(rows: list[dict], threads: int, batch: int, runs: int) -> None:
    print(
        f"\n## {threads} thread(s), batch {batch}: {runs} fresh runs per model\n\n"
        f"{'model':<28} {'measured':>9} {'run-to-run':>10} {'p10–p90':>8}   "
        f"{'kernels':>8} {'error':>7}   {'roofline':>8} {'MACs×c':>7}"
    )
    for r in rows:
        print(
            f"{r['model']:<28} {r['measured_s'] * 1e3:7.2f}ms {r['between']:>9.1%} "
            f"{r['within']:>8.1%}   {r['predicted_s'] * 1e3:6.2f}ms "
            f"{r['predicted_s'] / r['measured_s'] - 1:>+7.1%}   "
            f"{r['roofline_s'] / r['measured_s']:>7.2f}× {r['macs_s'] / r['measured_s']:>6.2f}×"
        )
    between = statistics.median(r["between"] for r in rows)
    print(f"\nmedian run-to-run spread (range of the fresh runs' medians): {between:.1%}")
    print(
        f"{'predictor':<14} {'median err':>10} {'worst':>7} {'±10 %':>6} {'±25 %':>6} "
        f"{'Spearman':>8} {'in range':>8}"
    )
    for name, key in PREDICTORS:
        predicted = [r[key] for r in rows]
        s = scores(predicted, [r["measured_s"] for r in rows])
        inside = sum(r["medians_s"][0] <= r[key] <= r["medians_s"][-1] for r in rows) / len(rows)
        print(
            f"{name:<14} {s['median_error']:>10.1%} {s['worst_ratio']:>6.2f}× "
            f"{s['within_10']:>6.0%} {s['within_25']:>6.0%} {s['spearman']:>8.2f} {inside:>8.0%}"
        )
        if name == "kernel models":
            kernels = s
    verdict = "PASS" if passes(kernels, TARGETS) else "FAIL"
    print(
        f"kernel models against the targets (median ≤ 10 %, ≥ 60 % within ±10 %, worst ≤ 1.5×): "
        f"{verdict}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--batch", default="1,8", help="batch sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="fresh measuring processes per model")
    parser.add_argument("--models", default="", help="comma-separated references")
    parser.add_argument("--timm", action="store_true", help="the 20 timm CNNs (zoo env)")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m] or list(TIMM if args.timm else REGISTRY)
    with tempfile.TemporaryDirectory(prefix="cnnprof-predict-") as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "CNNPROF_CACHE_DIR": str(folder / "cache"),
            "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        }
        for threads in map(int, args.threads.split(",")):
            started = time.monotonic()
            profile, record = calibrate(threads, folder, env)
            print(
                f"\n# calibrated once at {threads} thread(s) in {time.monotonic() - started:.0f} s "
                f"(cnnprof device: {record['calibration_s']:.1f} s); the profile's own error "
                f"{profile_error(record):.1%}",
                flush=True,
            )
            for batch in map(int, args.batch.split(",")):
                rows, seconds = judge(models, profile, threads, batch, args.runs, env)
                show(rows, threads, batch, args.runs)
                print(f"({seconds:.0f} s of fresh measuring processes)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
