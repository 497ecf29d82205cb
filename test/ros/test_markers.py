"""RViz markers (and HumanPoseArray) for 0, 1 and 5 people through rosbags, CDR round trips."""

import numpy as np
import pytest

from humanpose.errors import InvalidInputError
from humanpose.ros.markers import (BONES_ID, DELETEALL, JOINTS_ID, LABEL_GAP_M, LABEL_ID,
                                   LABEL_RGBA, LINE_LIST, MarkerBuilder, MarkerSpec, SPHERE_LIST,
                                   TEXT_HEIGHT_M, TEXT_VIEW_FACING, person_labels)
from humanpose.ros.messages import make_header, poses_to_msg
from humanpose.skeletons import get_skeleton
from humanpose.types import Poses

STAMP_NS = 1_700_000_000_123_456_789
FRAME = 'camera_color_optical_frame'
MARKERS = 'visualization_msgs/msg/MarkerArray'


def _poses(n, with_3d=True, ids=True, skeleton='coco_wholebody', seed=0):
    k = get_skeleton(skeleton).num_keypoints
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0, 1, (n, k)).astype(np.float32)
    poses = Poses(keypoints=rng.uniform(0, 640, (n, k, 2)).astype(np.float32),
                  confidence=confidence, scores=confidence.copy(),
                  boxes=np.tile(np.array([10, 20, 300, 400], np.float32), (n, 1)),
                  box_scores=np.full(n, 0.9, np.float32), skeleton=skeleton,
                  ids=tuple(f'{7 + 3 * i}' for i in range(n)) if ids else ())
    if with_3d:
        kp3 = np.stack([rng.uniform(-1, 1, (n, k)), rng.uniform(-1, 1, (n, k)),
                        rng.uniform(1, 4, (n, k))], axis=-1).astype(np.float32)
        c3 = rng.uniform(0, 1, (n, k)).astype(np.float32)
        kp3[:, ::11] = np.nan  # no depth there: must never be drawn, whatever the confidence
        c3[:, ::11] = 0.9
        poses = poses.with_3d(kp3, c3)
    return poses


def _round_trip(store, msg):
    return store.deserialize_cdr(store.serialize_cdr(msg, MARKERS), MARKERS)


@pytest.mark.parametrize('n', [0, 1, 5])
def test_markers_for_n_people(store, ns, n):
    poses = _poses(n)
    builder = MarkerBuilder('coco_wholebody', threshold=0.3, lifetime_s=0.2)
    msg = _round_trip(store, builder.build(poses, ns, make_header(ns, STAMP_NS, FRAME)))
    first, people = msg.markers[0], msg.markers[1:]
    assert first.action == DELETEALL and first.ns == ''
    assert len(people) == 3 * n
    sk = get_skeleton('coco_wholebody')
    shown = (poses.confidence_3d >= 0.3) & np.isfinite(poses.keypoints_3d).all(-1)
    for i in range(n):
        joints, bones, label = people[3 * i: 3 * i + 3]
        assert {m.ns for m in (joints, bones, label)} == {f'person/{poses.ids[i]}'}
        assert (joints.id, joints.type) == (JOINTS_ID, SPHERE_LIST)
        assert (bones.id, bones.type) == (BONES_ID, LINE_LIST)
        assert (label.id, label.type, label.text) == (LABEL_ID, TEXT_VIEW_FACING, poses.ids[i])
        # Joints: exactly the confident ones with a 3D position, in place, coloured by part.
        pts = np.array([(p.x, p.y, p.z) for p in joints.points])
        np.testing.assert_allclose(pts, poses.keypoints_3d[i][shown[i]], rtol=1e-6)
        rgb = np.array([(c.r, c.g, c.b) for c in joints.colors])
        np.testing.assert_allclose(rgb * 255, sk.keypoint_colors[shown[i]], atol=0.01)
        # Bones: two points per bone whose two joints are both shown.
        both = shown[i][sk.links].all(axis=1)
        assert len(bones.points) == 2 * both.sum() == len(bones.colors)
        ends = np.array([(p.x, p.y, p.z) for p in bones.points]).reshape(-1, 2, 3)
        np.testing.assert_allclose(ends, poses.keypoints_3d[i][sk.links[both]], rtol=1e-6)
        # The label floats above (smaller y, optical frame) the highest joint: its bottom
        # (position = centre) a gap above it, clear of the face points; yellow, 20 cm high.
        top = pts[np.argmin(pts[:, 1])]
        assert label.pose.position.y == pytest.approx(
            top[1] - LABEL_GAP_M - TEXT_HEIGHT_M / 2, abs=1e-6)
        assert (label.pose.position.x, label.pose.position.z) == pytest.approx(
            (top[0], top[2]), abs=1e-6)
        assert label.scale.z == pytest.approx(0.2) and label.scale.z >= 0.15
        assert (label.color.r, label.color.g, label.color.b, label.color.a) == pytest.approx(
            LABEL_RGBA)
        assert not any(np.allclose((c.r, c.g, c.b), LABEL_RGBA[:3], atol=0.05)
                       for c in joints.colors)  # no body part shares the label's colour
        for m in (joints, bones, label):
            assert m.header.frame_id == FRAME
            assert m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == STAMP_NS
            assert (m.lifetime.sec, m.lifetime.nanosec) == (0, 200_000_000)
            assert m.pose.orientation.w == 1.0


