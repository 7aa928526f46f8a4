"""Whether a device calibration can be right, before it is cached: a busy machine (another
process, a frequency change) leaves a dip in a curve — a 4 MiB copy at 0.5 GB/s between sizes at
171 GB/s — that a roofline would then charge every model for. Pure data in, reasons out."""

from __future__ import annotations

from cnnprof.results.device import Peaks

# A point this many times slower than both its neighbours is a dip no cache or kernel change
# explains (real steps, e.g. leaving the last-level cache, are a few times, and one-sided).
DIP = 8.0
# Calibrations run before an implausible one is kept as it is (shown with the reasons, and refused
# by the judge: `cnnprof.results.judge`, not cached).
MEASURE_TRIES = 2
# Rounds of the benchmark whose matmul peaks differ by more than this factor did not measure the
# same machine: something else ran during one of them.
ROUND_SPREAD = 1.5


def _dips(curve: tuple[tuple[float, float], ...], what: str, unit: str) -> list[str]:
    out = []
    for (_, before), (size, rate), (_, after) in zip(curve, curve[1:], curve[2:], strict=False):
        if rate * DIP < before and rate * DIP < after:
            out.append(
                f"{what} at {size:,.0f}: {rate / 1e9:,.2f} {unit} between "
                f"{before / 1e9:,.2f} and {after / 1e9:,.2f}"
            )
    return out


def implausible(peaks: Peaks) -> list[str]:
    """Why ``peaks`` cannot describe the device (an empty list: plausible). The matmul peak must
    repeat across the benchmark's rounds (within ``ROUND_SPREAD``), each curve must be free of
    isolated dips (copy bandwidth consistent across sizes, convolution rates near monotone), and
    no convolution may beat the matmul peak by more than ``DIP`` times."""
    r = peaks.roofs
    reasons = []
    if not r.flops_per_s > 0:
        reasons.append("no matmul peak was measured")
    rounds = [p for p in peaks.peak_rounds if p > 0]
    if len(rounds) > 1 and max(rounds) > ROUND_SPREAD * min(rounds):
        reasons.append(
            f"the matmul peak differed between rounds: {min(rounds) / 1e9:,.1f} to "
            f"{max(rounds) / 1e9:,.1f} GFLOP/s"
        )
    reasons += _dips(r.bandwidth, "copy bandwidth, bytes", "GB/s")
    for label, curve in peaks.conv_curves():
        reasons += _dips(curve, label + ", FLOPs", "GFLOP/s")
        fastest = max((rate for _, rate in curve), default=0.0)
        if r.flops_per_s > 0 and fastest > DIP * r.flops_per_s:
            reasons.append(
                f"{label} reached {fastest / 1e9:,.1f} GFLOP/s, beyond the matmul "
                f"peak {r.flops_per_s / 1e9:,.1f}"
            )
    return reasons
