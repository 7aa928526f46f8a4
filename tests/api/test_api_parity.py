"""The Python API takes what the CLI takes: every option of a command is a keyword of its
function by the same name (``--min-time`` is ``min_time``), or is listed in `CLI_ONLY` with the
reason; and `cnnprof.show` prints the table the command prints, through the same presenters.

The CLI's options are read from the app itself, so an option added to a command without a
keyword (or a reason) fails here. Measured latency is kept to one tiny run; predictions use the
shipped device profile and counts the analytic path."""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

import cnnprof
from cnnprof.api.keywords import CLI_ONLY, FUNCTIONS, NO_FUNCTION
from cnnprof.cli.app import COMMANDS, app

DEVICE = "amd-epyc-1t"  # a shipped device profile (configs/devices/)
FACTORY = str(Path(__file__).parents[1] / "factories" / "custom_cnn.py") + ":make"
WIDTH = 100


def _options(command: str) -> list[str]:
    """The command's options by their keyword names: each long flag in snake_case."""
    group = typer.main.get_command(app)
    params = group.get_command(click.Context(group), command).params
    return [_keyword(p.opts) for p in params if isinstance(p, click.Option)]


def _keyword(flags: Iterable[str]) -> str:
    long = next(flag for flag in flags if flag.startswith("--"))
    return long.removeprefix("--").replace("-", "_")


def _keywords(function: Callable) -> set[str]:
    kinds = (inspect.Parameter.KEYWORD_ONLY,)
    return {p.name for p in inspect.signature(function).parameters.values() if p.kind in kinds}


def gaps(options: list[str], keywords: set[str], cli_only: dict[str, str]) -> list[str]:
    """Each option neither a keyword nor listed as the CLI's alone; each listed both ways, or
    listed but no option of the command."""
    out = [f"--{o}: no keyword and no reason" for o in options if o not in keywords | set(cli_only)]
    out += [f"{o}: a keyword and listed as the CLI's alone" for o in keywords & set(cli_only)]
    out += [f"{o}: listed, but the command has no such option" for o in set(cli_only) - {*options}]
    return out


def test_every_command_has_a_function_or_a_reason() -> None:
    assert set(FUNCTIONS) | set(NO_FUNCTION) == set(COMMANDS)
    assert not set(FUNCTIONS) & set(NO_FUNCTION)
    assert set(CLI_ONLY) == set(FUNCTIONS)


@pytest.mark.parametrize("command", sorted(FUNCTIONS))
def test_every_option_is_a_keyword_by_the_same_name(command: str) -> None:
    function = getattr(cnnprof, FUNCTIONS[command])
    assert gaps(_options(command), _keywords(function), dict(CLI_ONLY[command])) == []


def test_an_option_added_to_the_cli_alone_is_caught() -> None:
    options = [*_options("latency"), "new_option"]
    found = gaps(options, _keywords(cnnprof.latency), dict(CLI_ONLY["latency"]))
    assert found == ["--new_option: no keyword and no reason"]


def test_an_unknown_keyword_names_the_taken_ones_and_the_nearest() -> None:
    with pytest.raises(TypeError, match=r"no keyword 'thread'; did you mean 'threads'.*min_time"):
        cnnprof.latency("lenet5", thread=1)
    with pytest.raises(
        TypeError, match=r"plot= is the CLI's --plot alone; it draws a chart into a file"
    ):
        cnnprof.compare("lenet5", "alexnet", plot="c.png")
    with pytest.raises(TypeError, match=r"layers= .*cnnprof.show\(result, layers=...\)"):
        cnnprof.count("lenet5", layers=True)


def test_count_takes_count_s_options() -> None:
    p = cnnprof.count("mobilenet", alpha=0.5, resolution=160, batch=2, dtype="float16")
    assert int(p.macs / 2e6) == 76 and p.dtype == "float16"  # MobileNet paper, Table 9: 76 M
    written = cnnprof.count("regnet_y_400mf@wm=2.5,d=20")
    assert cnnprof.count("regnet_y_400mf", param={"wm": 2.5, "d": 20}).macs == written.macs
    assert cnnprof.count("regnet_y_400mf", param=["wm=2.5", "d=20"]).macs == written.macs


def test_an_outside_model_takes_arg_and_input_as_the_cli() -> None:
    p = cnnprof.count(FACTORY, arg={"num_classes": 5}, input=(3, 32, 32), timeout=60)
    cli = _json("count", FACTORY, "--arg", "num_classes=5", "--input", "3,32,32", "--layers")
    assert cnnprof.to_dict(p) == cli
    assert cnnprof.count(FACTORY, arg="num_classes=5", input=(3, 32, 32)).macs == p.macs


