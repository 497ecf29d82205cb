"""ROS4HRI messages checked against the real hri_msgs definitions (rosbags, no rclpy).

The definitions come from the installed hri_msgs (ament index) or the ROS 2 underlay
beside the checkout (``../shared/ros2-humble``), as the issue provides them.
"""

from pathlib import Path

import numpy as np
import pytest

from humanpose.errors import HumanPoseError
from humanpose.hri import (body_frames, normalised_rois, SKELETON2D_POINTS, skeleton2d,
                           tf_transforms)
from humanpose.ros.hri_messages import (encode_ids_list, encode_rgb8_image, encode_roi,
                                        encode_skeleton2d, encode_tf_message, hri_message_dir,
                                        hri_typestore, HriUnavailableError, ids_list_msg,
                                        INSTALL_HINT, roi_msg, rosbags_hri_namespace,
                                        skeleton2d_msg, tf_message)
from humanpose.ros.messages import make_header
from humanpose.skeletons import get_skeleton
from humanpose.testing.scene import PersonSpec, render_scene
from humanpose.types import Poses

ROOT = Path(__file__).resolve().parents[2]
UNDERLAY_MSG = ROOT.parent / 'shared' / 'ros2-humble' / 'install' / 'share' / 'hri_msgs' / 'msg'
W, H = 640, 480
STAMP = 1_700_000_123_456_789_012
FRAME = 'camera_color_optical_frame'


def _msg_dir():
    for candidate in (None, UNDERLAY_MSG):
        try:
            return hri_message_dir(candidate)
        except HriUnavailableError:
            continue
    pytest.skip('needs the hri_msgs definitions: a sourced ROS 2 with hri_msgs, or the '
                'underlay at ../shared/ros2-humble')


@pytest.fixture(scope='module', params=['humble', 'jazzy'])
def store(request):
    return hri_typestore(_msg_dir(), distro=request.param)


@pytest.fixture(scope='module')
def hns(store):
    return rosbags_hri_namespace(store)


@pytest.fixture(scope='module')
def poses():
    people = [PersonSpec((200, 250), 300, depth_m=2.0), PersonSpec((460, 240), 260, depth_m=3.0)]
    scene = render_scene(W, H, people, seed=4)
    kp = scene.keypoints.astype(np.float32)
    n, k = kp.shape[:2]
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.2, 1.0, (n, k)).astype(np.float32)
    cam = scene.camera.k
    z = np.array([[2.0], [3.0]]) * np.ones((n, k))
    pts = np.stack([(kp[..., 0] - cam[0, 2]) / cam[0, 0] * z,
                    (kp[..., 1] - cam[1, 2]) / cam[1, 1] * z, z], -1).astype(np.float32)
    return Poses(kp, conf, conf.copy(), np.array([[40, 60, 360, 470], [350, 80, 570, 420]],
                                                 np.float32),
                 np.array([0.95, 0.8], np.float32), 'coco_wholebody', ('3', '12'),
                 pts, np.ones((n, k), np.float32))


def test_skeleton2d_order_is_the_message_constants(store, poses):
    consts = {name: value for name, _, value in store.fielddefs['hri_msgs/msg/Skeleton2D'][0]}
    assert len(consts) == 18 == len(SKELETON2D_POINTS)
    assert {name.lower(): value for name, value in consts.items()} == {
        name: i for i, name in enumerate(SKELETON2D_POINTS)}
    points = skeleton2d(poses, W, H)
    names = get_skeleton(poses.skeleton).keypoint_names
    for name, index in consts.items():
        if name == 'NECK':
            continue
        kp = names.index(name.lower())
        np.testing.assert_allclose(points[:, index, :2] * [W, H] - 0.5, poses.keypoints[:, kp],
                                   atol=1e-3)
        np.testing.assert_allclose(points[:, index, 2], poses.confidence[:, kp])
    # Left eye before right eye (OpenPose's COCO order has the right one first).
    assert consts['LEFT_EYE'] < consts['RIGHT_EYE'] and consts['LEFT_EAR'] < consts['RIGHT_EAR']
    ls, rs = names.index('left_shoulder'), names.index('right_shoulder')
    neck = points[:, consts['NECK']]
    np.testing.assert_allclose(neck[:, :2] * [W, H] - 0.5,
                               (poses.keypoints[:, ls] + poses.keypoints[:, rs]) / 2, atol=1e-3)
    np.testing.assert_allclose(neck[:, 2], np.minimum(poses.confidence[:, ls],
                                                      poses.confidence[:, rs]))
    assert ((points[..., :2] >= 0) & (points[..., :2] <= 1)).all()


def _header(hns):
    return make_header(hns, STAMP, FRAME)


def test_skeleton2d_bytes_equal_the_message_and_read_back(store, hns, poses):
    points = skeleton2d(poses, W, H)
    sec, nanosec = divmod(STAMP, 10**9)
    for person in points:
        msg = skeleton2d_msg(hns, _header(hns), person)
        data = encode_skeleton2d(sec, nanosec, FRAME, person)
        assert data == bytes(store.serialize_cdr(msg, 'hri_msgs/msg/Skeleton2D'))
        back = store.deserialize_cdr(data, 'hri_msgs/msg/Skeleton2D')
        assert (back.header.stamp.sec, back.header.stamp.nanosec) == (sec, nanosec)
        assert back.header.frame_id == FRAME and len(back.skeleton) == 18
        got = np.array([(p.x, p.y, p.c) for p in back.skeleton], np.float32)
        np.testing.assert_array_equal(got, person)


