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

The builder is stateful: when the set of people (their ids, or their indices where no
ids are given) differs from the previous call's, a ``DELETEALL`` marker comes first, so
markers of people who left vanish at once instead of lingering for their lifetime.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
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

#: Default sizes in metres: joint sphere diameter, bone line width, text height, and how
#: far above the person's highest joint the label floats.
JOINT_DIAMETER_M = 0.03
BONE_WIDTH_M = 0.01
TEXT_HEIGHT_M = 0.08
LABEL_OFFSET_M = 0.12


def person_labels(poses: Poses) -> tuple[str, ...]:
    """Return one label per person: its track id, or its index where it has none.

    :param poses: results of one image.
    :return: N labels, e.g. ``('7', '12')`` with tracking, ``('0', '1')`` without.
    """
    if poses.ids:
        return tuple(pid if pid else str(i) for i, pid in enumerate(poses.ids))
    return tuple(str(i) for i in range(len(poses)))


def _duration(ns: MessageNamespace, seconds: float) -> Any:
    sec = int(np.floor(seconds))
    nanosec = int(round((seconds - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return ns.new('Duration', sec=sec, nanosec=nanosec)


def _rgba(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """(M, 3) uint8 RGB -> (M, 4) float64 RGBA in [0, 1], opaque."""
    rgba = np.ones((len(rgb), 4), np.float64)
    rgba[:, :3] = np.asarray(rgb, np.float64) / 255.0
    return rgba


class MarkerBuilder:
    """Turns the poses of successive images into ``visualization_msgs/MarkerArray``.

    :param skeleton: keypoint layout of the poses (``coco_wholebody``, ``coco``).
    :param threshold: joints with a 3D confidence below this are not shown (nor their
        bones).
    :param lifetime_s: seconds RViz keeps a marker that is not refreshed; a few frame
        periods, so people who are no longer published fade out. 0 = forever.
    :param namespace_prefix: person ``i`` lives in marker namespace ``<prefix>/<label>``.
    :param joint_diameter_m: diameter of the joint spheres, metres.
    :param bone_width_m: width of the bone lines, metres.
    :param text_height_m: height of the label text, metres.
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
        self._joint_rgba = _rgba(self.skeleton.keypoint_colors).tolist()
        # Each bone is two consecutive points of the LINE_LIST, coloured alike.
        self._bone_rgba = np.repeat(_rgba(self.skeleton.link_colors), 2, axis=0).tolist()
        self._previous: Optional[tuple[str, ...]] = None
        # The colours never change: their message objects are made once per namespace
        # and shared by every frame's markers (half of all the objects they hold).
        self._colors: dict[int, tuple[list[Any], list[Any]]] = {}

    def reset(self) -> None:
        """Forget the previous set of people: the next :meth:`build` starts with DELETEALL."""
        self._previous = None

    def namespace_of(self, label: str) -> str:
        """Return the marker namespace of the person labelled ``label``."""
        return f'{self.namespace_prefix}/{label}'

    def build(self, poses: Poses, ns: MessageNamespace, header: Any) -> Any:
        """Return the MarkerArray of one image's poses.

        :param poses: results of one image; 3D markers need ``poses.keypoints_3d``.
        :param ns: message namespace (rclpy or rosbags).
        :param header: std_msgs/Header of the source image (stamp, camera optical frame);
            copied into every marker.
        :return: MarkerArray: ``DELETEALL`` first when the set of people changed since the
            previous call (and on the first call), then per person with 3D keypoints a
            joints, a bones and a label marker.
        :raises InvalidInputError: the poses have another number of keypoints than the
            builder's skeleton.
        """
        if poses.num_keypoints != self.skeleton.num_keypoints:
            raise InvalidInputError(
                f'marker builder for {self.skeleton.name} ({self.skeleton.num_keypoints} '
                f'keypoints) got poses of {poses.skeleton} with {poses.num_keypoints}; '
                'build the MarkerBuilder with the skeleton of the pipeline')
        header = ns.Header(stamp=ns.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                           frame_id=header.frame_id)
        labels = person_labels(poses)
        markers: list[Any] = []
        if labels != self._previous:
            markers.append(ns.new('Marker', header=header, ns='', id=0, action=DELETEALL))
            self._previous = labels
        if poses.keypoints_3d is not None and poses.confidence_3d is not None and len(poses):
            markers += self._person_markers(poses.keypoints_3d, poses.confidence_3d, labels,
                                            ns, header)
        return ns.new('MarkerArray', markers=markers)

    def _person_markers(self, keypoints_3d: NDArray[np.float32],
                        confidence_3d: NDArray[np.float32], labels: tuple[str, ...],
                        ns: MessageNamespace, header: Any) -> list[Any]:
        """Joints, bones and label of every person with at least one shown joint.

        :param keypoints_3d: (N, K, 3) float32, metres, camera optical frame.
        :param confidence_3d: (N, K) float32 in [0, 1].
        """
        links = self.skeleton.links
        shown = (confidence_3d >= self.threshold) & np.isfinite(keypoints_3d).all(axis=-1)
        bones = np.all(shown[:, links], axis=-1, keepdims=False)         # (N, L)
        lifetime = _duration(ns, self.lifetime_s)
        pose = ns.new('Pose', position=ns.new('Point', x=0.0, y=0.0, z=0.0),
                      orientation=ns.new('Quaternion', x=0.0, y=0.0, z=0.0, w=1.0))
        white = ns.new('ColorRGBA', r=1.0, g=1.0, b=1.0, a=1.0)
        joint_scale = ns.new('Vector3', x=self.joint_diameter_m, y=self.joint_diameter_m,
                             z=self.joint_diameter_m)
        bone_scale = ns.new('Vector3', x=self.bone_width_m, y=0.0, z=0.0)
        text_scale = ns.new('Vector3', x=0.0, y=0.0, z=self.text_height_m)
        point = ns.Point
        joint_colors, bone_colors_all = self._color_objects(ns)
        markers: list[Any] = []
        for n in np.flatnonzero(shown.any(axis=1)):
            joint_ids = np.flatnonzero(shown[n])
            joints = keypoints_3d[n, joint_ids].astype(np.float64)      # (J, 3)
            bone_ids = np.flatnonzero(bones[n])
            ends = keypoints_3d[n, links[bone_ids].reshape(-1)].astype(np.float64)  # (2B, 3)
            person_ns = self.namespace_of(labels[n])
            common = dict(header=header, ns=person_ns, action=ADD, pose=pose,
                          lifetime=lifetime, color=white)
            markers.append(ns.new(
                'Marker', id=JOINTS_ID, type=SPHERE_LIST, scale=joint_scale,
                points=[point(x=x, y=y, z=z) for x, y, z in joints.tolist()],
                colors=[joint_colors[i] for i in joint_ids],
                **common))
            markers.append(ns.new(
                'Marker', id=BONES_ID, type=LINE_LIST, scale=bone_scale,
                points=[point(x=x, y=y, z=z) for x, y, z in ends.tolist()],
                colors=[bone_colors_all[2 * i + e] for i in bone_ids for e in (0, 1)],
                **common))
            # Above the head: y points down in the optical frame.
            top = joints[np.argmin(joints[:, 1])]
            label_pose = ns.new(
                'Pose', position=point(x=float(top[0]), y=float(top[1]) - LABEL_OFFSET_M,
                                       z=float(top[2])),
                orientation=ns.new('Quaternion', x=0.0, y=0.0, z=0.0, w=1.0))
            markers.append(ns.new(
                'Marker', id=LABEL_ID, type=TEXT_VIEW_FACING, scale=text_scale,
                text=labels[n], **{**common, 'pose': label_pose}))
        return markers

    def _color_objects(self, ns: MessageNamespace) -> tuple[list[Any], list[Any]]:
        """Return the ColorRGBA messages of the joints and of the bone ends for ``ns``."""
        key = id(ns.ColorRGBA)
        if key not in self._colors:
            color = ns.ColorRGBA
            self._colors[key] = (
                [color(r=r, g=g, b=b, a=a) for r, g, b, a in self._joint_rgba],
                [color(r=r, g=g, b=b, a=a) for r, g, b, a in self._bone_rgba])
        return self._colors[key]
