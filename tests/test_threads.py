"""BLAS thread limits around model fits, and the kernels' thread environment."""
from __future__ import annotations

import numpy as np  # noqa: F401  (loads numpy's OpenBLAS)
import pytest
from scipy import optimize  # noqa: F401  (loads scipy's OpenBLAS)
from threadpoolctl import threadpool_info

from playbook.threads import single_thread_blas


def blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_single_thread_blas_limits_and_restores():
    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library found by threadpoolctl")
    with single_thread_blas():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
