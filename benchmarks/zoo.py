"""cnnprof's default count against the published figures of every torchvision model and against
torch on at least 50 timm CNNs; the leaf-formula walk against the default on each.

- torchvision: every classification model at every crop size its weights declare, every
  segmentation (at 520²), video (3×16×112×112), detection (a list of one 800² image) and optical
  flow model (two 512² frames); params and MACs against ``weights.meta["num_params"]`` and
  ``["_ops"]`` (GMACs of conv, linear and attention products, to 3 decimals), once per distinct
  figure. Detection is built without weights, so its backbone's BatchNorm is the trainable kind
  (more parameters than the frozen-BN pretrained figure); the table says which. A two-stage
  detector's MACs depend on how many proposals and detections its heads run on: it is built so
  that they are the ones torchvision's figure describes (`HEADS_RUN`), and the note says so.
- timm: params against ``sum(p.numel())``, MACs against FlopCounterMode on the meta device.
- defaults: every model once more with no input given (``--input`` left out), so that the input
  it declares is the one counted (timm's ``pretrained_cfg``, torchvision's default weights);
  judged against the figure at that input, and its JSON ``output`` against the shape(s) the
  forward returns.
- onnx: every model once more exported with cnnprof's export (torch's TorchScript exporter) and
  counted from the file's graph against its torch count: MACs equal, params equal or fewer by
  exactly the BatchNorm parameters the exporter folded; each miss says why. Needs onnx and
  onnxscript (``make zoo`` installs them).

A model is "exact" when params and MACs match (to the published precision), "within 1 %" when
both are within 1 %, "wrong" otherwise, "failed" when cnnprof refused or raised. Weights are never
downloaded. Needs torch, torchvision and timm (``make zoo`` builds that environment)::

    make zoo ZOO=/path/to/venv      # or: .venv-zoo/bin/python benchmarks/zoo.py [--only NAME]
    .venv-zoo/bin/python benchmarks/zoo.py --onnx-only --only resnet18    # the ONNX pass alone
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torchvision.models as tvm
from torch.utils.flop_counter import FlopCounterMode

from cnnprof.api import Request
from cnnprof.api.count import cross_check
from cnnprof.api.export import export
from cnnprof.api.sources import OutsideSource, resolve
from cnnprof.arch.model import shape_of
from cnnprof.empirical.inputs import fixed_seed
from cnnprof.errors import CnnprofError
from cnnprof.report.profile import profile_dict
from cnnprof.results.profile import Profile

TIMM_MODELS = (
    "resnet18",
    "resnet50",
    "resnet50d",
    "resnet101",
    "resnext50_32x4d",
    "seresnet50",
    "wide_resnet50_2",
    "resnetrs50",
    "resnest50d",
    "res2net50_26w_4s",
    "skresnet18",
    "ecaresnet50d",
    "regnetx_002",
    "regnety_004",
    "regnetz_b16",
    "densenet121",
    "dla34",
    "dpn68",
    "vgg11",
    "vgg16_bn",
    "inception_v3",
    "inception_v4",
    "inception_resnet_v2",
    "xception41",
    "efficientnet_b0",
    "efficientnet_b3",
    "tf_efficientnet_b0",
    "tf_efficientnetv2_s",
    "efficientnetv2_rw_s",
    "mixnet_s",
    "tf_mixnet_s",
    "mnasnet_100",
    "mobilenetv2_100",
    "mobilenetv3_large_100",
    "tf_mobilenetv3_small_100",
    "fbnetc_100",
    "spnasnet_100",
    "ghostnet_100",
    "lcnet_100",
    "hrnet_w18_small",
    "cspresnet50",
    "cspdarknet53",
    "darknet53",
    "dm_nfnet_f0",
    "nf_resnet50",
    "rexnet_100",
    "selecsls42b",
    "tresnet_m",
    "convnext_nano",
    "convnextv2_atto",
    "efficientformer_l1",
    "mobilevit_s",
    "gernet_s",
    "repvgg_a2",
    "hardcorenas_a",
    "vovnet39a",
    "ese_vovnet19b_dw",
    "edgenext_small",
)
KINDS = (
    ("classification", tvm),
    ("segmentation", tvm.segmentation),
    ("video", tvm.video),
    ("detection", tvm.detection),
    ("optical_flow", tvm.optical_flow),
)
# How a two-stage detector is built so that its heads run on what they ran when torchvision
# counted ``_ops`` (pretrained weights on one random image): proposals "all" (NMS suppresses
# none, rpn_nms_thresh=1.0, so the RPN keeps its rpn_post_nms_top_n_test: 1000, 150 for the 320
# model) or "none" (no objectness reaches rpn_score_thresh=1.0; the MobileNet models' default
# 0.05 stopped every proposal on noise), and the detections the mask or keypoint head ran on (0:
# box_score_thresh=1.0 passes none; N: box_score_thresh=0.0 with box_detections_per_img=N).
# Inferred, not documented: the one setting of these that reproduces each figure to 3 decimals.
PROPOSALS = {"all": {"rpn_nms_thresh": 1.0}, "none": {"rpn_score_thresh": 1.0}}
HEADS_RUN: dict[str, tuple[str, int]] = {
    "FasterRCNN_ResNet50_FPN_Weights.COCO_V1": ("all", 0),
    "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1": ("all", 0),
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1": ("none", 0),
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1": ("none", 0),
    "MaskRCNN_ResNet50_FPN_Weights.COCO_V1": ("all", 0),
    "MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1": ("all", 100),
    "KeypointRCNN_ResNet50_FPN_Weights.COCO_LEGACY": ("all", 0),
    "KeypointRCNN_ResNet50_FPN_Weights.COCO_V1": ("all", 1),
}


@dataclass(frozen=True)
class Case:
    name: str  # what the table shows
    reference: str
    kind: str
    inputs: tuple[tuple[int, ...], ...] | None
    params: int  # the figure to match
    macs: float  # GMACs (torchvision: to 3 decimals) or exact MACs (timm)
    published: bool  # torchvision figure to 3 decimals, else exact
    args: tuple[tuple[str, object], ...] = ()  # factory arguments: the pretrained configuration
    note: str = ""  # how the figure's configuration was reached, when it is not the default


def pretrained_args(name: str, kind: str, side: int | None) -> dict[str, object]:
    """The arguments torchvision's builder sets itself when it loads weights, so that the model
    built without them has the configuration ``num_params`` and ``_ops`` describe: GoogLeNet
    drops its aux heads, ViT takes the weights' image size, segmentation keeps its aux head."""
    if name == "googlenet":
        return {"aux_logits": False}
    if name.startswith("vit_") and side:
        return {"image_size": side}
    if kind == "segmentation" and not name.startswith("lraspp"):
        return {"aux_loss": True}
    return {}


