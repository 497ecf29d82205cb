"""The direct CDR encoder of HumanCuesArray gives exactly rosbags' bytes of cues_to_msg."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from humanpose.cues import CueEstimator
from humanpose.cues.types import Cues
from humanpose.ros.cue_cdr import _person_struct, encode_cues_array
from humanpose.ros.cue_messages import CUES_TYPE, cues_to_msg
from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace
from humanpose.testing.people3d import Person3D, observe, pointing_arm, pose_person
from humanpose.types import CameraModel

STAMP_NS = 1_700_000_123_456_789_012
#: float32 NaNs of other bits than np.nan: negative, with a payload, signalling.
ODD_NANS = np.array([0xFFC00000, 0x7FC00001, 0x7F800001], np.uint32).view(np.float32)


def _random_cues(n: int, ids: tuple[str, ...], intrinsics_assumed: bool, seed: int) -> Cues:
    """Cues of ``n`` people with every value drawn at random, a third of the floats NaN."""
    rng = np.random.default_rng(seed)

    def floats(*shape: int) -> np.ndarray:
        values = rng.uniform(-5, 5, (n, *shape)).astype(np.float32)
        values[rng.random(values.shape) < 0.3] = np.nan
        odd = rng.random(values.shape) < 0.1
        values[odd] = rng.choice(np.r_[ODD_NANS, np.inf, -np.inf, 0.0, -0.0], odd.sum())
        return values

    def flags(*shape: int) -> np.ndarray:
        return rng.random((n, *shape)) < 0.5

    target = floats(3)
    target[::2] = rng.uniform(-5, 5, target[::2].shape)  # finite: pointing_target_valid
    return Cues(
        ids=ids, has_head_pose=flags(), head_ypr_rad=floats(3), head_direction=floats(3),
        head_position_m=floats(3), attention_angle_rad=floats(), looking_at_camera=flags(),
        looking_duration_s=floats(), engaged=flags(), distance_m=floats(),
        hand_raised=flags(2), hand_state=rng.integers(0, 4, (n, 2), np.uint8),
        waving=flags(), waving_hand=rng.integers(0, 3, n, np.uint8),
        waving_frequency_hz=floats(), pointing=flags(),
        pointing_hand=rng.integers(0, 3, n, np.uint8), pointing_confidence=floats(),
        pointing_origin_px=floats(2), pointing_direction_px=floats(2),
        pointing_origin_m=floats(3), pointing_direction=floats(3), pointing_target_m=target,
        intrinsics_assumed=intrinsics_assumed)


def _expected(store, cues: Cues, frame_id: str) -> bytes:
    ns = rosbags_namespace(store)
    return bytes(store.serialize_cdr(cues_to_msg(cues, ns, make_header(ns, STAMP_NS, frame_id)),
                                     CUES_TYPE))


def _encode(cues: Cues, frame_id: str) -> bytes:
    sec, nanosec = divmod(STAMP_NS, 1_000_000_000)
    return encode_cues_array(cues, sec, nanosec, frame_id)


#: 20 ids of 0..19 bytes: after the first person every phase (id end modulo 8) comes twice.
GROWING_IDS = tuple('7' * k for k in range(20))
#: Long and non-ASCII ids (multi-byte UTF-8 moves the phase by the bytes, not the letters).
ODD_IDS = ('Zoë', '人', '🙂', 'track-' + 'x' * 300, '', 'ü' * 7, '42', 'é🙂人a', 'n', '')


@pytest.mark.parametrize('n, ids', [
    (0, ()),
    (1, ()),
    (1, ('7',)),
    (1, ('',)),
    (1, ('Zoë',)),
    (20, ()),
    (20, GROWING_IDS),
    (20, GROWING_IDS[::-1]),
    (10, ODD_IDS),
])
@pytest.mark.parametrize('frame_id', ['', 'c', 'cam', 'camera_color_optical_frame', 'kamera_ö'])
@pytest.mark.parametrize('intrinsics_assumed', [False, True])
@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
def test_bytes_equal_rosbags_serialisation(n, ids, frame_id, intrinsics_assumed, distro):
    store = build_typestore(distro)
    cues = _random_cues(n, ids, intrinsics_assumed, seed=n + len(frame_id))
    got = _encode(cues, frame_id)
    assert got == _expected(store, cues, frame_id)
    back = store.deserialize_cdr(got, CUES_TYPE)
    assert back.header.frame_id == frame_id and len(back.humans) == n
    assert back.intrinsics_assumed == intrinsics_assumed
    assert [h.id for h in back.humans] == list(ids or ('',) * n)


def test_every_phase_of_the_id_end_is_exercised():
    """GROWING_IDS reach all 8 Structs; each person ends 8-aligned, as the encoder assumes."""
    # A person starts 8-aligned: u32 length, the id and its NUL, then the fixed fields.
    phases = {(4 + len(text.encode()) + 1) % 8 for text in GROWING_IDS[1:]}
    assert phases == set(range(8))
    assert all((p + _person_struct(p).size) % 8 == 0 for p in range(8))


def test_every_value_of_the_small_integers_and_flags():
    """Each bool both ways, each hand state and side, valid and invalid targets, in one array."""
    n = 12
    cues = _random_cues(n, tuple(str(i) for i in range(n)), False, seed=3)
    states = np.array([[s, 3 - s] for s in range(4)] * 3, np.uint8)
    sides = np.arange(n, dtype=np.uint8) % 3
    both = np.arange(n) % 2 == 0
    target = cues.pointing_target_m.copy()
    target[both] = 1.0
    target[~both, 1] = np.nan
    cues = replace(cues, hand_state=states, waving_hand=sides, pointing_hand=sides[::-1].copy(),
                   has_head_pose=both, looking_at_camera=~both, engaged=both, waving=~both,
                   pointing=both, hand_raised=np.stack([both, ~both], 1),
                   pointing_target_m=target)
    store = build_typestore()
    got = _encode(cues, 'cam')
    assert got == _expected(store, cues, 'cam')
    back = store.deserialize_cdr(got, CUES_TYPE).humans
    assert [h.left_hand_state for h in back] == states[:, 0].tolist()
    assert [h.right_hand_state for h in back] == states[:, 1].tolist()
    assert [h.waving_hand for h in back] == sides.tolist()
    assert [h.pointing_target_valid for h in back] == both.tolist()
    assert [h.right_hand_raised for h in back] == (~both).tolist()


@pytest.mark.parametrize('with_3d, ids', [(True, ('3', '8')), (False, ())])
def test_bytes_of_estimated_cues(with_3d, ids):
    """Cues the estimator made from posed people (finite and NaN where the model says)."""
    camera = CameraModel.from_intrinsics(640, 480, 466.0, 466.0, 319.5, 239.5)
    pointer, other = Person3D((-0.5, 0.25, 2.2)), Person3D((0.6, 0.25, 1.8))
    people = np.stack([
        pose_person(pointer, arms={'right': pointing_arm(pointer, 'right', (0.4, 1.2, 1.2))},
                    hands={'right': 'pointing'}),
        pose_person(other, head_ypr=(0.4, 0.1, 0.0))])
    poses = observe(people, camera, np.random.default_rng(0), noise_px=0.3, noise_m=0.002,
                    with_3d=with_3d, ids=ids)
    cues = CueEstimator('coco_wholebody')(poses, STAMP_NS, camera=camera)
    assert cues.pointing[0] and cues.has_head_pose.all()
    got = _encode(cues, 'camera_color_optical_frame')
    assert got == _expected(build_typestore(), cues, 'camera_color_optical_frame')


# Widening the signalling NaNs of _random_cues to float64 raises the invalid flag; the
# bytes are the same (what this checks).
@pytest.mark.filterwarnings('ignore:invalid value encountered in cast:RuntimeWarning')
def test_bytes_of_strided_and_float64_arrays():
    """Fields as views into larger arrays, float64 or int64 encode as cues_to_msg.

    (rosbags needs each person's row of the float32[2] fields contiguous; the encoder
    does not.)
    """
    n = 6
    cues = _random_cues(n, tuple(f'p{i}' for i in range(n)), True, seed=11)
    wide = np.random.default_rng(1).uniform(-1, 1, (n, 8)).astype(np.float32)
    cues = replace(cues, head_ypr_rad=np.asfortranarray(wide)[:, ::3],
                   pointing_origin_px=wide[:, 6:8], pointing_direction_px=wide[::-1, 2:4],
                   distance_m=cues.distance_m.astype(np.float64),
                   pointing_target_m=cues.pointing_target_m.astype(np.float64)[:, [0, 1, 2]],
                   hand_state=cues.hand_state.astype(np.int64), waving=cues.waving[::-1])
    assert _encode(cues, 'cam') == _expected(build_typestore(), cues, 'cam')
