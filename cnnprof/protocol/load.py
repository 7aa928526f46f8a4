"""The load on this machine, read from Linux's /proc without any runtime: the 1-minute load
average (``/proc/loadavg``), every CPU's busy, idle and stolen time (``/proc/stat``, in clock
ticks) and this process's own CPU time (`os.times`, children excluded), over a window. What
others took is the machine's busy time less this process's own. Where there is no /proc (macOS,
Windows) the load is unknown: None."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cnnprof.results.load import Load
from cnnprof.results.timing import cpu_cores

Reader = Callable[[str], str | None]  # a /proc file's path → its text (None: not there)
LOAD_WINDOW_S = 0.25  # seconds sampled before a measurement starts
# /proc/stat's cpu line: user nice system idle iowait irq softirq steal (guest counted in user)
BUSY_FIELDS, IDLE_FIELDS, STEAL_FIELD = (0, 1, 2, 5, 6), (3, 4), 7


def read_proc(path: str) -> str | None:
    """A /proc file's text, None where it cannot be read."""
    try:
        return Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def own_cpu_s() -> float:
    """This process's CPU time, user and system, all its threads, children excluded."""
    times = os.times()
    return times.user + times.system


@dataclass(frozen=True)
class Snapshot:
    """The counters at one moment: wall clock, all CPUs' busy and stolen seconds, this
    process's CPU seconds."""

    wall: float
    busy_s: float
    steal_s: float
    own_s: float


def snapshot(read: Reader = read_proc, own: Callable[[], float] = own_cpu_s) -> Snapshot | None:
    """The counters now; None where /proc/stat cannot be read."""
    text = read("/proc/stat")
    if not text or not text.startswith("cpu "):
        return None
    ticks = [int(v) for v in text.splitlines()[0].split()[1:]]
    if len(ticks) <= STEAL_FIELD:
        return None
    hertz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = sum(ticks[i] for i in BUSY_FIELDS)
    return Snapshot(time.monotonic(), busy / hertz, ticks[STEAL_FIELD] / hertz, own())


def load_between(
    start: Snapshot | None,
    end: Snapshot | None,
    read: Reader = read_proc,
    cores: int | None = None,
) -> Load | None:
    """The load over the window from ``start`` to ``end`` (None when either is unknown, or
    /proc/loadavg cannot be read)."""
    text = read("/proc/loadavg")
    if start is None or end is None or not text:
        return None
    cores = cores or cpu_cores()
    wall = max(end.wall - start.wall, 1e-9)
    capacity = wall * cores
    others = (end.busy_s - start.busy_s) - (end.own_s - start.own_s)
    return Load(
        load_average=float(text.split()[0]),
        others_share=min(1.0, max(0.0, others / capacity)),  # jiffies are coarse
        steal_share=max(0.0, (end.steal_s - start.steal_s) / capacity),
        cores=cores,
        window_s=wall,
    )


def sample_load(
    seconds: float = LOAD_WINDOW_S,
    read: Reader = read_proc,
    sleep: Callable[[float], None] = time.sleep,
) -> Load | None:
    """The load over the next ``seconds`` (this process idle meanwhile); None where unknown."""
    start = snapshot(read)
    if start is None:
        return None
    sleep(seconds)
    return load_between(start, snapshot(read), read)
