"""cnnprof against its peers: wall time and peak RSS, each tool in a fresh process.

Every measurement is one ``python -c`` child: wall time is taken around the whole child (interpreter
start included), peak RSS is the child's own ``ru_maxrss`` from ``os.wait4`` (per child, so not the
cumulative RUSAGE_CHILDREN maximum). The baseline is ``python -c "import torch"`` in the same run
and interpreter. Each cell is the median of ``--repeats`` fresh runs, interleaved round-robin.

The peers (fvcore, ptflops, thop, torchinfo) count the real CPU module that cnnprof's builder makes
(random weights), called as their READMEs show: fvcore ``FlopCountAnalysis(model, x).total()``,
ptflops ``get_model_complexity_info(model, (C, H, W))``, thop ``profile(model, inputs=(x,))``,
torchinfo ``summary(model, input_data=x).total_mult_adds``; their wall time therefore includes
cnnprof's builder (a meta-device probe pass, then random CPU weights). "torch + build" is that
import and build alone: the floor under any count that needs the model. A
peer run whose estimated RSS (weights + activations) or time exceeds the limits is reported as
skipped instead of run; a watchdog also kills any child that crosses them. MB is 2**20 bytes.

    .venv-bench/bin/python benchmarks/peers.py --python .venv-bench/bin/python
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MODELS = (
    "resnet50",
    "vgg16",
    "mobilenet_v2",
    "efficientnet_b7",
    "vgg16@res=2048",
    "tests/factories/custom_cnn.py:make",
)
BASELINE = "torch import"
BUILT = "torch + build"  # import torch and build the model on the CPU, as every peer must
CNNPROF = ("cnnprof analytic", "cnnprof empirical")
PEERS = ("fvcore", "ptflops", "thop", "torchinfo")
TOOLS = (BUILT, *CNNPROF, *PEERS)
GRAPH_KEEPING = {"fvcore", "ptflops"}  # forward runs with autograd on: activations are kept
ASSUMED_GMACS_PER_S = 10.0  # a deliberately low CPU rate, for the skip estimate only

# What each child runs. {ref} is the cnnprof reference ("vgg16@res=2048"); the last stdout line
# is the MAC count the tool reported, so the table shows that each tool really did its work.
_BUILD = """
import torch
from cnnprof.api import request
from cnnprof.api.sources import resolve
source = resolve(request({ref!r}))
model = source.module("cpu").eval()
shape = tuple(source.input_shape.as_list())
x = torch.randn(1, *shape)
"""
SNIPPETS = {
    BASELINE: "import torch",
    BUILT: _BUILD + "print(0)",
    "cnnprof analytic": "import cnnprof\nprint(cnnprof.count({ref!r}).macs)",
    "cnnprof empirical": "import cnnprof\nprint(cnnprof.count({ref!r}, empirical=True).macs)",
    "fvcore": _BUILD
    + """
from fvcore.nn import FlopCountAnalysis
flops = FlopCountAnalysis(model, x)
flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
print(flops.total())
""",
    "ptflops": _BUILD
    + """
from ptflops import get_model_complexity_info
macs, params = get_model_complexity_info(
    model, shape, as_strings=False, print_per_layer_stat=False
)
print(int(macs))
""",
    "thop": _BUILD
    + """
from thop import profile
macs, params = profile(model, inputs=(x,), verbose=False)
print(int(macs))
""",
    "torchinfo": _BUILD
    + """
