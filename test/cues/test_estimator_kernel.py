"""The whole cue estimator, C kernel against NumPy, over a messy tracked sequence.

The per-family tests compare each kernel entry point with its NumPy twin; this one runs
two estimators side by side on the same images (people waving, pointing, walking past,
turning their heads; tracks appearing and leaving, ids missing, dropouts, 3D coming and
going, the same image twice, time running backwards) and asserts every field of every
result agrees: decisions exactly, numbers to float32 rounding.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterator

import numpy as np
import pytest

from humanpose.cues import CueEstimator, Cues, kernel
from humanpose.testing.people3d import (head_angles_towards, hanging_arm, observe,
                                        Person3D, pointing_arm, pose_person, raised_arm,
                                        waving_arm)
from humanpose.types import CameraModel, Poses

pytestmark = pytest.mark.kernel_vs_numpy

BUILT_KERNEL = kernel.KERNEL
FPS = 30.0


def _person(k: int, slot: int, rng: np.random.Generator) -> Any:
    """Keypoints of person ``slot`` in image ``k``: each slot has its own behaviour."""
    t = k / FPS
    x = -1.2 + 0.8 * slot
    if slot == 0:    # waves with the right hand, looks at the camera
        person = Person3D((x, 0.3, 2.2))
        return pose_person(person, head_ypr=head_angles_towards(person), arms={
            'right': waving_arm(person, 'right', 0.45 * np.sin(2 * np.pi * 1.8 * t))})
    if slot == 1:    # points at the floor with a pointing finger, head turning
        person = Person3D((x, 0.3, 2.6), body_yaw=0.3)
        return pose_person(person, head_ypr=(0.9 * np.sin(t), 0.2, 0.0),
                           arms={'left': pointing_arm(person, 'left', (x + 1.0, 1.2, 1.4))},
                           hands={'left': 'pointing'})
    if slot == 2:    # walks past, arms swinging
        person = Person3D((-1.5 + 1.2 * t, 0.3, 3.0), body_yaw=-1.2)
        swing = 0.4 * np.sin(2 * np.pi * 1.0 * t)
        return pose_person(person, arms={'left': hanging_arm(person, 'left', swing),
                                         'right': hanging_arm(person, 'right', -swing)})
    person = Person3D((x, 0.3, 1.8), size=0.9)   # raises a fist, then an open hand
    return pose_person(person, head_ypr=head_angles_towards(person),
                       arms={'right': raised_arm(person, 'right', 0.15)},
                       hands={'right': 'fist' if k % 40 < 20 else 'open'},
                       face_scale=0.9, face_jitter_m=0.002, rng=rng)


def _sequence(camera: CameraModel) -> Iterator[tuple[Poses, int]]:
    """Images with 0-4 people, every kind of trouble the estimator meets."""
    rng = np.random.default_rng(7)
    stamp_ns = 10**9
    for k in range(150):
        slots = [s for s in range(4) if (k + 11 * s) % 60 < 45]   # tracks come and go
        kp = np.stack([_person(k, s, rng) for s in slots]) if slots else np.zeros((0, 133, 3))
        ids = tuple('' if (s == 3 and k % 7 == 0) else f'track-{s}' for s in slots)
        poses = observe(kp, camera, rng, noise_px=1.5, dropout=0.08,
                        with_3d=(k // 25) % 3 != 2, ids=ids)
        if k == 90:
            stamp_ns -= 2 * 10**9     # a bag played again: time runs backwards
        if k % 37 != 5:               # the same image twice now and then
            stamp_ns += int(1e9 / FPS) + int(rng.integers(-3, 4)) * 10**6
        yield poses, stamp_ns


def _assert_same(from_kernel: Cues, from_numpy: Cues, k: int) -> None:
    for field in fields(Cues):
        a, b = getattr(from_kernel, field.name), getattr(from_numpy, field.name)
        where = f'{field.name} of image {k}'
        if isinstance(a, np.ndarray) and a.dtype.kind == 'f':
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=where)
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=where)
        else:
            assert a == b, where


def test_estimator_kernel_equals_numpy_over_a_messy_sequence(camera: CameraModel,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    if BUILT_KERNEL is None:
        pytest.skip('the C kernel humanpose.cues._kernel was not built')
    fast, slow = CueEstimator('coco_wholebody'), CueEstimator('coco_wholebody')
    seen = {'waving': 0, 'pointing': 0, 'engaged': 0, 'has_head_pose': 0, 'hand_raised': 0}
    for k, (poses, stamp_ns) in enumerate(_sequence(camera)):
        monkeypatch.setattr(kernel, 'KERNEL', BUILT_KERNEL)
        from_kernel = fast(poses, stamp_ns, camera=camera)
        monkeypatch.setattr(kernel, 'KERNEL', None)
        from_numpy = slow(poses, stamp_ns, camera=camera)
        _assert_same(from_kernel, from_numpy, k)
        for name in seen:
            seen[name] += int(np.count_nonzero(getattr(from_kernel, name)))
    assert fast.memory.track_ids == slow.memory.track_ids
    # The sequence exercised every cue, not only the unknowns.
    assert all(count >= 10 for count in seen.values()), seen