def test_roi_and_ids_bytes_equal_the_messages(store, hns, poses):
    sec, nanosec = divmod(STAMP, 10**9)
    for roi in normalised_rois(poses, W, H):
        msg = roi_msg(hns, _header(hns), roi)
        data = encode_roi(sec, nanosec, FRAME, roi)
        assert data == bytes(store.serialize_cdr(msg, 'hri_msgs/msg/NormalizedRegionOfInterest2D'))
        back = store.deserialize_cdr(data, 'hri_msgs/msg/NormalizedRegionOfInterest2D')
        np.testing.assert_array_equal(
            np.array([back.xmin, back.ymin, back.xmax, back.ymax, back.c], np.float32), roi)
    for ids in ((), ('b3',), ('b3', 'b12', 'b1234567')):
        data = encode_ids_list(sec, nanosec, FRAME, ids)
        assert data == bytes(store.serialize_cdr(ids_list_msg(hns, _header(hns), ids),
                                                 'hri_msgs/msg/IdsList'))
        assert list(store.deserialize_cdr(data, 'hri_msgs/msg/IdsList').ids) == list(ids)


def test_tf_bytes_equal_the_message(store, hns, poses):
    frames = body_frames(poses)
    parents, children, values = tf_transforms(frames, ('b3', 'b12'), FRAME)
    assert len(children) == 2 * 15
    sec, nanosec = divmod(STAMP, 10**9)
    msg = tf_message(hns, _header(hns), parents, children, values)
    data = encode_tf_message(sec, nanosec, parents, children, values)
    assert data == bytes(store.serialize_cdr(msg, 'tf2_msgs/msg/TFMessage'))
    back = store.deserialize_cdr(data, 'tf2_msgs/msg/TFMessage')
    first = back.transforms[0]
    assert (first.header.frame_id, first.child_frame_id) == (FRAME, 'body_b3')
    assert first.header.stamp.nanosec == nanosec
    t = first.transform.translation
    np.testing.assert_allclose([t.x, t.y, t.z], poses.keypoints_3d[0, 11:13].mean(axis=0),
                               atol=1e-6)
    assert encode_tf_message(sec, nanosec, [], [], np.zeros((0, 7))) == bytes(
        store.serialize_cdr(tf_message(hns, _header(hns), [], [], np.zeros((0, 7))),
                            'tf2_msgs/msg/TFMessage'))


@pytest.mark.parametrize('shape', [(37, 23, 3), (1, 1, 3), (120, 64, 3)])
def test_cropped_image_bytes_equal_the_message(store, hns, shape):
    rgb = np.random.default_rng(shape[0]).integers(0, 255, shape, np.uint8)
    view = np.zeros((200, 200, 3), np.uint8)
    view[5:5 + shape[0], 7:7 + shape[1]] = rgb
    crop = view[5:5 + shape[0], 7:7 + shape[1]]   # a non-contiguous window, as in the node
    sec, nanosec = divmod(STAMP, 10**9)
    msg = hns.new('Image', header=_header(hns), height=shape[0], width=shape[1],
                  encoding='rgb8', is_bigendian=0, step=shape[1] * 3,
                  data=rgb.reshape(-1))
    data = encode_rgb8_image(sec, nanosec, FRAME, crop)
    assert data == bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))


def test_missing_definitions_say_what_to_install(tmp_path):
    with pytest.raises(HumanPoseError, match='hri-msgs'):
        hri_message_dir(tmp_path)
    assert 'ros-$ROS_DISTRO-hri-msgs' in INSTALL_HINT and 'hri_msgs' in INSTALL_HINT


def test_one_frame_of_output_reads_back_as_the_messages(store, poses):
    from humanpose.hri import tracked_people
    from humanpose.ros.hri_messages import encode_hri_frame

    rgb = np.random.default_rng(2).integers(0, 255, (H, W, 3), np.uint8)
    with_anonymous = Poses(poses.keypoints, poses.confidence, poses.scores, poses.boxes,
                           poses.box_scores, poses.skeleton, ('3', ''), poses.keypoints_3d,
                           poses.confidence_3d)
    people, ids = tracked_people(with_anonymous)
    assert ids == ('b3',) and len(people) == 1
    sec, nanosec = divmod(STAMP, 10**9)
    frame = encode_hri_frame(people, ids, (sec, nanosec), FRAME, (W, H), rgb, [True])
    tracked = store.deserialize_cdr(frame.tracked, 'hri_msgs/msg/IdsList')
    assert list(tracked.ids) == ['b3'] and tracked.header.stamp.nanosec == nanosec
    crop = store.deserialize_cdr(frame.crops[0], 'sensor_msgs/msg/Image')
    x0, y0, x1, y1 = 40, 60, 361, 471
    assert (crop.width, crop.height, crop.encoding) == (x1 - x0, y1 - y0, 'rgb8')
    np.testing.assert_array_equal(np.asarray(crop.data).reshape(y1 - y0, x1 - x0, 3),
                                  rgb[y0:y1, x0:x1])
    tf = store.deserialize_cdr(frame.tf, 'tf2_msgs/msg/TFMessage')
    assert [t.child_frame_id for t in tf.transforms][:3] == ['body_b3', 'torso_b3', 'head_b3']
    no_3d = Poses(people.keypoints, people.confidence, people.scores, people.boxes,
                  people.box_scores, people.skeleton, people.ids)
    plain = encode_hri_frame(no_3d, ids, (sec, nanosec), FRAME, (W, H))
    assert plain.tf is None and plain.crops == [None]
    assert plain.skeletons == frame.skeletons and plain.rois == frame.rois
