"""3D keypoints from depth: accuracy on known geometry, invalid depth, encodings, cameras."""

from types import SimpleNamespace
import warnings

import cv2
import numpy as np
import pytest

from humanpose.errors import InvalidInputError
from humanpose.lift3d import (camera_from_info, depth_in_metres, lift_poses, lift_to_3d,
                              masked_median, sample_depth)
from humanpose.testing.scene import PersonSpec, render_scene
from humanpose.types import CameraModel, Poses

W, H = 640, 480


def _truth(keypoints, camera, z):
    """Back-project pixels of an undistorted camera at depth z (independent of lift3d)."""
    fx, fy, cx, cy = camera.k[0, 0], camera.k[1, 1], camera.k[0, 2], camera.k[1, 2]
    x = (keypoints[..., 0] - cx) / fx * z
    y = (keypoints[..., 1] - cy) / fy * z
    return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1)


@pytest.fixture(scope='module')
def scene():
    people = [PersonSpec((200, 260), 520, angle_deg=8, depth_m=2.0),
              PersonSpec((500, 240), 260, depth_m=2.0)]
    return render_scene(W, H, people, background_depth_m=4.0)


def test_keypoints_on_a_plane_at_2m_are_within_1cm(scene):
    inside = scene.inside
    points, valid = lift_to_3d(scene.keypoints, scene.depth_m, scene.camera)
    assert inside.sum() > 200 and (~inside).sum() >= 6  # the first one's feet are cut off
    # Pixel (0, 0) covers [-0.5, 0.5): a keypoint more than half a pixel out is invalid.
    kp = scene.keypoints
    off_image = (kp < -0.5).any(axis=-1) | (kp[..., 0] >= W - 0.5) | (kp[..., 1] >= H - 0.5)
    assert valid[inside].all() and not valid[off_image].any()
    error = np.linalg.norm(points - _truth(scene.keypoints, scene.camera, 2.0), axis=-1)
    assert error[inside].max() < 0.01
    assert np.isnan(points[off_image]).all()


def test_millimetre_and_metre_encodings_give_the_same_metres(scene):
    metres, valid_m = lift_to_3d(scene.keypoints, scene.depth_m, scene.camera,
                                 encoding='32FC1')
    mm, valid_mm = lift_to_3d(scene.keypoints, scene.depth_mm(), scene.camera,
                              encoding='16UC1')
    mono, _ = lift_to_3d(scene.keypoints, scene.depth_mm(), scene.camera, encoding='mono16')
    inferred, _ = lift_to_3d(scene.keypoints, scene.depth_mm(), scene.camera)
    np.testing.assert_array_equal(valid_m, valid_mm)
    np.testing.assert_allclose(mm[valid_mm], metres[valid_m], atol=1e-5)
    np.testing.assert_array_equal(mono, mm)
    np.testing.assert_array_equal(inferred, mm)
    assert np.nanmax(mm[..., 2]) == pytest.approx(2.0)


