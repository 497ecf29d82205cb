"""The cues' optional C kernel, ``humanpose.cues._kernel``, and the switch to NumPy.

The kernel is built with the package (``setup.py``; ``CMakeLists.txt`` under colcon) from
``csrc/``; without a C compiler the package installs without it and every cue is computed
in NumPy, with the same results to float rounding (the tests run both). Functions with a
C implementation read :data:`KERNEL` when they are called, so assigning None here (tests,
benchmarks) switches the whole cue estimator to NumPy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional

KERNEL: Optional[ModuleType]
try:
    from humanpose.cues import _kernel as KERNEL
except ImportError:  # built without a C compiler: NumPy does the same job
    KERNEL = None


def implementation() -> str:
    """Return what computes the cues: ``'C kernel'`` or ``'NumPy'``."""
    return 'NumPy' if KERNEL is None else 'C kernel'
