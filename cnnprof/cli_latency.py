"""`cnnprof latency` and `cnnprof device`: parse options, measure, hand results to
render_latency / report_latency.

`cli.py` calls `register(app)` once its own commands exist; the commands are defined inside
`register` so that they can use cli's option types without a circular import. (No
``from __future__ import annotations`` here: Typer reads these annotations at registration.)
"""

from pathlib import Path
from typing import Annotated, Any

import typer

LATENCY_HELP = (
    "Measure MODEL's latency on this machine: warm-up until stable, then timed runs (median, "
    "p10/p90, CV, throughput), in eval and inference mode with random weights. --layers times "
    "every row and sets each row's time next to its MACs and the roofline's prediction "
    "(max(FLOPs ÷ peak, bytes ÷ bandwidth) + per-op overhead, from `cnnprof device`)."
)


def _warmup(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        from cnnprof.errors import OptionError

        raise OptionError(f"--warmup {text}: expected a run count ≥ 0 or 'auto'")
    return count


def register(app: typer.Typer) -> None:
    """Add `latency` and `device` to ``app`` (once; a second call changes nothing)."""
    if any(c.name == "latency" for c in app.registered_commands):
        return
    from cnnprof import cli

    Device = Annotated[str, typer.Option("--device", "-d", help="cpu, cuda or mps.")]
    Threads = Annotated[
        int | None,
        typer.Option("--threads", "-t", help="Intra-op threads (default: torch's current)."),
    ]
    Dtype = Annotated[str, typer.Option("--dtype", help="float32, float16 or bfloat16.")]

    @app.command("latency", help=LATENCY_HELP)
    def latency_command(
        model: cli.Model,
        device: Device = "cpu",
        batch: Annotated[int, typer.Option("--batch", "-b", help="Images per forward pass.")] = 1,
        threads: Threads = None,
        dtype: Dtype = "float32",
        channels_last: Annotated[
            bool, typer.Option("--channels-last", help="NHWC memory format for weights, input.")
        ] = False,
        warmup: Annotated[
            str,
            typer.Option("--warmup", help="Warm-up runs, or 'auto' (until the median is stable)."),
        ] = "auto",
        runs: Annotated[int | None, typer.Option("--runs", "-n", help="Timed runs.")] = None,
        min_time: Annotated[
            float | None,
            typer.Option(
                "--min-time",
                help="Timed runs adding up to at least S seconds (default 1, ≥ 5 runs); with "
                "--layers a hooked run follows each.",
            ),
        ] = None,
        budget: Annotated[
            float, typer.Option("--budget", help="Seconds the whole measurement may take.")
        ] = 60.0,
        layers: Annotated[
            bool, typer.Option("--layers", "-l", help="Time every row (forward hooks).")
        ] = False,
        plot: Annotated[
            Path | None,
            typer.Option("--plot", help="Write the roofline chart to FILE.png or FILE.svg."),
        ] = None,
        fmt: cli.FormatOpt = cli.Format.table,
        output: cli.Output = None,
        force: cli.Force = False,
        alpha: cli.Alpha = 1.0,
        rho: cli.Rho = None,
        resolution: cli.Resolution = None,
        depth: cli.Depth = 1.0,
        phi: cli.Phi = None,
        num_classes: cli.NumClasses = None,
        input: cli.InputOpt = None,
        arg: cli.Args = None,
    ) -> None:
        from cnnprof import api, render_latency, report_latency
        from cnnprof.errors import OptionError
        from cnnprof.report import to_json
        from cnnprof.timing import LatencySettings, check_dtype

        settings = LatencySettings(
            device=device, threads=threads, channels_last=channels_last, warmup=_warmup(warmup),
            runs=runs, min_time=min_time, budget=budget, layers=layers or plot is not None,
        )  # fmt: skip
        settings.check()
        check_dtype(dtype)
        request = api.request(
            model, alpha=alpha, depth=depth, resolution=resolution, rho=rho, phi=phi,
            num_classes=num_classes, batch=batch, dtype=dtype, input=cli.parse_input(input),
            args=api.parse_args(arg),
        )  # fmt: skip
        if plot is not None:
            render_latency.check_plot(plot, force)
        if output is not None and output.exists() and not force:
            raise OptionError(f"--output {output}: the file exists; add --force to overwrite")
        from cnnprof.analytic.roofline import estimate
        from cnnprof.empirical.latency import measure_request
        from cnnprof.empirical.peaks import peaks

        with render_latency.progress_bar("device peaks") as progress:
            device_peaks = peaks(device, dtype, threads, progress=progress)
        with render_latency.progress_bar(f"timing {model}") as progress:
            timing = measure_request(request, settings, progress)
        roofs = device_peaks.roofs()
        profile = api.profile_analytic(request)
        predicted = estimate(
            profile, roofs, channels_last, timing.kernel_map(), timing.page_faults,
            timing.row_faults(),
        )  # fmt: skip
        content: Any
        if fmt is cli.Format.json:
            content = to_json(report_latency.latency_dict(timing, predicted, roofs))
        elif fmt is cli.Format.csv:
            content = report_latency.latency_csv(timing, predicted)
        elif fmt is cli.Format.md:
            content = report_latency.latency_markdown(timing, predicted)
        else:
            content = render_latency.latency_view(timing, predicted, layers)
        cli.emit(content, output, force)
        if plot is not None:
            render_latency.roofline_chart(timing, roofs, plot)

    @app.command("device")
    def device_command(
        device: Device = "cpu",
        dtype: Dtype = "float32",
        threads: Threads = None,
        refresh: Annotated[
            bool, typer.Option("--refresh", help="Measure again, replacing the cached peaks.")
        ] = False,
        fmt: cli.FormatOpt = cli.Format.table,
        output: cli.Output = None,
        force: cli.Force = False,
    ) -> None:
        """Show the device's measured peaks: matmul FLOP/s, copy bandwidth by size, per-op
        overhead (cached per device, torch version, threads and dtype)."""
        from cnnprof import render_latency, report_latency
        from cnnprof.report import to_csv, to_json
        from cnnprof.timing import LatencySettings, check_dtype

        LatencySettings(device=device, threads=threads).check()
        check_dtype(dtype)
        from cnnprof.empirical import peaks as device_peaks

        with render_latency.progress_bar("device peaks") as progress:
            measured = device_peaks.peaks(device, dtype, threads, refresh=refresh,
                                          progress=progress)  # fmt: skip
        path = device_peaks.cache_path(
            measured.device_name, measured.torch_version, measured.threads, measured.dtype
        )
        content: Any
        if fmt is cli.Format.json:
            content = to_json(measured.to_dict())
        elif fmt is cli.Format.csv:
            records = report_latency.peaks_records(measured)
            content = to_csv(records, list(records[0]))
        elif fmt is cli.Format.md:
            content = report_latency.peaks_markdown(measured)
        else:
            content = render_latency.peaks_table(measured, path if path.is_file() else None)
        cli.emit(content, output, force)
