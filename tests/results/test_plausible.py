"""A device calibration is checked before it is cached (`results.plausible`): the dip seen on a
busy machine (issue 16: a 4 MiB copy at 0.5 GB/s between copies at 171 GB/s) is refused; real
steps (leaving a cache: a few times slower, and staying slower) pass."""

from __future__ import annotations

from dataclasses import replace

from cnnprof.results.device import Peaks, Roofs
from cnnprof.results.plausible import implausible

MIB = 2**20
HEALTHY = Roofs(
    flops_per_s=100e9,
    conv_curve=((10**6, 20e9), (10**7, 50e9), (10**8, 80e9)),
    bandwidth=((MIB, 171e9), (4 * MIB, 120e9), (8 * MIB, 40e9), (64 * MIB, 15e9)),
    op_overhead=(("conv", 10e-6),),
)


def _peaks(roofs: Roofs) -> Peaks:
    return Peaks("cpu", "test cpu", "2.13.0", 4, "float32", "2026-01-01T00:00:00Z", roofs)


def test_a_healthy_calibration_with_cache_steps_passes():
    assert implausible(_peaks(HEALTHY)) == []


def test_a_copy_dip_between_fast_sizes_is_refused():
    dip = ((MIB, 171e9), (4 * MIB, 0.5e9), (8 * MIB, 171e9), (64 * MIB, 15e9))
    (reason,) = implausible(_peaks(replace(HEALTHY, bandwidth=dip)))
    assert "copy bandwidth" in reason and "4,194,304" in reason and "0.50 GB/s" in reason


def test_a_convolution_dip_and_a_missing_peak_are_refused():
    curve = ((10**6, 20e9), (10**7, 1e9), (10**8, 80e9))
    reasons = implausible(_peaks(replace(HEALTHY, conv_curve=curve, flops_per_s=0.0)))
    assert any("1×1 conv" in r and "GFLOP/s" in r for r in reasons)
    assert "no matmul peak was measured" in reasons


def test_a_convolution_far_beyond_the_matmul_peak_is_refused():
    fast = ((10**6, 20e9), (10**7, 50e9), (10**8, 900e9))
    reasons = implausible(_peaks(replace(HEALTHY, conv_curve=fast)))
    assert any("beyond the matmul peak" in r for r in reasons)


def test_a_peak_that_did_not_repeat_across_rounds_is_refused():
    """One round at 200 GFLOP/s and one at 90: the machine changed under the benchmark."""
    steady = replace(_peaks(HEALTHY), peak_rounds=(200e9, 190e9))
    assert implausible(steady) == []
    shaken = replace(_peaks(HEALTHY), peak_rounds=(200e9, 90e9))
    assert any("differed between rounds" in reason for reason in implausible(shaken))


def test_the_rounds_travel_with_the_cached_record():
    record = replace(_peaks(HEALTHY), peak_rounds=(200e9, 190e9))
    assert Peaks.from_dict(record.to_dict()) == record
