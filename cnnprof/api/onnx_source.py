"""`OnnxSource`: a model that is an ONNX file (``path/model.onnx``). Counted from its graph by
formula (`cnnprof.deploy.graph`), its weights never read; no torch, and no code of its own runs.
Options only a spec or a Python model can honour are refused in one line; so is what has no
meaning for a fixed graph (a rewrite, a training step, a second counter)."""

from __future__ import annotations

import contextlib
import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NoReturn

from cnnprof.api.request import Request
from cnnprof.arch.model import Published, Shape
from cnnprof.arch.reference import is_onnx
from cnnprof.errors import OptionError
from cnnprof.results.profile import CrossCheck, Profile

if TYPE_CHECKING:
    from cnnprof.protocol.interleave import Contender
    from cnnprof.results.export import Exported
    from cnnprof.results.timing import Deadline, LatencySettings, Timing
    from cnnprof.results.training import MeasuredStep
    from cnnprof.results.vocab import Progress


@dataclass(frozen=True)
class OnnxSource:
    """An ONNX file: its graph, shaped at the request's batch and ``--input``, counted node by
    node."""

    request: Request
    guest = False  # a file, read by ONNX's own parser: no user's code runs

    takes = staticmethod(is_onnx)

    @classmethod
    def of(cls, request: Request) -> OnnxSource:
        """The file's source; options that change a model's construction are refused."""
        source = cls(request)
        name = request.name
        scaled = request.multipliers.describe()
        if scaled:
            first = scaled.split(", ")[0]
            raise OptionError(
                f"{first}: {name} is an ONNX file, a fixed graph; multipliers scale a spec "
                "(registry name or YAML); its dynamic input dims take --input"
            )
        if request.args:
            raise OptionError(f"--arg constructs a Python model; {name} is an ONNX file")
        if request.design:
            raise OptionError(f"design parameters shape a generated spec; {name} is an ONNX file")
        if request.transforms:
            raise OptionError(source.rewrite_refusal(request.transforms[0]))
        return source

    @property
    def input_shape(self) -> Shape:
        return self.profile().input

    # no paper's figure for a file, and nothing differs from it as written (titles)
    published: ClassVar[Published | None] = None
    options: ClassVar[str] = ""

    def profile(self) -> Profile:
        """The graph's count (`cnnprof.deploy.graph.count`)."""
        return self._profile

    @functools.cached_property
    def _profile(self) -> Profile:
        from cnnprof.deploy.graph import count

        req = self.request
        return count(req.model, batch=req.batch, input=req.input, dtype=req.dtype)

    def _refuse(self, what: str) -> NoReturn:
        raise OptionError(f"{what}; {self.request.name} is an ONNX file, {ONNX_COUNTED}")

    def _untimed(self, needs: str) -> NoReturn:
        raise OptionError(
            f"{needs or 'latency'}: {self.request.name} is an ONNX file; it is timed under "
            "ONNX Runtime (--runtime onnxruntime), not as a torch module"
        )

    def counted(self, counter: str) -> Profile:
        self._refuse(f"--empirical runs a torch module (--counter {counter})")

    def cross_check(self, counter: str) -> CrossCheck:
        self._refuse("--empirical cross-checks formulas against a running torch module")

    def rewrite_refusal(self, transform: str) -> str:
        return f"@{transform} rewrites a spec; {self.request.name} is an ONNX file, a fixed graph"

    def running(self, budget: float | None = None) -> AbstractContextManager[None]:
        """No code of the file's own runs when it is counted: no boundary."""
        return contextlib.nullcontext()

    def trained(self, trainable: tuple[str, ...]) -> MeasuredStep:
        self._refuse("a measured training step runs a torch module")

    def timed(
        self,
        settings: LatencySettings,
        progress: Progress | None,
        needs: str,
        *,
        deadline: Deadline | None = None,
        stop: Deadline | None = None,
    ) -> Timing:
        """The graph timed in ONNX Runtime as ``settings`` say, per node mapped onto its rows
        (its nodes) with ``settings.layers``; no code of its own runs, so ``stop`` is moot."""
        from cnnprof.results.timing import Deadline

        ready = self.contender(settings.device, needs, settings.runtime)
        deadline = deadline or Deadline(settings.budget)
        return ready.timed(settings, deadline, progress, rows=self.profile().layers)

    def contender(self, device: str, needs: str, runtime: str = "torch") -> Contender:
        """The file as ONNX Runtime runs it (its external data read beside it); torch eager
        is refused."""
        from cnnprof.results.timing import ONNXRUNTIME

        if runtime != ONNXRUNTIME:
            self._untimed(f"{needs or 'latency'} --runtime {runtime}")
        from cnnprof.api.runtimes import onnx_model

        return onnx_model(self, str(self.request.model), device, needs or "cnnprof latency")

    def exported(self, exporter: str = "torchscript", opset: int | None = None) -> Exported:
        """The file itself with its weights (``exporter`` and ``opset`` export a torch model)."""
        from cnnprof.deploy.tag import given

        return given(self.request.model)


# What an ONNX file's count is, for refusals of what needs a torch module.
ONNX_COUNTED = "counted from its graph by formula alone (no torch module to run)"
