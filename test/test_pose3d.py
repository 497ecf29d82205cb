"""Metric 3D from a 3D pose network: monocular placement, fusion with depth, bad inputs.

The RTMW3D-shaped analytic model finds the drawn people and emits each keypoint's known
depth relative to the hips on its z axis, so the drawn 3D truth (keypoints back-projected
through the scene's camera at their depths) is what the whole chain has to recover.
"""

from dataclasses import replace

import numpy as np
import pytest

from humanpose import Pipeline
from humanpose.errors import InvalidInputError, ModelLoadError
from humanpose.lift3d import lift_poses
from humanpose.pose3d import (DEFAULT_HFOV_DEG, REFERENCE_TORSO_M, SOURCE_DEPTH, SOURCE_FUSED,
                              SOURCE_MONOCULAR, SOURCE_NONE, assumed_camera, fuse_with_depth,
                              place_monocular, poses_with_3d, resolve_source,
                              root_depth_from_size)
from humanpose.testing.scene import default_camera, person_at, person_relief, render_scene
from humanpose.types import CameraModel

HANDS = np.r_[9, 10, 91:133]
ROOT = [11, 12]
#: Cameras: a wide-angle head camera for people at arm's length (a 1.70 m person at 1 m
#: does not fit a 69 degree 16:9 image), a RealSense-like one beyond.
WIDE = default_camera(1280, 720, hfov_deg=90.0)
NORMAL = default_camera(1280, 720, hfov_deg=69.0)
DISTANCES = [(WIDE, 1.0), (WIDE, 1.5), (NORMAL, 2.0), (NORMAL, 3.0), (NORMAL, 4.5),
             (NORMAL, 6.0)]


def _scene(camera, depth_m, x_m=0.0, **kw):
    person = person_at(camera, (x_m, 0.0, depth_m), **kw)
    return render_scene(camera.width, camera.height, [person], seed=5, camera=camera)


def _root(points):
    return points[:, ROOT].mean(axis=1)


def _seen(poses, scene):
    """Keypoints the check is about: in the image and confidently found."""
    return scene.inside & (poses.confidence > 0.5)


@pytest.fixture(scope='module')
def pipeline(pose3d_model):
    return Pipeline(pose3d_model, backend='onnxruntime-cpu')


@pytest.mark.parametrize('camera, depth_m', DISTANCES)
def test_monocular_recovers_metric_3d_with_true_intrinsics(pipeline, camera, depth_m):
    scene = _scene(camera, depth_m)
    poses = pipeline(scene.image, scene.boxes, camera=scene.camera)
    truth = scene.keypoints_3d
    assert poses.source_3d.tolist() == [SOURCE_MONOCULAR] and not poses.intrinsics_assumed
    root = _root(poses.keypoints_3d)[0]
    assert abs(root[2] - depth_m) < 0.05 * depth_m
    seen = _seen(poses, scene)[0]
    assert seen.sum() > 100
    # The body's shape: every keypoint relative to the root within 3 cm of the truth.
    relative = (poses.keypoints_3d[0] - root) - (truth[0] - _root(truth)[0])
    assert np.linalg.norm(relative[seen], axis=-1).max() < 0.03
    # Measured here: the absolute positions are within 3 cm as well.
    assert np.linalg.norm(poses.keypoints_3d[0, seen] - truth[0, seen], axis=-1).max() < 0.03
    assert 0 <= poses.residual_3d[0] < 0.01
    np.testing.assert_array_equal(poses.confidence_3d[0] > 0, np.isfinite(
        poses.keypoints_3d[0]).all(-1))


def test_decoded_relative_depth_is_the_drawn_relief_exactly(pipeline):
    scene = _scene(NORMAL, 3.0)
    poses = pipeline.pose.estimate(scene.image, scene.boxes)
    seen = _seen(poses, scene)[0]
    np.testing.assert_allclose(poses.relative_depth[0, seen], person_relief()[seen], atol=1e-6)
    assert poses.relative_depth_confidence[0, seen].min() > 0.5


def test_several_people_at_once_each_at_its_depth(pipeline):
    people = [person_at(NORMAL, (x, 0.0, z)) for x, z in ((-1.2, 3.0), (0.2, 5.0), (1.6, 4.0))]
    scene = render_scene(1280, 720, people, seed=2, camera=NORMAL)
    poses = pipeline(scene.image, scene.boxes, camera=scene.camera)
    got = _root(poses.keypoints_3d)[:, 2]
    np.testing.assert_allclose(got, [3.0, 5.0, 4.0], rtol=0.05)


