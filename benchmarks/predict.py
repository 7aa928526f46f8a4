"""How well cnnprof predicts latency on CNNs it was not designed on: the kernel models and the
roofline against the measured median, with MACs × a constant as the baseline to beat.

For each thread count and batch, each model runs in a fresh process that calibrates the device
(roofs and kernel models, `cnnprof.empirical.peaks.measure_peaks`, in the steady allocator
regime) and right after measures the model in that regime (`cnnprof latency`'s path, at least 2 s
of timed runs) and predicts it from the calibration. ``--calibrate once`` calibrates one process
per thread count instead and lets each model's process read that profile (faster; the device may
drift between the calibration and a later model).

The held-out set: registry CNNs whose figures were never looked at while the calibration was
designed (it samples synthetic kernels only), and with ``--timm`` (the zoo's side environment,
`make zoo`) 20 timm CNNs. MACs × a constant uses, for each model, the median seconds-per-MAC of
the *other* models (leave-one-out), so it is not fitted to the model it predicts.

Prints per configuration a table and, per method, median error, worst ratio (the larger of
predicted/measured and its inverse), share within ±10 % and ±25 %, and Spearman's rank
correlation with the measured medians. Targets (issue #17): median error ≤ 10 %, ≥ 60 % within
±10 %, worst ≤ 1.5×, at batch 1 and 8.

    .venv/bin/python benchmarks/predict.py [--threads 1,2] [--batch 1,8] [--calibrate once]
    .venv-zoo/bin/python benchmarks/predict.py --timm
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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
METHODS = ("kernels", "roofline", "macs")
MIN_TIME = 2.0  # seconds of timed runs per model


def child(model: str, threads: int, batch: int, profile: str | None, save: str | None) -> None:
    """In a fresh process: calibrate (or read ``profile``), measure, predict; one JSON line."""
    from cnnprof.analytic import predictor
    from cnnprof.api import latency as api
    from cnnprof.api.request import request
    from cnnprof.api.sources import resolve
    from cnnprof.empirical.peaks import measure_peaks
    from cnnprof.results.timing import LatencySettings

    device = api.device_profile(profile) if profile else measure_peaks("cpu", "float32", threads)
    if save:
        Path(save).write_text(json.dumps(device.to_dict()), encoding="utf-8")
        return
    source = resolve(request(model, batch=batch))
    timing = api.measure(source, LatencySettings(threads=threads, min_time=MIN_TIME, budget=120))
    kernels = predictor.predict(source.profile(), device)
    roofline = api.predict(source, timing, device)
    print(
        json.dumps(
            {
                "model": model,
                "macs": source.profile().macs,
                "measured": timing.median,
                "p10": timing.p10,
                "p90": timing.p90,
                "faults": timing.page_faults,
                "kernels": kernels.seconds,
                "roofline": roofline.seconds,
                "calibration_s": device.calibration_s,
            }
        )
    )


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=900
    )


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (no ties expected among timings)."""

    def ranks(values: list[float]) -> list[int]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0] * len(values)
        for rank, index in enumerate(order):
            out[index] = rank
        return out

    ra, rb = ranks(a), ranks(b)
    n = len(a)
    if n < 2:
        return 1.0
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)) / (n * (n * n - 1))


def with_macs_baseline(rows: list[dict]) -> None:
    """Each row's MACs × the median seconds-per-MAC of the other rows (leave-one-out)."""
    for i, row in enumerate(rows):
        others = [r["measured"] / r["macs"] for j, r in enumerate(rows) if j != i and r["macs"]]
        row["macs_pred"] = row["macs"] * statistics.median(others) if others else row["measured"]


def stats(rows: list[dict], key: str) -> dict[str, float]:
    ratios = [r[key] / r["measured"] for r in rows]
    errors = [abs(x - 1) for x in ratios]
    return {
        "median_error": statistics.median(errors),
        "worst": max(max(x, 1 / x) for x in ratios),
        "within_10": sum(e <= 0.10 for e in errors) / len(errors),
        "within_25": sum(e <= 0.25 for e in errors) / len(errors),
        "spearman": spearman([r[key] for r in rows], [r["measured"] for r in rows]),
    }


def report(rows: list[dict], threads: int, batch: int) -> str:
    with_macs_baseline(rows)
    lines = [
        f"\n## {threads} thread(s), batch {batch}\n",
        f"{'model':<28} {'measured ms':>11} {'p10–p90 ms':>17} {'kernels':>8} "
        f"{'roofline':>8} {'MACs×c':>8}",
    ]
    for r in rows:
        lines.append(
            f"{r['model']:<28} {1e3 * r['measured']:>11.2f} "
            f"{1e3 * r['p10']:>8.2f}–{1e3 * r['p90']:<8.2f} {r['kernels'] / r['measured']:>7.2f}× "
            f"{r['roofline'] / r['measured']:>7.2f}× {r['macs_pred'] / r['measured']:>7.2f}×"
        )
    lines.append(
        f"\n{'method':<10} {'median err':>10} {'worst':>7} {'±10 %':>6} {'±25 %':>6} "
        f"{'Spearman':>8}"
    )
    for method, key in (("kernels", "kernels"), ("roofline", "roofline"), ("MACs×c", "macs_pred")):
        s = stats(rows, key)
        lines.append(
            f"{method:<10} {100 * s['median_error']:>9.1f}% {s['worst']:>6.2f}× "
            f"{100 * s['within_10']:>5.0f}% {100 * s['within_25']:>5.0f}% {s['spearman']:>8.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--models", default="", help="comma-separated references")
    parser.add_argument("--timm", action="store_true", help="the 20 timm CNNs (zoo env)")
    parser.add_argument("--calibrate", choices=("each", "once"), default="each")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, int(args.threads), int(args.batch), args.profile, args.save)
        return 0
    models = [m for m in args.models.split(",") if m] or list(TIMM if args.timm else REGISTRY)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for threads in map(int, args.threads.split(",")):
            profile: list[str] = []
            if args.calibrate == "once":
                path = str(Path(tmp) / f"{threads}t.json")
                _run(["--child", "", "--threads", str(threads), "--batch", "1", "--save", path])
                profile = ["--profile", path]
            for batch in map(int, args.batch.split(",")):
                rows = []
                for model in models:
                    proc = _run(
                        [
                            "--child",
                            model,
                            "--threads",
                            str(threads),
                            "--batch",
                            str(batch),
                            *profile,
                        ]
                    )
                    if proc.returncode != 0:
                        failed += 1
                        print(f"{model}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                        continue
                    rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                    print(
                        f"  {model} t{threads} b{batch}: {1e3 * rows[-1]['measured']:.2f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
                if rows:
                    print(report(rows, threads, batch), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