def heads_run(weights: str) -> tuple[dict[str, object], str]:
    """A two-stage detector's arguments from `HEADS_RUN`, and the note that says what ran."""
    if weights not in HEADS_RUN:
        return {}, ""
    proposals, detections = HEADS_RUN[weights]
    shown = "no detection" if detections == 0 else f"{detections} detection(s)"
    if detections == 0:
        args = {**PROPOSALS[proposals], "box_score_thresh": 1.0}
    else:
        args = {
            **PROPOSALS[proposals],
            "box_score_thresh": 0.0,
            "box_detections_per_img": detections,
        }
    runs = f"{proposals} proposals, {shown}" if proposals == "all" else "no proposal"
    return args, f"heads run on {runs} ({', '.join(f'{k}={v}' for k, v in args.items())})"


def frozen_norm_params(reference: str) -> int:
    """BatchNorm affine parameters of a detection backbone: the pretrained configuration
    freezes them (FrozenBatchNorm2d keeps them as buffers), so ``num_params`` leaves them out."""
    with torch.device("meta"):
        model = tvm.get_model(reference.split(":")[1], weights=None, weights_backbone=None)
    body = getattr(model.backbone, "body", model.backbone)
    return sum(
        p.numel()
        for m in body.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
        for p in m.parameters(recurse=False)
    )


