"""The message layer without ROS: our .msg files through rosbags, CDR round trips."""

import math
from pathlib import Path

import numpy as np
import pytest

from humanpose.ros.messages import (MESSAGE_NAMES, build_typestore, make_header,
                                    message_definitions, msg_to_poses, poses_to_msg,
                                    stamp_to_ns)
from humanpose.types import Poses

ROOT = Path(__file__).resolve().parents[2]

# The public contract from the design page: field name -> type, per message.
CONTRACT = {
    'Keypoint2D': {'x': 'float32', 'y': 'float32', 'confidence': 'float32'},
    'Keypoint3D': {'position': 'geometry_msgs/msg/Point', 'confidence': 'float32'},
    'HumanPose': {'id': 'string', 'score': 'float32', 'bbox': 'float32[4]',
                  'keypoints': 'pose_bringup/msg/Keypoint2D[]',
                  'keypoints_3d': 'pose_bringup/msg/Keypoint3D[]', 'source_3d': 'uint8',
                  'residual_3d': 'float32'},
    'HumanPoseArray': {'header': 'std_msgs/msg/Header', 'skeleton': 'string',
                       'humans': 'pose_bringup/msg/HumanPose[]', 'intrinsics_assumed': 'bool'},
    'HumanCues': {
        'id': 'string', 'has_head_pose': 'bool', 'head_yaw_rad': 'float32',
        'head_pitch_rad': 'float32', 'head_roll_rad': 'float32',
        'head_direction': 'geometry_msgs/msg/Vector3',
        'head_position': 'geometry_msgs/msg/Point', 'attention_angle_rad': 'float32',
        'looking_at_camera': 'bool', 'looking_duration_s': 'float32', 'engaged': 'bool',
        'distance_m': 'float32', 'left_hand_raised': 'bool', 'right_hand_raised': 'bool',
        'left_hand_state': 'uint8', 'right_hand_state': 'uint8', 'waving': 'bool',
        'waving_hand': 'uint8', 'waving_frequency_hz': 'float32', 'pointing': 'bool',
        'pointing_hand': 'uint8', 'pointing_confidence': 'float32',
        'pointing_origin_px': 'float32[2]', 'pointing_direction_px': 'float32[2]',
        'pointing_origin': 'geometry_msgs/msg/Point',
        'pointing_direction': 'geometry_msgs/msg/Vector3', 'pointing_target_valid': 'bool',
        'pointing_target': 'geometry_msgs/msg/Point'},
    'HumanCuesArray': {'header': 'std_msgs/msg/Header', 'intrinsics_assumed': 'bool',
                       'humans': 'pose_bringup/msg/HumanCues[]'},
}
# Constants: where a person's 3D came from (humanpose.pose3d.SOURCE_*).
CONSTANTS = {'HumanPose': [('SOURCE_NONE', 'uint8', 0), ('SOURCE_DEPTH', 'uint8', 1),
                           ('SOURCE_MONOCULAR', 'uint8', 2), ('SOURCE_FUSED', 'uint8', 3)],
             # Sides and hand states of the HRI cues (humanpose.cues.types).
             'HumanCues': [('SIDE_NONE', 'uint8', 0), ('SIDE_LEFT', 'uint8', 1),
                           ('SIDE_RIGHT', 'uint8', 2), ('HAND_UNKNOWN', 'uint8', 0),
                           ('HAND_OPEN', 'uint8', 1), ('HAND_FIST', 'uint8', 2),
                           ('HAND_POINTING', 'uint8', 3)]}


def _describe(desc):
    from rosbags.interfaces import Nodetype
    kind, spec = desc
    if kind == Nodetype.BASE:
        return spec[0]
    if kind == Nodetype.NAME:
        return spec
    inner = _describe(spec[0])
    return f'{inner}[{spec[1]}]' if kind == Nodetype.ARRAY else f'{inner}[]'