def test_every_frame_replaces_all_markers(ns):
    builder = MarkerBuilder('coco_wholebody')
    header = make_header(ns, STAMP_NS, FRAME)

    def actions(poses):
        return [m.action for m in builder.build(poses, ns, header).markers]

    assert actions(_poses(2))[0] == DELETEALL             # first call
    again = actions(_poses(2, seed=1))                    # same ids, moved: replaced too
    assert again[0] == DELETEALL and DELETEALL not in again[1:]
    changed = _poses(2).with_ids(('7', '99'))
    assert actions(changed)[0] == DELETEALL               # one person replaced
    assert actions(_poses(0)) == [DELETEALL]              # everybody left
    assert actions(_poses(0)) == []                       # still nobody: nothing to send
    builder.reset()
    assert actions(_poses(0)) == [DELETEALL]


def test_joints_that_drop_below_the_threshold_vanish_with_the_next_frame(ns):
    """The same person with fewer joints: the DELETEALL removes what is no longer sent."""
    builder = MarkerBuilder('coco_wholebody', threshold=0.3)
    header = make_header(ns, STAMP_NS, FRAME)
    poses = _poses(2)
    builder.build(poses, ns, header)
    c3 = poses.confidence_3d.copy()
    c3[1] = 0.0                                           # person 2: nothing shown now
    markers = builder.build(poses.with_3d(poses.keypoints_3d, c3), ns, header).markers
    assert markers[0].action == DELETEALL
    assert {m.ns for m in markers[1:]} == {f'person/{poses.ids[0]}'}


def test_other_markers_ride_in_the_same_array_after_the_skeletons(ns):
    """E.g. the cues' arrows: one DELETEALL replaces them with the skeletons, every frame."""
    builder = MarkerBuilder('coco_wholebody')
    header = make_header(ns, STAMP_NS, FRAME)
    arrow = MarkerSpec('cues/7', 0, 0, scale=(0.02, 0.04, 0.06), color=(0.2, 0.9, 0.3, 1.0),
                       points=np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 1.7]]))
    markers = builder.build(_poses(1), ns, header, extra=[arrow]).markers
    assert markers[0].action == DELETEALL and len(markers) == 1 + 3 + 1
    assert (markers[-1].ns, markers[-1].type) == ('cues/7', 0)
    # Extra markers alone count as shown: the next empty frame clears them.
    assert [m.ns for m in builder.build(_poses(0), ns, header, extra=[arrow]).markers] == [
        '', 'cues/7']
    assert [m.action for m in builder.build(_poses(0), ns, header).markers] == [DELETEALL]
    assert builder.build(_poses(0), ns, header).markers == []
    encoded = builder.encode(_poses(1), 1, 2, FRAME, extra=[arrow])
    assert encoded is not None and b'cues/7' in encoded


def test_without_ids_the_labels_are_the_indices(ns):
    builder = MarkerBuilder('coco_wholebody')
    header = make_header(ns, STAMP_NS, FRAME)
    first = builder.build(_poses(3, ids=False), ns, header).markers
    assert first[0].action == DELETEALL
    assert [m.ns for m in first[1::3]] == ['person/0', 'person/1', 'person/2']
    assert first[3].text == '0'
    again = builder.build(_poses(2, ids=False, seed=4), ns, header).markers
    assert [m.action for m in again][:1] == [DELETEALL]   # person/2 goes at once
    assert [m.ns for m in again[1::3]] == ['person/0', 'person/1']
    assert person_labels(_poses(2).with_ids(('', '5'))) == ('0', '5')


def test_without_3d_there_are_no_skeleton_markers(store, ns):
    builder = MarkerBuilder('coco_wholebody')
    header = make_header(ns, STAMP_NS, FRAME)
    first = _round_trip(store, builder.build(_poses(5, with_3d=False), ns, header))
    assert [m.action for m in first.markers] == [DELETEALL]
    assert builder.build(_poses(5, with_3d=False), ns, header).markers == []


def test_threshold_hides_joints_and_their_bones(ns):
    poses = _poses(1)
    header = make_header(ns, STAMP_NS, FRAME)
    low = MarkerBuilder('coco_wholebody', threshold=0.0).build(poses, ns, header).markers
    high = MarkerBuilder('coco_wholebody', threshold=0.8).build(poses, ns, header).markers
    finite = np.isfinite(poses.keypoints_3d[0]).all(-1)
    assert len(low[1].points) == finite.sum()
    assert len(high[1].points) == (finite & (poses.confidence_3d[0] >= 0.8)).sum()
    assert len(high[2].points) < len(low[2].points)


def test_person_with_no_shown_joint_gets_no_markers(ns):
    poses = _poses(2)
    c3 = poses.confidence_3d.copy()
    c3[1] = 0.0
    poses = poses.with_3d(poses.keypoints_3d, c3)
    markers = MarkerBuilder('coco_wholebody').build(poses, ns, make_header(ns, 1, FRAME)).markers
    assert {m.ns for m in markers[1:]} == {f'person/{poses.ids[0]}'}