@pytest.mark.parametrize('hole', [0.0, np.nan, np.inf, -1.0])
def test_no_valid_depth_is_invalid_never_zero_metres(hole):
    depth = np.full((H, W), 1.5, np.float32)
    depth[100:200, 100:200] = hole
    keypoints = np.array([[[150.0, 150.0], [400.0, 300.0], [101.0, 150.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # all-empty windows must not warn either
        points, valid = lift_to_3d(keypoints, depth, CameraModel.from_intrinsics(
            W, H, 500, 500, 320, 240), window=5)
    assert valid.tolist() == [[False, True, True]]
    assert np.isnan(points[0, 0]).all()
    assert points[0, 1, 2] == pytest.approx(1.5)
    # Half of this window is a hole: the median of the valid half, not pulled towards 0.
    assert points[0, 2, 2] == pytest.approx(1.5)
    poses = Poses(keypoints=keypoints.astype(np.float32), confidence=np.full((1, 3), 0.9,
                  np.float32), scores=np.ones((1, 3), np.float32),
                  boxes=np.zeros((1, 4), np.float32), box_scores=np.ones(1, np.float32),
                  skeleton='test')
    lifted = lift_poses(poses, depth, CameraModel.from_intrinsics(W, H, 500, 500, 320, 240))
    np.testing.assert_allclose(lifted.confidence_3d, [[0.0, 0.9, 0.9]])
    assert not np.any(lifted.keypoints_3d == 0.0)


def test_zero_millimetres_is_no_reading():
    depth = np.zeros((H, W), np.uint16)
    depth[:, 320:] = 2500
    points, valid = lift_to_3d(np.array([[[100.0, 100.0], [500.0, 100.0]]]), depth,
                               CameraModel.from_intrinsics(W, H, 500, 500, 320, 240))
    assert valid.tolist() == [[False, True]]
    assert np.isnan(points[0, 0]).all() and points[0, 1, 2] == pytest.approx(2.5)


def test_keypoints_outside_the_image_or_nan_are_invalid():
    depth = np.full((H, W), 2.0, np.float32)
    keypoints = np.array([[[-3.0, 10.0], [10.0, 480.0], [np.nan, 5.0], [1e30, 1e30],
                           [639.4, 479.4], [-0.4, 0.0]]])
    camera = CameraModel.from_intrinsics(W, H, 500, 500, 320, 240)
    _, valid = lift_to_3d(keypoints, depth, camera)
    assert valid.tolist() == [[False, False, False, False, True, True]]


def test_window_median_is_robust_to_a_minority_of_other_depths():
    depth = np.full((H, W), 2.0, np.float32)
    depth[50, 50:53] = 9.0  # 3 of 25 readings are far away
    z = sample_depth(np.array([[[50.0, 50.0]]]), depth, window=5)
    assert z[0, 0] == pytest.approx(2.0)
    single = sample_depth(np.array([[[50.0, 50.0]]]), depth, window=1)
    assert single[0, 0] == pytest.approx(9.0)


def test_masked_median_matches_numpy():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 10, (4, 6, 9))
    valid = rng.uniform(size=values.shape) > 0.4
    valid[0, 0] = False
    expected = np.array([[np.median(v[m]) if m.any() else np.nan for v, m in zip(vr, mr)]
                         for vr, mr in zip(values, valid)])
    np.testing.assert_allclose(masked_median(values, valid), expected, rtol=1e-6)


def test_depth_outliers_behind_the_body_are_rejected(scene):
    keypoints = scene.keypoints[:1].copy()
    # The right wrist and its hand slide off the body onto the wall 2 m behind.
    keypoints[0, 10] = (20.0, 30.0)
    points, valid = lift_to_3d(keypoints, scene.depth_m, scene.camera)
    assert valid[0, 10] and points[0, 10, 2] == pytest.approx(4.0)
    points, valid = lift_to_3d(keypoints, scene.depth_m, scene.camera, outlier_m=0.5)
    assert not valid[0, 10] and np.isnan(points[0, 10]).all()
    assert valid[0, scene.inside[0]].sum() == scene.inside[0].sum() - 1


def _plane_depth(camera, size, normal, offset):
    """Depth (z) image of the plane normal . X = offset seen by ``camera`` at ``size``."""
    wd, hd = size
    xd, yd = np.meshgrid(np.arange(wd, dtype=np.float64), np.arange(hd, dtype=np.float64))
    u = (xd + 0.5) * camera.width / wd - 0.5
    v = (yd + 0.5) * camera.height / hd - 0.5
    rays = np.stack([(u - camera.k[0, 2]) / camera.k[0, 0],
                     (v - camera.k[1, 2]) / camera.k[1, 1], np.ones_like(u)], axis=-1)
    return (offset / (rays @ normal)).astype(np.float32)


@pytest.mark.parametrize('depth_size', [(320, 240), (1280, 960), (640, 360)])
def test_depth_of_another_resolution_is_sampled_at_the_right_place(depth_size):
    camera = CameraModel.from_intrinsics(W, H, 520.0, 515.0, 318.0, 243.0)
    normal = np.array([0.35, -0.2, 1.0])  # a strongly tilted wall about 2 m away
    offset = 2.0
    depth = _plane_depth(camera, depth_size, normal, offset)
    rng = np.random.default_rng(3)
    keypoints = rng.uniform([20, 20], [W - 20, H - 20], (3, 40, 2))
    points, valid = lift_to_3d(keypoints, depth, camera, window=3)
    assert valid.all()
    rays = _truth(keypoints, camera, 1.0)
    truth = rays * (offset / (rays @ normal))[..., None]
    assert np.linalg.norm(points - truth, axis=-1).max() < 0.01


def _grid_points(z=2.0):
    xs, ys = np.meshgrid(np.linspace(-1.3, 1.3, 9), np.linspace(-0.9, 0.9, 7))
    return np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, z)], axis=1)