def _poses(n, k=133, with_3d=True, seed=0):
    rng = np.random.default_rng(seed)
    kp3 = rng.uniform(-2, 4, (n, k, 3)).astype(np.float32) if with_3d else None
    c3 = rng.uniform(0, 1, (n, k)).astype(np.float32) if with_3d else None
    if with_3d:
        kp3[:, ::7] = np.nan
        c3[:, ::7] = 0.0
    return Poses(
        keypoints=rng.uniform(0, 640, (n, k, 2)).astype(np.float32),
        confidence=rng.uniform(0, 1, (n, k)).astype(np.float32),
        scores=rng.uniform(0, 2, (n, k)).astype(np.float32),
        boxes=rng.uniform(0, 640, (n, 4)).astype(np.float32),
        box_scores=rng.uniform(0, 1, n).astype(np.float32),
        skeleton='coco_wholebody' if k == 133 else 'coco',
        ids=tuple(f'person_{i}' for i in range(n)), keypoints_3d=kp3, confidence_3d=c3)


def test_definitions_are_the_repository_files():
    defs = message_definitions()
    for name in MESSAGE_NAMES:
        assert defs[f'pose_bringup/msg/{name}'] == (ROOT / 'msg' / f'{name}.msg').read_text()


@pytest.mark.parametrize('name', MESSAGE_NAMES)
def test_messages_match_the_design(store, name):
    consts, fields = store.fielddefs[f'pose_bringup/msg/{name}']
    assert [tuple(c) for c in consts] == CONSTANTS.get(name, [])
    assert {f: _describe(d) for f, d in fields} == CONTRACT[name]
    # Units and frames are stated in the comments.
    text = (ROOT / 'msg' / f'{name}.msg').read_text()
    assert text.startswith('#') or name in ('HumanPoseArray', 'HumanCuesArray')


def _plain(value):
    """A message as nested builtins (rosbags messages hold numpy arrays, which == can't)."""
    if hasattr(value, '__dataclass_fields__'):
        return {f: _plain(getattr(value, f)) for f in value.__dataclass_fields__
                if f != '__msgtype__'}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _samples(ns):
    kp2 = ns.Keypoint2D(x=12.5, y=-3.25, confidence=0.75)
    kp3 = ns.Keypoint3D(position=ns.Point(x=0.5, y=-0.25, z=2.0), confidence=1.0)
    human = ns.HumanPose(id='7', score=0.5, bbox=np.array([1, 2, 3, 4], np.float32),
                         keypoints=[kp2, kp2], keypoints_3d=[kp3, kp3], source_3d=2,
                         residual_3d=0.25)
    cues = ns.new('HumanCues', id='7', has_head_pose=True, head_yaw_rad=0.5,
                  head_direction=ns.Vector3(x=0.0, y=0.0, z=-1.0), looking_at_camera=True,
                  left_hand_state=3, pointing_origin_px=np.array([1, 2], np.float32),
                  pointing_target=ns.Point(x=0.5, y=1.2, z=2.0))
    return {'Keypoint2D': kp2, 'Keypoint3D': kp3, 'HumanPose': human,
            'HumanPoseArray': ns.HumanPoseArray(header=make_header(ns, 3_000_000_001, 'cam'),
                                                skeleton='coco', humans=[human],
                                                intrinsics_assumed=True),
            'HumanCues': cues,
            'HumanCuesArray': ns.new('HumanCuesArray', header=make_header(ns, 5, 'cam'),
                                     intrinsics_assumed=True, humans=[cues, cues])}


@pytest.mark.parametrize('name', MESSAGE_NAMES)
def test_every_message_round_trips_through_cdr(store, ns, name):
    typename = f'pose_bringup/msg/{name}'
    for msg in (ns.new(name), _samples(ns)[name]):
        data = store.serialize_cdr(msg, typename)
        assert _plain(store.deserialize_cdr(data, typename)) == _plain(msg)


def test_three_wholebody_people_round_trip(store, ns):
    poses = _poses(3)
    header = make_header(ns, 1_700_000_000_123_456_789, 'camera_color_optical_frame')
    msg = poses_to_msg(poses, ns, header)
    assert len(msg.humans) == 3 and all(len(h.keypoints) == 133 for h in msg.humans)
    data = store.serialize_cdr(msg, 'pose_bringup/msg/HumanPoseArray')
    back = store.deserialize_cdr(data, 'pose_bringup/msg/HumanPoseArray')
    assert stamp_to_ns(back.header.stamp) == 1_700_000_000_123_456_789
    assert back.header.frame_id == 'camera_color_optical_frame'
    assert back.skeleton == 'coco_wholebody'
    got = msg_to_poses(back)
    np.testing.assert_array_equal(got.keypoints, poses.keypoints)
    np.testing.assert_array_equal(got.confidence, poses.confidence)
    np.testing.assert_array_equal(got.boxes, poses.boxes)
    np.testing.assert_array_equal(got.box_scores, poses.box_scores)
    assert got.ids == poses.ids
    # NaN 3D positions survive serialisation; the rest is float64-exact.
    nan = np.isnan(poses.keypoints_3d)
    assert nan.any()
    np.testing.assert_array_equal(np.isnan(got.keypoints_3d), nan)
    np.testing.assert_array_equal(got.keypoints_3d[~nan], poses.keypoints_3d[~nan])
    assert math.isnan(back.humans[0].keypoints_3d[0].position.x)
    assert back.humans[0].keypoints_3d[0].confidence == 0.0


