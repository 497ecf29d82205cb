"""``pose_bringup/msg/HumanCuesArray`` from :class:`~humanpose.cues.Cues` (pure, no ROS needed).

Like :func:`humanpose.ros.messages.poses_to_msg`, a pure function of the core result and
a message namespace (rclpy or rosbags), for Python code that wants message objects and as
the reference of the CDR encoder. One message object per person and a few per field:
about 50 microseconds per person before serialisation, so the node and the bag writer
publish :func:`humanpose.ros.cue_cdr.encode_cues_array`'s bytes instead (byte-equal to
this message serialised, tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from humanpose.cues.types import Cues
from humanpose.ros.messages import MessageNamespace

#: Topic of the cues, next to humans/pose.
CUES_TOPIC = 'humans/cues'
CUES_TYPE = 'pose_bringup/msg/HumanCuesArray'


def cues_to_msg(cues: Cues, ns: MessageNamespace, header: Any) -> Any:
    """Convert one image's cues to a ``pose_bringup/msg/HumanCuesArray``.

    :param cues: cues of the image's people.
    :param ns: message namespace (rclpy or rosbags).
    :param header: the source image's std_msgs/Header; copied.
    :return: the HumanCuesArray message.
    """
    point, vector = ns.Point, ns.Vector3

    def p3(values: Any) -> Any:
        x, y, z = (float(v) for v in values)
        return point(x=x, y=y, z=z)

    def v3(values: Any) -> Any:
        x, y, z = (float(v) for v in values)
        return vector(x=x, y=y, z=z)

    ids = cues.ids if cues.ids else ('',) * len(cues)
    target_ok = np.asarray(np.isfinite(cues.pointing_target_m).all(axis=1), bool)
    humans = []
    for i in range(len(cues)):
        yaw, pitch, roll = (float(v) for v in cues.head_ypr_rad[i])
        humans.append(ns.new(
            'HumanCues', id=ids[i], has_head_pose=bool(cues.has_head_pose[i]),
            head_yaw_rad=yaw, head_pitch_rad=pitch, head_roll_rad=roll,
            head_direction=v3(cues.head_direction[i]),
            head_position=p3(cues.head_position_m[i]),
            attention_angle_rad=float(cues.attention_angle_rad[i]),
            looking_at_camera=bool(cues.looking_at_camera[i]),
            looking_duration_s=float(cues.looking_duration_s[i]),
            engaged=bool(cues.engaged[i]), distance_m=float(cues.distance_m[i]),
            left_hand_raised=bool(cues.hand_raised[i, 0]),
            right_hand_raised=bool(cues.hand_raised[i, 1]),
            left_hand_state=int(cues.hand_state[i, 0]),
            right_hand_state=int(cues.hand_state[i, 1]),
            waving=bool(cues.waving[i]), waving_hand=int(cues.waving_hand[i]),
            waving_frequency_hz=float(cues.waving_frequency_hz[i]),
            pointing=bool(cues.pointing[i]), pointing_hand=int(cues.pointing_hand[i]),
            pointing_confidence=float(cues.pointing_confidence[i]),
            pointing_origin_px=np.asarray(cues.pointing_origin_px[i], np.float32),
            pointing_direction_px=np.asarray(cues.pointing_direction_px[i], np.float32),
            pointing_origin=p3(cues.pointing_origin_m[i]),
            pointing_direction=v3(cues.pointing_direction[i]),
            pointing_target_valid=bool(target_ok[i]),
            pointing_target=p3(cues.pointing_target_m[i])))
    header_copy = ns.Header(stamp=ns.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                            frame_id=header.frame_id)
    return ns.new('HumanCuesArray', header=header_copy,
                  intrinsics_assumed=bool(cues.intrinsics_assumed), humans=humans)
