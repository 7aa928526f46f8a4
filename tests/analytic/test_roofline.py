"""The roofline estimate over a device's roofs: pure Python, run with or without torch."""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import replace

import pytest

from cnnprof import api
from cnnprof.analytic import roofline
from cnnprof.analytic.roofline import (
    OpCost,
    conv_rate,
    estimate,
    layer_estimate,
    reorder_s,
    row_ops,
)
from cnnprof.results.device import Roofs, interpolate

ROOFS = Roofs(
    flops_per_s=100e9,
    conv_curve=((10**6, 20e9), (10**8, 80e9)),
    bandwidth=((2**16, 60e9), (2**24, 20e9), (2**28, 10e9)),
    op_overhead=(
        ("conv", 10e-6),
        ("norm", 8e-6),
        ("act", 2e-6),
        ("linear", 5e-6),
        ("conv/mkldnn", 70e-6),
        ("conv/mkldnn/channels_last", 50e-6),
        ("conv/slow2d", 9e-6),
    ),
    byte_ceilings=(("dwconv", 3e9), ("dwconv/channels_last", 9e9)),
    flop_ceilings=(("maxpool", 0.3e9), ("lrn", 1e9)),
    kxk_curve=((10**6, 40e9), (10**8, 95e9)),
    layout=((2**16, 40e9), (2**24, 5e9)),
    layout_kernel="mkldnn",
    fault_s=1e-6,
)


def test_roofline_rows_are_sums_of_their_ops():
    profile = api.profile_analytic(api.request("mobilenet"))
    rows = {r.path: r for r in profile.layers}
    dw = layer_estimate(rows["1.dw"], ROOFS, 1, 4)
    assert [o.kind for o in dw.ops] == ["dwconv", "norm", "act"]
    assert dw.overhead_s == pytest.approx(20e-6)
    assert all(o.bound == "memory" for o in dw.ops), "depthwise, BatchNorm, ReLU: memory-bound"
    assert dw.ops[0].memory_s == pytest.approx(dw.ops[0].bytes / 3e9), "the depthwise ceiling"
    assert dw.ops[1].bytes == 2 * 4 * rows["1.dw"].out_shape.elements
    pw = layer_estimate(rows["7.0.pw"], ROOFS, 1, 4)
    assert pw.bound == "compute" and pw.ops[0].compute_s > pw.ops[0].memory_s
    conv_flops = pw.ops[0].flops  # 2 × 51.4 M: at the top of the curve, below the matmul peak
    assert conv_flops / pw.ops[0].compute_s == pytest.approx(80e9)
    small = layer_estimate(rows["1.pw"], ROOFS, 1, 4).ops[0]  # a smaller convolution: slower
    assert 20e9 < small.flops / small.compute_s < 80e9
    assert dw.bound == "memory"
    assert pw.seconds == pytest.approx(sum(o.seconds for o in pw.ops))
    nhwc = layer_estimate(rows["1.dw"], ROOFS, 1, 4, channels_last=True)
    assert nhwc.ops[0].memory_s == pytest.approx(dw.ops[0].memory_s / 3)
    fc = layer_estimate(rows["11"], ROOFS, 1, 4)
    assert [o.kind for o in fc.ops] == ["linear"] and fc.bound == "memory"
    assert fc.overhead_s == pytest.approx(5e-6), "an fc row costs a linear launch"
    whole = estimate(profile, ROOFS)
    assert whole.seconds == pytest.approx(sum(r.seconds for r in whole.layers))
    assert 0 < whole.share_bound("memory") < 1
    batched = estimate(api.profile_analytic(api.request("mobilenet", batch=8)), ROOFS)
    assert batched.seconds > whole.seconds


def test_squeeze_excite_reads_its_input_for_the_pool():
    profile = api.profile_analytic(api.request("efficientnet_b0"))
    se = next(r for r in profile.layers if r.op == "se")
    kinds = {o.kind: o for o in layer_estimate(se, ROOFS, 1, 4).ops}
    assert kinds["pool"].bytes == 4 * se.in_shape.elements
    assert kinds["act"].bytes < 4 * 1000, "the SE activations run on the squeezed vector"


def test_bandwidth_curve_is_interpolated_and_flat_outside():
    assert ROOFS.bytes_per_s(1) == 60e9
    assert ROOFS.bytes_per_s(2**30) == 10e9
    assert 20e9 < ROOFS.bytes_per_s(2**20) < 60e9
    assert ROOFS.dram_bytes_per_s == 10e9 and 20e9 < ROOFS.cache_bytes_per_s < 60e9
    assert ROOFS.ridge == pytest.approx(10.0)


