"""Thread limits for the numerical libraries, shared by the chapters that fit models.

SciPy >= 1.15 runs L-BFGS-B in C with LAPACK calls on vectors of a few elements; with OpenBLAS free
to use several threads, each iteration then costs milliseconds of thread hand-offs instead of
microseconds (scipy issue 22438; the maintainers' advice is one BLAS thread). statsmodels'
Holt-Winters uses the same optimiser. The numbers are the same either way: only the time changes.
"""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def single_thread_blas():
    """Run the enclosed code with the BLAS libraries (OpenBLAS, MKL ...) limited to one thread,
    restoring their thread counts afterwards (through threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


#: Environment for report kernels: chapters run side by side, one per core, so each keeps to one
#: thread of BLAS / OpenMP instead of oversubscribing the machine. A value the user set wins.
KERNEL_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
