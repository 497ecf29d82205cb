"""The head-pose kernel (cues/csrc/head.c) against the NumPy reference, case by case.

Each test computes both implementations itself (marked ``kernel_vs_numpy``: run once, not
per implementation) and checks that the kernel did the work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from humanpose.cues import head, kernel
from humanpose.cues.head import estimate_head_poses, face_model, HeadPoses
from humanpose.errors import InvalidInputError
from humanpose.testing.people3d import Person3D, observe, pose_person
from humanpose.types import CameraModel

#: The built kernel, read before any test switches it.
BUILT_KERNEL = kernel.KERNEL
#: Kernel vs NumPy on well-posed faces: float rounding through a few solves (radians,
#: metres).
ATOL = 1e-9
FIELDS = ('rotation', 'ypr_rad', 'direction', 'translation', 'attention_rad')

pytestmark = pytest.mark.kernel_vs_numpy


def _both(monkeypatch: pytest.MonkeyPatch, keypoints: Any, confidence: Any, camera: CameraModel,
          skeleton: str = 'coco_wholebody', **options: Any) -> HeadPoses:
    """Head poses by the kernel and by NumPy; assert they agree and return the kernel's."""
    def no_fallback(*args: Any, **kwargs: Any) -> HeadPoses:
        raise AssertionError('the kernel handed the head poses to NumPy')

    with monkeypatch.context() as patch:
        patch.setattr(kernel, 'KERNEL', BUILT_KERNEL)
        patch.setattr(head, '_head_poses_numpy', no_fallback)
        fast = estimate_head_poses(keypoints, confidence, skeleton, camera, **options)
    with monkeypatch.context() as patch:
        patch.setattr(kernel, 'KERNEL', None)
        slow = estimate_head_poses(keypoints, confidence, skeleton, camera, **options)
    np.testing.assert_array_equal(fast.valid, slow.valid)
    assert fast.valid.dtype == slow.valid.dtype
    for name in FIELDS:
        got, want = getattr(fast, name), getattr(slow, name)
        assert got.shape == want.shape and got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL, equal_nan=True, err_msg=name)
        assert np.isnan(got[~fast.valid]).all(), f'{name} of people without a pose'
    return fast


def _faces(rng: np.random.Generator, n: int, camera: CameraModel, *,
           yaw_deg: tuple[float, float] = (-60.0, 60.0), dropout: float = 0.1,
           depth_m: tuple[float, float] = (1.0, 5.0)) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints and confidence of n people with turned heads of varied shapes, 1 px noise."""
    people = np.zeros((n, 133, 3))
    for i in range(n):
        person = Person3D((rng.uniform(-1.0, 1.0), rng.uniform(0.0, 0.5), rng.uniform(*depth_m)),
                          body_yaw=rng.uniform(-0.5, 0.5))
        ypr = np.radians([rng.uniform(*yaw_deg), rng.uniform(-30, 30), rng.uniform(-20, 20)])
        people[i] = pose_person(person, head_ypr=ypr, face_scale=rng.uniform(0.9, 1.1),
                                face_jitter_m=0.002, rng=rng)
    poses = observe(people, camera, rng, noise_px=1.0, dropout=dropout, with_3d=False)
    return poses.keypoints.copy(), poses.confidence.copy()


@pytest.mark.parametrize('n', [1, 2, 8, 20])
def test_kernel_equals_numpy_on_noisy_faces_with_dropouts(camera: CameraModel, n: int,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    rng = np.random.default_rng(n)
    kp, conf = _faces(rng, n, camera)
    ids, _ = face_model('coco_wholebody')
    lost = rng.random(kp.shape[:2]) < 0.05
    kp[lost] = np.nan                                  # keypoints the model did not place
    conf[rng.random(conf.shape) < 0.05] = 0.2          # and some below the threshold
    poses = _both(monkeypatch, kp, conf, camera)
    assert poses.valid.sum() >= max(1, 0.8 * n)


@pytest.mark.parametrize('iterations', [0, 1, 10])
def test_any_number_of_gauss_newton_steps(camera: CameraModel, iterations: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(head, 'GAUSS_NEWTON_ITERATIONS', iterations)
    kp, conf = _faces(np.random.default_rng(iterations), 6, camera, depth_m=(1.0, 2.5))
    poses = _both(monkeypatch, kp, conf, camera)
    assert poses.valid.sum() >= (2 if iterations == 0 else 5)


def test_no_people(camera: CameraModel, monkeypatch: pytest.MonkeyPatch) -> None:
    poses = _both(monkeypatch, np.zeros((0, 133, 2), np.float32), np.zeros((0, 133), np.float32),
                  camera)
    assert poses.rotation.shape == (0, 3, 3) and poses.attention_rad.shape == (0,)


@pytest.mark.parametrize('min_points', [3, 4, 5, 8])
def test_too_few_landmarks_follow_min_points(camera: CameraModel, min_points: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Person i keeps i usable landmarks; a pose needs max(min_points, 4) of them."""
    rng = np.random.default_rng(min_points)
    kp, conf = _faces(rng, 10, camera, dropout=0.0, depth_m=(1.0, 2.0))
    ids, _ = face_model('coco_wholebody')
    for i in range(10):
        conf[i, ids[i:]] = 0.29       # just below min_confidence
    conf[2, ids[0]] = np.nan          # NaN confidence: not usable
    poses = _both(monkeypatch, kp, conf, camera, min_points=min_points, min_confidence=0.3)
    expected = np.arange(10) >= max(min_points, 4)
    expected[2] = False
    np.testing.assert_array_equal(poses.valid, expected)


