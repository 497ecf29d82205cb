"""Shared fixtures of the cue tests: the camera, and both implementations of the cues.

Every cue test runs twice, on the C kernel (``humanpose.cues._kernel``) and on NumPy
(:mod:`humanpose.cues.kernel`), so both meet the same accuracy bounds; tests marked
``kernel_vs_numpy`` compare the two themselves and run once.
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker('kernel_vs_numpy') is None:
        metafunc.parametrize('cue_implementation', ['kernel', 'numpy'], indirect=True)


@pytest.fixture(autouse=True)
def cue_implementation(request: pytest.FixtureRequest,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on the C kernel, then on NumPy (``kernel_vs_numpy`` tests: once)."""
    name = getattr(request, 'param', 'both')
    if name != 'numpy' and BUILT_KERNEL is None:
        pytest.skip(NO_KERNEL)
    if name != 'both':
        monkeypatch.setattr(kernel, 'KERNEL', BUILT_KERNEL if name == 'kernel' else None)
    yield name
