"""RViz markers for poses: joints, bones and a label per person (pure, no ROS needed).

Markers are built from ``Poses.keypoints_3d`` (metres, camera optical frame: x right,
y down, z forward) with the same message namespace the rest of the message layer uses,
so the node, the bag writer and the tests share this code. Each person gets its own
marker namespace (``<prefix>/<track id or index>``) holding three markers:

=====  ===================  =====================================================
id     type                 content
=====  ===================  =====================================================
0      ``SPHERE_LIST``      joints whose 3D confidence reaches the threshold
1      ``LINE_LIST``        bones of the skeleton whose two joints are both shown
2      ``TEXT_VIEW_FACING`` the track id (the person's index without tracking)
=====  ===================  =====================================================

Joint and bone colours are the skeleton's own display colours (by body part, the same
as on the annotated image). Without 3D keypoints there is nothing to place in space:
no per-person markers are built and only the annotated image shows the skeleton.

The builder describes each marker once (:class:`MarkerSpec`: arrays, no per-point
objects); :meth:`MarkerBuilder.encode` writes the MarkerArray's CDR bytes straight from
those (what the node publishes and the bag writer records: about ten times faster than
message objects), :meth:`MarkerBuilder.build` makes message objects of the same content.

Each frame replaces the previous one: every MarkerArray with people starts with a
``DELETEALL`` (empty namespace: everything the RViz display holds), so people who left, and
joints that dropped below the threshold, vanish with the next frame, and nothing flickers
(RViz applies the whole array before it renders). The lifetime is only the guard for when no
new frame comes (node stopped, camera stalled): the node derives it from the measured frame
period (:mod:`humanpose.ros.marker_timing`), so markers outlast the gap between two frames
at any frame rate. When nobody is shown and nobody was shown before, nothing is sent; the
first call always sends the ``DELETEALL`` (it clears markers a previous run left).

Room for other markers of the same people (e.g. HRI cues: pointing rays, head directions):
they belong in the same MarkerArray, after these (so the one ``DELETEALL`` replaces them
too), in namespaces of their own such as ``cues/<label>``; ids 0-2 of ``<prefix>/<label>``
are the skeleton's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
from humanpose.ros.cdr import encode_marker_array
from humanpose.ros.messages import MessageNamespace
from humanpose.skeletons import Skeleton, get_skeleton
from humanpose.types import Poses

#: visualization_msgs/Marker constants (fixed by the message definition).
SPHERE_LIST = 7
LINE_LIST = 5
TEXT_VIEW_FACING = 9
ADD = 0
DELETEALL = 3

#: Marker id of each kind inside a person's namespace.
JOINTS_ID = 0
BONES_ID = 1
LABEL_ID = 2

#: Default sizes in metres: joint sphere diameter, bone line width, label text height (of
#: a capital letter: readable from a few metres), and the gap between the person's highest
#: joint and the bottom of the label (clear of the face points).
JOINT_DIAMETER_M = 0.03
BONE_WIDTH_M = 0.01
TEXT_HEIGHT_M = 0.2
LABEL_GAP_M = 0.12
#: Label colour: yellow, a colour no body part has (face points are white).
LABEL_RGBA = (1.0, 0.85, 0.1, 1.0)


def person_labels(poses: Poses) -> tuple[str, ...]:
    """Return one label per person: its track id, or its index where it has none.

    :param poses: results of one image.
    :return: N labels, e.g. ``('7', '12')`` with tracking, ``('0', '1')`` without.
    """
    if poses.ids:
        return tuple(pid if pid else str(i) for i, pid in enumerate(poses.ids))
    return tuple(str(i) for i in range(len(poses)))


def _duration(seconds: float) -> tuple[int, int]:
    """Seconds -> builtin_interfaces/Duration (sec, nanosec)."""
    sec = int(np.floor(seconds))
    nanosec = int(round((seconds - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return sec, nanosec


def _rgba(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """(M, 3) uint8 RGB -> (M, 4) float64 RGBA in [0, 1], opaque."""
    rgba = np.ones((len(rgb), 4), np.float64)
    rgba[:, :3] = np.asarray(rgb, np.float64) / 255.0
    return rgba


def _no_rows(width: int) -> NDArray[np.float64]:
    return np.zeros((0, width), np.float64)


@dataclass(frozen=True)
class MarkerSpec:
    """The content of one ``visualization_msgs/Marker`` (header aside).

    Orientation is always the identity; fields not listed (texture, mesh, ...) stay empty.

    :param ns: marker namespace.
    :param id: marker id inside ``ns``.
    :param type: SPHERE_LIST, LINE_LIST, TEXT_VIEW_FACING ...
    :param action: ADD or DELETEALL.
    :param position: pose position, metres.
    :param scale: marker scale, metres.
    :param color: RGBA of the whole marker, in [0, 1].
    :param lifetime: (sec, nanosec) RViz keeps the marker; (0, 0) = forever.
    :param points: (M, 3) float64 points, metres.
    :param colors: (M, 4) float64 RGBA per point, in [0, 1].
    :param text: text of a TEXT_VIEW_FACING marker.
    """

    ns: str
    id: int
    type: int = 0
    action: int = ADD
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: tuple[float, float, float] = (0.0, 0.0, 0.0)
    color: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    lifetime: tuple[int, int] = (0, 0)
    points: NDArray[np.float64] = field(default_factory=lambda: _no_rows(3))
    colors: NDArray[np.float64] = field(default_factory=lambda: _no_rows(4))
    text: str = ''


class MarkerBuilder:
    """Turns the poses of successive images into ``visualization_msgs/MarkerArray``.

    :param skeleton: keypoint layout of the poses (``coco_wholebody``, ``coco``).
    :param threshold: joints with a 3D confidence below this are not shown (nor their
        bones).
    :param lifetime_s: seconds RViz keeps a marker when no newer frame replaces it (the
        node sets it from the frame period each frame, see
        :mod:`humanpose.ros.marker_timing`). 0 = forever.
    :param namespace_prefix: person ``i`` lives in marker namespace ``<prefix>/<label>``.
    :param joint_diameter_m: diameter of the joint spheres, metres.
    :param bone_width_m: width of the bone lines, metres.
    :param text_height_m: height of the label text (a capital letter), metres.
    """

    def __init__(self, skeleton: str, threshold: float = 0.3, lifetime_s: float = 0.2,
                 namespace_prefix: str = 'person', *,
                 joint_diameter_m: float = JOINT_DIAMETER_M,
                 bone_width_m: float = BONE_WIDTH_M,
                 text_height_m: float = TEXT_HEIGHT_M) -> None:
        if lifetime_s < 0:
            raise InvalidInputError(f'marker lifetime must be >= 0 s, got {lifetime_s}')
        self.skeleton: Skeleton = get_skeleton(skeleton)
        self.threshold = float(threshold)
        self.lifetime_s = float(lifetime_s)
        self.namespace_prefix = namespace_prefix
        self.joint_diameter_m = float(joint_diameter_m)
        self.bone_width_m = float(bone_width_m)
        self.text_height_m = float(text_height_m)
        self._joint_rgba = _rgba(self.skeleton.keypoint_colors)
        # Each bone is two consecutive points of the LINE_LIST, coloured alike.
        self._bone_rgba = _rgba(self.skeleton.link_colors)
        # None before the first call; else whether the previous call sent person markers.
        self._shown: Optional[bool] = None

    def reset(self) -> None:
        """Start afresh: the next call sends a DELETEALL even when nobody is shown."""
        self._shown = None

    def namespace_of(self, label: str) -> str:
        """Return the marker namespace of the person labelled ``label``."""
        return f'{self.namespace_prefix}/{label}'

    def specs(self, poses: Poses, extra: Sequence[MarkerSpec] = ()) -> list[MarkerSpec]:
        """Return the markers of one image's poses, in MarkerArray order.

        :param poses: results of one image; 3D markers need ``poses.keypoints_3d``.
        :param extra: other markers of the same image (e.g. the HRI cues' head directions
            and pointing rays, in namespaces of their own), sent after the skeletons in the
            same array, so the one ``DELETEALL`` replaces them too and RViz never shows a
            frame's skeletons without its other markers.
        :return: ``DELETEALL`` first, then per person with 3D keypoints a joints, a bones
            and a label marker, then ``extra``; empty when nothing is shown now and nothing
            was shown by the previous call (the first call always sends the ``DELETEALL``).
        :raises InvalidInputError: the poses have another number of keypoints than the
            builder's skeleton.
        """
        if poses.num_keypoints != self.skeleton.num_keypoints:
            raise InvalidInputError(
                f'marker builder for {self.skeleton.name} ({self.skeleton.num_keypoints} '
                f'keypoints) got poses of {poses.skeleton} with {poses.num_keypoints}; '
                'build the MarkerBuilder with the skeleton of the pipeline')
        people: list[MarkerSpec] = []
        if poses.keypoints_3d is not None and poses.confidence_3d is not None and len(poses):
            people = self._person_specs(poses.keypoints_3d, poses.confidence_3d,
                                        person_labels(poses))
        shown = people + list(extra)
        send = bool(shown) or self._shown is not False
        self._shown = bool(shown)
        return [MarkerSpec(ns='', id=0, action=DELETEALL)] + shown if send else []

    def encode(self, poses: Poses, stamp_sec: int, stamp_nanosec: int, frame_id: str,
               extra: Sequence[MarkerSpec] = ()) -> Optional[bytes]:
        """Return the CDR bytes of the MarkerArray of :meth:`specs`, None if it is empty.

        :param poses: results of one image.
        :param stamp_sec: header stamp seconds of the source image.
        :param stamp_nanosec: header stamp nanoseconds.
        :param frame_id: the camera optical frame; copied into every marker.
        :param extra: other markers of the image (see :meth:`specs`).
        """
        specs = self.specs(poses, extra)
        return encode_marker_array(specs, stamp_sec, stamp_nanosec, frame_id) if specs else None

    def build(self, poses: Poses, ns: MessageNamespace, header: Any,
              extra: Sequence[MarkerSpec] = ()) -> Any:
        """Return the MarkerArray of :meth:`specs` as a message object.

        :param poses: results of one image.
        :param ns: message namespace (rclpy or rosbags).
        :param header: std_msgs/Header of the source image (stamp, camera optical frame);
            copied into every marker.
        :param extra: other markers of the image (see :meth:`specs`).
        """
        header = ns.Header(stamp=ns.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                           frame_id=header.frame_id)
        return ns.new('MarkerArray', markers=[_marker_message(spec, ns, header)
                                              for spec in self.specs(poses, extra)])

    def _person_specs(self, keypoints_3d: NDArray[np.float32],
                      confidence_3d: NDArray[np.float32],
                      labels: tuple[str, ...]) -> list[MarkerSpec]:
        """Joints, bones and label of every person with at least one shown joint.

        :param keypoints_3d: (N, K, 3) float32, metres, camera optical frame.
        :param confidence_3d: (N, K) float32 in [0, 1].
        """
        links = self.skeleton.links
        shown = (confidence_3d >= self.threshold) & np.isfinite(keypoints_3d).all(axis=-1)
        bones = np.all(shown[:, links], axis=-1, keepdims=False)         # (N, L)
        lifetime = _duration(self.lifetime_s)
        white = (1.0, 1.0, 1.0, 1.0)
        # The label's position is its centre: lift it by the gap plus half its height.
        label_lift = LABEL_GAP_M + 0.5 * self.text_height_m
        joint_scale = (self.joint_diameter_m,) * 3
        bone_scale = (self.bone_width_m, 0.0, 0.0)
        text_scale = (0.0, 0.0, self.text_height_m)
        specs: list[MarkerSpec] = []
        for n in np.flatnonzero(shown.any(axis=1)):
            joint_ids = np.flatnonzero(shown[n])
            joints = keypoints_3d[n, joint_ids].astype(np.float64)      # (J, 3)
            bone_ids = np.flatnonzero(bones[n])
            ends = keypoints_3d[n, links[bone_ids].reshape(-1)].astype(np.float64)  # (2B, 3)
            person_ns = self.namespace_of(labels[n])
            specs.append(MarkerSpec(person_ns, JOINTS_ID, SPHERE_LIST, scale=joint_scale,
                                    color=white, lifetime=lifetime, points=joints,
                                    colors=self._joint_rgba[joint_ids]))
            specs.append(MarkerSpec(person_ns, BONES_ID, LINE_LIST, scale=bone_scale,
                                    color=white, lifetime=lifetime, points=ends,
                                    colors=np.repeat(self._bone_rgba[bone_ids], 2, axis=0)))
            # Above the head: y points down in the optical frame.
            top = joints[np.argmin(joints[:, 1])]
            specs.append(MarkerSpec(
                person_ns, LABEL_ID, TEXT_VIEW_FACING, scale=text_scale, color=LABEL_RGBA,
                lifetime=lifetime, text=labels[n],
                position=(float(top[0]), float(top[1]) - label_lift, float(top[2]))))
        return specs


def _marker_message(spec: MarkerSpec, ns: MessageNamespace, header: Any) -> Any:
    """Return the Marker message of ``spec`` (one object per point: not for the hot path)."""
    point, color = ns.Point, ns.ColorRGBA
    x, y, z = spec.position
    return ns.new(
        'Marker', header=header, ns=spec.ns, id=spec.id, type=spec.type, action=spec.action,
        pose=ns.new('Pose', position=point(x=x, y=y, z=z),
                    orientation=ns.new('Quaternion', x=0.0, y=0.0, z=0.0, w=1.0)),
        scale=ns.new('Vector3', x=spec.scale[0], y=spec.scale[1], z=spec.scale[2]),
        color=color(r=spec.color[0], g=spec.color[1], b=spec.color[2], a=spec.color[3]),
        lifetime=ns.new('Duration', sec=spec.lifetime[0], nanosec=spec.lifetime[1]),
        points=[point(x=x, y=y, z=z) for x, y, z in spec.points.tolist()],
        colors=[color(r=r, g=g, b=b, a=a) for r, g, b, a in spec.colors.tolist()],
        text=spec.text)
