"""How a result shows itself in IPython and Jupyter: as the CLI's table. results/ imports no
render/ (it sits below it), so the table comes from the function the package registers here when
its API is first used (`cnnprof.show`'s text); until then a result shows its repr."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The one function that draws a result as text, once the package has registered it.
_DRAW: dict[str, Callable[[Any], str]] = {}


def register(draw: Callable[[Any], str]) -> None:
    """``draw(result)`` is the text a result shows in IPython and Jupyter."""
    _DRAW["text"] = draw


class Shown:
    """A result IPython and Jupyter display as the CLI's table (`_repr_pretty_`)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        draw = _DRAW.get("text")
        printer.text(repr(self) if cycle or draw is None else draw(self))