def test_coco_17_and_lifetime_forever(store, ns):
    poses = _poses(1, skeleton='coco')
    builder = MarkerBuilder('coco', threshold=0.0, lifetime_s=0.0, namespace_prefix='human')
    msg = _round_trip(store, builder.build(poses, ns, make_header(ns, 1, FRAME)))
    assert msg.markers[1].ns == f'human/{poses.ids[0]}'
    assert (msg.markers[1].lifetime.sec, msg.markers[1].lifetime.nanosec) == (0, 0)
    assert len(msg.markers[2].points) == 2 * np.isfinite(
        poses.keypoints_3d[0][get_skeleton('coco').links]).all(-1).all(-1).sum()


def test_wrong_skeleton_and_negative_lifetime_are_errors(ns):
    with pytest.raises(InvalidInputError, match='coco_wholebody'):
        MarkerBuilder('coco').build(_poses(1), ns, make_header(ns, 1, FRAME))
    with pytest.raises(InvalidInputError, match='lifetime'):
        MarkerBuilder('coco', lifetime_s=-1.0)


@pytest.mark.parametrize('n', [0, 1, 5])
def test_pose_array_for_n_people(store, ns, n):
    poses = _poses(n)
    msg = poses_to_msg(poses, ns, make_header(ns, STAMP_NS, FRAME))
    typename = 'pose_bringup/msg/HumanPoseArray'
    back = store.deserialize_cdr(store.serialize_cdr(msg, typename), typename)
    assert back.header.stamp.sec * 10**9 + back.header.stamp.nanosec == STAMP_NS
    assert back.header.frame_id == FRAME and back.skeleton == 'coco_wholebody'
    assert len(back.humans) == n
    assert [h.id for h in back.humans] == list(poses.ids)
    for i, human in enumerate(back.humans):
        xy = np.array([(k.x, k.y) for k in human.keypoints])
        np.testing.assert_allclose(xy, poses.keypoints[i], atol=1e-3)
        assert len(human.keypoints_3d) == 133


@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
def test_encoded_bytes_equal_rosbags_serialisation_of_the_objects(distro):
    # Frames that exercise every path: DELETEALL alone, people with hidden joints and
    # no-depth joints, the same people again, a person with nothing shown,
    # COCO-17, and a frame without 3D.
    from humanpose.ros.messages import build_typestore, rosbags_namespace
    store = build_typestore(distro)
    ns = rosbags_namespace(store)
    hidden = _poses(2, seed=3)
    c3 = hidden.confidence_3d.copy()
    c3[1] = 0.0
    hidden = hidden.with_3d(hidden.keypoints_3d, c3)
    frames = [_poses(0), _poses(3), _poses(3, seed=1), hidden, _poses(2, with_3d=False),
              _poses(4, ids=False, seed=5)]
    for skeleton, sequence in (('coco_wholebody', frames), ('coco', [_poses(2, skeleton='coco')])):
        as_objects = MarkerBuilder(skeleton, lifetime_s=0.25)
        as_bytes = MarkerBuilder(skeleton, lifetime_s=0.25)
        for i, poses in enumerate(sequence):
            stamp = STAMP_NS + i * 33_333_333
            header = make_header(ns, stamp, FRAME)
            msg = as_objects.build(poses, ns, header)
            encoded = as_bytes.encode(poses, header.stamp.sec, header.stamp.nanosec, FRAME)
            if not msg.markers:
                assert encoded is None
                continue
            assert encoded == bytes(store.serialize_cdr(msg, MARKERS)), (skeleton, i)


def test_marker_bytes_decode_to_the_markers(store):
    encoded = MarkerBuilder('coco_wholebody').encode(_poses(2), 5, 6, FRAME)
    msg = store.deserialize_cdr(encoded, MARKERS)
    assert [m.action for m in msg.markers][:1] == [DELETEALL] and len(msg.markers) == 7
    assert all(m.header.frame_id == FRAME and (m.header.stamp.sec, m.header.stamp.nanosec)
               == (5, 6) for m in msg.markers)
    assert all(m.pose.orientation.w == 1.0 for m in msg.markers)


def test_monocular_3d_draws_skeletons_without_a_depth_camera(ns, pose3d_model):
    from humanpose import Pipeline
    from humanpose.testing.scene import default_camera, person_at, render_scene
    camera = default_camera(1280, 720)
    scene = render_scene(1280, 720, [person_at(camera, (0.0, 0.0, 3.0))], camera=camera)
    poses = Pipeline(pose3d_model, backend='onnxruntime-cpu')(scene.image, scene.boxes)
    assert poses.intrinsics_assumed  # no camera_info either
    markers = MarkerBuilder('coco_wholebody').build(poses, ns, make_header(ns, 1, 'cam'))
    joints = [m for m in markers.markers if m.type == SPHERE_LIST]
    assert len(joints) == 1 and len(joints[0].points) > 100
    z = np.array([p.z for p in joints[0].points])
    assert np.isfinite(z).all() and 2.0 < np.median(z) < 5.0
