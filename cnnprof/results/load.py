"""The load on the machine while something was measured: plain data, read from the system by
`cnnprof.protocol.load`. A calibration records it (`Peaks.load`) and is judged on it
(`cnnprof.results.judge`); predictions state it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

LOAD_UNKNOWN = "load unknown"  # where the system does not tell (no /proc: macOS, Windows)
LOAD_NOT_RECORDED = "load not recorded"  # a record made before calibrations recorded it


@dataclass(frozen=True)
class Load:
    """How busy the machine was over a window: the 1-minute load average at its end, the share
    of the CPU time of the cores this process may use that OTHER processes took (all CPUs' busy
    time less this process's own, over wall × ``cores``; above 1 where the machine has more
    cores than this process may use), and the share the hypervisor stole."""

    load_average: float
    others_share: float  # fraction of wall × cores
    steal_share: float  # fraction of wall × cores
    cores: int  # cores this process may run on
    window_s: float = 0.0  # the window's length, seconds

    @property
    def free_cores(self) -> float:
        """Cores left to this process: its cores less what others and the hypervisor took."""
        return max(0.0, self.cores * (1.0 - self.others_share - self.steal_share))

    def describe(self) -> str:
        """``load 0.3, others 2 % CPU`` (``, 5 % stolen`` where the hypervisor took some)."""
        stolen = f", {100 * self.steal_share:.0f} % stolen" if self.steal_share >= 0.005 else ""
        return f"load {self.load_average:.1f}, others {100 * self.others_share:.0f} % CPU{stolen}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Load:
        return cls(
            load_average=float(data["load_average"]),
            others_share=float(data["others_share"]),
            steal_share=float(data["steal_share"]),
            cores=int(data["cores"]),
            window_s=float(data.get("window_s", 0.0)),
        )


def describe_load(load: Load | None) -> str:
    """A calibration's load as a panel says it: its figures, else that it was not recorded (a
    record made before calibrations recorded it, or where the system does not tell)."""
    return LOAD_NOT_RECORDED if load is None else load.describe()