DISTORTIONS = {
    'plumb_bob': np.array([-0.28, 0.09, 0.001, -0.0015, -0.012]),
    'rational_polynomial': np.array([0.4, -0.1, 0.0008, 0.0005, 0.02, 0.75, -0.05, 0.06]),
    'equidistant': np.array([0.05, -0.02, 0.004, -0.001]),
}


@pytest.mark.parametrize('model', sorted(DISTORTIONS))
def test_raw_image_keypoints_are_undistorted(model):
    k = np.array([[500.0, 0, 322.0], [0, 498.0, 238.0], [0, 0, 1]])
    d = DISTORTIONS[model]
    camera = CameraModel(width=W, height=H, k=k, d=d, distortion_model=model)
    points = _grid_points()
    if model == 'equidistant':
        pixels, _ = cv2.fisheye.projectPoints(points.reshape(-1, 1, 3), np.zeros(3),
                                              np.zeros(3), k, d)
    else:
        pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k, d)
    pixels = pixels.reshape(1, -1, 2)
    depth = np.full((H, W), 2.0, np.float32)  # the plane z = 2 m, seen by the raw image
    lifted, valid = lift_to_3d(pixels, depth, camera, rectified=False)
    assert valid.all()
    assert np.abs(lifted[0] - points).max() < 0.001
    # Ignoring the distortion would be centimetres off at the edges.
    naive, _ = lift_to_3d(pixels, depth, CameraModel(width=W, height=H, k=k))
    assert np.abs(naive[0] - points).max() > 0.02


def test_rectified_keypoints_use_p_and_ignore_distortion():
    k = np.array([[500.0, 0, 322.0], [0, 498.0, 238.0], [0, 0, 1]])
    p = np.array([[470.0, 0, 315.0, 0], [0, 470.0, 245.0, 0], [0, 0, 1, 0]])
    camera = CameraModel(width=W, height=H, k=k, d=DISTORTIONS['plumb_bob'], p=p)
    points = _grid_points(2.5)
    pixels = (points @ p[:, :3].T)
    pixels = (pixels[:, :2] / pixels[:, 2:]).reshape(1, -1, 2)
    depth = np.full((H, W), 2500, np.uint16)
    lifted, valid = lift_to_3d(pixels, depth, camera, rectified=True)
    assert valid.all()
    assert np.abs(lifted[0] - points).max() < 0.001
    raw, _ = lift_to_3d(pixels, depth, camera, rectified=False)
    assert np.abs(raw[0] - points).max() > 0.02


def test_keypoints_of_a_resized_colour_image_are_scaled_to_the_calibration():
    camera = CameraModel.from_intrinsics(1280, 960, 1000.0, 1000.0, 639.5, 479.5)
    depth = np.full((480, 640), 2.0, np.float32)
    # The centre pixel of a 640 x 480 stream of that camera is its principal point.
    points, valid = lift_to_3d(np.array([[[319.5, 239.5], [639.0, 239.5]]]), depth, camera,
                               image_size=(640, 480))
    assert valid.all()
    np.testing.assert_allclose(points[0, 0], (0.0, 0.0, 2.0), atol=1e-6)
    np.testing.assert_allclose(points[0, 1, 0], (1278.5 - 639.5) / 1000 * 2, atol=1e-5)


@pytest.mark.parametrize('depth, encoding', [
    (np.zeros((H, W), np.uint16), '32FC1'),
    (np.zeros((H, W), np.float32), '16UC1'),
    (np.zeros((H, W), np.float32), 'rgb8'),
    (np.zeros((H, W, 3), np.uint16), '16UC1'),
    (np.zeros((H, W), np.float64), None),
    (np.zeros(W, np.float32), None),
])
def test_bad_depth_images_are_refused(depth, encoding):
    with pytest.raises(InvalidInputError):
        lift_to_3d(np.zeros((1, 2, 2)), depth, CameraModel.from_intrinsics(W, H, 1, 1, 0, 0),
                   encoding=encoding)


