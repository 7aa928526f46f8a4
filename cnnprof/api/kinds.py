"""What a model's source answers, whatever its kind (`Source`), and what a kind of source is
(`Kind`): callers ask these, never which kind they hold; `sources.resolve` alone knows the kinds."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from cnnprof.api.request import Request
from cnnprof.arch.model import Published, Shape
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.vocab import Progress

if TYPE_CHECKING:
    from cnnprof.protocol.interleave import Contender
    from cnnprof.results.export import Exported
    from cnnprof.results.timing import Deadline, LatencySettings, Timing
    from cnnprof.results.training import MeasuredStep


class Source(Protocol):
    """What a model's source answers, whatever its kind."""

    @property
    def request(self) -> Request:
        """The request it was resolved from."""

    @property
    def input_shape(self) -> Shape:
        """The C,H,W image its model is measured on."""

    @property
    def guest(self) -> bool:
        """Whether its model is built by code cnnprof does not own, named by a reference (run
        in a worker process that cnnprof supervises)."""

    @property
    def published(self) -> Published | None:
        """The paper's figure for exactly this configuration, if any."""

    @property
    def options(self) -> str:
        """What differs from the model as written, for titles (empty: nothing)."""

    def profile(self) -> Profile:
        """The default count."""

    def counted(self, counter: str) -> Profile:
        """What its model executes, counted by ``counter`` (one of `COUNTERS`)."""

    def cross_check(self, counter: str) -> CrossCheck:
        """Two independent opinions: its formulas against what it executes (``counter``)."""

    def rewrite_refusal(self, transform: str) -> str | None:
        """Why ``transform`` (``standard``, ``separable``) cannot rewrite it; None: it can."""

    def running(self, budget: float | None = None) -> AbstractContextManager[None]:
        """The boundary its model's own code runs in, for at most ``budget`` seconds."""

    def trained(self, trainable: tuple[str, ...]) -> MeasuredStep:
        """A real forward and backward with the ``trainable`` rows trainable."""

    def timed(
        self,
        settings: LatencySettings,
        progress: Progress | None,
        needs: str,
        *,
        deadline: Deadline | None = None,
        stop: Deadline | None = None,
    ) -> Timing:
        """Its model timed as ``settings`` say, within ``deadline``; its own code stopped at
        ``stop``."""

    def contender(self, device: str, needs: str, runtime: str = "torch") -> Contender:
        """Its model on ``device`` in ``runtime`` (one of `RUNTIMES`), for an interleaved
        measurement."""

    def exported(self, exporter: str = "torchscript", opset: int | None = None) -> Exported:
        """Its model as ONNX in memory, written by torch's ``exporter`` (``torchscript`` or
        ``dynamo``) at ``opset`` (None: the exporter's default); an ONNX file gives itself."""


class Kind(Protocol):
    """A kind of source: which model references it takes, and the source of a request it
    takes (options it cannot honour refused, in one line)."""

    def takes(self, model: Any) -> bool: ...

    def of(self, request: Request) -> Source: ...
