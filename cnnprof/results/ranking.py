"""Which layer rows to show: sorted by a cost, largest first, and cut to the top N — the
bottleneck view of `--sort` and `--top`. Pure data; every format shows the same rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import TypeVar

from cnnprof.errors import OptionError
from cnnprof.results.profile import LayerCost
from cnnprof.results.timing import LayerTime
from cnnprof.results.vocab import COUNT_SORT, TIME_SORT

Row = TypeVar("Row", LayerCost, LayerTime)

# `--sort` keys of a counted layer (`cnnprof count --layers`) and of a timed one (`latency`): each
# reads the attribute `cnnprof.results.vocab` names for it.
COUNT_KEYS: Mapping[str, Callable[[LayerCost], float]] = MappingProxyType(
    {key: attrgetter(attribute) for key, attribute in COUNT_SORT.items()}
)
TIME_KEYS: Mapping[str, Callable[[LayerTime], float]] = MappingProxyType(
    {key: attrgetter(attribute) for key, attribute in TIME_SORT.items()}
)


def ranked(
    rows: Sequence[Row],
    keys: Mapping[str, Callable[[Row], float]],
    sort: str | None,
    top: int | None,
    command: str,
) -> tuple[Row, ...]:
    """``rows`` in network order, or largest ``sort`` first (ties keep network order); the
    first ``top`` of them when given."""
    if sort is not None and sort not in keys:
        raise OptionError(f"--sort {sort}: {command} sorts by {', '.join(keys)}")
    if top is not None and top < 1:
        raise OptionError(f"--top {top}: expected a row count ≥ 1")
    chosen = list(rows) if sort is None else sorted(rows, key=keys[sort], reverse=True)
    return tuple(chosen[:top] if top is not None else chosen)