from torchinfo import summary
print(summary(model, input_data=x, verbose=0).total_mult_adds)
""",
}
IMPORTS = {"fvcore": "fvcore.nn", "ptflops": "ptflops", "thop": "thop", "torchinfo": "torchinfo"}


@dataclass
class Run:
    wall: float
    rss_kb: int
    ok: bool
    cpu: float = 0.0  # user + system seconds of the child (less sensitive to other load)
    note: str = ""
    macs: int | None = None


@dataclass
class Cell:
    model: str
    tool: str
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.skipped and bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return statistics.median(r.rss_kb for r in self.runs) / 1024

    @property
    def status(self) -> str:
        if self.skipped:
            return self.skipped
        bad = [r.note for r in self.runs if not r.ok]
        return bad[0] if bad else ""


def measure(python: str, code: str, timeout: float, rss_limit_kb: int) -> Run:
    """One fresh child: wall seconds around it, its own peak RSS via wait4, killed if it crosses
    the time or memory limit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        start = time.perf_counter()
        proc = subprocess.Popen([python, "-c", code], stdout=out, stderr=err, env=env)
        killed: list[str] = []
        done = threading.Event()

        def watchdog() -> None:
            status = Path(f"/proc/{proc.pid}/status")
            while not done.wait(0.05):
                if time.perf_counter() - start > timeout:
                    killed.append(f"killed: over {timeout:g} s")
                    proc.kill()
                    return
                try:
                    text = status.read_text()
                except OSError:
                    continue
                for line in text.splitlines():
                    if line.startswith("VmRSS:") and int(line.split()[1]) > rss_limit_kb:
                        killed.append(f"killed: over {rss_limit_kb * 1024 / 1e9:g} GB RSS")
                        proc.kill()
                        return

        guard = threading.Thread(target=watchdog, daemon=True)
        guard.start()
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        wall = time.perf_counter() - start
        done.set()
        guard.join()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        lines = out.read().decode(errors="replace").split()
        if killed or proc.returncode != 0:
            tail = err.read().decode(errors="replace").strip().splitlines()
            note = killed[0] if killed else f"failed: {tail[-1] if tail else proc.returncode}"
            return Run(wall, usage.ru_maxrss, False, cpu, note)
        macs = int(float(lines[-1])) if lines else None
        return Run(wall, usage.ru_maxrss, True, cpu, macs=macs)


def estimate(ref: str, tool: str, base_rss_gb: float) -> tuple[float, float]:
    """(GB, seconds) a peer needs: real weights, plus the activations it keeps alive (all of
    them, ×3 for conv/norm/act outputs, when autograd records the forward), at an assumed rate."""
    import cnnprof  # pure Python, no torch

    p = cnnprof.count(ref)
    acts = 3 * p.activations * p.dtype_bytes if tool in GRAPH_KEEPING else p.peak_activation_bytes
    need_gb = base_rss_gb + (p.param_bytes + acts) / 1e9
    return need_gb, p.macs / 1e9 / ASSUMED_GMACS_PER_S


