"""A kind of source is one class plus one line in the table `resolve` reads: a made-up kind,
defined here and registered only there, is counted by `cnnprof count` and `cnnprof.count` and
compared by `cnnprof compare` with no other change. No torch.

The tiny kind: ``tiny:N`` is one fully connected layer from N features to N, whose figures are
worked by hand: N² weights and N biases; N² multiply-accumulates, each two FLOPs, and N bias adds.
"""

from __future__ import annotations

import ast
import contextlib
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cnnprof
from cnnprof.api import sources
from cnnprof.api.request import Request
from cnnprof.arch.model import Shape
from cnnprof.cli import app
from cnnprof.results.profile import CrossCheck, LayerCost, Profile

runner = CliRunner()


@dataclass(frozen=True)
class TinySource:
    """``tiny:N``: one N → N fully connected layer, counted by hand."""

    request: Request
    published = None  # no paper's figure
    options = ""  # nothing differs from the model as written

    @staticmethod
    def takes(model: Any) -> bool:
        return isinstance(model, str) and model.startswith("tiny:")

    @classmethod
    def of(cls, request: Request) -> TinySource:
        return cls(request)

    @property
    def features(self) -> int:
        return int(self.request.model.partition(":")[2])

    @property
    def input_shape(self) -> Shape:
        return Shape(self.features, 1, 1)

    def profile(self) -> Profile:
        n, batch = self.features, self.request.batch
        row = LayerCost(
            "fc",
            "fc",
            Shape(n, 1, 1),
            Shape(n, 1, 1),
            weight_params=n * n,
            bias_params=n,
            macs=n * n,
            flops_by_category={"mac": 2 * n * n, "bias": n},
        )
        return Profile(self.request.name, "analytic", self.input_shape, (row,), batch=batch)

    def counted(self, counter: str) -> Profile:
        return self.profile()

    def cross_check(self, counter: str) -> CrossCheck:
        return CrossCheck.of(self.profile(), self.counted(counter))

    def rewrite_refusal(self, transform: str) -> str | None:
        return f"@{transform}: a tiny network has no convolution to rewrite"

    def running(self, budget: float | None = None) -> AbstractContextManager[None]:
        return contextlib.nullcontext()


@pytest.fixture(autouse=True)
def tiny_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registration: the tiny kind first in the table `resolve` reads."""
    monkeypatch.setattr(sources, "KINDS", (TinySource, *sources.KINDS))


def _json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_resolve_picks_the_registered_kind_and_leaves_the_others():
    assert isinstance(sources.resolve(cnnprof.api.request("tiny:16")), TinySource)
    assert isinstance(sources.resolve(cnnprof.api.request("mobilenet")), sources.SpecSource)


def test_the_python_api_counts_the_new_kind():
    profile = cnnprof.count("tiny:16")
    assert (profile.params, profile.macs, profile.flops) == (16 * 16 + 16, 256, 2 * 256 + 16)


def test_cnnprof_count_counts_the_new_kind():
    data = _json("count", "tiny:16", "--batch", "2")
    assert data["totals"]["params"] == 272
    assert data["totals"]["macs"] == 2 * 256, "MACs at the batch"
    table = runner.invoke(app, ["count", "tiny:16"])
    assert table.exit_code == 0 and "tiny:16" in table.output, table.output


def test_compare_sets_the_new_kind_beside_a_spec():
    data = _json("compare", "tiny:16", "tiny:32", "mobilenet")
    macs = [column["macs"] for column in data["models"]]
    assert macs[:2] == [256, 1024]
    result = cnnprof.compare("tiny:16", "tiny:32")
    assert [c.profile.macs for c in result.columns] == [256, 1024]


def test_separable_asks_the_kind_whether_it_can_be_rewritten():
    report = cnnprof.separable("tiny:16")
    assert report.standard is None and report.separable is None


def test_only_resolve_knows_the_kinds():
    """Outside `sources`, no module's code names a kind of source or asks a source whether it
    is an outside one."""
    package = Path(cnnprof.__file__).parent
    for path in package.rglob("*.py"):
        if path.relative_to(package).as_posix() == "api/sources.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        named |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        where = path.relative_to(package)
        assert not named & {"SpecSource", "OutsideSource"}, f"{where} names a kind of source"
        assert not attributes & {"SpecSource", "OutsideSource", "outside"}, f"{where} asks a kind"
