"""Walk an Arch row by row, propagating shapes through the formula table, into a Profile."""

from __future__ import annotations

from cnnprof.analytic.formulas import FORMULAS
from cnnprof.arch.model import Arch, Layer, Shape, evolve, frozen
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.results.vocab import check_batch, check_dtype


def check_run_options(batch: int, dtype: str) -> None:
    """A batch size ≥ 1 and a known dtype, or `OptionError` naming the option."""
    check_batch(batch)
    check_dtype(dtype)


def profile(arch: Arch, batch: int = 1, dtype: str = "float32") -> Profile:
    """The analytic profile of ``arch``: closed-form counts, no torch.

    A formula is a pure function of a layer's op, fields and input shape (its path only names the
    rows), so a repeat identical to the one before it, on the same input, costs what that one
    cost: its rows are copied under the new path instead of computed again (a deep stage's
    blocks after the second; it keeps `cnnprof list` instant over the whole registry).
    """
    check_run_options(batch, dtype)
    rows: list[LayerCost] = []
    shape = arch.input
    for _, layers in arch.expanded():
        last: tuple[Layer, Shape, list[LayerCost], Shape] | None = None
        for layer in layers:
            if last is not None and last[0].args is layer.args and last[1] == shape:
                # A repeat with the same fields on the same input costs what the last one did
                # (formulas are pure): its rows again, under this repeat's path.
                produced = [_moved(r, last[0].path, layer.path) for r in last[2]]
                out = last[3]
            else:
                produced, out = FORMULAS[layer.op](layer, shape)
            last = (layer, shape, produced, out)
            rows.extend(produced)
            shape = out
    return Profile(
        model=arch.name,
        source="analytic",
        input=arch.input,
        layers=tuple(rows),
        batch=batch,
        dtype=dtype,
        options=frozen(
            {"width": round(arch.width, 6), "depth": round(arch.depth, 6), **_options(arch)}
        ),
    )


def _moved(row: LayerCost, old: str, new: str) -> LayerCost:
    """``row`` of the layer at path ``old`` as the same row of the layer at ``new``."""
    return evolve(row, path=new + row.path[len(old) :])


def _options(arch: Arch) -> dict[str, object]:
    o = arch.multipliers
    out: dict[str, object] = {"alpha": o.alpha}
    if o.phi is not None:
        out["phi"] = o.phi
    if o.num_classes is not None:
        out["num_classes"] = o.num_classes
    out.update(arch.design)  # a generated family's design-space overrides (RegNet: wm, d …)
    return out