def test_compare_sweep_and_separable_take_their_options() -> None:
    c = cnnprof.compare("mobilenet", "resnet18", baseline="resnet18", device_profile=DEVICE)
    cli = _json("compare", "mobilenet", "resnet18", "--baseline", "resnet18")
    assert cnnprof.to_dict(c) == _json(
        "compare", "mobilenet", "resnet18", "--baseline", "resnet18", "--device-profile", DEVICE
    )
    assert cli["baseline"] == "resnet18"
    s = cnnprof.sweep("mobilenet", alpha="1,0.5", resolution=[224, 160], pareto=True, max_points=4)
    assert cnnprof.to_dict(s) == _json(
        "sweep", "mobilenet", "-a", "1,0.5", "-r", "224,160", "--pareto", "--max-points", "4"
    )
    with pytest.raises(cnnprof.CnnprofError, match="--max-points"):
        cnnprof.sweep("mobilenet", alpha="1,0.5", resolution=[224, 160], max_points=3)
    r = cnnprof.separable("mobilenet", device_profile=DEVICE)
    assert cnnprof.to_dict(r) == _json("separable", "mobilenet", "--device-profile", DEVICE)
    with pytest.raises(cnnprof.CnnprofError, match="threads=1: sets how latency=True measures"):
        cnnprof.compare("mobilenet", "resnet18", threads=1)
    with pytest.raises(cnnprof.CnnprofError, match="layers/by without latency=True"):
        cnnprof.separable("mobilenet", layers=True)
    with pytest.raises(cnnprof.CnnprofError, match="this measures in one runtime"):
        cnnprof.compare("mobilenet", "resnet18", latency=True, runtime="torch,onnxruntime")


def test_latency_predicts_for_a_device_profile_as_the_cli() -> None:
    predicted = cnnprof.latency("lenet5", device_profile=DEVICE, batch=2, runtime="torch")
    cli = _json("latency", "lenet5", "--device-profile", DEVICE, "--batch", "2", "--layers")
    assert isinstance(predicted, cnnprof.Predicted)
    assert cnnprof.to_dict(predicted) == cli
    with pytest.raises(cnnprof.CnnprofError, match="threads= with device_profile"):
        cnnprof.latency("lenet5", device_profile=DEVICE, threads=1)


def test_latency_measures_with_the_cli_s_measurement_options() -> None:
    pytest.importorskip("torch")
    timing = cnnprof.latency("lenet5", threads=1, min_time=0.05, warmup=1, budget=30)
    assert isinstance(timing, cnnprof.Timing)
    assert timing.threads == 1 and timing.runs >= 1 and timing.median > 0
    settings = cnnprof.LatencySettings(threads=1, runs=3, warmup=0)
    assert cnnprof.latency("lenet5", settings=settings, runs=2).runs == 2


def test_snapshot_and_check_take_their_options(tmp_path: Path) -> None:
    baseline = cnnprof.snapshot(["lenet5"], batch=2, device_profile=DEVICE)
    printed = _run("snapshot", "lenet5", "--batch", "2", "--device-profile", DEVICE)
    assert baseline == json.loads(printed.stdout)
    path = tmp_path / "baseline.json"
    path.write_text(cnnprof.to_json(baseline))
    report = cnnprof.check(path, tolerance="1%", latency_tolerance="20%", timeout=30, threads=1)
    assert report.passed
    cnnprof.show(report, width=WIDTH, file=(shown := io.StringIO()))
    assert shown.getvalue() == _run("check", str(path), "--tolerance", "1%").stdout
    assert cnnprof.check(path, update=True).changes == ()
    with pytest.raises(cnnprof.CnnprofError, match="processes=2: sets how latency=True"):
        cnnprof.snapshot(["lenet5"], processes=2)


def _run(*args: str) -> click.testing.Result:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    return result


