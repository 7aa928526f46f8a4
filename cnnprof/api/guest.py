"""A model whose reference runs code cnnprof does not own — a user's ``file.py:factory`` or
``package.module:factory``, a torchvision or timm builder — answered from a worker process that
cnnprof supervises (`supervised.Worker`): the model is imported, built, counted and timed there,
and only results come back. Nothing the model's code does (ignore signals, exit, close a stream,
change directory, hang in C) can end or stall cnnprof, or decide its exit code.

`--timeout` is the model's, for all its own code outside a timed measurement together (import,
factory, a retry on the CPU, counting forwards), so a retry never doubles it; a timed measurement
is bounded by its budget, as in-process. A model given as an ``nn.Module`` object, and registry
models, are counted in cnnprof's own process (no cost to the common case).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import os
import pickle
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import cnnprof.api.supervised as supervised
from cnnprof.api.request import plain
from cnnprof.arch.model import Published, Shape
from cnnprof.errors import OutOfTime
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.vocab import Progress

if TYPE_CHECKING:
    from cnnprof.api.kinds import Source
    from cnnprof.protocol.interleave import Contender
    from cnnprof.results.export import Exported
    from cnnprof.results.profile import LayerCost
    from cnnprof.results.timing import Deadline, LatencySettings, Timing
    from cnnprof.results.training import MeasuredStep


# One worker per reference (and working directory): the models a command makes of one factory
# (a sweep's points, made one after another) share its process. The last RECENT workers are
# kept; an older one ends when the last model using it is collected.
RECENT = 4
_WORKERS: weakref.WeakValueDictionary[tuple[str, str], supervised.Worker] = (
    weakref.WeakValueDictionary()
)
_RECENT: collections.OrderedDict[tuple[str, str], supervised.Worker] = collections.OrderedDict()
_WORKERS_LOCK = threading.Lock()
_KEYS = itertools.count()


def _worker(reference: str) -> supervised.Worker:
    with _WORKERS_LOCK:
        where = (reference, os.getcwd())
        found = _WORKERS.get(where)
        if found is None:
            found = _WORKERS[where] = supervised.Worker(reference)
        _RECENT[where] = found
        _RECENT.move_to_end(where)
        while len(_RECENT) > RECENT:
            _RECENT.popitem(last=False)
        return found


def _later(deadline: Deadline, worker: supervised.Worker) -> Deadline:
    """``deadline`` moved on by the time its worker took to start since it began: starting a
    process (and importing torch there) is not the model's time."""
    return replace(deadline, start=deadline.start + worker.startup_since(deadline.start))


def supervise(source: Source) -> Source:
    """``source`` answered from a worker process where its model runs a user's code (see
    `GuestSource.takes`); as it is otherwise."""
    return GuestSource(source) if GuestSource.takes(source) else source