def test_threshold_compares_in_the_confidence_precision(camera: CameraModel,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A confidence at the threshold's float32 rounding counts where NumPy counts it.

    NumPy compares float32 confidence with a Python float in float32, with a float64
    scalar in float64 under NumPy 2 (in float32 under NumPy 1).
    """
    rng = np.random.default_rng(3)
    kp, conf = _faces(rng, 2, camera, dropout=0.0)
    ids, _ = face_model('coco_wholebody')
    threshold = 0.7000000000000001  # rounds down to float32 0.69999999
    conf[:, ids] = np.float32(threshold)
    for given in (threshold, np.float64(threshold), np.float32(threshold)):
        _both(monkeypatch, kp, conf, camera, min_confidence=given)
        _both(monkeypatch, kp, conf.astype(np.float64), camera, min_confidence=given)


def test_profile_faces(camera: CameraModel, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    kp, conf = _faces(rng, 12, camera, yaw_deg=(80.0, 90.0))
    mirrored, mirrored_conf = _faces(rng, 12, camera, yaw_deg=(-90.0, -80.0))
    poses = _both(monkeypatch, np.concatenate([kp, mirrored]),
                  np.concatenate([conf, mirrored_conf]), camera)
    assert poses.valid.sum() >= 12


def test_people_behind_the_camera_and_degenerate_faces(camera: CameraModel,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    kp, conf = _faces(rng, 10, camera, dropout=0.0, depth_m=(1.0, 2.5))
    ids, _ = face_model('coco_wholebody')
    behind = pose_person(Person3D((0.2, 0.3, -2.0)))
    kp[0] = observe(behind[None], camera, rng, with_3d=False).keypoints[0]
    kp[1, ids] = kp[1, ids[0]]                                  # the face is one pixel
    kp[2, ids, 1] = 240.0                                        # ... a horizontal line
    kp[3, ids[:6]] = np.inf                                      # infinite keypoints: left out
    kp[4] *= 1e30                                                # absurdly far out
    kp[5, ids] = kp[5, ids][::-1]                                # landmarks shuffled
    kp[6, ids, 0] = 2 * kp[6, ids, 0].mean() - kp[6, ids, 0]     # a mirrored face
    poses = _both(monkeypatch, kp, conf, camera)
    assert not poses.valid[[1, 2, 4]].any() and poses.valid[3] and poses.valid[7:].all()


def test_coco_skeleton_fits_its_five_point_face(camera: CameraModel,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    kp, conf = _faces(rng, 20, camera, yaw_deg=(-50.0, 50.0), dropout=0.05)
    poses = _both(monkeypatch, kp[:, :17], conf[:, :17], camera, skeleton='coco')
    assert 5 <= poses.valid.sum() < 20  # a dropout among the five points: no pose
    _both(monkeypatch, kp[:, :17], conf[:, :17], camera, skeleton='coco', min_points=4)


@pytest.mark.parametrize('model, d', [
    ('plumb_bob', [0.12, -0.25, 0.001, -0.002, 0.1]),
    ('rational_polynomial', [0.1, -0.2, 0.001, 0.001, 0.05, 0.02, -0.01, 0.01]),
    ('equidistant', [0.05, -0.01, 0.002, 0.0])])
def test_distorted_raw_images_use_numpy_undistortion(model: str, d: list[float],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    camera = CameraModel(640, 480, k=[[460.0, 0.0, 322.0], [0.0, 462.0, 236.0], [0.0, 0.0, 1.0]],
                         d=d, distortion_model=model)
    rng = np.random.default_rng(8)
    kp, conf = _faces(rng, 6, camera)
    kp[0, 30] = np.nan
    poses = _both(monkeypatch, kp, conf, camera)
    half = _both(monkeypatch, (kp + 0.5) / 2 - 0.5, conf, camera, image_size=(320, 240))
    assert poses.valid.sum() >= 5
    assert np.abs(np.degrees(half.ypr_rad - poses.ypr_rad))[poses.valid].max() < 3.0


def test_rectified_images_map_through_p(monkeypatch: pytest.MonkeyPatch) -> None:
    # A raw camera with distortion whose rectified image has other intrinsics: P is used.
    camera = CameraModel(640, 480, k=[[460.0, 0.0, 322.0], [0.0, 462.0, 236.0], [0.0, 0.0, 1.0]],
                         d=[0.12, -0.25, 0.001, -0.002, 0.1],
                         p=[[430.0, 0.0, 318.0, -25.0], [0.0, 431.0, 241.0, 0.0],
                            [0.0, 0.0, 1.0, 0.0]])
    rng = np.random.default_rng(9)
    kp, conf = _faces(rng, 8, camera)
    poses = _both(monkeypatch, kp, conf, camera, rectified=True)
    raw = _both(monkeypatch, kp, conf, camera)
    assert poses.valid.sum() >= 6
    assert not np.allclose(poses.rotation[poses.valid & raw.valid],
                           raw.rotation[poses.valid & raw.valid], atol=1e-3)


@pytest.mark.parametrize('image_size', [(1280, 960), (800, 450), (640, 480)])
def test_an_image_of_another_size_than_the_calibration(camera: CameraModel,
                                                       image_size: tuple[int, int],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(10)
    kp, conf = _faces(rng, 5, camera)
    ratio = np.array(image_size) / (camera.width, camera.height)
    resized = (kp + 0.5) * ratio.astype(np.float32) - 0.5
    poses = _both(monkeypatch, resized, conf, camera, image_size=image_size)
    _both(monkeypatch, resized, conf, camera, image_size=image_size, rectified=True)
    same = _both(monkeypatch, kp, conf, camera)
    np.testing.assert_array_equal(poses.valid, same.valid)
    np.testing.assert_allclose(poses.ypr_rad, same.ypr_rad, atol=1e-4)


def test_other_input_dtypes_and_layouts(camera: CameraModel,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    kp, conf = _faces(rng, 4, camera)
    _both(monkeypatch, kp.astype(np.float64) + 1e-3, conf.astype(np.float64), camera)
    _both(monkeypatch, kp.astype(np.float16), conf, camera)
    strided = np.repeat(kp, 2, axis=0)[::2]
    _both(monkeypatch, strided, np.asfortranarray(conf), camera)


def test_a_confidence_of_another_dtype_is_left_to_numpy(camera: CameraModel,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    rng = np.random.default_rng(12)
    kp, conf = _faces(rng, 3, camera)
    called = []
    numpy_version = head._head_poses_numpy
    monkeypatch.setattr(head, '_head_poses_numpy',
                        lambda *args: called.append(1) or numpy_version(*args))
    poses = estimate_head_poses(kp, conf.astype(np.float16), 'coco_wholebody', camera)
    assert called and poses.valid.all()


def test_an_uncalibrated_camera_raises_as_in_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    uncalibrated = CameraModel(640, 480, k=np.zeros((3, 3)))
    rng = np.random.default_rng(13)
    kp, conf = _faces(rng, 2, CameraModel.from_intrinsics(640, 480, 466, 466, 319.5, 239.5))
    for implementation in (BUILT_KERNEL, None):
        monkeypatch.setattr(kernel, 'KERNEL', implementation)
        with pytest.raises(InvalidInputError, match='uncalibrated'):
            estimate_head_poses(kp, conf, 'coco_wholebody', uncalibrated)
        # Nobody to fit: no rays needed, no error.
        nobody = estimate_head_poses(kp[:0], conf[:0], 'coco_wholebody', uncalibrated)
        assert nobody.valid.size == 0


def _kernel_arguments(n: int = 2) -> list[Any]:
    ids, model, radius = head._kernel_face('coco_wholebody')
    camera = CameraModel.from_intrinsics(640, 480, 466, 466, 319.5, 239.5)
    kp, conf = _faces(np.random.default_rng(14), n, camera)
    return [kp, conf, n, 133, ids, model, 0.3, 5, 3, radius, camera.k, 1.0, 1.0, None,
            np.empty(n, bool), np.empty((n, 3, 3)), np.empty((n, 3)), np.empty((n, 3)),
            np.empty((n, 3)), np.empty(n)]


@pytest.mark.parametrize('position, replacement, message', [
    (0, np.zeros((2, 133, 3), np.float32), 'keypoints holds'),
    (0, np.zeros((2, 133, 2), np.int16), 'keypoints must be float32 or float64'),
    (1, np.zeros((2, 132), np.float32), 'confidence holds'),
    (4, np.array([0, 133] + [1] * 21, np.intp), 'face id 133'),
    (4, np.zeros(46, np.int32), 'face_ids must have items of 8 bytes'),
    (5, np.zeros((22, 3)), 'face_points holds'),
    (10, np.eye(4), 'camera_matrix holds'),
    (13, np.zeros((2, 22, 2)), 'rays holds'),
    (14, np.empty(3, bool), 'valid holds'),
    (15, np.empty((2, 3, 2)), 'rotation holds'),
    (16, np.empty((2, 6), np.float32), 'translation must have items of 8 bytes'),
    (17, np.empty((2, 4)), 'ypr holds'),
    (18, bytearray(48), 'direction must have items of 8 bytes'),
    (19, np.empty(1), 'attention holds')])
def test_wrong_buffers_raise_value_error(position: int, replacement: Any, message: str) -> None:
    arguments = _kernel_arguments()
    arguments[position] = replacement
    with pytest.raises(ValueError, match=message):
        BUILT_KERNEL.head_poses(*arguments)


def test_the_kernel_entry_point_fills_every_output() -> None:
    arguments = _kernel_arguments(3)
    for out in arguments[14:]:
        out.fill(7)
    assert BUILT_KERNEL.head_poses(*arguments) is True
    valid, rotation = arguments[14], arguments[15]
    assert valid.all()
    np.testing.assert_allclose(rotation @ rotation.transpose(0, 2, 1), np.broadcast_to(
        np.eye(3), (3, 3, 3)), atol=1e-12)
    arguments[10] = np.zeros((3, 3))  # a singular camera matrix: nothing to map pixels with
    assert BUILT_KERNEL.head_poses(*arguments) is False
    # A skeleton without a face model: nobody gets a pose, and no rays are needed.
    arguments[4:6] = np.zeros(0, np.intp), np.zeros((0, 3))
    assert BUILT_KERNEL.head_poses(*arguments) is True
    assert not valid.any() and np.isnan(rotation).all() and np.isnan(arguments[19]).all()
