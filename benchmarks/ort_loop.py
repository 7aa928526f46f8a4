"""cnnprof's ONNX Runtime timing against a plain loop, and ONNX Runtime against torch eager.

``loop`` (the default): for each model (a registry model, exported in memory as `latency
--runtime onnxruntime` exports it), cnnprof's measurement (`OrtModel.timed`: warm-up until
stable, timed runs for ``--min-time``) against a plain loop around ``InferenceSession.run`` on
its own session with the same session options, threads and input, in alternating blocks (A B,
B A, …) so a change of load falls on both. Prints per model both medians, each one's p10–p90,
their ratio (cnnprof over the loop) with its spread over the blocks, then the median ratio over
the models with PASS when it is within 1.00 ± 0.05.

``runtimes``: `latency --runtime torch,onnxruntime` on the same models: ONNX Runtime's median
and eager's, and the ratio with its p10–p90 over the rounds, as a Markdown table.

    .venv/bin/python benchmarks/ort_loop.py                       # 10 models, --threads 1
    .venv/bin/python benchmarks/ort_loop.py --mode runtimes
    .venv/bin/python benchmarks/ort_loop.py --models lenet5 --blocks 2 --min-time 0.2  # a try

Run it on a quiet machine: it measures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from cnnprof.api import latency as api
from cnnprof.api.request import request
from cnnprof.api.sources import resolve
from cnnprof.deploy.ort import OrtModel, onnxruntime, session_options
from cnnprof.errors import CnnprofError
from cnnprof.results.timing import ONNXRUNTIME, Deadline, LatencySettings, quantile

MODELS = (
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mnasnet_a1",
    "efficientnet_b0",
    "regnet_x_400mf",
    "googlenet",
    "resnet18",
    "resnet50",
)
TOLERANCE = 0.05  # the median ratio passes within 1.00 ± this
LOOP_WARMUP = 10  # the plain loop's warm-up runs, on its own session, before each block


def plain_loop(model: OrtModel, threads: int) -> Callable[[float], list[float]]:
    """A plain loop around ``InferenceSession.run``: its own session, made with the session
    options cnnprof uses, on the same input; called with seconds, it runs that long after
    LOOP_WARMUP untimed runs and returns each run's seconds."""
    ort = onnxruntime("benchmarks/ort_loop.py")
    session = ort.InferenceSession(
        model.graph, session_options(ort, threads), providers=["CPUExecutionProvider"]
    )
    feed = model.feed(session)

    def block(seconds: float) -> list[float]:
        for _ in range(LOOP_WARMUP):
            session.run(None, feed)
        samples: list[float] = []
        while sum(samples) < seconds or len(samples) < 5:
            started = time.perf_counter()
            session.run(None, feed)
            samples.append(time.perf_counter() - started)
        return samples

    return block


def against_loop(name: str, threads: int, blocks: int, min_time: float) -> dict[str, float]:
    """cnnprof's ONNX Runtime timing and the plain loop's, ``blocks`` blocks each, alternating."""
    source = resolve(request(name))
    model = source.contender("cpu", "benchmarks/ort_loop.py", ONNXRUNTIME)
    assert isinstance(model, OrtModel)
    settings = LatencySettings(threads=threads, min_time=min_time, budget=120)
    loop = plain_loop(model, threads)
    ours: list[float] = []
    theirs: list[float] = []
    ratios: list[float] = []
    for index in range(blocks):
        if index % 2 == 0:
            timing = model.timed(settings, Deadline(settings.budget), None)
            plain = loop(min_time)
        else:
            plain = loop(min_time)
            timing = model.timed(settings, Deadline(settings.budget), None)
        ours += timing.samples
        theirs += plain
        ratios.append(timing.median / statistics.median(plain))
    return {
        "cnnprof": statistics.median(ours),
        "cnnprof_p10": quantile(ours, 0.1),
        "cnnprof_p90": quantile(ours, 0.9),
        "loop": statistics.median(theirs),
        "loop_p10": quantile(theirs, 0.1),
        "loop_p90": quantile(theirs, 0.9),
        "ratio": statistics.median(ours) / statistics.median(theirs),
        "ratio_p10": quantile(ratios, 0.1),
        "ratio_p90": quantile(ratios, 0.9),
    }


def loop_table(models: Sequence[str], threads: int, blocks: int, min_time: float) -> int:
    print(
        f"cnnprof's ONNX Runtime median against a plain InferenceSession.run loop, "
        f"{threads} thread(s), {blocks} alternating blocks of {min_time:g} s each\n"
    )
    print("| model | cnnprof ms (p10–p90) | loop ms (p10–p90) | ratio of medians (per block) |")
    print("|---|---:|---:|---:|")
    ratios = []
    for name in models:
        try:
            r = against_loop(name, threads, blocks, min_time)
        except CnnprofError as exc:
            print(f"| {name} | failed: {exc} | | |")
            continue
        ratios.append(r["ratio"])
        print(
            f"| {name} | {1e3 * r['cnnprof']:.3f} ({1e3 * r['cnnprof_p10']:.3f}–"
            f"{1e3 * r['cnnprof_p90']:.3f}) | {1e3 * r['loop']:.3f} ({1e3 * r['loop_p10']:.3f}–"
            f"{1e3 * r['loop_p90']:.3f}) | {r['ratio']:.3f} ({r['ratio_p10']:.3f}–"
            f"{r['ratio_p90']:.3f}) |",
            flush=True,
        )
    if not ratios:
        return 1
    median = statistics.median(ratios)
    verdict = "PASS" if abs(median - 1) <= TOLERANCE else "FAIL"
    print(
        f"\nmedian ratio over {len(ratios)} models: {median:.3f} — {verdict} (1.00 ± {TOLERANCE})"
    )
    return 0 if verdict == "PASS" else 1


def runtimes_table(models: Sequence[str], threads: int, min_time: float) -> int:
    """`latency --runtime torch,onnxruntime` on each model, as a Markdown table."""
    settings = LatencySettings(threads=threads, min_time=min_time, budget=120)
    print(f"ONNX Runtime against torch eager, interleaved, {threads} thread(s)\n")
    print("| model | onnxruntime ms | torch ms | ratio ort/torch (p10–p90) | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name in models:
        try:
            ratio = api.measure_runtimes(request(name), settings)
        except CnnprofError as exc:
            print(f"| {name} | failed: {exc} | | | |")
            continue
        ort_t, torch_t = ratio.model_timing, ratio.reference_timing
        print(
            f"| {name} | {1e3 * ort_t.median:.3f} | {1e3 * torch_t.median:.3f} | "
            f"{ratio.median:.3f} ({ratio.p10:.3f}–{ratio.p90:.3f}) | {1 / ratio.median:.2f}× |",
            flush=True,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("loop", "runtimes"), default="loop")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=6, help="alternating blocks per side")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per block")
    args = parser.parse_args(argv)
    if args.mode == "runtimes":
        return runtimes_table(args.models, args.threads, args.min_time)
    return loop_table(args.models, args.threads, args.blocks, args.min_time)


if __name__ == "__main__":
    sys.exit(main())
