"""Measured latency of the registry zoo on this CPU against two predictions.

(a) MACs: time = c × MACs, one constant c per batch size fitted across the whole zoo (least squares
    in log space, so it is the geometric mean of measured ÷ MACs);
(b) roofline: per row max(FLOPs ÷ peak, bytes ÷ bandwidth) + per-op overhead, from the device's
    measured peaks only (`cnnprof device`), nothing fitted. The peaks are measured afresh (one
    round) right before each model: on this shared machine the speed of everything drifts by up
    to 2× within a minute, peaks and models together, so each model is predicted from the peaks
    of its own moment (the "matmul" column shows the state).

Prints predicted ÷ measured per model; for each predictor the median absolute error, the worst
ratio and the Spearman rank correlation within the lightweight models (< 1 GMAC); then cnnprof's
median against torch.utils.benchmark on resnet18, and the per-layer sum ratio for three models.
The "load" column is the machine's 1-minute load average as each model started: on a shared
machine other processes' work shows up in the measured latency, most of all with several threads.
"page faults" are the minor page faults per forward pass counted during the timed runs; the
roofline charges them at the device's measured cost per fault.

    .venv/bin/python benchmarks/latency.py            # about 8 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import replace

import torch
import torch.utils.benchmark as tbench

from cnnprof import api
from cnnprof.analytic.roofline import estimate
from cnnprof.api.latency import measure as measure_request
from cnnprof.api.sources import resolve
from cnnprof.arch.registry import default_registry
from cnnprof.empirical.build import build
from cnnprof.empirical.latency import measure
from cnnprof.empirical.peaks import PLANS, measure_peaks, peaks
from cnnprof.results.device import DeviceQuery
from cnnprof.results.timing import LatencySettings

# Multipliers of the lightweight families, as variant references.
VARIANTS = (
    "mobilenet@alpha=0.75",
    "mobilenet@alpha=0.5",
    "mobilenet@alpha=0.25",
    "mobilenet@res=160",
    "mobilenet@alpha=0.5,res=160",
    "mobilenet_v2@alpha=0.75",
    "mobilenet_v2@alpha=0.5",
    "mobilenet_v2@res=160",
    "mnasnet_a1@alpha=0.5",
    "efficientnet_b0@res=160",
)
LIGHT_MACS = 1e9  # lightweight: under 1 GMAC per image
BATCH8_MAX_MACS = 5e9  # per image; bigger models are measured at batch 1 only (runtime)
LAYER_MODELS = ("mobilenet", "resnet18", "efficientnet_b0")

ONE_ROUND = replace(PLANS["cpu"], rounds=1)  # peaks measured right before each model


def zoo() -> list[str]:
    return [*default_registry().names(), *VARIANTS]


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else float("nan")


def scores(rows: list[dict], key: str) -> tuple[float, float, float]:
    ratios = [r[key] / r["measured"] for r in rows]
    median_error = statistics.median(abs(q - 1) for q in ratios)
    worst = max(max(q, 1 / q) for q in ratios)
    light = [r for r in rows if r["macs_per_image"] < LIGHT_MACS]
    rho = spearman([r[key] for r in light], [r["measured"] for r in light])
    return median_error, worst, rho


def run_zoo(batch: int, threads: int, settings: LatencySettings) -> list[dict]:
    """Each zoo model measured right after a fresh round of the device's peaks, and predicted
    from those: this machine's speed drifts by up to 2× within a minute (other tenants), the
    microbenchmark and the model drifting together, so each prediction uses the peaks of the
    moment its model ran."""
    rows = []
    for reference in zoo():
        request = api.request(reference, batch=batch)
        profile = api.profile_analytic(request)
        per_image = profile.macs / batch
        if batch > 1 and per_image > BATCH8_MAX_MACS:
            continue
        device = measure_peaks("cpu", "float32", threads, plan=ONE_ROUND)
        load = os.getloadavg()[0]
        timing = measure_request(request, settings)
        rows.append(
            {
                "model": reference,
                "macs": profile.macs,
                "macs_per_image": per_image,
                "measured": timing.median,
                "cv": timing.cv,
                "load": load,
                "peak": device.roofs.flops_per_s,
                "runs": timing.runs,
                "faults": timing.page_faults or 0.0,
                "roofline": estimate(
                    profile,
                    device.roofs,
                    kernels=timing.kernel_map(),
                    page_faults=timing.page_faults,
                ).seconds,
            }
        )
        print(f"  measured {reference:<30} {timing.median * 1e3:9.2f} ms", file=sys.stderr)
    # (a): one constant per batch size, the geometric mean of measured / MACs across the zoo
    c = math.exp(statistics.fmean(math.log(r["measured"] / r["macs"]) for r in rows))
    for r in rows:
        r["macs_model"] = c * r["macs"]
    return rows


def print_table(batch: int, rows: list[dict]) -> None:
    print(f"\n## batch {batch}: predicted ÷ measured\n")
    print(
        "| model | MACs | measured ms | CV | load | matmul GFLOP/s | page faults | (a) MACs ms | "
        "(a) ratio | (b) roofline ms | (b) ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['model']} | {r['macs'] / 1e9:.3f} G | {r['measured'] * 1e3:.2f} | "
            f"{100 * r['cv']:.1f} % | {r['load']:.1f} | {r['peak'] / 1e9:.0f} | "
            f"{r['faults']:,.0f} | "
            f"{r['macs_model'] * 1e3:.2f} | "
            f"{r['macs_model'] / r['measured']:.2f} | {r['roofline'] * 1e3:.2f} | "
            f"{r['roofline'] / r['measured']:.2f} |"
        )
    light = sum(r["macs_per_image"] < LIGHT_MACS for r in rows)
    print(
        f"\n| predictor (batch {batch}, {len(rows)} models, {light} lightweight) | "
        "median abs error | worst ratio | Spearman, lightweight |"
    )
    print("|---|---:|---:|---:|")
    for name, key in (
        ("(a) MACs × one fitted constant", "macs_model"),
        ("(b) roofline, measured peaks only", "roofline"),
    ):
        error, worst, rho = scores(rows, key)
        print(f"| {name} | {100 * error:.1f} % | {worst:.2f}× | {rho:.3f} |")


AGREEMENT_ROUNDS = 10
AGREEMENT_SECONDS = 0.5  # each side of a round: short, so the machine drifts little within it


def agreement(threads: int, rounds: int = AGREEMENT_ROUNDS) -> list[float]:
    """cnnprof's median over torch.utils.benchmark's blocked_autorange median: resnet18, batch 1,
    the same module and input, the same thread count, in short rounds whose order alternates, so
    that a drift of the machine's speed weighs on both alike; the median over the rounds."""
    arch = resolve(api.request("resnet18")).arch
    net = build(arch, "cpu").eval()
    x = torch.randn(1, *arch.input.as_list())
    settings = LatencySettings(threads=threads, min_time=AGREEMENT_SECONDS)
    timer = tbench.Timer(stmt="net(x)", globals={"net": net, "x": x}, num_threads=threads)

    def ours() -> float:
        return measure(net, arch.input, settings=settings).median

    def theirs() -> float:
        with torch.inference_mode():
            return timer.blocked_autorange(min_run_time=AGREEMENT_SECONDS).median

    ratios = []
    for index in range(rounds):
        if index % 2:
            b, a = theirs(), ours()
        else:
            a, b = ours(), theirs()
        ratios.append(a / b)
        print(
            f"  round {index + 1}: cnnprof median {a * 1e3:.3f} ms · blocked_autorange median "
            f"{b * 1e3:.3f} ms · ratio {ratios[-1]:.3f}"
        )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args()
    start = time.perf_counter()
    device = peaks(DeviceQuery("cpu", "float32", args.threads, refresh=True))
    print(
        f"# cnnprof latency benchmark — {device.device_name}, {device.threads} threads, "
        f"torch {device.torch_version}, float32, load average {os.getloadavg()[0]:.2f} "
        f"at the start"
    )
    curves = "; ".join(
        f"{label} [" + ", ".join(f"{f / 1e6:.1f} M {r / 1e9:.0f}" for f, r in curve) + "] GFLOP/s"
        for label, curve in device.conv_curves()
    )
    copy = ", ".join(f"{n / 2**20:g} MiB {b / 1e9:.0f}" for n, b in device.roofs.bandwidth)
    layout = ", ".join(f"{n / 2**20:.2g} MiB {b / 1e9:.0f}" for n, b in device.layout)
    ceilings = ", ".join(
        [f"{k} {v / 1e9:.1f} GB/s" for k, v in device.byte_ceilings]
        + [f"{k} {v / 1e9:.2f} GFLOP/s" for k, v in device.flop_ceilings]
    )
    overhead = ", ".join(f"{k} {v * 1e6:.1f} µs" for k, v in device.roofs.op_overhead)
    print(
        f"\npeaks at the start (cnnprof device; each model below is predicted from a round "
        f"measured just before it): matmul {device.roofs.flops_per_s / 1e9:.1f} GFLOP/s; "
        f"convolutions by FLOPs: {curves}; "
        f"copy_ [{copy}] GB/s; {device.layout_kernel} reorder [{layout}] GB/s; "
        f"page fault {device.fault_s * 1e6:.2f} µs; "
        f"ceilings {ceilings}; per-op overhead {overhead}"
    )
    settings = LatencySettings(threads=args.threads, min_time=args.min_time, budget=30.0)
    for batch in (int(b) for b in args.batches.split(",") if b):
        rows = run_zoo(batch, args.threads, settings)
        print_table(batch, rows)
        if batch > 1:
            skipped = [m for m in zoo() if m not in {r["model"] for r in rows}]
            print(
                f"\nnot run at batch {batch} (> {BATCH8_MAX_MACS / 1e9:g} GMAC per image): "
                + ", ".join(skipped)
            )
    print(
        f"\n## agreement with torch.utils.benchmark (resnet18, CPU, batch 1, {args.threads} "
        "threads)\n"
    )
    ratios = agreement(args.threads)
    print(f"  ratio cnnprof ÷ blocked_autorange: median {statistics.median(ratios):.3f}")
    print("\n## per-layer sum ÷ whole-model median (batch 1)\n")
    for model in LAYER_MODELS:
        settings = LatencySettings(threads=args.threads, min_time=1.0, layers=True)
        timing = measure_request(api.request(model), settings)
        print(
            f"  {model:<16} whole {timing.median * 1e3:8.2f} ms · per-layer sum "
            f"{timing.layer_sum * 1e3:8.2f} ms · ratio {timing.layer_ratio:.3f} "
            f"({len(timing.layers)} rows, {timing.hook_overhead * 1e6:.2f} µs hook cost "
            "per row)"
        )
    print(
        f"\ntotal benchmark time {time.perf_counter() - start:.0f} s; load average "
        f"{os.getloadavg()[0]:.2f} at the end"
    )


if __name__ == "__main__":
    main()