@dataclass(frozen=True)
class Outcome:
    case: Case
    params: int | None = None
    macs: int | None = None
    verdict: str = "failed"
    walk: str = ""
    seconds: float = 0.0
    note: str = ""


def torchvision_cases(only: str | None) -> Iterator[Case]:
    for kind, package in KINDS:
        for name in tvm.list_models(module=package):
            if only and only not in name:
                continue
            seen: set[tuple[int | None, float]] = set()
            for weights in tvm.get_model_weights(name):
                crop = (
                    weights.transforms.keywords.get("crop_size")
                    if hasattr(weights.transforms, "keywords")
                    else None
                )
                side = crop[0] if isinstance(crop, (list, tuple)) else crop
                figure = (side, weights.meta["_ops"])
                if figure in seen:
                    continue
                again = any(s == side for s, _ in seen)  # another figure at the same size
                seen.add(figure)
                shapes = {
                    "classification": ((3, side, side),),
                    "video": ((3, 16, side, side),),
                    "optical_flow": ((3, 512, 512),) * 2,
                }.get(kind)
                label = f"{name}@{side}" if side else name
                heads, note = heads_run(f"{type(weights).__name__}.{weights.name}")
                yield Case(
                    name=f"{label} {weights.name}" if again else label,
                    reference=f"torchvision:{name}",
                    kind=kind,
                    inputs=shapes,
                    params=weights.meta["num_params"],
                    macs=weights.meta["_ops"],
                    published=True,
                    args=tuple({**pretrained_args(name, kind, side), **heads}.items()),
                    note=note,
                )


def timm_cases(only: str | None) -> Iterator[Case]:
    for name in TIMM_MODELS:
        if only and only not in name:
            continue
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False).eval()
        side = model.pretrained_cfg.get("input_size", (3, 224, 224))
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(torch.empty(1, *side, device="meta"))
        params = sum(p.numel() for p in model.parameters())
        yield Case(
            name,
            f"timm:{name}",
            "timm",
            (tuple(side),),
            params,
            counter.get_total_flops() / 2,
            published=False,
        )


def verdict(case: Case, params: int, macs: int) -> str:
    if case.published:
        same_macs = round(macs / 1e9, 3) == round(case.macs, 3)
    else:
        same_macs = macs == case.macs
    if params == case.params and same_macs:
        return "exact"
    close_macs = (
        abs(macs / 1e9 - case.macs) <= 0.01 * case.macs
        if case.published
        else abs(macs - case.macs) <= 0.01 * case.macs
    )
    return (
        "within 1 %"
        if close_macs and abs(params - case.params) <= 0.01 * case.params
        else ("wrong")
    )


def judged(case: Case, profile: Profile) -> tuple[str, str]:
    """The verdict of ``profile`` against ``case``'s figure, and what was adjusted to compare.
    A detector's params are as built (trainable BatchNorm) less the backbone's BatchNorm affine,
    which the pretrained configuration freezes; its count must be complete."""
    if case.kind != "detection":
        return verdict(case, profile.params, profile.macs), ""
    frozen = frozen_norm_params(case.reference)
    pretrained = profile.params - frozen  # the v2 models keep trainable BatchNorm
    matched = profile.params if profile.params == case.params else pretrained
    found = verdict(case, matched, profile.macs) if profile.complete else "wrong"
    if matched == profile.params:
        return found, ""
    return found, f"{profile.params:,} as built, less {frozen:,} BatchNorm frozen when pretrained"