def test_each_convolution_pays_the_launch_of_the_kernel_it_ran():
    profile = api.profile_analytic(api.request("mobilenet"))
    row = {r.path: r for r in profile.layers}["7.0.pw"]
    assert layer_estimate(row, ROOFS, 1, 4).overhead_s == pytest.approx(10e-6 + 8e-6 + 2e-6)
    onednn = layer_estimate(row, ROOFS, 1, 4, launches=("mkldnn",))
    assert onednn.ops[0].overhead_s == pytest.approx(70e-6)
    last = layer_estimate(row, ROOFS, 1, 4, channels_last=True, launches=("mkldnn",))
    assert last.ops[0].overhead_s == pytest.approx(50e-6), "its channels-last launch"
    unknown = layer_estimate(row, ROOFS, 1, 4, launches=("slow2d", "", "cudnn"))
    assert unknown.ops[0].overhead_s == pytest.approx(9e-6 + 10e-6 + 10e-6), "generic otherwise"
    se = next(
        r for r in api.profile_analytic(api.request("efficientnet_b0")).layers if r.op == "se"
    )
    two = layer_estimate(se, ROOFS, 1, 4, launches=("slow2d", "slow2d"))
    assert two.ops[0].overhead_s == pytest.approx(18e-6), "SE runs two convolutions"


def test_nchw_tensors_on_the_reordering_kernel_pay_two_reorders():
    profile = api.profile_analytic(api.request("mobilenet"))
    rows = {r.path: r for r in profile.layers}
    pw = rows["3.pw"]
    inp, out = 4 * pw.in_shape.elements, 4 * pw.out_shape.elements
    reordered = layer_estimate(pw, ROOFS, 1, 4, launches=("mkldnn",)).ops[0]
    assert reordered.layout_s == pytest.approx(
        reorder_s(ROOFS.layout, inp) + reorder_s(ROOFS.layout, out)
    )
    assert reordered.seconds == pytest.approx(
        max(reordered.compute_s, reordered.memory_s) + reordered.overhead_s + reordered.layout_s
    )
    assert reorder_s(ROOFS.layout, 2**23) == pytest.approx(2**24 / 5e9)
    assert layer_estimate(pw, ROOFS, 1, 4, True, launches=("mkldnn",)).ops[0].layout_s == 0
    assert layer_estimate(pw, ROOFS, 1, 4, launches=("slow2d",)).ops[0].layout_s == 0
    dw = layer_estimate(rows["1.dw"], ROOFS, 1, 4, launches=("mkldnn",)).ops[0]
    assert dw.memory_s == pytest.approx(dw.bytes / 9e9), "the kernel's own (channels-last) rate"


def test_larger_kernels_follow_their_own_curve():
    profile = api.profile_analytic(api.request("resnet18"))
    row = next(r for r in profile.layers if r.kernel == (3, 3) and r.op == "conv")
    (conv, *_) = layer_estimate(row, ROOFS, 1, 4).ops
    assert conv.flops / conv.compute_s == pytest.approx(95e9), "top of the k×k curve"
    one = next(r for r in profile.layers if r.kernel == (1, 1))
    (conv, *_) = layer_estimate(one, ROOFS, 1, 4).ops
    assert conv.flops / conv.compute_s <= 80e9


