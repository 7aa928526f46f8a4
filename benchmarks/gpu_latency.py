"""cnnprof latency on a CUDA GPU: resnet50, mobilenet_v2, efficientnet_b0 at batch 1 and 32, in
float32 and float16; prints a Markdown table headed by the device name, with the roofline's
prediction from the GPU's own measured peaks next to each measurement.

    .venv/bin/python benchmarks/gpu_latency.py            # about 2 minutes on one GPU
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from cnnprof import api
from cnnprof.analytic.roofline import estimate
from cnnprof.api.latency import measure as measure_request
from cnnprof.empirical.peaks import peaks
from cnnprof.errors import CnnprofError
from cnnprof.results.timing import LatencySettings

MODELS = ("resnet50", "mobilenet_v2", "efficientnet_b0")
BATCHES = (1, 32)
DTYPES = ("float32", "float16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--budget", type=float, default=20.0)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    try:
        roofs = {dtype: peaks("cuda", dtype, refresh=True) for dtype in DTYPES}
        for dtype in DTYPES:
            for model in MODELS:
                for batch in BATCHES:
                    request = api.request(model, batch=batch, dtype=dtype)
                    settings = LatencySettings(
                        device="cuda", min_time=args.min_time, budget=args.budget
                    )
                    timing = measure_request(request, settings)
                    predicted = estimate(
                        api.profile_analytic(request),
                        roofs[dtype].roofs,
                        kernels=timing.kernel_map(),
                        page_faults=timing.page_faults,
                    )
                    rows.append((timing, predicted.seconds))
                    print(f"  {model} batch {batch} {dtype}: {timing.median * 1e3:.3f} ms",
                          file=sys.stderr)  # fmt: skip
    except CnnprofError as exc:
        print(f"gpu_latency: {exc}", file=sys.stderr)
        return 2
    first = rows[0][0]
    print(f"## cnnprof latency on {first.device_name} (torch {first.torch_version}, "
          f"CUDA {torch.version.cuda})\n")  # fmt: skip
    for dtype, measured in roofs.items():
        bandwidth = max(b for _, b in measured.roofs.bandwidth)
        print(f"- peaks {dtype}: {measured.roofs.flops_per_s / 1e12:.1f} TFLOP/s (matmul), "
              f"{bandwidth / 1e9:,.0f} GB/s (best copy), "
              f"{dict(measured.roofs.op_overhead)['conv'] * 1e6:.1f} µs per tiny conv")  # fmt: skip
    print()
    print("| model | batch | dtype | median ms | p10 / p90 ms | CV | images/s | "
          "roofline ms | roofline ÷ measured |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for t, predicted in rows:
        print(
            f"| {t.model} | {t.batch} | {t.dtype} | {t.median * 1e3:.3f} | "
            f"{t.p10 * 1e3:.3f} / {t.p90 * 1e3:.3f} | {100 * t.cv:.1f} % | "
            f"{t.throughput:,.0f} | {predicted * 1e3:.3f} | {predicted / t.median:.2f} |"
        )
    print(f"\n{len(rows)} measurements in {time.perf_counter() - start:.0f} s; CUDA events, "
          "synchronised after every run; random weights, eval, inference mode.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