def run(case: Case) -> Outcome:
    start = time.perf_counter()
    request = Request(case.reference, input=case.inputs, args=dict(case.args))
    try:
        check = cross_check(request)
    except CnnprofError as exc:
        return Outcome(case, seconds=time.perf_counter() - start, note=str(exc)[:120])
    except Exception as exc:  # a bug in cnnprof: the zoo goes on and the table says so
        note = f"BUG {type(exc).__name__}: {exc}"[:120]
        return Outcome(case, seconds=time.perf_counter() - start, note=note)
    default = check.empirical
    found, built = judged(case, default)
    note = "; ".join(filter(None, [built, *default.missing, case.note]))
    if case.kind == "detection" and found != "exact":
        note += "; MACs depend on the proposals and detections the heads run on"
    if default.counted_on != "meta":
        note = (note + "; " if note else "") + default.counted_on.split(":")[0]
    agree = "=" if check.agree else f"≠ ({len(check.differences)} rows)"
    return Outcome(
        case, default.params, default.macs, found, agree, time.perf_counter() - start, note
    )


@dataclass(frozen=True)
class Default:
    """A model counted with no input given: at what, from where, how it compares with the
    figure at that input, and whether the JSON ``output`` is what the forward returns."""

    reference: str
    args: tuple[tuple[str, object], ...]
    input: str = "–"
    input_from: str = ""
    verdict: str = "failed"
    output: str = ""
    note: str = ""


def _tensors(out: object) -> Iterator[torch.Tensor]:
    """The tensors a forward returned, in order (a tuple's, a list's or a dict's, nested)."""
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, dict):
        for value in out.values():
            yield from _tensors(value)
    elif isinstance(out, (tuple, list)):
        for value in out:
            yield from _tensors(value)


def forward_output(source: OutsideSource, named: bool) -> list[list[int]] | None:
    """The shape of each tensor the model's forward returns, as the JSON writes it (``named``:
    the ``outputs`` dims, per image unless the model takes a list of images; else ``output``'s
    row shape). On meta; a forward that cannot run there runs on the CPU with the count's
    seeded weights and input. None when it returns no tensor."""
    inputs = source.inputs()
    try:
        module, device = source.module("meta"), "meta"
        with torch.no_grad():
            out = module(*inputs.tensors(1, device))
    except NotImplementedError:  # as the count does: real weights and input, seed 0
        with fixed_seed():
            module = source.module("cpu", fresh=True)
        with torch.no_grad():
            out = module(*inputs.tensors(1, "cpu"))
    found = list(_tensors(out))
    if not named:
        return [shape_of(t.shape[1:]).as_list() for t in found] or None
    return [list(t.shape if inputs.image_list else t.shape[1:]) for t in found] or None


def output_check(source: OutsideSource, doc: dict) -> str:
    """The output check: "=" when the JSON's outputs (``outputs``' tensors, else ``output``) are
    the forward's, else what each says; "–" when the forward returns no tensor."""
    named = "outputs" in doc
    reported = list(doc["outputs"].values()) if named else [doc["output"]]
    try:
        shapes = forward_output(source, named)
    except Exception as exc:  # a forward that fails here too: said, not judged
        return f"– ({type(exc).__name__})"
    if shapes is None:
        return "–"
    return "=" if reported == shapes else f"≠ reported {reported}, forward {shapes}"


def run_default(reference: str, args: tuple, cases: list[Case]) -> Default:
    """``reference`` counted with no input given, against the one of ``cases`` (its figures)
    whose input is the one counted."""
    try:
        source = resolve(Request(reference, args=dict(args)))
        profile = source.profile()
    except CnnprofError as exc:
        return Default(reference, args, note=str(exc)[:120])
    except Exception as exc:  # a bug in cnnprof: the pass goes on and the table says so
        return Default(reference, args, note=f"BUG {type(exc).__name__}: {exc}"[:120])
    match = [c for c in cases if c.inputs is None or c.inputs == profile.inputs]
    found = judged(match[0], profile)[0] if match else "no figure"
    doc = profile_dict(profile)
    return Default(
        reference,
        args,
        profile.input_text,
        doc.get("input_from", ""),
        found,
        output_check(source, doc),
        "; ".join(profile.missing),
    )


def defaults_pass(cases: list[Case]) -> list[Default]:
    """Each model (with its pretrained arguments) once, no input given."""
    done: list[Default] = []
    for (reference, args), same in per_model(cases).items():
        done.append(run_default(reference, args, same))
        print(default_table(done[-1:]).splitlines()[-1], flush=True, file=sys.stderr)
    return done


