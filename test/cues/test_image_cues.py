"""The body cues of one image: the C kernel gives what the NumPy functions give."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Optional

import numpy as np
import pytest

from humanpose.cues import (HAND_FIST, HAND_OPEN, HAND_POINTING, HAND_UNKNOWN, kernel,
                            PointingConfig)
from humanpose.cues.body import body_ids
from humanpose.cues.image_cues import estimate_image_cues, ImageCues
from humanpose.testing.people3d import (Person3D, hanging_arm, observe, pointing_arm,
                                        pose_person, raised_arm, waving_arm)
from humanpose.types import CameraModel

#: The kernel as built (conftest skips these tests where it was not).
KERNEL = kernel.KERNEL
F32 = np.float32

#: Every test here runs both implementations itself.
pytestmark = pytest.mark.kernel_vs_numpy


def both(monkeypatch: pytest.MonkeyPatch, keypoints: Any, confidence: Any,
         keypoints_3d: Optional[Any], confidence_3d: Optional[Any],
         skeleton: str = 'coco_wholebody', threshold: float = 0.3, margin: float = 0.1,
         pointing: Optional[PointingConfig] = None) -> tuple[ImageCues, ImageCues]:
    """Return the cues from the kernel and from NumPy, and check they are the same."""
    args = (keypoints, confidence, keypoints_3d, confidence_3d, skeleton, threshold, margin,
            pointing or PointingConfig())
    monkeypatch.setattr(kernel, 'KERNEL', KERNEL)
    from_kernel = estimate_image_cues(*args)
    monkeypatch.setattr(kernel, 'KERNEL', None)
    from_numpy = estimate_image_cues(*args)
    monkeypatch.setattr(kernel, 'KERNEL', KERNEL)
    assert_same(from_kernel, from_numpy)
    return from_kernel, from_numpy


def _arrays(cues: ImageCues) -> dict[str, Any]:
    out = cues._asdict()
    ray = out.pop('pointing')
    out.update({f'pointing.{f.name}': getattr(ray, f.name) for f in fields(ray)})
    return out


def assert_same(from_kernel: ImageCues, from_numpy: ImageCues) -> None:
    """Decisions equal; numbers equal to float rounding, NaN in the same places."""
    a, b = _arrays(from_kernel), _arrays(from_numpy)
    assert a.keys() == b.keys()
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert (x.shape, x.dtype) == (y.shape, y.dtype), name
        if x.dtype.kind == 'f':
            # The 3D direction: eigenvector of the scatter against LAPACK's SVD.
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


def random_people(rng: np.random.Generator, n: int, k: int, with_3d: bool
                  ) -> tuple[Any, Any, Optional[Any], Optional[Any]]:
    """People of random keypoints: noise, NaN and inf positions, low confidence, lost 3D."""
    kp = rng.uniform([0.0, 0.0], [640.0, 480.0], (n, k, 2))
    conf = rng.uniform(0.0, 1.0, (n, k))
    conf[rng.random((n, k)) < 0.5] = 0.9  # most arms seen, so that angles matter
    kp[rng.random((n, k)) < 0.05] = np.nan
    kp[rng.random((n, k)) < 0.01] = np.inf
    if not with_3d:
        return kp.astype(F32), conf.astype(F32), None, None
    kp3 = rng.normal([0.0, 0.0, 3.0], 0.4, (n, k, 3))
    conf3 = np.where(rng.random((n, k)) < 0.2, 0.0, 0.9)
    kp3[rng.random((n, k)) < 0.05] = np.nan
    kp3[rng.random((n, k)) < 0.01, 2] = -np.inf
    if n > 2:
        conf3[1] = 0.0            # one person without any 3D
        kp3[2] = np.nan           # one with NaN 3D everywhere
    return kp.astype(F32), conf.astype(F32), kp3.astype(F32), conf3.astype(F32)


@pytest.mark.filterwarnings('ignore:invalid value:RuntimeWarning')  # NumPy: inf - inf
@pytest.mark.parametrize('n', [0, 1, 20])
@pytest.mark.parametrize('skeleton', ['coco_wholebody', 'coco'])
@pytest.mark.parametrize('with_3d', [True, False], ids=['3d', '2d'])
def test_kernel_equals_numpy_on_random_people(monkeypatch: pytest.MonkeyPatch, n: int,
                                              skeleton: str, with_3d: bool) -> None:
    k = 133 if skeleton == 'coco_wholebody' else 17
    for seed in range(5):
        rng = np.random.default_rng(seed)
        people = random_people(rng, n, k, with_3d)
        both(monkeypatch, *people, skeleton=skeleton)
        # Everyone "points" (confidence 0 is enough): rays through random, NaN and
        # degenerate joints, their line fits and plane hits.
        always = PointingConfig(min_confidence=0.0, plane_normal=(0.3, -1.0, 0.2),
                                plane_distance_m=1.5)
        from_kernel, _ = both(monkeypatch, *people, skeleton=skeleton, pointing=always)
        assert from_kernel.pointing.pointing.all()


def posed_people(rng: np.random.Generator, camera: CameraModel, count: int,
                 with_3d: bool = True) -> Any:
    """People with every arm and hand the cues tell apart, observed with noise and dropouts."""
    kp = []
    for i in range(count):
        person = Person3D((rng.uniform(-1.2, 1.2), 0.3, rng.uniform(1.5, 4.0)),
                          body_yaw=rng.uniform(-0.6, 0.6))
        target = (rng.uniform(-2.0, 2.0), 1.2, rng.uniform(0.5, 4.0))
        side = ('left', 'right')[i % 2]
        other = ('right', 'left')[i % 2]
        kind = i % 5
        if kind == 0:    # a straight arm
            arms = {side: pointing_arm(person, side, target)}
        elif kind == 1:  # a bent arm pointing with its index finger
            shoulder = person.shoulder(side)
            elbow = shoulder + 0.3 * person.axis([0.2, -0.1, -1.0]) / np.linalg.norm(
                [0.2, -0.1, -1.0])
            arms = {side: (elbow, elbow + 0.27 * (np.asarray(target) - elbow)
                           / np.linalg.norm(np.asarray(target) - elbow))}
        elif kind == 2:  # raised and waving
            arms = {side: raised_arm(person, side, 0.2),
                    other: waving_arm(person, other, rng.uniform(-0.5, 0.5))}
        elif kind == 3:  # swinging arms
            arms = {side: hanging_arm(person, side, 0.3), other: hanging_arm(person, other, -0.3)}
        else:            # both arms pointing
            arms = {side: pointing_arm(person, side, target),
                    other: pointing_arm(person, other, (-target[0], 1.2, target[2]))}
        hands = {side: ('pointing', 'fist', 'open')[rng.integers(3)],
                 other: ('pointing', 'fist', 'open')[rng.integers(3)]}
        kp.append(pose_person(person, arms=arms, hands=hands))
    return observe(np.stack(kp) if kp else np.zeros((0, 133, 3)), camera, rng,
                   noise_px=1.0, noise_m=0.01, dropout=0.03, with_3d=with_3d)


@pytest.mark.parametrize('with_3d', [True, False], ids=['3d', '2d'])
def test_kernel_equals_numpy_on_posed_people(monkeypatch: pytest.MonkeyPatch,
                                             camera: CameraModel, with_3d: bool) -> None:
    rng = np.random.default_rng(11)
    states, pointing, bent, tips = set(), 0, 0, 0
    hands = body_ids('coco_wholebody').hands
    assert hands is not None
    for _ in range(6):
        poses = posed_people(rng, camera, 20, with_3d)
        kp3, conf3 = poses.keypoints_3d, poses.confidence_3d
        if with_3d:
            assert kp3 is not None and conf3 is not None
            conf3 = conf3.copy()
            conf3[0] = 0.0                                       # no 3D at all
            conf3[1, [5, 7, 9, 6, 8, 10]] = 0.0                  # arms without 3D
            conf3[rng.random(conf3.shape) < 0.1] = 0.0           # scattered
        cues, _ = both(monkeypatch, poses.keypoints, poses.confidence, kp3, conf3)
        states |= set(cues.hand_state.ravel().tolist())
        ray = cues.pointing
        pointing += int(ray.pointing.sum())
        # Rays from the index fingertip (pointing hands); bent arms (every fifth person
        # from the second on, see posed_people) pointing with their finger.
        for i in np.flatnonzero(ray.pointing):
            arm = int(ray.hand[i]) - 1
            tips += int(np.allclose(ray.origin_px[i], poses.keypoints[i, hands[arm, 8]]))
            bent += int(i % 5 == 1 and arm == i % 2 and cues.hand_state[i, arm] == HAND_POINTING)
    # The data exercised what they are meant to.
    assert states == {HAND_UNKNOWN, HAND_OPEN, HAND_FIST, HAND_POINTING}
    assert pointing >= 30 and tips >= 10 and bent >= 3


def test_kernel_equals_numpy_on_coco_people(monkeypatch: pytest.MonkeyPatch,
                                            camera: CameraModel) -> None:
    poses = posed_people(np.random.default_rng(12), camera, 20)
    assert poses.keypoints_3d is not None and poses.confidence_3d is not None
    cues, _ = both(monkeypatch, poses.keypoints[:, :17], poses.confidence[:, :17],
                   poses.keypoints_3d[:, :17], poses.confidence_3d[:, :17], skeleton='coco')
    assert (cues.hand_state == HAND_UNKNOWN).all() and cues.pointing.pointing.any()


@pytest.mark.filterwarnings('ignore:invalid value:RuntimeWarning')  # NumPy: inf - inf
def test_degenerate_people(monkeypatch: pytest.MonkeyPatch) -> None:
    """All joints in one place, on one line, at infinity: the same results both ways."""
    n, k = 4, 133
    kp = np.full((n, k, 2), 100.0, F32)
    kp[1, :, 0] = np.arange(k, dtype=F32)                     # every joint on one line
    kp[2] = np.inf
    kp[3, :, 1] = 50.0 + np.arange(k, dtype=F32)
    conf = np.ones((n, k), F32)
    kp3 = np.ones((n, k, 3), F32)
    kp3[1, :, 0] = np.arange(k, dtype=F32)
    kp3[3, :, 2] = 2.0 + 0.01 * np.arange(k, dtype=F32)
    conf3 = np.ones((n, k), F32)
    always = PointingConfig(min_confidence=0.0)
    cues, _ = both(monkeypatch, kp, conf, kp3, conf3, pointing=always)
    # Coincident 3D joints: the first axis, as LAPACK's SVD of zero points gives it.
    np.testing.assert_array_equal(cues.pointing.direction[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(cues.pointing.direction[1], [1.0, 0.0, 0.0], atol=1e-12)
    both(monkeypatch, kp, np.zeros((n, k), F32), kp3, np.zeros((n, k), F32), pointing=always)


def test_plane_behind_the_hand_or_parallel_to_the_ray(monkeypatch: pytest.MonkeyPatch,
                                                      camera: CameraModel) -> None:
    person = Person3D((0.2, 0.25, 2.0))
    kp = pose_person(person, arms={'right': pointing_arm(person, 'right', (1.5, 1.2, 1.0))},
                     hands={'right': 'pointing'})
    poses = observe(kp[None], camera, np.random.default_rng(13))
    args = (poses.keypoints, poses.confidence, poses.keypoints_3d, poses.confidence_3d)
    cues, _ = both(monkeypatch, *args)
    ray = cues.pointing
    assert ray.pointing[0] and np.isfinite(ray.direction[0]).all()
    direction, origin = ray.direction[0], ray.origin_m[0]
    # Planes facing the ray: 0.5 m ahead of the hand (a hit), 0.5 m behind (none).
    for offset, hit in ((-0.5, True), (0.5, False)):
        plane = PointingConfig(plane_normal=tuple(direction),
                               plane_distance_m=float(offset - direction @ origin))
        target = both(monkeypatch, *args, pointing=plane)[0].pointing.target_m[0]
        assert np.isfinite(target).all() == hit
        if hit:
            np.testing.assert_allclose(target, origin + 0.5 * direction, atol=1e-9)
    # A plane containing the ray's direction: parallel, never met (the normal given as
    # a list, as a hand-written config may have it).
    side = np.cross(direction, [0.0, 0.0, 1.0])
    parallel = PointingConfig(plane_normal=list(side / np.linalg.norm(side)),  # type: ignore
                              plane_distance_m=0.3)
    assert np.isnan(both(monkeypatch, *args, pointing=parallel)[0].pointing.target_m).all()


def test_kernel_refuses_wrong_buffers() -> None:
    assert KERNEL is not None
    n, k = 2, 133
    kp, conf = np.zeros((n, k, 2), F32), np.zeros((n, k), F32)
    joints = np.array([5, 6, 7, 8, 9, 10, 11, 12], np.int32)
    anchors = np.array([0, 1, 2, 3, 4, 5, 6, 11, 12], np.int32)
    hands = np.arange(91, 133, dtype=np.int32)
    settings = np.zeros(13)

    def outputs(bad: int = -1) -> list[Any]:
        shapes = [(n, 3), (n,), (n,), (n, 2), (n, 2), (n,), (n,), (n,), (n, 2), (n, 2), (n, 2),
                  (n, 3), (n, 3), (n, 3), (n, 2), (n, 2)]
        one_byte = {3, 4, 5, 6, 15}
        out = [np.empty(s, np.uint8 if j in one_byte else np.float64)
               for j, s in enumerate(shapes)]
        if bad >= 0:
            out[bad] = np.empty(n + 1, out[bad].dtype)
        return out

    def call(*args: Any, bad: int = -1) -> None:
        KERNEL.body_cues(*args, *outputs(bad))

    call(n, k, kp, conf, None, None, joints, anchors, 5, hands, settings)  # all fits
    for bad in range(16):
        with pytest.raises(ValueError):
            call(n, k, kp, conf, None, None, joints, anchors, 5, hands, settings, bad=bad)
    wrong_inputs = [
        (n, k, kp[:, :100], conf, None, None, joints, anchors, 5, hands, settings),
        (n, k, kp.astype(np.float64), conf, None, None, joints, anchors, 5, hands, settings),
        (n, k, kp, conf, np.zeros((n, k, 3), F32), None, joints, anchors, 5, hands, settings),
        (n, k, kp, conf, np.zeros((n, k, 2), F32), conf, joints, anchors, 5, hands, settings),
        (n, k, kp, conf, None, None, joints[:6], anchors, 5, hands, settings),
        (n, k, kp, conf, None, None, joints, anchors, 10, hands, settings),
        (n, k, kp, conf, None, None, joints, anchors, 5, hands[:21], settings),
        (n, k, kp, conf, None, None, joints + 200, anchors, 5, hands, settings),
        (n, 17, kp[:, :17], conf[:, :17], None, None, joints, anchors, 5, hands, settings),
        (n, k, kp, conf, None, None, joints, anchors, 5, hands, settings[:12]),
        (-1, k, kp, conf, None, None, joints, anchors, 5, hands, settings),
    ]
    for args in wrong_inputs:
        with pytest.raises(ValueError):
            call(*args)
    # Through the Python function: keypoints of another skeleton.
    with pytest.raises(ValueError):
        estimate_image_cues(kp[:, :17], conf[:, :17], None, None, 'coco_wholebody', 0.3, 0.1,
                            PointingConfig())