def test_constants_are_the_core_sources(store):
    from humanpose import pose3d
    consts = dict((name, value) for name, _, value in
                  store.fielddefs['pose_bringup/msg/HumanPose'][0])
    assert consts == {f'SOURCE_{name.upper()}': i for i, name in enumerate(pose3d.SOURCE_NAMES)}
    assert (consts['SOURCE_DEPTH'], consts['SOURCE_MONOCULAR'], consts['SOURCE_FUSED']) == (
        pose3d.SOURCE_DEPTH, pose3d.SOURCE_MONOCULAR, pose3d.SOURCE_FUSED)


def test_source_residual_and_assumed_intrinsics_round_trip(store, ns):
    from dataclasses import replace
    poses = replace(_poses(3), source_3d=np.array([2, 3, 0], np.uint8),
                    residual_3d=np.array([0.012, 0.004, np.nan], np.float32),
                    intrinsics_assumed=True)
    msg = poses_to_msg(poses, ns, make_header(ns, 7, 'cam'))
    assert [h.source_3d for h in msg.humans] == [2, 3, 0] and msg.intrinsics_assumed
    data = store.serialize_cdr(msg, 'pose_bringup/msg/HumanPoseArray')
    got = msg_to_poses(store.deserialize_cdr(data, 'pose_bringup/msg/HumanPoseArray'))
    np.testing.assert_array_equal(got.source_3d, [2, 3, 0])
    np.testing.assert_array_equal(got.residual_3d, poses.residual_3d)  # NaN == NaN here
    assert got.intrinsics_assumed
    # Depth-only results (no source given) say depth; results without 3D say none.
    depth_only = poses_to_msg(_poses(1), ns, make_header(ns, 0, ''))
    assert depth_only.humans[0].source_3d == 1 and math.isnan(depth_only.humans[0].residual_3d)
    assert not depth_only.intrinsics_assumed
    assert poses_to_msg(_poses(1, with_3d=False), ns,
                        make_header(ns, 0, '')).humans[0].source_3d == 0


def test_no_people_and_no_3d(store, ns):
    header = make_header(ns, 5, 'cam')
    msg = poses_to_msg(Poses.empty('coco_wholebody', 133), ns, header)
    data = store.serialize_cdr(msg, 'pose_bringup/msg/HumanPoseArray')
    back = store.deserialize_cdr(data, 'pose_bringup/msg/HumanPoseArray')
    assert back.humans == [] and back.header.stamp.nanosec == 5
    two_d = _poses(2, k=17, with_3d=False)
    msg = poses_to_msg(two_d, ns, header)
    assert all(h.keypoints_3d == [] for h in msg.humans)
    assert msg_to_poses(msg).keypoints_3d is None


def test_confidence_is_clipped_to_unit_range(ns):
    poses = _poses(1, k=17, with_3d=False)
    poses.confidence[0, 0] = 1.7
    poses.confidence[0, 1] = -0.2
    msg = poses_to_msg(poses, ns, make_header(ns, 0, ''))
    assert msg.humans[0].keypoints[0].confidence == 1.0
    assert msg.humans[0].keypoints[1].confidence == 0.0


def test_namespace_fills_defaults_and_drops_unknown_fields(store, ns):
    marker = ns.new('Marker', ns='person_1', type=7, not_a_field_on_this_distro=1)
    assert marker.ns == 'person_1' and marker.points == []
    store.serialize_cdr(marker, 'visualization_msgs/msg/Marker')


def test_jazzy_typestore_also_knows_our_messages():
    jazzy = build_typestore('jazzy')
    assert 'pose_bringup/msg/HumanPoseArray' in jazzy.types
