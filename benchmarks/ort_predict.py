"""ONNX Runtime latency predicted from a device profile, the way a user works: calibrate once
(`cnnprof device --runtime onnxruntime --threads T --save FILE`, a fresh process), then for each
held-out model, each in fresh processes, predict it (`cnnprof latency FILE.onnx --device-profile
FILE`) and measure it twice (`cnnprof latency FILE.onnx --runtime onnxruntime --threads T`, two
processes: the measurement's own run-to-run spread is printed beside the error).

The held-out set: torchvision and timm CNNs, exported once to ONNX (random weights, torch's
TorchScript exporter, opset 17) by the preparation step, which runs in the zoo's environment
(`.venv-zoo`: torch, torchvision, timm, onnx) and caches the files in ``benchmarks/.ort_models/``
(git-ignored). None of them was used to design or tune the predictor: the ONNX Runtime rewrites
(`cnnprof/analytic/ort_calls.py`) were read from the calibration's synthetic networks and from
four registry models exported with cnnprof (resnet18, mobilenet_v2, efficientnet_b0, mnasnet_a1),
which are left out here, as are torchvision's and timm's versions of them.

Prints per model the prediction, the two measured medians (their mean is the measurement), the
error and the measurements' spread (|a − b| / mean, and the p10–p90 of the first as a share of
its median); then median |error|, share within ±10 %, the worst ratio (the larger of predicted /
measured and its inverse), and PASS/FAIL against issue #23's targets (median ≤ 10 %, ≥ 70 %
within ±10 %, worst ≤ 1.5×).

    .venv/bin/python benchmarks/ort_predict.py --threads 1
    .venv/bin/python benchmarks/ort_predict.py --threads 2 --models resnet34,timm:ghostnet_100
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from fresh import TIMEOUT, cnnprof, passes, scores

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "benchmarks" / ".ort_models"
HELD_OUT = (
    "resnet34",
    "resnet50",
    "resnext50_32x4d",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "densenet121",
    "regnet_y_400mf",
    "googlenet",
    "timm:ghostnet_100",
    "timm:rexnet_100",
    "timm:lcnet_100",
    "timm:mixnet_s",
    "timm:tinynet_a",
    "timm:dla34",
    "timm:resnet26",
    "timm:hardcorenas_a",
    "timm:fbnetc_100",
    "timm:spnasnet_100",
)
DESIGNED_ON = ("resnet18", "mobilenet_v2", "efficientnet_b0", "mnasnet_a1")  # never judged
TARGETS = {"median_error": 0.10, "within_10": 0.70, "worst_ratio": 1.5}


def export(names: list[str]) -> None:
    """In the zoo's environment: export each model (random weights) to ``MODELS_DIR``."""
    import torch

    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    for name in names:
        torch.manual_seed(0)
        if name.startswith("timm:"):
            import timm

            model = timm.create_model(name.removeprefix("timm:"), pretrained=False)
        else:
            import torchvision

            model = torchvision.models.get_model(name, weights=None)
        model.eval()
        path = model_file(name)
        with torch.inference_mode():
            torch.onnx.export(
                model, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False, opset_version=17
            )
        print(f"exported {name} → {path}", flush=True)


def model_file(name: str) -> Path:
    return MODELS_DIR / f"{name.replace(':', '_')}.onnx"


def prepare(names: list[str], zoo_python: str) -> None:
    """Export the models whose file is missing, in the zoo's environment (a fresh process)."""
    missing = [n for n in names if not model_file(n).is_file()]
    if missing:
        args = [zoo_python, __file__, "--export", ",".join(missing)]
        subprocess.run(args, check=True, timeout=TIMEOUT * len(missing))


def run_json(*args: str, env: dict[str, str]) -> dict:
    return cnnprof(sys.executable, *args, env=env)


def judge(name: str, profile: Path, threads: int, env: dict[str, str]) -> dict:
    """Predict, then measure twice, ``name`` (each in a fresh process)."""
    path = str(model_file(name))
    predicted = run_json("latency", path, "--device-profile", str(profile), env=env)["predicted_s"]
    timing = ("latency", path, "--runtime", "onnxruntime", "--threads", str(threads))
    first, second = (run_json(*timing, env=env) for _ in range(2))
    measured = (first["median_s"] + second["median_s"]) / 2
    return {
        "model": name,
        "predicted_s": predicted,
        "medians_s": (first["median_s"], second["median_s"]),
        "measured_s": measured,
        "error": predicted / measured - 1,
        "between": abs(first["median_s"] - second["median_s"]) / measured,
        "within": (first["p90_s"] - first["p10_s"]) / first["median_s"],
    }


def summary(rows: list[dict]) -> dict:
    return scores([r["predicted_s"] for r in rows], [r["measured_s"] for r in rows])


def show(rows: list[dict], threads: int, calibration_s: float) -> None:
    print(f"\nONNX Runtime, {threads} thread(s); calibration {calibration_s:.1f} s")
    print(
        f"{'model':24} {'predicted':>10} {'measured':>10} {'(run a, run b)':>20} "
        f"{'error':>8} {'a vs b':>7} {'p10–p90':>8}"
    )
    for r in rows:
        a, b = (m * 1e3 for m in r["medians_s"])
        print(
            f"{r['model']:24} {r['predicted_s'] * 1e3:8.2f}ms {r['measured_s'] * 1e3:8.2f}ms "
            f"{f'({a:.2f}, {b:.2f})':>20} {r['error']:+8.1%} {r['between']:7.1%} "
            f"{r['within']:8.1%}"
        )
    found = summary(rows)
    print(
        f"median |error| {found['median_error']:.1%} (target ≤ 10 %), within ±10 % "
        f"{found['within_10']:.0%} (≥ 70 %), worst {found['worst_ratio']:.2f}× (≤ 1.5×): "
        f"{'PASS' if passes(found, TARGETS) else 'FAIL'}"
    )


def run(names: list[str], threads: int, plan: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="cnnprof-ort-predict-") as folder:
        env = {**os.environ, "CNNPROF_CACHE_DIR": str(Path(folder) / "cache")}
        if plan:
            env["CNNPROF_ORT_PLAN"] = plan
        profile = Path(folder) / f"ort-{threads}t.json"
        args = ("device", "--runtime", "onnxruntime", "--threads", str(threads))
        record = run_json(*args, "--refresh", "--save", str(profile), env=env)
        rows = []
        for name in names:
            rows.append(judge(name, profile, threads, env))
            print(f"  {name}: done", file=sys.stderr, flush=True)
        show(rows, threads, record["calibration_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1", help="thread counts, comma-separated")
    parser.add_argument("--models", default=",".join(HELD_OUT), help="held-out models")
    parser.add_argument("--plan", default=None, help="CNNPROF_ORT_PLAN (quick: a trial only)")
    parser.add_argument("--zoo-python", default=str(ROOT / ".venv-zoo" / "bin" / "python"))
    parser.add_argument("--export", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export:
        export(args.export.split(","))
        return
    names = args.models.split(",")
    judged = [n for n in names if n.removeprefix("timm:") in DESIGNED_ON]
    if judged:
        sys.exit(f"designed on {', '.join(judged)}: not a held-out model")
    prepare(names, args.zoo_python)
    for threads in (int(t) for t in args.threads.split(",")):
        run(names, threads, args.plan)


if __name__ == "__main__":
    main()