class GuestSource:
    """An outside model named by a reference, its code run in a supervised worker process.
    Once its code ran out of time, every call fails with that line (its time is spent)."""

    def __init__(self, local: Source) -> None:
        self.request = plain(local.request)
        self._local = local  # the same model in this process: what it can say without running
        self._worker = _worker(self.request.name)
        self._key = next(_KEYS)
        self._spent = 0.0  # seconds its own code took so far, outside timed measurements
        self._late: OutOfTime | None = None

    @staticmethod
    def takes(source: Source) -> bool:
        """Whether ``source``'s model runs a user's code named by a reference that another
        process can be sent (a lambda given as a factory argument through the API cannot)."""
        if not getattr(source, "guest", False):  # a kind that does not say runs here
            return False
        try:
            pickle.dumps(plain(source.request))
        except Exception:
            return False
        return supervised.available()

    guest = True
    published: Published | None = None
    options: str = ""

    @functools.cached_property
    def input_shape(self) -> Shape:  # type: ignore[override]
        return self._own("input_shape")  # type: ignore[no-any-return]

    def profile(self) -> Profile:
        return self._profile

    @functools.cached_property
    def _profile(self) -> Profile:
        return self._own("profile")  # type: ignore[no-any-return]

    def counted(self, counter: str) -> Profile:
        return self.profile() if counter == "torch" else self._own("counted", counter)

    def cross_check(self, counter: str) -> CrossCheck:
        return self._own("cross_check", counter)  # type: ignore[no-any-return]

    def rewrite_refusal(self, transform: str) -> str | None:
        return self._local.rewrite_refusal(transform)

    def running(self, budget: float | None = None) -> AbstractContextManager[None]:
        """Its code runs in the worker, which each call bounds: nothing to do here."""
        return contextlib.nullcontext()

    def trained(self, trainable: tuple[str, ...]) -> MeasuredStep:
        return self._own("trained", trainable)  # type: ignore[no-any-return]

    def exported(self, exporter: str = "torchscript", opset: int | None = None) -> Exported:
        return self._own("exported", exporter, opset)  # type: ignore[no-any-return]

    def contender(self, device: str, needs: str, runtime: str = "torch") -> Contender:
        """Its model made ready in the worker; measured there, block by block, on request."""
        return RemoteContender(self, self._own("contender", device, needs, runtime))

    def timed(
        self,
        settings: LatencySettings,
        progress: Progress | None,
        needs: str,
        *,
        deadline: Deadline | None = None,
        stop: Deadline | None = None,
    ) -> Timing:
        """As `ModuleSource.timed`, in the worker: made ready, then measured within
        ``deadline``, its code stopped at ``stop``."""
        from cnnprof.results.timing import Deadline

        deadline = deadline or Deadline(settings.budget)
        ready = self.contender(settings.device, needs, settings.runtime)
        rows = self.profile().layers
        return self.measure(ready.index, settings, deadline, progress, rows, stop or deadline)

    def measure(
        self,
        index: int,
        settings: LatencySettings,
        deadline: Deadline,
        progress: Progress | None,
        rows: Sequence[LayerCost],
        stop: Deadline,
    ) -> Timing:
        """Contender ``index`` timed in the worker within ``deadline``, its code stopped at
        ``stop`` (both moved on by the worker's start: see `_later`): a timed measurement is
        bounded by its time budget, not by --timeout."""
        from cnnprof.results.timing import Timing, budget_left

        deadline, stop = _later(deadline, self._worker), _later(stop, self._worker)
        within = max(stop.left(), 0.0)
        late = f"{self.request.name}: forward did not finish within {budget_left(within)}"
        args = (index, settings, deadline, tuple(rows), within)
        return self._call(
            "time", *args, limit=None, within=within, late=late, progress=progress, expect=Timing
        )

    @property
    def _limit(self) -> str:
        return f"{self.request.timeout:g} s (--timeout)"

    def _own(self, name: str, *args: Any) -> Any:
        """``name(*args)`` answered by the worker (as `_answers` says), within what is left of
        the model's timeout for its own code (the worker's start is not the model's)."""
        left = self.request.timeout - self._spent
        late = f"{self.request.name}: its own code did not finish within {self._limit}"
        start = time.perf_counter()
        try:
            expect = _answers()[name]
            return self._call(name, *args, limit=left, within=left, late=late, expect=expect)
        finally:
            took = time.perf_counter() - start
            self._spent += took - self._worker.startup_since(start)

    def _call(self, name: str, *args: Any, **bounds: Any) -> Any:
        if self._late is not None:
            raise self._late
        try:
            return self._worker.call(self._key, self.request, name, *args, **bounds)
        except OutOfTime as exc:
            self._late = exc
            raise


def _answers() -> Mapping[str, type]:
    """What the worker answers each call with: anything else is not an answer (one line, exit
    2). Imported when asked, so that a count loads no module of training or export."""
    from cnnprof.results.export import Exported
    from cnnprof.results.training import MeasuredStep

    return MappingProxyType(
        {
            "input_shape": Shape,
            "profile": Profile,
            "counted": Profile,
            "cross_check": CrossCheck,
            "trained": MeasuredStep,
            "exported": Exported,
            "contender": int,
        }
    )


@dataclass(frozen=True)
class RemoteContender:
    """A guest's model made ready in its worker: each measurement (a whole one, or one block
    of an interleaved run) is a call there."""

    source: GuestSource = field(repr=False)
    index: int

    def timed(
        self,
        settings: LatencySettings,
        deadline: Deadline,
        progress: Progress | None,
        rows: Sequence[LayerCost] = (),
    ) -> Timing:
        return self.source.measure(self.index, settings, deadline, progress, rows, deadline)
