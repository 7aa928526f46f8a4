"""cnnprof latency on a CUDA GPU, in one prepared run: calibrate the GPU (roofs and kernel models)
and save its device profile for each dtype, then measure the zoo at batch 1, 32 and 128 in
float32 and bfloat16 (CUDA events read after synchronising, warm-up until the median settles),
per layer for one model, and put the kernel models' and the roofline's predictions next to
each measurement. Prints Markdown; writes the profiles to ``--out`` (for ``configs/devices/``).

    .venv/bin/python benchmarks/gpu_latency.py --out $OUT        # a few minutes on one GPU
    .venv/bin/python benchmarks/gpu_latency.py --device cpu --models lenet5 --batches 1 \\
        --dtypes float32 --out /tmp/dry                           # the same steps, on a CPU

Each measurement has ``--budget`` seconds at most; a model that fails (out of memory at batch
128, a dtype a kernel lacks) is listed with its one-line reason and the rest go on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import torch

from cnnprof.analytic import predictor
from cnnprof.api import latency as api
from cnnprof.api.request import request
from cnnprof.api.sources import resolve
from cnnprof.errors import CnnprofError
from cnnprof.results.device import DeviceQuery, Peaks
from cnnprof.results.timing import LatencySettings

MODELS = (
    "resnet50",
    "mobilenet_v2",
    "efficientnet_b0",
    "mobilenet_v3_large",
    "resnext50_32x4d",
    "regnet_y_800mf",
    "densenet121",
    "convnext_tiny",
)
LAYERS_MODEL = "resnet50"  # measured per layer too, at batch 32


def _profile_name(measured: Peaks) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", measured.device_name.lower()).strip("-")
    return f"{slug}-{measured.dtype}"


def calibrate(device: str, dtypes: list[str], out: Path) -> dict[str, Peaks]:
    """Each dtype's calibration, measured afresh and saved as ``out/<device>-<dtype>.json``."""
    found = {}
    out.mkdir(parents=True, exist_ok=True)
    for dtype in dtypes:
        started = time.perf_counter()
        measured = api.peaks(DeviceQuery(device, dtype, refresh=True))
        path = out / f"{_profile_name(measured)}.json"
        path.write_text(json.dumps(measured.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(
            f"  calibrated {dtype} in {time.perf_counter() - started:.0f} s → {path}",
            file=sys.stderr,
            flush=True,
        )
        found[dtype] = measured
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batches", default="1,32,128")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--budget", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("gpu-profiles"))
    args = parser.parse_args()
    start = time.perf_counter()
    dtypes = args.dtypes.split(",")
    try:
        devices = calibrate(args.device, dtypes, args.out)
    except CnnprofError as exc:
        print(f"gpu_latency: {exc}", file=sys.stderr)
        return 2
    rows, failures = [], []
    for dtype in dtypes:
        for model in args.models.split(","):
            for batch in map(int, args.batches.split(",")):
                settings = LatencySettings(
                    device=args.device, min_time=args.min_time, budget=args.budget
                )
                try:
                    source = resolve(request(model, batch=batch, dtype=dtype))
                    timing = api.measure(source, settings)
                except (CnnprofError, RuntimeError) as exc:
                    failures.append(f"{model} batch {batch} {dtype}: {str(exc).splitlines()[0]}")
                    continue
                kernels = predictor.predict(source.profile(), devices[dtype]).seconds
                roofline = api.predict(source, timing, devices[dtype]).seconds
                rows.append((timing, kernels, roofline))
                print(
                    f"  {model} batch {batch} {dtype}: {timing.median * 1e3:.3f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    first = next(iter(devices.values()))
    cuda = f", CUDA {torch.version.cuda}" if args.device == "cuda" else ""
    print(f"## cnnprof latency on {first.device_name} (torch {first.torch_version}{cuda})\n")
    for dtype, measured in devices.items():
        bandwidth = max(b for _, b in measured.roofs.bandwidth)
        loo = ", ".join(f"{k.kind} {100 * k.loo_error:.0f} %" for k in measured.kernels)
        print(
            f"- {dtype}: {measured.roofs.flops_per_s / 1e12:.1f} TFLOP/s (matmul), "
            f"{bandwidth / 1e9:,.0f} GB/s (best copy); calibrated in "
            f"{measured.calibration_s:.0f} s; kernel models' error from their neighbours: "
            f"{loo}"
        )
    print()
    print(
        "| model | batch | dtype | median ms | p10 / p90 ms | CV | images/s | kernels ms | "
        "kernels ÷ measured | roofline ms | roofline ÷ measured |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, kernels, roofline in rows:
        print(
            f"| {t.model} | {t.batch} | {t.dtype} | {t.median * 1e3:.3f} | "
            f"{t.p10 * 1e3:.3f} / {t.p90 * 1e3:.3f} | {100 * t.cv:.1f} % | "
            f"{t.throughput:,.0f} | {kernels * 1e3:.3f} | {kernels / t.median:.2f} | "
            f"{roofline * 1e3:.3f} | {roofline / t.median:.2f} |"
        )
    ratios = sorted(abs(k / t.median - 1) for t, k, _ in rows)
    if ratios:
        print(
            f"\nkernel models: median error {100 * ratios[len(ratios) // 2]:.1f} % over "
            f"{len(ratios)} measurements"
        )
    _layers(args, dtypes[0], devices[dtypes[0]])
    for line in failures:
        print(f"- not measured: {line}")
    clock = "CUDA events read after synchronising" if args.device == "cuda" else "host clock"
    print(
        f"\n{len(rows)} measurements in {time.perf_counter() - start:.0f} s; {clock}; "
        "random weights, eval, inference mode."
    )
    return 0


def _layers(args: argparse.Namespace, dtype: str, device: Peaks) -> None:
    """One model per layer (hooked runs) at the middle batch: the slowest rows, measured and
    predicted."""
    batches = list(map(int, args.batches.split(",")))
    batch = batches[len(batches) // 2]
    model = LAYERS_MODEL if LAYERS_MODEL in args.models.split(",") else args.models.split(",")[0]
    settings = LatencySettings(
        device=args.device, min_time=args.min_time, budget=args.budget, layers=True
    )
    try:
        source = resolve(request(model, batch=batch, dtype=dtype))
        timing = api.measure(source, settings)
    except (CnnprofError, RuntimeError) as exc:
        print(f"\n- per layer: {model} not measured: {str(exc).splitlines()[0]}")
        return
    predicted = predictor.predict(source.profile(), device).by_path()
    ratio = timing.layer_ratio or 0.0
    print(
        f"\n{model} per layer, batch {batch}, {dtype} (per-layer sum "
        f"{timing.layer_sum * 1e3:.3f} ms = {ratio:.3f}× the median):\n"
    )
    print("| row | op | ms | kernels ms |\n|---|---|---:|---:|")
    for layer in sorted(timing.layers, key=lambda x: -x.seconds)[:10]:
        print(
            f"| {layer.path} | {layer.op} | {layer.seconds * 1e3:.3f} | "
            f"{predicted.get(layer.path, 0.0) * 1e3:.3f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
