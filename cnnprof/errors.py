"""cnnprof's own errors. The CLI turns each into one line on stderr and its exit code."""

from __future__ import annotations


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
    """An optional dependency is not installed; the message names the extra that brings it."""


class OutOfTime(CnnprofError):
    """Work stopped at its time limit (--timeout, --budget); the message says which and where."""