def test_a_larger_person_is_placed_closer_unless_body_height_says_so(pose3d_model):
    scene = _scene(NORMAL, 3.0, height_m=1.87)  # 10 % above the reference adult
    default = Pipeline(pose3d_model, backend='onnxruntime-cpu')
    tall = Pipeline(pose3d_model, backend='onnxruntime-cpu', body_height_m=1.87)
    z_default = _root(default(scene.image, scene.boxes, camera=scene.camera).keypoints_3d)[0, 2]
    z_tall = _root(tall(scene.image, scene.boxes, camera=scene.camera).keypoints_3d)[0, 2]
    assert z_default == pytest.approx(3.0 / 1.1, rel=0.02)
    assert z_tall == pytest.approx(3.0, rel=0.02)


def test_without_a_camera_the_field_of_view_is_assumed_and_flagged(pipeline):
    camera = assumed_camera(1280, 720, DEFAULT_HFOV_DEG)  # the guess happens to be right
    scene = _scene(camera, 3.0)
    poses = pipeline(scene.image, scene.boxes)  # no camera
    assert poses.intrinsics_assumed and poses.source_3d.tolist() == [SOURCE_MONOCULAR]
    assert _root(poses.keypoints_3d)[0, 2] == pytest.approx(3.0, rel=0.05)
    # A wrong guess moves the person along its ray: depth scales with the focal length.
    wide = _scene(WIDE, 3.0)
    guessed = pipeline(wide.image, wide.boxes)
    ratio = assumed_camera(1280, 720).k[0, 0] / WIDE.k[0, 0]
    assert _root(guessed.keypoints_3d)[0, 2] == pytest.approx(3.0 * ratio, rel=0.05)