def _json(*args: str) -> dict:
    return json.loads(_run(*args, "--format", "json").stdout)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (lambda: cnnprof.count("mobilenet", alpha=0.5), ("count", "mobilenet", "--alpha", "0.5")),
        (
            lambda: cnnprof.count("resnet18"),
            ("count", "resnet18", "--layers", "--sort", "macs", "--top", "5"),
        ),
        (
            lambda: cnnprof.compare("mobilenet", "resnet18", device_profile=DEVICE),
            ("compare", "mobilenet", "resnet18", "--device-profile", DEVICE),
        ),
        (
            lambda: cnnprof.latency("mobilenet", device_profile=DEVICE),
            ("latency", "mobilenet", "--device-profile", DEVICE, "--layers"),
        ),
        (
            lambda: cnnprof.sweep("mobilenet", alpha="1,0.5", resolution="224,160"),
            ("sweep", "mobilenet", "-a", "1,0.5", "-r", "224,160", "--pareto"),
        ),
        (lambda: cnnprof.separable("mobilenet"), ("separable", "mobilenet", "--layers")),
        (lambda: cnnprof.snapshot(["lenet5"]), ("snapshot", "lenet5")),
    ],
)
def test_show_prints_the_cli_s_table(call, args, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    printed = _run(*args).stdout
    shown = {"layers": True} if "--layers" in args else {}
    shown |= {"sort": "macs", "top": 5} if "--top" in args else {}
    cnnprof.show(call(), **shown)
    assert capsys.readouterr().out == printed


def test_show_takes_a_width_and_the_other_formats(capsys) -> None:
    profile = cnnprof.count("lenet5")
    cnnprof.show(profile, width=60)
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 60
    cnnprof.show(profile, format="json")
    assert capsys.readouterr().out == _run("count", "lenet5", "--format", "json").stdout
    with pytest.raises(cnnprof.CnnprofError, match="show: no table for int"):
        cnnprof.show(3)
    predicted = cnnprof.latency("lenet5", device_profile=DEVICE)
    with pytest.raises(cnnprof.CnnprofError, match="--by op` or `--max-depth N` shows them"):
        cnnprof.show(predicted, by="op")


class _Printer:
    """What IPython hands `_repr_pretty_`: text goes to it."""

    def __init__(self) -> None:
        self.shown = ""

    def text(self, text: str) -> None:
        self.shown += text


def test_a_notebook_displays_the_table() -> None:
    profile = cnnprof.count("lenet5")
    printer = _Printer()
    profile._repr_pretty_(printer, False)
    assert printer.shown.startswith("╭─ lenet5 · input 1×32×32") and "MACs" in printer.shown
    cycled = _Printer()
    profile._repr_pretty_(cycled, True)
    assert cycled.shown == repr(profile)


@pytest.mark.parametrize(
    ("keywords", "said"),
    [
        ({"top": 3}, "top shape the layer rows: add layers=True"),
        ({"max_depth": 1}, "max_depth shape the layer rows: add layers=True"),
        ({"metric": "params"}, "a Profile takes no metric"),
    ],
)
def test_show_refuses_what_a_profiles_table_has_no_use_for(keywords: dict, said: str) -> None:
    """As the CLI refuses an option its command does not have: never silently ignored."""
    with pytest.raises(cnnprof.CnnprofError, match=said):
        cnnprof.show(cnnprof.count("lenet5"), **keywords)


def test_show_refuses_row_options_a_prediction_does_not_take() -> None:
    predicted = cnnprof.latency("lenet5", device_profile=DEVICE)
    with pytest.raises(cnnprof.CnnprofError, match="a Predicted takes no sort, top"):
        cnnprof.show(predicted, layers=True, sort="time", top=3)
    comparison = cnnprof.compare("lenet5", "mobilenet")
    with pytest.raises(cnnprof.CnnprofError, match="a Comparison takes no layers"):
        cnnprof.show(comparison, layers=True)
    with pytest.raises(cnnprof.CnnprofError, match="metric='bogus': expected one of"):
        cnnprof.show(cnnprof.sweep("mobilenet", alpha="1,0.5"), metric="bogus")


def test_the_input_keyword_takes_the_clis_text_and_a_model_must_be_one() -> None:
    """`input="3,32,32"` is read as `--input 3,32,32` is (not as its characters); None or a
    number is no model (a TypeError naming what is expected, not a failed forward)."""
    factory = "tests.factories.custom_cnn:make"
    assert cnnprof.count(factory, input="3,32,32") == cnnprof.count(factory, input=(3, 32, 32))
    for bad in (None, 5):
        with pytest.raises(TypeError, match="expected a model: a name, a reference or an"):
            cnnprof.count(bad)
    with pytest.raises(cnnprof.CnnprofError, match="expected sizes such as '3,224,224'"):
        cnnprof.count(factory, input="3,x")