def test_bad_windows_and_keypoints_are_refused():
    depth = np.ones((H, W), np.float32)
    camera = CameraModel.from_intrinsics(W, H, 500, 500, 320, 240)
    for window in (0, 4, -1):
        with pytest.raises(InvalidInputError, match='odd'):
            lift_to_3d(np.zeros((1, 2, 2)), depth, camera, window=window)
    with pytest.raises(InvalidInputError, match=r'\(N, K, 2\)'):
        lift_to_3d(np.zeros((2, 2)), depth, camera)
    fisheye_raw = CameraModel(width=W, height=H, k=camera.k, d=np.ones(5), distortion_model='x')
    with pytest.raises(InvalidInputError, match='rectified=True'):
        lift_to_3d(np.zeros((1, 2, 2)), depth, fisheye_raw)


def test_depth_image_with_a_channel_axis_and_metres_helper():
    depth = np.full((H, W, 1), 1234, np.uint16)
    depth[0, 0] = 0
    points, valid = lift_to_3d(np.array([[[10.0, 10.0]]]), depth,
                               CameraModel.from_intrinsics(W, H, 500, 500, 320, 240))
    assert valid.all() and points[0, 0, 2] == pytest.approx(1.234)
    metres = depth_in_metres(depth)
    assert metres.shape == (H, W) and np.isnan(metres[0, 0])
    assert metres[1, 1] == pytest.approx(1.234)


def test_empty_input():
    points, valid = lift_to_3d(np.zeros((0, 133, 2)), np.ones((H, W), np.float32),
                               CameraModel.from_intrinsics(W, H, 500, 500, 320, 240),
                               outlier_m=0.3)
    assert points.shape == (0, 133, 3) and valid.shape == (0, 133)


@pytest.fixture(scope='module')
def ns():
    from humanpose.ros.messages import rosbags_namespace
    return rosbags_namespace()


def _info(ns, **values):
    header = ns.Header(stamp=ns.Time(sec=1, nanosec=2), frame_id='cam_optical')
    base = dict(header=header, width=640, height=480, distortion_model='plumb_bob',
                d=np.array([0.1, -0.05, 0.0, 0.0, 0.0]),
                k=np.array([500.0, 0, 320, 0, 500, 240, 0, 0, 1]),
                p=np.array([480.0, 0, 318, 0, 0, 480, 242, 0, 0, 0, 1, 0]))
    base.update(values)
    return ns.new('CameraInfo', **base)


def test_camera_from_a_camera_info_message(ns):
    camera = camera_from_info(_info(ns))
    assert (camera.width, camera.height, camera.frame_id) == (640, 480, 'cam_optical')
    assert camera.k[0, 0] == 500 and camera.p[0, 0] == 480 and camera.p[1, 2] == 242
    np.testing.assert_allclose(camera.d, [0.1, -0.05, 0, 0, 0])
    assert camera.distortion_model == 'plumb_bob'
    # An all-zero P (many drivers) falls back to K.
    camera = camera_from_info(_info(ns, p=np.zeros(12)))
    np.testing.assert_array_equal(camera.p[:, :3], camera.k)


def test_camera_info_binning_and_roi_describe_the_published_image(ns):
    camera = camera_from_info(_info(ns, binning_x=2, binning_y=2))
    assert (camera.width, camera.height) == (320, 240)
    np.testing.assert_allclose(camera.k[0], [250.0, 0.0, 160.0])
    np.testing.assert_allclose(camera.p[1], [0.0, 240.0, 121.0, 0.0])
    # Any object with CameraInfo's fields will do (here a plain namespace with a ROI).
    info = _info(ns)
    plain = SimpleNamespace(
        header=SimpleNamespace(frame_id='cam'), width=640, height=480, k=info.k, d=info.d,
        p=info.p, distortion_model='plumb_bob', binning_x=0, binning_y=0,
        roi=SimpleNamespace(x_offset=100, y_offset=40, width=400, height=300))
    camera = camera_from_info(plain)
    assert (camera.width, camera.height, camera.frame_id) == (400, 300, 'cam')
    np.testing.assert_allclose(camera.k[:2, 2], [220.0, 200.0])


def test_uncalibrated_camera_info_is_refused(ns):
    with pytest.raises(InvalidInputError, match='calibrat'):
        camera_from_info(_info(ns, k=np.zeros(9)))
