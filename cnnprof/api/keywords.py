"""The public functions' keywords are the CLI's options by the same names (``--min-time`` is
``min_time``); the options a function does not take are listed here, each with the reason and
where the API gives it instead, so that an option added to the CLI is either taken by its
function or said here (tests/api/test_api_parity.py holds the two together)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any, TypeVar

from cnnprof.arch.multipliers import Multipliers
from cnnprof.errors import close_matches

Function = TypeVar("Function", bound=Callable[..., Any])

# Each command of the CLI → the public function that does its work (`cnnprof.<function>`).
FUNCTIONS: Mapping[str, str] = MappingProxyType(
    {
        "count": "count",
        "compare": "compare",
        "sweep": "sweep",
        "separable": "separable",
        "latency": "latency",
        "snapshot": "snapshot",
        "check": "check",
    }
)

# The commands with no public function, and why.
NO_FUNCTION: Mapping[str, str] = MappingProxyType(
    {
        "list": "the registry as a listing: cnnprof.entry(name) reads one entry",
        "export": "writes an ONNX file with torch's exporter: a file, not a value to return",
        "device": "calibrates this machine and caches the result: a side effect, not a value",
    }
)

_FORMAT = "chooses the output's format: cnnprof.show(result, format=...) prints it"
_OUTPUT = "names the file the CLI writes; the API returns the value (cnnprof.to_json: its JSON)"
_FORCE = "lets --output replace a file; the API writes none"
_PLOT = "draws a chart into a file; the API returns the value charted"
_SHOWN = "shapes the table shown, not the result: cnnprof.show(result, {name}=...)"
_GROUPED = (
    "sums the timed rows per op kind or into modules by the count's rows, which a Timing does "
    "not carry: the CLI's latency --by op and --max-depth show them (layers=True times the rows)"
)
_OUTPUT_ONLY = {"format": _FORMAT, "output": _OUTPUT, "force": _FORCE}

# Command → its options (by their keyword names: --max-depth is max_depth) that its function does
# not take, and why.
CLI_ONLY: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "count": {
            **{name: _SHOWN.format(name=name) for name in ("layers", "max_depth", "by", "sort")},
            "top": _SHOWN.format(name="top"),
            "latency": "measures the model too: cnnprof.latency(model) returns the Timing",
            "train": "prints a training step's cost, which the API does not return",
            **_OUTPUT_ONLY,
        },
        "compare": {"plot": _PLOT, **_OUTPUT_ONLY},
        "sweep": {"metric": _SHOWN.format(name="metric"), "plot": _PLOT, **_OUTPUT_ONLY},
        "separable": dict(_OUTPUT_ONLY),
        "latency": {
            **{name: _GROUPED for name in ("by", "max_depth")},
            "plot": _PLOT,
            **{name: _SHOWN.format(name=name) for name in ("sort", "top")},
            **_OUTPUT_ONLY,
        },
        "snapshot": {
            "output": "names the file the CLI writes; the API returns the baseline document "
            "(cnnprof.to_json(baseline) is its text)",
            "force": _FORCE,
        },
        "check": dict(_OUTPUT_ONLY),
    }
)


def keywords(command: str) -> Callable[[Function], Function]:
    """A decorator: the public function of ``command`` refuses a keyword it does not take in
    one `TypeError` that says why (an option of the CLI's alone: where the API gives it) or
    which keywords it takes, with the nearest. Where it declares ``multipliers``, it takes the
    multiplier options there (``alpha`` … ``num_classes``) and is given their `Multipliers`."""
    refused = CLI_ONLY[command]

    def decorate(function: Function) -> Function:
        signature = inspect.signature(function)
        params: list[inspect.Parameter] = []
        for p in signature.parameters.values():
            params += list(_MULTIPLIERS) if p.name == "multipliers" else [p]
        taken = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        grouped = "multipliers" in signature.parameters

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            unknown = [name for name in kwargs if name not in taken]
            if unknown:
                where = f"cnnprof.{function.__name__}()"
                raise TypeError(_unknown(where, unknown[0], taken, refused))
            if grouped:
                given = {p.name: kwargs.pop(p.name) for p in _MULTIPLIERS if p.name in kwargs}
                kwargs["multipliers"] = Multipliers(**given)
            return function(*args, **kwargs)

        checked.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate


# The multiplier options as keywords, in the order the CLI's help lists them.
_MULTIPLIERS = tuple(
    inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=next(f.default for f in fields(Multipliers) if f.name == name),
        annotation=next(f.type for f in fields(Multipliers) if f.name == name),
    )
    for name in ("alpha", "rho", "resolution", "depth", "phi", "num_classes")
)


def _unknown(where: str, name: str, taken: list[str], refused: Mapping[str, str]) -> str:
    """The sentence for a keyword ``name`` the function does not take."""
    why = refused.get(name)
    if why is not None:
        return f"{where}: {name}= is the CLI's --{name.replace('_', '-')} alone; it {why}"
    near = close_matches(name, taken)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"{where} takes no keyword {name!r}{hint} (it takes: {', '.join(taken)})"
