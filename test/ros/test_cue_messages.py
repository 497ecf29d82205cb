"""HumanCuesArray from cues, and the cue markers: content, constants, bytes on the wire."""

from __future__ import annotations

import numpy as np
import pytest

from humanpose.cues import CueConfig, CueEstimator, PointingConfig
from humanpose.cues import types as cue_types
from humanpose.ros.cdr import encode_marker_array
from humanpose.ros.cue_markers import ARROW, HEAD_ID, RAY_ID, SPHERE, TARGET_ID, cue_marker_specs
from humanpose.ros.cue_messages import CUES_TYPE, cues_to_msg
from humanpose.ros.markers import _marker_message
from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace
from humanpose.testing.people3d import (Person3D, head_angles_towards, observe, pointing_arm,
                                        pose_person)
from humanpose.types import CameraModel

FRAME = 'camera_color_optical_frame'
CAMERA = CameraModel.from_intrinsics(640, 480, 466.0, 466.0, 319.5, 239.5)
FLOOR = CueConfig(pointing=PointingConfig(plane_normal=(0.0, -1.0, 0.0), plane_distance_m=1.2))


def _cues(with_3d: bool = True, ids: tuple[str, ...] = ('3', '8')):
    """Two people: one pointing at the floor, one looking at the camera."""
    rng = np.random.default_rng(0)
    pointer = Person3D((-0.5, 0.25, 2.2))
    looker = Person3D((0.6, 0.25, 1.8))
    target = (0.4, 1.2, 1.2)
    people = np.stack([
        pose_person(pointer, arms={'right': pointing_arm(pointer, 'right', target)},
                    hands={'right': 'pointing'}, head_ypr=(0.9, 0.0, 0.0)),
        pose_person(looker, head_ypr=head_angles_towards(looker))])
    poses = observe(people, CAMERA, rng, noise_px=0.3, noise_m=0.002, with_3d=with_3d,
                    ids=ids)
    return CueEstimator('coco_wholebody', FLOOR)(poses, 5_000_000_007, camera=CAMERA), target


def test_constants_equal_the_message_definition(store) -> None:
    cls = store.types['pose_bringup/msg/HumanCues']
    for name in ('SIDE_NONE', 'SIDE_LEFT', 'SIDE_RIGHT', 'HAND_UNKNOWN', 'HAND_OPEN',
                 'HAND_FIST', 'HAND_POINTING'):
        assert getattr(cls, name) == getattr(cue_types, name), name


@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
def test_cues_message_round_trip(distro: str) -> None:
    store = build_typestore(distro)
    ns = rosbags_namespace(store)
    cues, target = _cues()
    msg = cues_to_msg(cues, ns, make_header(ns, 5_000_000_007, FRAME))
    back = store.deserialize_cdr(store.serialize_cdr(msg, CUES_TYPE), CUES_TYPE)
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (5, 7)
    assert back.header.frame_id == FRAME and not back.intrinsics_assumed
    pointer, looker = back.humans
    assert (pointer.id, looker.id) == ('3', '8')
    assert pointer.pointing and pointer.pointing_hand == pointer.SIDE_RIGHT
    assert pointer.right_hand_state == pointer.HAND_POINTING
    assert pointer.pointing_target_valid
    hit = np.array([pointer.pointing_target.x, pointer.pointing_target.y,
                    pointer.pointing_target.z])
    assert np.linalg.norm(hit - target) < 0.15
    assert not pointer.looking_at_camera and looker.looking_at_camera
    assert looker.has_head_pose and looker.attention_angle_rad < 0.1
    assert not looker.pointing and not looker.pointing_target_valid
    assert np.isnan(looker.pointing_target.x) and np.isnan(looker.waving_frequency_hz)
    assert 1.5 < looker.distance_m < 2.5
    assert np.allclose(pointer.pointing_origin_px, cues.pointing_origin_px[0])


def test_without_3d_and_tracking(ns) -> None:
    cues, _ = _cues(with_3d=False, ids=())
    msg = cues_to_msg(cues, ns, make_header(ns, 1, FRAME))
    assert [h.id for h in msg.humans] == ['', '']
    assert np.isnan(msg.humans[0].pointing_origin.x) and msg.humans[0].pointing
    assert np.isfinite(msg.humans[0].pointing_direction_px).all()
    assert np.isnan(msg.humans[1].distance_m) and np.isnan(msg.humans[1].looking_duration_s)
    assert cue_marker_specs(cues) == []


def test_cue_markers_show_head_directions_and_the_pointing_ray() -> None:
    cues, target = _cues()
    specs = cue_marker_specs(cues, 0.25)
    by_key = {(s.ns, s.id): s for s in specs}
    assert set(by_key) == {('cues/3', HEAD_ID), ('cues/3', RAY_ID), ('cues/3', TARGET_ID),
                           ('cues/8', HEAD_ID)}
    ray = by_key['cues/3', RAY_ID]
    assert ray.type == ARROW and np.allclose(ray.points[0], cues.pointing_origin_m[0])
    assert np.linalg.norm(ray.points[1] - target) < 0.15
    assert by_key['cues/3', TARGET_ID].type == SPHERE
    head = by_key['cues/8', HEAD_ID]
    assert np.isclose(np.linalg.norm(head.points[1] - head.points[0]), 0.3)
    assert head.points[1][2] < head.points[0][2]        # towards the camera
    assert head.color != by_key['cues/3', HEAD_ID].color  # looking vs not looking
    assert all(s.lifetime == (0, 250_000_000) for s in specs)


@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
def test_cue_marker_bytes_equal_rosbags_serialisation(distro: str) -> None:
    store = build_typestore(distro)
    ns = rosbags_namespace(store)
    specs = cue_marker_specs(_cues()[0])
    header = make_header(ns, 5_000_000_007, FRAME)
    msg = ns.new('MarkerArray', markers=[_marker_message(s, ns, header) for s in specs])
    encoded = encode_marker_array(specs, 5, 7, FRAME)
    assert encoded == bytes(store.serialize_cdr(msg, 'visualization_msgs/msg/MarkerArray'))
