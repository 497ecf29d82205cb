"""humanpose.hri: ROS4HRI skeleton, regions and body frames from poses (no ROS)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from humanpose.errors import InvalidInputError
from humanpose.hri import (body_frames, body_id, crop_windows, JOINT_FRAME_NAMES,
                           normalise_xy, normalised_rois, SKELETON2D_POINTS, skeleton2d,
                           tf_transforms)
from humanpose.skeletons import get_skeleton
from humanpose.testing.scene import PersonSpec, render_scene
from humanpose.types import Poses

W, H = 640, 480


def _poses(keypoints, confidence=None, skeleton='coco_wholebody', boxes=None, ids=None,
           points_3d=None, confidence_3d=None):
    keypoints = np.asarray(keypoints, np.float32)
    n, k = keypoints.shape[:2]
    conf = np.ones((n, k), np.float32) if confidence is None else np.asarray(
        confidence, np.float32)
    boxes = np.tile([[10, 20, 300, 400]], (n, 1)) if boxes is None else boxes
    return Poses(keypoints, conf, conf.copy(), np.asarray(boxes, np.float32),
                 np.full(n, 0.9, np.float32), skeleton,
                 tuple(ids) if ids is not None else tuple(str(i + 1) for i in range(n)),
                 None if points_3d is None else np.asarray(points_3d, np.float32),
                 None if points_3d is None else (np.ones((n, k), np.float32)
                                                 if confidence_3d is None
                                                 else np.asarray(confidence_3d, np.float32)))


def _scene_3d(people, seed=3):
    """A rendered scene with the drawn keypoints lifted to their person's depth plane."""
    scene = render_scene(W, H, people, seed=seed)
    kp = scene.keypoints.astype(np.float64)
    k = scene.camera.k
    z = np.array([p.depth_m for p in people])[:, None] * np.ones(kp.shape[:2])
    points = np.stack([(kp[..., 0] - k[0, 2]) / k[0, 0] * z,
                       (kp[..., 1] - k[1, 2]) / k[1, 1] * z, z], axis=-1)
    return scene, points


@pytest.mark.parametrize('skeleton', ['coco', 'coco_wholebody'])
def test_skeleton2d_takes_each_point_by_name_and_makes_the_neck(skeleton):
    names = get_skeleton(skeleton).keypoint_names
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 400, (3, len(names), 2))
    conf = rng.uniform(0, 1, (3, len(names)))
    points = skeleton2d(_poses(kp, conf, skeleton), W, H)
    assert points.shape == (3, 18, 3) and points.dtype == np.float32
    for out, name in enumerate(SKELETON2D_POINTS):
        if name == 'neck':
            ls, rs = names.index('left_shoulder'), names.index('right_shoulder')
            want_xy = normalise_xy((kp[:, ls] + kp[:, rs]) / 2, W, H)
            want_c = np.minimum(conf[:, ls], conf[:, rs])
        else:
            want_xy = normalise_xy(kp[:, names.index(name)], W, H)
            want_c = conf[:, names.index(name)]
        np.testing.assert_allclose(points[:, out, :2], want_xy, atol=1e-6)
        np.testing.assert_allclose(points[:, out, 2], want_c, atol=1e-6)
    # Not OpenPose's order: index 14 is the left eye, 15 the right one.
    assert SKELETON2D_POINTS[14:] == ('left_eye', 'right_eye', 'left_ear', 'right_ear')


def test_normalised_coordinates_span_the_image_edges_and_clip():
    xy = np.array([[0.0, 0.0], [W - 1, H - 1], [-40.0, 900.0], [319.5, 239.5]])
    u = normalise_xy(xy, W, H)
    np.testing.assert_allclose(u[0], [0.5 / W, 0.5 / H], rtol=1e-6)
    np.testing.assert_allclose(u[1], [1 - 0.5 / W, 1 - 0.5 / H], rtol=1e-6)
    np.testing.assert_array_equal(u[2], [0.0, 1.0])
    np.testing.assert_allclose(u[3], [0.5, 0.5])
    # floor(u * size) is the pixel again
    pixels = np.array([[3.0, 7.0], [600.0, 470.0]])
    np.testing.assert_array_equal(np.floor(normalise_xy(pixels, W, H) * [W, H]), pixels)


def test_rois_are_the_normalised_person_boxes_with_the_person_score():
    poses = _poses(np.zeros((2, 17, 2)), skeleton='coco',
                   boxes=[[0, 0, W - 1, H - 1], [100, 50, 900, 200]])
    rois = normalised_rois(poses, W, H)
    np.testing.assert_allclose(rois[0], [0.5 / W, 0.5 / H, 1 - 0.5 / W, 1 - 0.5 / H, 0.9],
                               rtol=1e-6)
    np.testing.assert_allclose(rois[1], [100.5 / W, 50.5 / H, 1.0, 200.5 / H, 0.9], rtol=1e-6)
    assert (rois[:, :2] < rois[:, 2:4]).all()


def test_crop_windows_take_the_pixels_inside_the_box_and_never_nothing():
    boxes = np.array([[0, 0, W - 1, H - 1], [10.2, 20.7, 30.6, 40.0], [-50, -50, 5, 5],
                      [700, 500, 800, 600], [3.2, 3.2, 3.8, 3.8]])
    win = crop_windows(boxes, W, H)
    assert win.tolist() == [[0, 0, W, H], [11, 21, 31, 41], [0, 0, 6, 6],
                            [W - 1, H - 1, W, H], [4, 4, 5, 5]]


