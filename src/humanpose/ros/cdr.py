"""Direct CDR encoding of ``pose_bringup/msg/HumanPoseArray`` from arrays.

Building one Python message object per keypoint costs milliseconds per frame (8 people x
133 keypoints x 2D + 3D is thousands of objects); writing the CDR bytes straight from the
numpy arrays costs a fraction of that. The bytes are those ROS 2 puts on the wire
(little-endian CDR with its 4-byte encapsulation header), equal byte for byte to what
rosbags' ``serialize_cdr`` gives for :func:`humanpose.ros.messages.poses_to_msg` (tested),
so they can be published directly (rclpy's ``Publisher.publish`` accepts ``bytes`` on
Humble and Jazzy) and written to bags.

Layout facts (CDR, as used by ROS 2): primitives are aligned to their size, counted from
the first byte after the encapsulation header; strings are uint32 length (with the
terminating NUL) + bytes + NUL; sequences are uint32 count + elements; a nested message
adds no alignment of its own beyond that of its first field.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from humanpose.types import Poses

#: Little-endian CDR encapsulation header.
CDR_LE_HEADER = b'\x00\x01\x00\x00'

_U32 = np.dtype('<u4')
# Keypoint3D: geometry_msgs/Point (3 x float64, 8-aligned) + float32 confidence; elements
# after the first start 8-aligned again, so each is followed by 4 bytes of padding.
_KP3D = np.dtype({'names': ['x', 'y', 'z', 'c'], 'formats': ['<f8', '<f8', '<f8', '<f4'],
                  'offsets': [0, 8, 16, 24], 'itemsize': 32})


class _Writer:
    """Appends CDR fields to a list of byte chunks, tracking the alignment offset."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = [CDR_LE_HEADER]
        self.offset = 0

    def align(self, size: int) -> None:
        pad = -self.offset % size
        if pad:
            self.chunks.append(b'\x00' * pad)
            self.offset += pad

    def raw(self, data: bytes) -> None:
        self.chunks.append(data)
        self.offset += len(data)

    def u32(self, value: int) -> None:
        self.align(4)
        self.raw(int(value).to_bytes(4, 'little'))

    def string(self, text: str) -> None:
        data = text.encode('utf-8') + b'\x00'
        self.u32(len(data))
        self.raw(data)

    def bytes(self) -> bytes:
        return b''.join(self.chunks)


def encode_pose_array(poses: Poses, stamp_sec: int, stamp_nanosec: int, frame_id: str,
                      skeleton: Optional[str] = None) -> bytes:
    """Return the CDR bytes of the HumanPoseArray that :func:`poses_to_msg` would build.

    :param poses: results of one image (confidences are clipped to [0, 1] as in the
        message conversion; ids empty when ``poses.ids`` is empty).
    :param stamp_sec: header stamp seconds (int32).
    :param stamp_nanosec: header stamp nanoseconds (uint32).
    :param frame_id: header frame id.
    :param skeleton: layout name; default ``poses.skeleton``.
    """
    w = _Writer()
    w.align(4)
    w.raw(np.array([stamp_sec], '<i4').tobytes() + np.array([stamp_nanosec], _U32).tobytes())
    w.string(frame_id)
    w.string(poses.skeleton if skeleton is None else skeleton)
    n, k = len(poses), poses.num_keypoints
    w.u32(n)
    if n == 0:
        return w.bytes()
    kp2d = np.empty((n, k, 3), '<f4')
    kp2d[..., :2] = poses.keypoints
    kp2d[..., 2] = np.clip(poses.confidence, 0.0, 1.0)
    scores = np.clip(poses.box_scores, 0.0, 1.0).astype('<f4')
    boxes = np.ascontiguousarray(poses.boxes, '<f4')
    has_3d = poses.keypoints_3d is not None and poses.confidence_3d is not None
    if has_3d:
        assert poses.keypoints_3d is not None and poses.confidence_3d is not None
        kp3d = np.zeros((n, k), _KP3D)
        kp3d['x'] = poses.keypoints_3d[..., 0]
        kp3d['y'] = poses.keypoints_3d[..., 1]
        kp3d['z'] = poses.keypoints_3d[..., 2]
        kp3d['c'] = np.clip(poses.confidence_3d, 0.0, 1.0)
    ids = poses.ids if poses.ids else ('',) * n
    for i in range(n):
        w.string(ids[i])
        w.align(4)
        w.raw(scores[i:i + 1].tobytes() + boxes[i].tobytes())
        w.u32(k)
        w.raw(kp2d[i].tobytes())
        if has_3d and k:
            w.u32(k)
            w.align(8)
            # The last element ends after its confidence: no trailing padding.
            w.raw(kp3d[i].tobytes()[:-4])
        else:
            w.u32(0)
    return w.bytes()