def _holes(depth, keypoints, index, radius=12):
    """Depth with no reading (0 / NaN) around the given keypoints."""
    out = depth.copy()
    yy, xx = np.mgrid[0:depth.shape[0], 0:depth.shape[1]]
    for x, y in keypoints[index]:
        out[(xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2] = np.nan
    return out


@pytest.mark.parametrize('depth_m', [1.5, 3.0, 5.0])
def test_fused_fills_depth_holes_on_the_hands_within_3_cm(pipeline, depth_m):
    camera = WIDE if depth_m < 2 else NORMAL
    scene = _scene(camera, depth_m)
    depth = _holes(scene.depth_m, scene.keypoints[0], HANDS)
    poses = pipeline(scene.image, scene.boxes, camera=scene.camera, depth=depth)
    truth = scene.keypoints_3d[0]
    seen = _seen(poses, scene)[0]
    hands = np.zeros(133, bool)
    hands[HANDS] = True
    # Depth alone has nothing on the hands ...
    alone = lift_poses(poses, depth, scene.camera)
    assert np.isnan(alone.keypoints_3d[0, hands & seen]).all()
    # ... fused 3D has them within 3 cm, and the rest of the body too.
    assert poses.source_3d.tolist() == [SOURCE_FUSED]
    error = np.linalg.norm(poses.keypoints_3d[0] - truth, axis=-1)
    assert error[hands & seen].max() < 0.03
    assert error[seen].max() < 0.03
    assert poses.residual_3d[0] < 0.01


def test_fused_replaces_a_hand_reading_that_saw_the_wall(pipeline):
    scene = _scene(NORMAL, 2.5)
    depth = scene.depth_m.copy()
    wall = np.isnan(_holes(depth, scene.keypoints[0], HANDS))
    depth[wall] = 4.0  # the window behind each hand sees the background
    poses = pipeline(scene.image, scene.boxes, camera=scene.camera, depth=depth)
    seen = _seen(poses, scene)[0]
    error = np.linalg.norm(poses.keypoints_3d[0] - scene.keypoints_3d[0], axis=-1)
    assert error[seen].max() < 0.03
    # Depth alone puts the hands on the wall.
    alone = lift_poses(poses, depth, scene.camera)
    assert np.nanmax(alone.keypoints_3d[0, HANDS, 2]) == pytest.approx(4.0, abs=0.01)


def test_fused_anchors_by_depth_so_body_size_does_not_matter(pose3d_model):
    scene = _scene(NORMAL, 3.0, height_m=1.50)  # small: monocular would place it far
    pipe = Pipeline(pose3d_model, backend='onnxruntime-cpu')
    fused = pipe(scene.image, scene.boxes, camera=scene.camera, depth=scene.depth_mm(),
                 depth_encoding='16UC1')
    assert _root(fused.keypoints_3d)[0, 2] == pytest.approx(3.0, abs=0.005)
    mono = pipe(scene.image, scene.boxes, camera=scene.camera)
    assert _root(mono.keypoints_3d)[0, 2] == pytest.approx(3.0 * 1.7 / 1.5, rel=0.02)


def test_fused_without_torso_depth_falls_back_to_monocular_and_says_so(pipeline):
    scene = _scene(NORMAL, 3.0)
    depth = np.full_like(scene.depth_m, np.nan)
    poses = pipeline(scene.image, scene.boxes, camera=scene.camera, depth=depth)
    assert poses.source_3d.tolist() == [SOURCE_MONOCULAR]
    assert _root(poses.keypoints_3d)[0, 2] == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize('mode, network_3d, has_depth, source', [
    ('auto', True, True, SOURCE_FUSED), ('auto', True, False, SOURCE_MONOCULAR),
    ('auto', False, True, SOURCE_DEPTH), ('auto', False, False, SOURCE_NONE),
    ('none', True, True, SOURCE_NONE), ('depth', True, True, SOURCE_DEPTH),
    ('depth', True, False, SOURCE_NONE), ('monocular', True, True, SOURCE_MONOCULAR),
    ('fused', True, True, SOURCE_FUSED), ('fused', True, False, SOURCE_MONOCULAR),
])
def test_source_selection(mode, network_3d, has_depth, source):
    assert resolve_source(mode, network_3d, has_depth) == source


def test_modes_select_the_source_end_to_end(pose3d_model):
    scene = _scene(NORMAL, 3.0)
    for mode, source in (('depth', SOURCE_DEPTH), ('monocular', SOURCE_MONOCULAR),
                         ('fused', SOURCE_FUSED)):
        pipe = Pipeline(pose3d_model, backend='onnxruntime-cpu', pose3d_source=mode)
        poses = pipe(scene.image, scene.boxes, camera=scene.camera, depth=scene.depth_m)
        assert poses.source_3d.tolist() == [source]
    off = Pipeline(pose3d_model, backend='onnxruntime-cpu', pose3d_source='none')
    assert off(scene.image, scene.boxes, camera=scene.camera).keypoints_3d is None


def test_monocular_or_fused_with_a_2d_network_is_refused_at_start(pose_model):
    for mode in ('monocular', 'fused'):
        with pytest.raises(InvalidInputError, match='needs a 3D pose network'):
            Pipeline(pose_model, backend='onnxruntime-cpu', pose3d_source=mode)
    with pytest.raises(InvalidInputError, match='one of'):
        Pipeline(pose_model, backend='onnxruntime-cpu', pose3d_source='stereo')


def test_2d_network_without_depth_has_no_3d_and_with_depth_says_depth(pose_model):
    scene = render_scene(640, 480, [person_at(default_camera(640, 480), (0, 0, 3.0),
                                              relief=0.0)])
    pipe = Pipeline(pose_model, backend='onnxruntime-cpu')
    assert pipe(scene.image, scene.boxes, camera=scene.camera).keypoints_3d is None
    lifted = pipe(scene.image, scene.boxes, camera=scene.camera, depth=scene.depth_m)
    assert lifted.source_3d.tolist() == [SOURCE_DEPTH] and np.isnan(lifted.residual_3d).all()


@pytest.mark.parametrize('k', [
    np.zeros((3, 3)),                                  # uncalibrated camera_info
    np.array([[500.0, 0, 320], [0, 500, 240], [500, 0, 320]]),  # singular
    np.array([[np.nan, 0, 320], [0, 500, 240], [0, 0, 1]]),
])
def test_singular_or_missing_intrinsics_are_one_clear_error(pipeline, k):
    if k.any():  # a malformed calibration is refused where the camera model is made
        with pytest.raises(InvalidInputError, match='is not a pinhole camera matrix'):
            CameraModel(1280, 720, k)
        return
    scene = _scene(NORMAL, 3.0)  # an uncalibrated one (K = 0) where rays are needed
    camera = CameraModel(1280, 720, k)
    with pytest.raises(InvalidInputError, match='cannot turn pixels into rays'):
        pipeline(scene.image, scene.boxes, camera=camera)


def test_unknown_depth_encoding_is_one_clear_error(pipeline):
    scene = _scene(NORMAL, 3.0)
    with pytest.raises(InvalidInputError, match='unsupported depth encoding'):
        pipeline(scene.image, scene.boxes, camera=scene.camera,
                 depth=scene.depth_mm(), depth_encoding='8UC1')


def test_people_without_a_visible_torso_get_no_3d():
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(100, 500, (2, 133, 2)).astype(np.float32)
    confidence = np.ones((2, 133), np.float32)
    confidence[1, [5, 6, 11]] = 0.0  # only one torso keypoint left: no segment
    z = np.zeros((2, 133), np.float32)
    placed = place_monocular(keypoints, confidence, z, np.ones_like(z), NORMAL)
    assert placed.source.tolist() == [SOURCE_MONOCULAR, SOURCE_NONE]
    assert np.isnan(placed.points[1]).all() and (placed.confidence[1] == 0).all()
    assert np.isnan(placed.residual[1]) and np.isnan(placed.root_depth[1])


def test_closed_form_with_gauss_newton_is_the_least_squares_optimum():
    # Torsos 10 % off the reference's proportions, leaning in depth, at 1-6 m.
    rng = np.random.default_rng(3)
    torso = np.array([[0.187, -0.16], [-0.187, -0.16], [0.136, 0.27], [-0.136, 0.27]])
    points = np.zeros((5, 133, 3))
    points[:, [5, 6, 11, 12], :2] = torso * rng.uniform(0.9, 1.1, (5, 4, 2))
    points[:, :, 2] = rng.uniform(-0.2, 0.2, (5, 133))
    points += np.c_[rng.uniform(-1, 1, (5, 2)), rng.uniform(1, 6, 5)][:, None]
    rays = points / points[..., 2:3]
    z = points[..., 2] - points[:, [11, 12], 2].mean(1, keepdims=True)
    weights = rng.uniform(0.3, 1.0, (5, 133))
    tau, residual = root_depth_from_size(rays, z, weights)
    a, b, lengths = (REFERENCE_TORSO_M[:, 0].astype(int), REFERENCE_TORSO_M[:, 1].astype(int),
                     REFERENCE_TORSO_M[:, 2])
    grid = np.linspace(0.2, 20, 200_001)
    for n in range(5):
        seg = (grid[:, None, None] * (rays[n, a] - rays[n, b])
               + z[n, a, None] * rays[n, a] - z[n, b, None] * rays[n, b])
        w = np.minimum(weights[n, a], weights[n, b])
        cost = (w * (np.linalg.norm(seg, axis=-1) - lengths) ** 2).sum(-1)
        best = grid[cost.argmin()]
        assert tau[n] == pytest.approx(best, abs=2e-4)
        assert residual[n] == pytest.approx(np.sqrt(cost.min() / w.sum()), rel=1e-3, abs=1e-6)


def test_fusion_tolerance_and_confidences():
    scene = _scene(NORMAL, 3.0)
    truth_px = scene.keypoints.astype(np.float32)
    conf = np.ones((1, 133), np.float32)
    z = person_relief()[None].astype(np.float32)
    z_conf = np.full((1, 133), 0.6, np.float32)
    depth = scene.depth_m.copy()
    depth[np.isnan(_holes(depth, scene.keypoints[0], [9], radius=6))] = 3.1  # 45 cm off
    fused = fuse_with_depth(truth_px, conf, z, z_conf, depth, scene.camera, tolerance_m=0.15)
    # The left wrist disagrees by 0.45 m: predicted (confidence of 2D and z); others kept.
    assert fused.points[0, 9, 2] == pytest.approx(3.0 - 0.35 + 0.0, abs=0.01)
    assert fused.confidence[0, 9] == pytest.approx(0.6) and fused.confidence[0, 5] == 1.0
    loose = fuse_with_depth(truth_px, conf, z, z_conf, depth, scene.camera, tolerance_m=0.5)
    assert loose.points[0, 9, 2] == pytest.approx(3.1, abs=0.01)
    with pytest.raises(InvalidInputError, match='tolerance'):
        fuse_with_depth(truth_px, conf, z, z_conf, depth, scene.camera, tolerance_m=0.0)


def test_poses_carry_3d_fields_through_select_and_tracking(pipeline, pose3d_model):
    people = [person_at(NORMAL, (x, 0.0, 3.0)) for x in (-1.0, 1.0)]
    scene = render_scene(1280, 720, people, seed=1, camera=NORMAL)
    tracked = Pipeline(pose3d_model, backend='onnxruntime-cpu', tracking=True,
                       smoothing=True)
    for frame in range(3):
        poses = tracked(scene.image, scene.boxes, camera=scene.camera,
                        stamp_ns=frame * 33_000_000)
    assert poses.source_3d.tolist() == [SOURCE_MONOCULAR] * 2 and len(poses.ids) == 2
    one = poses.select(np.array([1]))
    assert one.relative_depth.shape == (1, 133) and one.source_3d.tolist() == [SOURCE_MONOCULAR]
    assert one.residual_3d.shape == (1,)
    np.testing.assert_allclose(_root(poses.keypoints_3d)[:, 2], 3.0, rtol=0.05)


def test_empty_frames_and_the_shape_checks(pipeline):
    empty = render_scene(640, 480, [], camera=default_camera(640, 480))
    poses = pipeline(empty.image, np.zeros((0, 4)), camera=empty.camera)
    assert len(poses) == 0 and poses.keypoints_3d is None
    with pytest.raises(InvalidInputError, match='relative_depth'):
        replace(poses, relative_depth=np.zeros((0, 133), np.float32),
                relative_depth_confidence=None)


def test_2d_poses_cannot_be_placed_monocularly():
    from humanpose.types import Poses
    poses = Poses.empty('coco_wholebody', 133)
    with pytest.raises(InvalidInputError, match='needs a 3D pose network'):
        poses_with_3d(poses, 'monocular', image_size=(640, 480))


def test_published_exports_with_generic_output_names_decode_by_order(humanpose_home):
    from humanpose import PoseEstimator
    from humanpose.testing.models import analytic_pose_model
    model = analytic_pose_model((288, 384), head='simcc3d',
                                output_names=('output', '1554', '1556'))
    est = PoseEstimator(model, card='rtmw3d-l-384x288', backend='onnxruntime-cpu')
    scene = _scene(NORMAL, 3.0)
    poses = est.estimate(scene.image, scene.boxes)
    seen = _seen(poses, scene)[0]
    np.testing.assert_allclose(poses.relative_depth[0, seen], person_relief()[seen], atol=1e-6)
    assert np.abs(poses.keypoints[0, seen] - scene.keypoints[0, seen]).max() < 1.0


def test_three_output_model_with_a_2d_card_and_the_reverse_fail_at_load(
        pose3d_model, pose_model_large):
    from humanpose import PoseEstimator
    with pytest.raises(ModelLoadError, match='3D .*simcc3d'):
        PoseEstimator(pose3d_model, card='rtmw-l-384x288', backend='onnxruntime-cpu')
    with pytest.raises(ModelLoadError, match='needs 3 outputs.*2D model'):
        PoseEstimator(pose_model_large, card='rtmw3d-l-384x288', backend='onnxruntime-cpu')


def test_wrong_simcc_z_length_fails_at_load(pose3d_model):
    from humanpose import PoseEstimator
    from humanpose.models.card import get_card
    card = get_card('rtmw3d-x-384x288')
    wrong = replace(card, head={**card.head, 'depth_size': 384})  # rtmlib's divisor
    with pytest.raises(ModelLoadError, match='simcc_z.*576 bins.*needs 768'):
        PoseEstimator(pose3d_model, card=wrong, backend='onnxruntime-cpu')


@pytest.mark.parametrize('d, rectified, image_size', [
    ((0.0,) * 5, False, None), ((0.1, -0.05, 0.001, 0.002, 0.0), False, None),
    ((0.1, -0.05, 0.001, 0.002, 0.0), True, None), ((0.0,) * 5, False, (320, 240))])
def test_rays_are_those_of_the_depth_path(d, rectified, image_size):
    # Monocular and fused 3D use the same rays as 3D from depth (lift3d.pixel_rays): K and
    # distortion for raw images, P for rectified ones, any image resolution.
    from humanpose.lift3d import pixel_rays
    from humanpose.pose3d import _homogeneous_rays
    k = np.array([[500.0, 1.5, 320.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]])
    p = np.array([[450.0, 0.0, 330.0, 0.0], [0.0, 450.0, 235.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    camera = CameraModel(640, 480, k, d=d, p=p)
    keypoints = np.random.default_rng(1).uniform(0, 300, (2, 133, 2))
    keypoints[1, 3] = np.nan
    got = _homogeneous_rays(keypoints, camera, rectified, image_size)
    want = pixel_rays(keypoints, camera, rectified=rectified, image_size=image_size)
    np.testing.assert_allclose(got[..., :2], want, atol=1e-12)
    assert (got[..., 2] == 1).all() and np.isnan(got[1, 3, :2]).all()