def test_a_skeleton_without_coco_body_keypoints_is_refused():
    with pytest.raises(InvalidInputError, match='COCO'):
        skeleton2d(_poses(np.zeros((1, 21, 2)), skeleton='hand21'), W, H)


def test_body_ids_are_valid_ros_name_tokens():
    assert body_id('7') == 'b7' and body_id('123') == 'b123'


def test_body_frame_sits_at_the_drawn_hips_facing_the_camera():
    people = [PersonSpec((200, 250), 300, depth_m=2.0), PersonSpec((460, 250), 250, depth_m=3.1)]
    scene, points = _scene_3d(people)
    poses = _poses(scene.keypoints, points_3d=points)
    frames = body_frames(poses)
    names = get_skeleton('coco_wholebody').keypoint_names
    hips = (points[:, names.index('left_hip')] + points[:, names.index('right_hip')]) / 2
    assert frames.valid.all()
    np.testing.assert_allclose(frames.origin, hips, atol=1e-6)
    # Facing the camera: forward (x) points at the camera (-z optical), up (z) is -y
    # optical, the person's left (y) is the image's right (+x optical).
    for rotation in frames.rotation:
        np.testing.assert_allclose(rotation, [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-6)
    np.testing.assert_allclose(Rotation.from_quat(frames.quaternion).as_matrix(),
                               frames.rotation, atol=1e-9)
    # Joints in the body frame: the left ones on +y, the shoulders above the hips, the
    # ankles below; every joint frame of a fully visible person exists.
    j = {name: frames.joints[0, i] for i, name in enumerate(JOINT_FRAME_NAMES)}
    assert frames.joint_valid.all()
    assert j['l_shoulder'][1] > 0 > j['r_shoulder'][1]
    assert j['l_hip'][1] > 0 > j['r_hip'][1]
    assert j['torso'][2] > 0.2 and j['head'][2] > j['torso'][2] and j['l_ankle'][2] < -0.3
    # Back in the camera frame, each joint is at its keypoint(s).
    back = frames.origin[0] + frames.rotation[0] @ j['l_wrist']
    np.testing.assert_allclose(back, points[0, names.index('left_wrist')], atol=1e-6)


def test_a_turned_body_turns_its_frame():
    scene, points = _scene_3d([PersonSpec((320, 250), 300, depth_m=2.5)])
    hips = points[0, 11:13].mean(axis=0)
    # Turn the person 90 degrees about the vertical (optical -y) axis through the hips.
    turn = Rotation.from_rotvec([0, -np.pi / 2, 0]).as_matrix()
    turned = (points - hips) @ turn.T + hips
    frames = body_frames(_poses(scene.keypoints, points_3d=turned))
    np.testing.assert_allclose(frames.rotation[0], turn @ np.array(
        [[0, 1, 0], [0, 0, -1], [-1, 0, 0]]), atol=1e-6)


def test_head_frame_follows_the_face():
    scene, points = _scene_3d([PersonSpec((320, 250), 300, depth_m=2.0)])
    names = get_skeleton('coco_wholebody').keypoint_names
    points = points.copy()
    # The nose 8 cm in front of the ears (towards the camera): a frontal face.
    points[0, names.index('nose'), 2] -= 0.08
    frames = body_frames(_poses(scene.keypoints, points_3d=points))
    head = JOINT_FRAME_NAMES.index('head')
    relative = Rotation.from_quat(frames.joint_quaternion[0, head]).as_matrix()
    head_x = frames.rotation[0] @ relative[:, 0]
    # Its forward axis points from the ears to the nose, mostly at the camera.
    to_nose = points[0, names.index('nose')] - points[0, [3, 4]].mean(axis=0)
    to_nose /= np.linalg.norm(to_nose)
    assert head_x @ to_nose > 0.99
    others = np.delete(frames.joint_quaternion[0], head, axis=0)
    np.testing.assert_allclose(others, np.tile([0, 0, 0, 1.0], (len(others), 1)))


def test_no_3d_no_frames_and_missing_hips_no_body():
    scene, points = _scene_3d([PersonSpec((200, 250), 300), PersonSpec((460, 250), 280)])
    assert body_frames(_poses(scene.keypoints)) is None
    conf3 = np.ones(points.shape[:2])
    conf3[1, 11] = 0.0            # second person: left hip without depth
    points = points.copy()
    points[0, 9] = np.nan         # first person: left wrist NaN (confidence still 1)
    frames = body_frames(_poses(scene.keypoints, points_3d=points, confidence_3d=conf3))
    assert frames.valid.tolist() == [True, False]
    assert not frames.joint_valid[1].any()
    wrist = JOINT_FRAME_NAMES.index('l_wrist')
    assert not frames.joint_valid[0, wrist] and frames.joint_valid[0].sum() == 13
    parents, children, values = tf_transforms(frames, ('b1', 'b2'), 'cam_optical')
    assert children[0] == 'body_b1' and parents[0] == 'cam_optical'
    assert 'l_wrist_b1' not in children and not any(c.endswith('_b2') for c in children)
    assert set(parents[1:]) == {'body_b1'} and len(children) == 14 == len(values)
    np.testing.assert_allclose(values[0, :3], points[0, 11:13].mean(axis=0), atol=1e-6)


def test_no_people_no_transforms():
    poses = _poses(np.zeros((0, 133, 2)), points_3d=np.zeros((0, 133, 3)))
    frames = body_frames(poses)
    assert frames is not None and frames.quaternion.shape == (0, 4)
    parents, children, values = tf_transforms(frames, (), 'cam')
    assert parents == children == [] and values.shape == (0, 7)
    assert skeleton2d(poses, W, H).shape == (0, 18, 3)
