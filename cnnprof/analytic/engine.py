"""Walk an Arch row by row, propagating shapes through the formula table, into a Profile."""

from __future__ import annotations

from cnnprof.analytic.formulas import FORMULAS
from cnnprof.errors import OptionError
from cnnprof.results.profile import DTYPE_BYTES, LayerCost, Profile
from cnnprof.spec.model import Arch, frozen


def check_run_options(batch: int, dtype: str) -> None:
    """A batch size ≥ 1 and a known dtype, or `OptionError` naming the option."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise OptionError(f"--batch {batch}: expected a batch size ≥ 1")
    if dtype not in DTYPE_BYTES:
        raise OptionError(f"--dtype {dtype}: expected one of {', '.join(DTYPE_BYTES)}")


def profile(arch: Arch, batch: int = 1, dtype: str = "float32") -> Profile:
    """The analytic profile of ``arch``: closed-form counts, no torch."""
    check_run_options(batch, dtype)
    rows: list[LayerCost] = []
    shape = arch.input
    for layer in arch.layers:
        produced, shape = FORMULAS[layer.op](layer, shape)
        rows.extend(produced)
    return Profile(
        model=arch.name,
        source="analytic",
        input=arch.input,
        rows=tuple(rows),
        batch=batch,
        dtype=dtype,
        options=frozen(
            {"width": round(arch.width, 6), "depth": round(arch.depth, 6), **_options(arch)}
        ),
    )


def _options(arch: Arch) -> dict[str, object]:
    o = arch.multipliers
    out: dict[str, object] = {"alpha": o.alpha}
    if o.phi is not None:
        out["phi"] = o.phi
    if o.num_classes is not None:
        out["num_classes"] = o.num_classes
    return out
