"""The worker process's side of a `guest.GuestSource`: each model it is sent is opened once, as
a source that runs the model's code in this process, and each call is answered from a table
(`HANDLERS`); `supervised.serve` runs the loop. Started as ``python -c`` by `supervised.Worker`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cnnprof.api.supervised as supervised
from cnnprof.api.request import Request
from cnnprof.api.sources import require_torch, resolve
from cnnprof.results.vocab import Progress

if TYPE_CHECKING:
    from cnnprof.results.timing import Timing


@dataclass(frozen=True)
class Hosted:
    """What a worker holds: the model's source in this process, and its ready contenders."""

    source: Any
    contenders: list[Any] = field(default_factory=list)

    def failed(self, exc: BaseException) -> str:
        from cnnprof.empirical.outside import why

        return f"{self.source.request.name}: {why(exc)}"


def _host(request: Request) -> Hosted:
    """The worker's state: torch imported (one line naming the extra when it is missing),
    and the source that runs the model here."""
    source = resolve(request, supervised=False)
    require_torch(source.needs)
    return Hosted(source)


def _contender(hosted: Hosted, progress: Progress, *args: Any) -> int:
    hosted.contenders.append(hosted.source.contender(*args))
    return len(hosted.contenders) - 1


def _time(hosted: Hosted, progress: Progress, index: int, *args: Any) -> Timing:
    settings, deadline, rows, within = args
    with hosted.source.running(within):
        return hosted.contenders[index].timed(settings, deadline, progress, rows)  # type: ignore[no-any-return]


# Call → what the worker does for it: (hosted, progress, *args) → the answer.
HANDLERS = {
    "input_shape": lambda h, p: h.source.input_shape,
    "profile": lambda h, p: h.source.profile(),
    "counted": lambda h, p, counter: h.source.counted(counter),
    "cross_check": lambda h, p, counter: h.source.cross_check(counter),
    "trained": lambda h, p, trainable: h.source.trained(trainable),
    "exported": lambda h, p, exporter, opset: h.source.exported(exporter=exporter, opset=opset),
    "contender": _contender,
    "time": _time,
}


def serve() -> None:
    """A worker process's entry point (`supervised.Worker` starts it)."""
    from cnnprof.empirical.bound import time_limit

    supervised.serve(HANDLERS, _host, time_limit)