def available(python: str, module: str) -> bool:
    code = f"import importlib.util as u, sys; sys.exit(u.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def table(cells: list[Cell], base: Cell) -> list[str]:
    head = "| model | tool | wall s | × torch-import wall | peak RSS MB | RSS − torch-import MB "
    lines = [
        head + "| CPU s (× torch import) | reported GMACs |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    bw, brss, bcpu = base.wall, base.rss_mb, base.cpu
    lines.append(
        f'| — | `python -c "import torch"` | {bw:.2f} | 1.00× | {brss:.0f} | 0 | '
        f"{bcpu:.2f} (1.00×) | — |"
    )
    for c in cells:
        if not c.ok:
            lines.append(f"| {c.model} | {c.tool} | — | — | — | — | — | {c.status} |")
            continue
        macs = c.runs[0].macs
        gmacs = f"{macs / 1e9:,.2f}" if macs is not None else "—"
        lines.append(
            f"| {c.model} | {c.tool} | {c.wall:.2f} | {fmt_ratio(c.wall / bw)} | "
            f"{c.rss_mb:.0f} | {c.rss_mb - brss:+.0f} | "
            f"{c.cpu:.2f} ({fmt_ratio(c.cpu / bcpu)}) | {gmacs} |"
        )
    return lines


def verdicts(cells: list[Cell], base: Cell, wall_x: float, rss_mb: float, faster: float) -> bool:
    """Print PASS/FAIL per target with the figures; True when every target passes."""
    bw, brss = base.wall, base.rss_mb
    ok_all = True

    def verdict(ok: bool, text: str) -> None:
        nonlocal ok_all
        ok_all &= ok
        print(f"- **{'PASS' if ok else 'FAIL'}** {text}")

    emp = [c for c in cells if c.tool == "cnnprof empirical"]
    built = {c.model: c for c in cells if c.tool == BUILT and c.ok}
    print(f"\nTargets (torch import: {bw:.2f} s, {brss:.0f} MB):\n")
    for c in emp:
        if not c.ok:
            verdict(False, f"cnnprof empirical on {c.model}: {c.status}")
            continue
        floor = built[c.model].wall if c.model in built else bw
        verdict(
            c.wall <= wall_x * floor,
            f"cnnprof empirical ≤ {wall_x:g}× (torch import + building the model) on {c.model}: "
            f"{c.wall:.2f} s = {c.wall / floor:.2f}× (limit {wall_x * floor:.2f} s)",
        )
        for peer in (p for p in cells if p.model == c.model and p.tool in PEERS and p.ok):
            verdict(
                c.wall < peer.wall,
                f"cnnprof empirical faster than {peer.tool} on {c.model}: "
                f"{c.wall:.2f} s vs {peer.wall:.2f} s",
            )
        verdict(
            c.rss_mb <= brss + rss_mb,
            f"cnnprof empirical ≤ torch-import RSS + {rss_mb:g} MB on {c.model}: "
            f"{c.rss_mb:.0f} MB = {c.rss_mb - brss:+.0f} MB (limit {brss + rss_mb:.0f} MB)",
        )
    analytic = {c.model: c for c in cells if c.tool == "cnnprof analytic"}
    for c in cells:
        if c.tool not in PEERS or ":" in c.model:  # an outside model has no analytic path
            continue
        a = analytic.get(c.model)
        if a is None:
            continue  # cnnprof analytic not among --tools
        if not a.ok:
            verdict(False, f"cnnprof analytic on {c.model}: {a.status}")
            continue
        if c.skipped:
            print(
                f"- n/a  cnnprof analytic ≥ {faster:g}× faster than {c.tool} on {c.model}: "
                f"{c.tool} {c.status}"
            )
            continue
        if not c.ok:
            verdict(False, f"{c.tool} on {c.model}: {c.status}")
            continue
        verdict(
            c.wall >= faster * a.wall,
            f"cnnprof analytic ≥ {faster:g}× faster than {c.tool} on {c.model}: "
            f"{a.wall:.2f} s vs {c.wall:.2f} s = {c.wall / a.wall:.1f}×",
        )
    return ok_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter with torch, cnnprof and the peers (default: this one)",
    )
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-rss-gb", type=float, default=12.0)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per child")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = ap.parse_args(argv)
    python = args.python
    rss_limit_kb = int(args.max_rss_gb * 1e9 / 1024)

    info = subprocess.run(
        [
            python,
            "-c",
            "import sys, torch; print(sys.version.split()[0], torch.__version__, "
            "torch.get_num_threads())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    print(
        f"Interpreter {python} (Python {info[0]}, torch {info[1]}, {info[2]} threads); "
        f"{platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeats} fresh "
        f"processes per cell; load average at the start: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}.",
        flush=True,
    )

    base = Cell("—", BASELINE)
    cells = [Cell(m, t) for m in args.models for t in args.tools]
    missing = {t for t in PEERS if t in args.tools and not available(python, IMPORTS[t])}
    # Warm the page cache once (not recorded), so the first measured run is not a cold start.
    warm = "import torch, cnnprof\n" + "".join(
        f"import {IMPORTS[t]}\n" for t in PEERS if t in args.tools and t not in missing
    )
    measure(python, warm, args.timeout, rss_limit_kb)
    base_rss_gb = measure(python, SNIPPETS[BASELINE], args.timeout, rss_limit_kb).rss_kb / 1e6
    for c in cells:
        if c.tool in missing:
            c.skipped = f"skipped ({c.tool} not installed in {python})"
        elif c.tool in PEERS:
            need_gb, need_s = estimate(c.model, c.tool, base_rss_gb)
            if need_gb > args.max_rss_gb:
                c.skipped = f"skipped (needs ~{need_gb:.0f} GB)"
            elif need_s > args.timeout:
                c.skipped = f"skipped (needs ~{need_s:.0f} s)"

    todo = [base, *(c for c in cells if not c.skipped)]
    for rep in range(args.repeats):
        for c in todo:
            if c.runs and not c.runs[-1].ok:
                continue  # a failure repeats; do not wait for it again
            code = SNIPPETS[c.tool].format(ref=c.model)
            run = measure(python, code, args.timeout, rss_limit_kb)
            c.runs.append(run)
            print(
                f"  [{rep + 1}/{args.repeats}] {c.model:<16} {c.tool:<18} {run.wall:6.2f} s "
                f"{run.cpu:6.2f} s CPU "
                f"{run.rss_kb / 1024:7.0f} MB {run.note}",
                file=sys.stderr,
                flush=True,
            )

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Load average at the end: {load} (other work on the machine widens the spread).\n")
    print("\n".join(table(cells, base)))
    ok = verdicts(cells, base, wall_x=1.2, rss_mb=100, faster=10)
    print(f"\nOverall: {'PASS' if ok else 'FAIL'}")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
