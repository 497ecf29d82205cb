"""The ROS4HRI (REP-155) body output of the pose node: topics per body and TF (rclpy).

Per image, from the tracked poses (:mod:`humanpose.hri` does the arithmetic,
:mod:`humanpose.ros.hri_messages` the bytes):

- ``humans/bodies/tracked`` (``hri_msgs/IdsList``): the body ids of this image;
- per body ``humans/bodies/<id>/roi`` (``hri_msgs/NormalizedRegionOfInterest2D``),
  ``.../skeleton2d`` (``hri_msgs/Skeleton2D``) and ``.../cropped`` (``sensor_msgs/Image``,
  rgb8, when asked for and someone subscribes);
- TF ``body_<id>`` and its joint frames whenever the poses have 3D.

Every message carries the source image's stamp and frame. A body's publishers are created
when its id appears and destroyed when it leaves, so the topics of bodies that left are
gone from the graph. Topic names are relative: without a namespace they are REP-155's
``/humans/bodies/...``.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.hri import tracked_people
from humanpose.ros.hri_messages import (encode_hri_frame, encode_ids_list, HriUnavailableError,
                                        rclpy_hri_namespace)
from humanpose.types import Poses

#: Topic namespace of the bodies (relative: /humans/bodies without a node namespace).
BODIES = 'humans/bodies'


class HriOutput:
    """Publishes the ROS4HRI body topics and TF frames of a node.

    :param node: the rclpy node (plain or lifecycle) that owns the publishers.
    :param cropped: publish ``cropped`` images (one crop copy per body and frame, only
        while someone subscribes).
    :raises HriUnavailableError: hri_msgs or tf2_ros cannot be imported (what to install).
    """

    def __init__(self, node: Any, cropped: bool = True) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self._ns = rclpy_hri_namespace()
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError as err:
            raise HriUnavailableError(
                f'hri is on but tf2_ros cannot be imported ({err}): install '
                'ros-$ROS_DISTRO-tf2-ros-py (rosdep key tf2_ros_py)') from err
        self._node = node
        self.cropped = cropped
        self._qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._image_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self._lock = threading.Lock()
        self._tracked_pub = node.create_publisher(self._ns.IdsList, f'{BODIES}/tracked',
                                                  self._qos)
        self._tf = TransformBroadcaster(node)
        self._bodies: dict[str, tuple[Any, Any, Any]] = {}
        self._destroyed = False

    @property
    def body_ids(self) -> tuple[str, ...]:
        """Return the ids of the bodies that have publishers now."""
        with self._lock:
            return tuple(self._bodies)

    def _body_publishers(self, bid: str) -> tuple[Any, Any, Any]:
        pubs = self._bodies.get(bid)
        if pubs is None:
            base = f'{BODIES}/{bid}'
            pubs = (self._node.create_publisher(self._ns.NormalizedRegionOfInterest2D,
                                                f'{base}/roi', self._qos),
                    self._node.create_publisher(self._ns.Skeleton2D, f'{base}/skeleton2d',
                                                self._qos),
                    self._node.create_publisher(self._ns.Image, f'{base}/cropped',
                                                self._image_qos))
            self._bodies[bid] = pubs
        return pubs

    def _drop_bodies(self, keep: set[str]) -> None:
        for bid in [b for b in self._bodies if b not in keep]:
            for pub in self._bodies.pop(bid):
                self._node.destroy_publisher(pub)

    def publish(self, poses: Poses, stamp: tuple[int, int], frame_id: str,
                rgb: Optional[NDArray[np.uint8]], size: tuple[int, int]) -> None:
        """Publish one image's bodies.

        :param poses: tracked poses (people without an id are left out).
        :param stamp: (sec, nanosec) of the source image.
        :param frame_id: frame of the source image (the 3D keypoints' frame too).
        :param rgb: (H, W, 3) RGB image for ``cropped``, or None.
        :param size: (width, height) of the image in pixels.
        """
        people, ids = tracked_people(poses)
        with self._lock:
            if self._destroyed:
                return
            self._drop_bodies(set(ids))
            pubs = [self._body_publishers(bid) for bid in ids]
            # A crop copy only for the bodies someone watches.
            mask = [self.cropped and rgb is not None and p[2].get_subscription_count() > 0
                    for p in pubs]
            frame = encode_hri_frame(people, ids, stamp, frame_id, size,
                                     rgb if any(mask) else None, mask)
            for (roi_pub, skeleton_pub, cropped_pub), roi, skeleton, crop in zip(
                    pubs, frame.rois, frame.skeletons, frame.crops):
                roi_pub.publish(roi)
                skeleton_pub.publish(skeleton)
                if crop is not None:
                    cropped_pub.publish(crop)
            self._tracked_pub.publish(frame.tracked)
            if frame.tf is not None:
                self._tf.pub_tf.publish(frame.tf)

    def clear(self, stamp: tuple[int, int], frame_id: str = '') -> None:
        """Forget every body: destroy its publishers and publish an empty ``tracked``."""
        with self._lock:
            if self._destroyed:
                return
            self._drop_bodies(set())
            self._tracked_pub.publish(encode_ids_list(stamp[0], stamp[1], frame_id, ()))

    def destroy(self) -> None:
        """Destroy every publisher of the output (the node stays)."""
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
            self._drop_bodies(set())
            self._node.destroy_publisher(self._tracked_pub)
            self._node.destroy_publisher(self._tf.pub_tf)
