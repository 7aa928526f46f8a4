"""Whether a batch fits in memory, from the analytic profile alone: its weights plus the largest
set of activations alive at once (the input among them). Checked before a model is built or run
at the batch, so that a batch too large is one line, not an allocator's failure mid-run."""

from __future__ import annotations

from cnnprof.errors import OptionError
from cnnprof.results.profile import Profile


def check_fits(profile: Profile, free: int, where: str) -> None:
    """Refuse the profile's batch when its weights, input and activations need more than the
    ``free`` bytes ``where`` (a device) has now, naming the largest batch that fits."""
    needed = profile.param_bytes + profile.peak_activation_bytes
    if needed <= free:
        return
    per_image = max(1, -(-profile.peak_activation_bytes // profile.batch))
    largest = max(0, (free - profile.param_bytes) // per_image)
    raise OptionError(
        f"--batch {profile.batch}: the weights, input and activations need {_gib(needed)}, "
        f"{where} has {_gib(free)} free; "
        + (f"the largest batch that fits is {largest}" if largest else "not one image fits")
    )


def _gib(size: int) -> str:
    return f"{size / 2**30:,.2f} GiB"
