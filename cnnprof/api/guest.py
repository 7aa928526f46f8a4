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

import contextlib
import functools
import itertools
import os
import pickle
import threading
import time
import weakref
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
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
# (a sweep's points) share its process, which ends when the last of them is collected.
_WORKERS: weakref.WeakValueDictionary[tuple[str, str], supervised.Worker] = (
    weakref.WeakValueDictionary()
)
_WORKERS_LOCK = threading.Lock()
_KEYS = itertools.count()


def _worker(reference: str) -> supervised.Worker:
    with _WORKERS_LOCK:
        where = (reference, os.getcwd())
        found = _WORKERS.get(where)
        if found is None:
            found = _WORKERS[where] = supervised.Worker(reference)
        return found


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

        ready = self.contender(settings.device, needs, settings.runtime)
        deadline = deadline or Deadline(settings.budget)
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
        """Contender ``index`` timed in the worker, for at most the timeout or what is left
        until ``stop``, whichever is sooner."""
        left = max(stop.left(), 0.0)
        within = min(self.request.timeout, left)
        late = f"{self.request.name}: forward did not finish within " + (
            f"the {left:.1f} s left of --budget" if left < self.request.timeout else self._limit
        )
        args = (index, settings, deadline, tuple(rows), within)
        return self._call("time", *args, limit=None, within=within, late=late, progress=progress)

    @property
    def _limit(self) -> str:
        return f"{self.request.timeout:g} s (--timeout)"

    def _own(self, name: str, *args: Any) -> Any:
        """``name(*args)`` answered by the worker, within what is left of the model's timeout
        for its own code."""
        left = self.request.timeout - self._spent
        late = f"{self.request.name}: its own code did not finish within {self._limit}"
        start = time.monotonic()
        try:
            return self._call(name, *args, limit=left, within=left, late=late)
        finally:
            self._spent += time.monotonic() - start

    def _call(self, name: str, *args: Any, **bounds: Any) -> Any:
        if self._late is not None:
            raise self._late
        try:
            return self._worker.call(self._key, self.request, name, *args, **bounds)
        except OutOfTime as exc:
            self._late = exc
            raise


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
