"""Shared fixtures of the cue tests: the camera, and both implementations of the cues.

Every cue test runs twice, on the C kernel (``humanpose.cues._kernel``) and on NumPy
(:mod:`humanpose.cues.kernel`), so both meet the same accuracy bounds.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from humanpose.cues import kernel
from humanpose.types import CameraModel

BUILT_KERNEL = kernel.KERNEL
NO_KERNEL = 'the C kernel humanpose.cues._kernel was not built (no C compiler at install time)'


@pytest.fixture(scope='package')
def camera() -> CameraModel:
    return CameraModel.from_intrinsics(640, 480, 466.0, 466.0, 319.5, 239.5,
                                       frame_id='camera_color_optical_frame')


@pytest.fixture(autouse=True, params=['kernel', 'numpy'])
def cue_implementation(request: pytest.FixtureRequest,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on the C kernel, then on NumPy."""
    if request.param == 'kernel' and BUILT_KERNEL is None:
        pytest.skip(NO_KERNEL)
    monkeypatch.setattr(kernel, 'KERNEL', BUILT_KERNEL if request.param == 'kernel' else None)
    yield request.param
