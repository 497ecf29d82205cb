"""The cues of the people in one image: arrays over people, NaN where unknown.

Units are in the names (``_rad``, ``_m``, ``_px``, ``_s``, ``_hz``); 3D quantities are in
the camera optical frame of the image (x right, y down, z forward, metres). Sides and hand
states are small integers whose values equal the constants of
``pose_bringup/msg/HumanCues`` (tests keep them equal).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Which hand / arm (``HumanCues.SIDE_*``).
SIDE_NONE = 0
SIDE_LEFT = 1
SIDE_RIGHT = 2
#: Per-hand state from finger geometry (``HumanCues.HAND_*``).
HAND_UNKNOWN = 0
HAND_OPEN = 1
HAND_FIST = 2
HAND_POINTING = 3
#: Names of the hand states, by value.
HAND_STATE_NAMES = ('unknown', 'open', 'fist', 'pointing')
#: Names of the sides, by value.
SIDE_NAMES = ('none', 'left', 'right')

F32 = NDArray[np.float32]
B = NDArray[np.bool_]
U8 = NDArray[np.uint8]


@dataclass(frozen=True)
class Cues:
    """HRI cues of N people (the order of the :class:`~humanpose.types.Poses` they come from).

    Head (see :mod:`humanpose.cues.head` for the angle conventions):

    :param ids: N track ids (as ``Poses.ids``), or () without tracking.
    :param has_head_pose: (N,) the face was seen well enough for a head pose.
    :param head_ypr_rad: (N, 3) yaw, pitch, roll of the head relative to facing the camera
        squarely (yaw > 0: turned to the person's left; pitch > 0: looking down; roll > 0:
        tilted to the person's right); NaN without a head pose.
    :param head_direction: (N, 3) unit vector the face points to, camera frame.
    :param head_position_m: (N, 3) the head in metres (3D keypoints); NaN without 3D.
    :param attention_angle_rad: (N,) angle between ``head_direction`` and the line from the
        head to the camera; 0 = facing the camera.
    :param looking_at_camera: (N,) attention angle below the threshold.
    :param looking_duration_s: (N,) seconds (image time) the person has been looking at
        the camera, short glances away forgiven; NaN without track ids.
    :param engaged: (N,) looking for the minimum time, within the distance.
    :param distance_m: (N,) distance of the body from the camera; NaN without 3D.

    Hands and arms, index 0 = left, 1 = right (the person's own sides):

    :param hand_raised: (N, 2) wrist above the shoulder by the margin.
    :param hand_state: (N, 2) uint8, ``HAND_*``.
    :param waving: (N,) a hand oscillates sideways in the frequency band.
    :param waving_hand: (N,) uint8 ``SIDE_*`` of the waving hand.
    :param waving_frequency_hz: (N,) frequency of the wave; NaN when not waving.
    :param pointing: (N,) an arm points (confidence above the threshold).
    :param pointing_hand: (N,) uint8 ``SIDE_*`` of the pointing arm (the more confident).
    :param pointing_confidence: (N,) in [0, 1], of ``pointing_hand`` (the best arm).
    :param pointing_origin_px: (N, 2) the pointing hand in pixels.
    :param pointing_direction_px: (N, 2) unit image direction of the ray.
    :param pointing_origin_m: (N, 3) the pointing hand in metres; NaN without 3D.
    :param pointing_direction: (N, 3) unit direction of the ray, camera frame; NaN
        without 3D.
    :param pointing_target_m: (N, 3) where the ray meets the pointing plane; NaN when it
        does not (no 3D, parallel, or the plane is behind the hand).
    :param intrinsics_assumed: no camera model was given: the head pose used the default
        field of view.
    """

    ids: tuple[str, ...]
    has_head_pose: B
    head_ypr_rad: F32
    head_direction: F32
    head_position_m: F32
    attention_angle_rad: F32
    looking_at_camera: B
    looking_duration_s: F32
    engaged: B
    distance_m: F32
    hand_raised: B
    hand_state: U8
    waving: B
    waving_hand: U8
    waving_frequency_hz: F32
    pointing: B
    pointing_hand: U8
    pointing_confidence: F32
    pointing_origin_px: F32
    pointing_direction_px: F32
    pointing_origin_m: F32
    pointing_direction: F32
    pointing_target_m: F32
    intrinsics_assumed: bool = False

    def __len__(self) -> int:
        return len(self.has_head_pose)

    @classmethod
    def empty(cls, n: int = 0, intrinsics_assumed: bool = False) -> Cues:
        """Return cues of ``n`` people with nothing known (NaN, False, unknown)."""
        def nan(*shape: int) -> F32:
            return np.full((n, *shape), np.nan, np.float32)

        return cls(
            ids=(), has_head_pose=np.zeros(n, bool), head_ypr_rad=nan(3),
            head_direction=nan(3), head_position_m=nan(3), attention_angle_rad=nan(),
            looking_at_camera=np.zeros(n, bool), looking_duration_s=nan(),
            engaged=np.zeros(n, bool), distance_m=nan(), hand_raised=np.zeros((n, 2), bool),
            hand_state=np.zeros((n, 2), np.uint8), waving=np.zeros(n, bool),
            waving_hand=np.zeros(n, np.uint8), waving_frequency_hz=nan(),
            pointing=np.zeros(n, bool), pointing_hand=np.zeros(n, np.uint8),
            pointing_confidence=np.zeros(n, np.float32), pointing_origin_px=nan(2),
            pointing_direction_px=nan(2), pointing_origin_m=nan(3), pointing_direction=nan(3),
            pointing_target_m=nan(3), intrinsics_assumed=intrinsics_assumed)

    def person(self, i: int) -> dict[str, Any]:
        """Return person ``i``'s cues as JSON-ready Python values (NaN becomes None).

        Keys are the field names of ``pose_bringup/msg/HumanCues``.
        """
        def num(value: Any) -> Any:
            value = float(value)
            return None if not np.isfinite(value) else round(value, 5)

        def vec(values: Any) -> Any:
            return [num(v) for v in np.asarray(values).tolist()]

        yaw, pitch, roll = self.head_ypr_rad[i].tolist()
        return {
            'id': self.ids[i] if self.ids else '',
            'has_head_pose': bool(self.has_head_pose[i]),
            'head_yaw_rad': num(yaw), 'head_pitch_rad': num(pitch), 'head_roll_rad': num(roll),
            'head_direction': vec(self.head_direction[i]),
            'head_position': vec(self.head_position_m[i]),
            'attention_angle_rad': num(self.attention_angle_rad[i]),
            'looking_at_camera': bool(self.looking_at_camera[i]),
            'looking_duration_s': num(self.looking_duration_s[i]),
            'engaged': bool(self.engaged[i]),
            'distance_m': num(self.distance_m[i]),
            'left_hand_raised': bool(self.hand_raised[i, 0]),
            'right_hand_raised': bool(self.hand_raised[i, 1]),
            'left_hand_state': HAND_STATE_NAMES[int(self.hand_state[i, 0])],
            'right_hand_state': HAND_STATE_NAMES[int(self.hand_state[i, 1])],
            'waving': bool(self.waving[i]),
            'waving_hand': SIDE_NAMES[int(self.waving_hand[i])],
            'waving_frequency_hz': num(self.waving_frequency_hz[i]),
            'pointing': bool(self.pointing[i]),
            'pointing_hand': SIDE_NAMES[int(self.pointing_hand[i])],
            'pointing_confidence': num(self.pointing_confidence[i]),
            'pointing_origin_px': vec(self.pointing_origin_px[i]),
            'pointing_direction_px': vec(self.pointing_direction_px[i]),
            'pointing_origin': vec(self.pointing_origin_m[i]),
            'pointing_direction': vec(self.pointing_direction[i]),
            'pointing_target_valid': bool(np.isfinite(self.pointing_target_m[i]).all()),
            'pointing_target': vec(self.pointing_target_m[i]),
        }


def field_names() -> tuple[str, ...]:
    """Return the field names of :class:`Cues`."""
    return tuple(f.name for f in fields(Cues))