def test_convolutions_on_few_positions_move_toward_their_own_curve():
    few = ((10**6, 5e9), (10**8, 20e9))
    roofs = replace(ROOFS, curve_pixels=784, few_pixels=49, conv_curve_few=few)
    rate = functools.partial(conv_rate, roofs)  # (op) → FLOP/s
    op = OpCost("conv", 10**7, 0, 0, kernel=(1, 1), pixels=784)
    many = rate(op)
    assert many == pytest.approx(interpolate(ROOFS.conv_curve, 10**7))
    low = interpolate(few, 10**7)
    assert rate(replace(op, pixels=49)) == pytest.approx(low)
    assert rate(replace(op, pixels=7)) == pytest.approx(low), "flat below the probes"
    assert rate(replace(op, pixels=196)) == pytest.approx((many + low) / 2), "log"
    assert rate(replace(op, pixels=0)) == pytest.approx(many), "positions unknown"
    squeeze = next(
        r for r in api.profile_analytic(api.request("efficientnet_b0")).layers if r.op == "se"
    )
    assert row_ops(squeeze, 4, 4)[0].pixels == 4, "an SE block convolves a pooled 1×1 map"
    kxk = replace(op, kernel=(3, 3), pixels=49)
    assert rate(kxk) == pytest.approx(interpolate(ROOFS.kxk_curve, 10**7)), "no pair"
    both = replace(roofs, kxk_curve_few=((10**6, 10e9), (10**8, 30e9)))
    profile = api.profile_analytic(api.request("resnet18"))
    late = {r.path for r in profile.layers if r.out_shape.h == 7 and r.op == "conv"}
    slower, plain = estimate(profile, both).by_path(), estimate(profile, ROOFS).by_path()
    assert late and all(slower[p].seconds > plain[p].seconds for p in late)


def test_page_faults_are_charged_on_top_of_the_rows():
    profile = api.profile_analytic(api.request("mobilenet"))
    plain = estimate(profile, ROOFS)
    faulting = estimate(profile, ROOFS, page_faults=2500.0)
    assert plain.faults_s == 0 and faulting.layers_s == pytest.approx(plain.seconds)
    assert faulting.seconds - plain.seconds == pytest.approx(2500 * 1e-6)


def test_faults_counted_per_row_are_charged_to_their_rows_and_the_rest_to_the_pass():
    profile = api.profile_analytic(api.request("mobilenet"))
    plain = estimate(profile, ROOFS).by_path()
    split = estimate(profile, ROOFS, page_faults=2500.0, row_faults={"1.dw": 1000.0, "2.pw": 500.0})
    rows = split.by_path()
    assert rows["1.dw"].seconds - plain["1.dw"].seconds == pytest.approx(1000 * 1e-6)
    assert rows["2.pw"].page_faults == 500 and rows["0"].faults_s == 0
    assert split.faults_s == pytest.approx(1000 * 1e-6), "the 1,000 no row took"
    assert split.all_faults_s == pytest.approx(2500 * 1e-6)
    more = estimate(profile, ROOFS, page_faults=100.0, row_faults={"1.dw": 300.0})
    assert more.faults_s == 0 and more.all_faults_s == pytest.approx(300 * 1e-6)


def test_weights_move_at_the_rate_for_a_whole_forward_pass():
    hot = OpCost("conv", 0, read=2**20, written=0)
    cold = OpCost("conv", 0, read=2**20, written=0, weights=2**20)
    assert roofline.memory_s(ROOFS, hot) == pytest.approx(2**20 / ROOFS.bytes_per_s(2**20))
    assert roofline.memory_s(ROOFS, cold, footprint=2**28) == pytest.approx(2**20 / 10e9)
    profile = api.profile_analytic(api.request("vgg16"))
    fc = layer_estimate(profile.layers[-3], ROOFS, 1, 4, footprint=profile.bytes_moved)
    assert fc.op == "fc" and fc.ops[0].memory_s > profile.layers[-3].params * 4 / 10e9


def test_max_pool_and_lrn_have_their_own_compute_ceilings():
    profile = api.profile_analytic(api.request("googlenet"))
    pool = next(r for r in profile.layers if r.op == "maxpool")
    op = layer_estimate(pool, ROOFS, 1, 4).ops[0]
    assert op.kind == "maxpool" and op.bound == "compute"
    assert op.compute_s == pytest.approx(pool.flops_by_category["pool"] / 0.3e9)
    lrn = next(r for r in profile.layers if r.op == "lrn")
    (op,) = layer_estimate(lrn, ROOFS, 1, 4).ops
    assert op.kind == "lrn" and op.compute_s == pytest.approx(lrn.flops_by_category["lrn"] / 1e9)


@pytest.mark.slow
def test_roofline_and_reports_never_import_torch():
    code = (
        "import sys\n"
        "from cnnprof import api\n"
        "from cnnprof.analytic.roofline import Roofs, estimate\n"
        "import cnnprof.render.latency, cnnprof.report.latency, cnnprof.results.timing\n"
        "curve = ((65536, 6e10), (2**28, 5e9))\n"
        "roofs = Roofs(1e11, curve, curve, (('conv', 1e-5),))\n"
        "assert estimate(api.profile_analytic(api.request('mobilenet')), roofs).seconds > 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
