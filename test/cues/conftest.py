"""Shared camera of the cue tests: 640 x 480, about 69 degrees of horizontal view."""

from __future__ import annotations

import pytest

from humanpose.types import CameraModel


@pytest.fixture(scope='package')
def camera() -> CameraModel:
    return CameraModel.from_intrinsics(640, 480, 466.0, 466.0, 319.5, 239.5,
                                       frame_id='camera_color_optical_frame')
