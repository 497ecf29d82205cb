"""Direct CDR encoding of ``HumanPoseArray`` and ``visualization_msgs/MarkerArray``.

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

from typing import Optional, Sequence, TYPE_CHECKING

import numpy as np

from humanpose.types import Poses

if TYPE_CHECKING:
    from humanpose.ros.markers import MarkerSpec

#: Little-endian CDR encapsulation header.
CDR_LE_HEADER = b'\x00\x01\x00\x00'

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

    def stamp(self, sec: int, nanosec: int) -> None:
        self.align(4)
        self.raw(int(sec).to_bytes(4, 'little', signed=True) + int(nanosec).to_bytes(4, 'little'))

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
    w.stamp(stamp_sec, stamp_nanosec)
    w.string(frame_id)
    w.string(poses.skeleton if skeleton is None else skeleton)
    n, k = len(poses), poses.num_keypoints
    w.u32(n)
    if n == 0:
        w.raw(b'\x01' if poses.intrinsics_assumed else b'\x00')
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
    sources = source_3d_of(poses)
    residuals = residual_3d_of(poses).astype('<f4')
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
        w.raw(bytes((int(sources[i]),)))
        w.align(4)
        w.raw(residuals[i:i + 1].tobytes())
    w.raw(b'\x01' if poses.intrinsics_assumed else b'\x00')
    return w.bytes()


def source_3d_of(poses: Poses) -> np.ndarray:
    """Return (N,) uint8 ``HumanPose.source_3d`` per person.

    ``Poses.source_3d`` where set; else SOURCE_DEPTH (1) with 3D keypoints (depth was the
    only source before 3D networks), SOURCE_NONE (0) without.
    """
    if poses.source_3d is not None:
        return np.asarray(poses.source_3d, np.uint8)
    return np.full(len(poses), 1 if poses.keypoints_3d is not None else 0, np.uint8)


def residual_3d_of(poses: Poses) -> np.ndarray:
    """Return (N,) float32 ``HumanPose.residual_3d`` per person (NaN where not set)."""
    if poses.residual_3d is not None:
        return np.asarray(poses.residual_3d, np.float32)
    return np.full(len(poses), np.nan, np.float32)


#: The Marker fields after ``colors`` that our markers leave empty, up to ``text``:
#: texture_resource '', texture (CompressedImage: zero stamp, frame_id '', format '',
#: no data), uv_coordinates []. Same layout on Humble and Jazzy.
_EMPTY_TEXTURE = ((1).to_bytes(4, 'little') + b'\x00\x00\x00\x00'   # '' + pad to 4
                  + bytes(8)                                          # stamp
                  + ((1).to_bytes(4, 'little') + b'\x00\x00\x00\x00') * 2  # frame_id, format
                  + bytes(4) + bytes(4))                              # data [], uv []


def encode_marker_array(markers: Sequence[MarkerSpec], stamp_sec: int, stamp_nanosec: int,
                        frame_id: str) -> bytes:
    """Return the CDR bytes of a ``visualization_msgs/MarkerArray`` of ``markers``.

    Every marker gets the header (stamp, frame_id) and an identity orientation; texture,
    UV coordinates and mesh fields are empty, ``frame_locked`` and
    ``mesh_use_embedded_materials`` false. Equal byte for byte to rosbags'
    ``serialize_cdr`` of :meth:`humanpose.ros.markers.MarkerBuilder.build` (tested).
    """
    w = _Writer()
    w.u32(len(markers))
    for m in markers:
        w.stamp(stamp_sec, stamp_nanosec)
        w.string(frame_id)
        w.string(m.ns)
        w.align(4)
        w.raw(np.array([m.id, m.type, m.action], '<i4').tobytes())
        w.align(8)
        w.raw(np.array([*m.position, 0.0, 0.0, 0.0, 1.0, *m.scale], '<f8').tobytes())
        w.raw(np.array(m.color, '<f4').tobytes())
        w.stamp(*m.lifetime)
        w.raw(b'\x00')  # frame_locked
        w.u32(len(m.points))
        if len(m.points):
            w.align(8)
            w.raw(np.ascontiguousarray(m.points, '<f8').tobytes())
        w.u32(len(m.colors))
        w.raw(np.ascontiguousarray(m.colors, '<f4').tobytes())
        # From a 4-aligned offset (a u32 count, then 16-byte colours) the fixed empty
        # texture block keeps every field of it aligned as CDR wants.
        w.raw(_EMPTY_TEXTURE)
        w.string(m.text)
        w.string('')    # mesh_resource
        w.string('')    # mesh_file.filename
        w.u32(0)        # mesh_file.data
        w.raw(b'\x00')  # mesh_use_embedded_materials
    return w.bytes()


#: The CDR writer, for the encoders of other message families (``ros/hri_messages.py``).
CdrWriter = _Writer
