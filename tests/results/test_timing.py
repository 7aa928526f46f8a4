"""Latency settings and the statistics of a timing: pure values, no torch."""

from __future__ import annotations

import pytest

from cnnprof.errors import OptionError
from cnnprof.results.timing import LatencySettings, quantile


def test_quantile_interpolates_like_numpy():
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([5.0], 0.9) == 5.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.1) == pytest.approx(1.3)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"runs": 0}, "--runs 0"),
        ({"min_time": -1.0}, "--min-time -1"),
        ({"runs": 3, "min_time": 1.0}, "alternatives"),
        ({"device": "tpu"}, "--device tpu"),
        ({"threads": 0}, "--threads 0"),
    ],
)
def test_settings_out_of_range_are_refused_when_built(options: dict, fragment: str):
    with pytest.raises(OptionError, match=fragment):
        LatencySettings(**options)