def per_model(cases: list[Case]) -> dict[tuple[str, tuple], list[Case]]:
    """The cases of each model (a reference with its pretrained arguments), in order."""
    models: dict[tuple[str, tuple], list[Case]] = {}
    for case in cases:
        models.setdefault((case.reference, case.args), []).append(case)
    return models


def model_name(reference: str, args: tuple[tuple[str, object], ...]) -> str:
    """A model as the tables name it: its reference and arguments, at most 42 characters."""
    return (reference + "".join(f" {k}={v}" for k, v in args))[:42]


def default_table(done: list[Default]) -> str:
    lines = [f"{'model':<42} {'input':<16} {'from':<13} {'verdict':<10} {'output':<8}  note"]
    for d in done:
        lines.append(
            f"{model_name(d.reference, d.args):<42} {d.input:<16} {d.input_from:<13} "
            f"{d.verdict:<10} {d.output:<8}  {d.note}"
        )
    return "\n".join(lines)


def default_summary(done: list[Default]) -> str:
    counts = {v: sum(d.verdict == v for d in done) for v in ("exact", "no figure", "failed")}
    declared = sum(d.input_from == "model config" for d in done)
    outputs = sum(d.output == "=" for d in done)
    checked = sum(d.output != "" and not d.output.startswith("–") for d in done)
    return (
        f"no --input: {len(done)} models, {declared} at their declared input; "
        f"{counts['exact']} exact · {counts['no figure']} no figure at that input · "
        f"{len(done) - sum(counts.values())} off · {counts['failed']} failed; "
        f"output = forward on {outputs} of {checked} checked"
        + (
            f" ({len(done) - checked} not: no tensor returned, or failed)"
            if checked < len(done)
            else ""
        )
    )


def table(outcomes: list[Outcome]) -> str:
    lines = [
        f"{'model':<42} {'kind':<14} {'params':>12} {'expected':>12} {'GMACs':>9} "
        f"{'expected':>9} {'verdict':<10} {'walk':<12} {'s':>5}  note"
    ]
    for o in outcomes:
        c = o.case
        expected = f"{c.macs:.3f}" if c.published else f"{c.macs / 1e9:.3f}"
        got = "–" if o.macs is None else f"{o.macs / 1e9:.3f}"
        params = "–" if o.params is None else f"{o.params:,}"
        lines.append(
            f"{c.name:<42} {c.kind:<14} {params:>12} {c.params:>12,} {got:>9} {expected:>9} "
            f"{o.verdict:<10} {o.walk:<12} {o.seconds:5.1f}  {o.note}"
        )
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> str:
    counts = {
        v: sum(o.verdict == v for o in outcomes) for v in ("exact", "within 1 %", "wrong", "failed")
    }
    return (
        f"{counts['exact']} exact · {counts['within 1 %']} within 1 % · "
        f"{counts['wrong']} wrong · {counts['failed']} failed"
    )


@dataclass(frozen=True)
class OnnxOutcome:
    """A model exported and counted from its file: "exact" (params and MACs equal), "folded"
    (MACs equal, params fewer by exactly the BatchNorm folded), "differs" or "failed"."""

    reference: str
    args: tuple[tuple[str, object], ...]
    verdict: str = "failed"
    macs: str = ""
    params: str = ""
    seconds: float = 0.0
    note: str = ""


