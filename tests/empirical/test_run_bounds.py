"""A run refused before anything is built at its batch or in its dtype: a batch whose weights,
input and activations exceed the free memory (from the analytic profile), a dtype whose kernels
this torch build lacks. One line, exit 2, no traceback."""

from __future__ import annotations

import re

import pytest
from conftest import assert_error, run

import cnnprof.api.runtimes as runtimes
import cnnprof.empirical.device as device
from cnnprof.analytic.memory import check_fits
from cnnprof.api.request import Request
from cnnprof.api.sources import resolve
from cnnprof.errors import OptionError

FREE = 64 * 2**20  # bytes free, as the tests pretend
BATCH = ("--batch", "64", "--budget", "1")  # 64 images of MobileNet need ~300 MB


def largest(err: str) -> int:
    return int(re.search(r"the largest batch that fits is (\d+)$", err.strip()).group(1))


def test_a_batch_over_the_free_memory_is_refused_with_the_largest_that_fits(monkeypatch):
    monkeypatch.setattr(device, "available_bytes", lambda: FREE)
    err = assert_error(run("latency", "mobilenet", *BATCH), "--batch 64", "cpu has 0.06 GiB free")
    fits = largest(err)
    at = {b: resolve(Request("mobilenet", batch=b)).profile() for b in (fits, fits + 1)}
    check_fits(at[fits], FREE, "cpu")  # the batch named fits
    with pytest.raises(OptionError):
        check_fits(at[fits + 1], FREE, "cpu")  # one more does not


def test_no_image_fits_says_so():
    profile = resolve(Request("mobilenet", batch=2)).profile()
    with pytest.raises(OptionError, match=r"not one image fits$"):
        check_fits(profile, profile.param_bytes, "cpu")


def test_onnx_runtime_refuses_before_the_export(monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(runtimes, "available_bytes", lambda: FREE)
    assert_error(run("latency", "mobilenet", *BATCH, "--runtime", "onnxruntime"), "--batch 64")


def test_a_dtype_without_kernels_is_refused_naming_those_that_run(monkeypatch):
    def probe(target, dtype):
        return "no kernel for BFloat16" if dtype == "bfloat16" else None

    monkeypatch.setattr(device, "probe_failure", probe)
    err = assert_error(run("latency", "mobilenet", "--dtype", "bfloat16", "--budget", "1"))
    assert err == (
        "cnnprof: error: --dtype bfloat16: not supported on cpu (no kernel for BFloat16); "
        "it runs --dtype float32, --dtype float16\n"
    )


def test_the_probe_runs_float32_here():
    assert device.probe_failure(device.check_device("cpu"), "float32") is None
