"""cnnprof's own errors. The CLI turns each into one line on stderr and its exit code.

Two things every message draws on live here too, so that each is written once: the command that
installs an optional package (`INSTALL`), and the close match for a typo (`did_you_mean`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

# torch's CPU wheels: the public index's torch is the CUDA build, several GB (README, "Use in CI").
_CPU_WHEELS = "--index-url https://download.pytorch.org/whl/cpu"
# The zoo's side environment (Makefile: ZOO_PINS, `make zoo`): the torchvision and timm it runs.
_ZOO_TORCH = f"pip install torch==2.14.1 torchvision==0.29.1 {_CPU_WHEELS}"
_ZOO = "(or, in a clone of cnnprof, `make zoo`: the zoo's environment in .venv-zoo)"

# Optional package → the command that installs it, for every `MissingExtra`.
# fmt: off
INSTALL: Mapping[str, str] = MappingProxyType({
    "torch": f"pip install torch {_CPU_WHEELS}, then pip install 'cnnprof[torch]'",
    "torchvision": f"{_ZOO_TORCH} {_ZOO}",
    "timm": f"{_ZOO_TORCH}, then pip install timm==1.0.31 {_ZOO}",
    "onnx": "pip install 'cnnprof[onnx]'",
    "onnxruntime": "pip install 'cnnprof[onnx]'",
    "onnxscript": "pip install onnxscript",
    "matplotlib": "pip install 'cnnprof[plot]'",
})
# fmt: on


class CnnprofError(Exception):
    """Something the user gave was wrong; the message says what and what would be right."""

    exit_code = 2


class ArchError(CnnprofError):
    """A model's architecture file (a YAML family) is malformed: the message names file, row and
    field."""


class CheckFileError(CnnprofError):
    """A baseline or budget document for `cnnprof check` is malformed: the message names file,
    entry and field."""


class UnknownModel(CnnprofError):
    """A model name or reference that no source knows."""


class ShapeError(CnnprofError):
    """The input does not fit the network (a feature map vanishes, channels do not divide)."""


class OptionError(CnnprofError):
    """A command-line or API option out of range."""


class LoadError(CnnprofError):
    """An outside model could not be imported, constructed or run."""


class MissingExtra(CnnprofError):
    """An optional dependency is not installed; the message says how to install it."""

    @classmethod
    def of(cls, package: str, needs: str, aside: str = "") -> MissingExtra:
        """The error "NEEDS needs PACKAGE: COMMAND", the command from `INSTALL` (``aside`` after
        it: what else would do)."""
        return cls(f"{needs} needs {package}: {INSTALL[package]}{aside}")


class OutOfTime(CnnprofError):
    """Work stopped at its time limit (--timeout, --budget); the message says which and where."""


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The (at most three) ``choices`` closest to ``word``, closest first: what a typo meant."""
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """The words " (did you mean 'alpha'?)" naming the choice closest to ``word``, or "" when
    none is close: written right after the word a message refuses."""
    close = close_matches(word, choices)
    return f" (did you mean '{close[0]}'?)" if close else ""