def run_onnx(case: Case, folder: str) -> OnnxOutcome:
    """``case``'s model exported into ``folder`` and its file counted against the torch count."""
    start = time.perf_counter()
    request = Request(case.reference, input=case.inputs, args=dict(case.args))
    path = Path(folder) / "model.onnx"
    try:
        check = export(request, path)
    except CnnprofError as exc:
        note = str(exc)[:160]
        return OnnxOutcome(
            case.reference, case.args, seconds=time.perf_counter() - start, note=note
        )
    except Exception as exc:  # a bug in cnnprof: the pass goes on and the table says so
        note = f"BUG {type(exc).__name__}: {exc}"[:160]
        return OnnxOutcome(
            case.reference, case.args, seconds=time.perf_counter() - start, note=note
        )
    finally:
        path.unlink(missing_ok=True)
    macs, params, folded = (
        check.macs_difference,
        check.params_difference,
        check.exported.folded_params,
    )
    verdict = "differs" if not check.agree else "exact" if params == 0 else "folded"
    missing = "; ".join(check.file.missing)
    return OnnxOutcome(
        case.reference,
        case.args,
        verdict,
        "=" if macs == 0 else f"{macs:+,}",
        "=" if params == 0 else f"-{params:,} (folded {folded:,})",
        time.perf_counter() - start,
        missing[:160],
    )


def onnx_pass(cases: list[Case]) -> list[OnnxOutcome]:
    """Each model (with its pretrained arguments, at its first case's input) exported once."""
    done: list[OnnxOutcome] = []
    with tempfile.TemporaryDirectory(prefix="cnnprof-zoo-") as folder:
        for same in per_model(cases).values():
            done.append(run_onnx(same[0], folder))
            print(onnx_row(done[-1]), flush=True, file=sys.stderr)
    return done


def onnx_row(o: OnnxOutcome) -> str:
    return (
        f"{model_name(o.reference, o.args):<42} {o.verdict:<8} {o.macs:<14} {o.params:<26} "
        f"{o.seconds:6.1f}  {o.note}"
    )


def onnx_table(done: list[OnnxOutcome]) -> str:
    header = f"{'model':<42} {'verdict':<8} {'MACs':<14} {'params':<26} {'s':>6}  note"
    return "\n".join([header, *map(onnx_row, done)])


def onnx_summary(done: list[OnnxOutcome]) -> str:
    counts = {v: sum(o.verdict == v for o in done) for v in ("exact", "folded", "differs")}
    failed = [o for o in done if o.verdict == "failed"]
    named = "".join(f"\n  failed: {o.reference}: {o.note}" for o in failed)
    differs = "".join(
        f"\n  differs: {o.reference}: MACs {o.macs}, params {o.params}"
        for o in done
        if o.verdict == "differs"
    )
    exported = len(done) - len(failed)
    macs_equal = sum(o.macs == "=" for o in done if o.verdict != "failed")
    return (
        f"onnx: {exported} exported · {macs_equal} MACs equal · params equal {counts['exact']}, "
        f"folded-only {counts['folded']} · {counts['differs']} differ · {len(failed)} failed"
        + differs
        + named
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="only models whose name contains this")
    parser.add_argument("--skip-timm", action="store_true")
    parser.add_argument(
        "--defaults-only", action="store_true", help="only the pass with no input given"
    )
    parser.add_argument("--onnx-only", action="store_true", help="only the ONNX export pass")
    options = parser.parse_args()
    warnings.filterwarnings("ignore")
    cases = list(torchvision_cases(options.only))
    if not options.skip_timm:
        cases += list(timm_cases(options.only))
    if options.onnx_only:
        done_onnx = onnx_pass(cases)
        print(onnx_table(done_onnx))
        print(onnx_summary(done_onnx))
        return 0
    if not options.defaults_only:
        outcomes = []
        for case in cases:
            outcomes.append(run(case))
            print(table(outcomes[-1:]).splitlines()[-1], flush=True, file=sys.stderr)
        print(table(outcomes))
        print(summary(outcomes))
        walk_ok = sum(o.walk == "=" for o in outcomes if o.verdict != "failed")
        print(
            f"leaf walk equal to the default on {walk_ok} of "
            f"{sum(o.verdict != 'failed' for o in outcomes)} counted"
        )
    done = defaults_pass(cases)
    print(default_table(done))
    print(default_summary(done))
    if not options.defaults_only:
        done_onnx = onnx_pass(cases)
        print(onnx_table(done_onnx))
        print(onnx_summary(done_onnx))
    return 0


if __name__ == "__main__":
    sys.exit(main())
