"""ROS4HRI messages (``hri_msgs``) and TF from the arrays of :mod:`humanpose.hri`.

Two equal ways, as for our own messages (:mod:`humanpose.ros.messages`,
:mod:`humanpose.ros.cdr`):

- message objects through a *message namespace* (rclpy's generated classes, or a rosbags
  typestore that holds the ``hri_msgs`` definitions): the conversion of record;
- CDR bytes written straight from the arrays, which the node publishes (rclpy publishes
  bytes on Humble and Jazzy) because a Skeleton2D of 18 point objects per person, and a
  TransformStamped per joint, cost more than the whole mapping. Tests keep the bytes equal
  to rosbags' serialisation of the message objects, with the real ``hri_msgs`` definitions.

``hri_msgs`` is needed only where messages are built: importing this module needs neither
ROS nor ``hri_msgs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import HumanPoseError
from humanpose.hri import (body_frames, crop_windows, normalised_rois, skeleton2d,
                           tf_transforms)
from humanpose.ros.cdr import CDR_LE_HEADER, CdrWriter
from humanpose.ros.messages import generated_namespace, MessageNamespace, TYPE_NAMES
from humanpose.types import Poses

#: The hri_msgs messages the body output uses, in dependency order.
HRI_MESSAGES: tuple[str, ...] = ('IdsList', 'NormalizedPointOfInterest2D',
                                 'NormalizedRegionOfInterest2D', 'Skeleton2D')

#: Short name -> full ROS 2 type name of the messages the ROS4HRI output builds.
HRI_TYPE_NAMES: dict[str, str] = {
    **{name: f'hri_msgs/msg/{name}' for name in HRI_MESSAGES},
    'TFMessage': 'tf2_msgs/msg/TFMessage',
    'TransformStamped': 'geometry_msgs/msg/TransformStamped',
    'Transform': 'geometry_msgs/msg/Transform',
    **{short: TYPE_NAMES[short] for short in ('Time', 'Header', 'Vector3', 'Quaternion',
                                              'Image')},
}

#: What to install when hri_msgs is missing (one line, for logs).
INSTALL_HINT = ('install ROS4HRI messages: sudo apt install ros-$ROS_DISTRO-hri-msgs '
                '(rosdep key hri_msgs), then restart the node')


class HriUnavailableError(HumanPoseError):
    """The ROS4HRI output was asked for but ``hri_msgs`` (or tf2_ros) cannot be imported."""


def rclpy_hri_namespace() -> MessageNamespace:
    """Return the message namespace of the generated hri_msgs / tf2_msgs / std classes.

    :raises HriUnavailableError: a message package is not importable; the message says
        what to install.
    """
    def missing(package: str, err: ImportError) -> HriUnavailableError:
        return HriUnavailableError(
            f'hri is on but {package}.msg cannot be imported ({err}): ' + INSTALL_HINT
            if package == 'hri_msgs' else
            f'hri is on but {package}.msg cannot be imported ({err}): source ROS 2')

    return generated_namespace(HRI_TYPE_NAMES, missing)


def hri_message_dir(directory: Optional[Path] = None) -> Path:
    """Return the directory of the ``hri_msgs`` ``.msg`` files.

    :param directory: where to look; default the installed package (ament index).
    :raises HriUnavailableError: not found.
    """
    candidates = [directory] if directory is not None else []
    if directory is None:
        try:
            from ament_index_python.packages import get_package_share_directory
            candidates.append(Path(get_package_share_directory('hri_msgs')) / 'msg')
        except Exception:  # not a ROS environment, or hri_msgs not installed
            pass
    for path in candidates:
        if path is not None and all((path / f'{name}.msg').is_file() for name in HRI_MESSAGES):
            return path
    raise HriUnavailableError(f'cannot find the hri_msgs definitions ({", ".join(HRI_MESSAGES)}'
                              f'.msg) in {directory or "the ament index"}; ' + INSTALL_HINT)


def hri_typestore(directory: Optional[Path] = None, distro: str = 'humble') -> Any:
    """Return a rosbags typestore with the standard types, ours and ``hri_msgs``.

    :param directory: the ``hri_msgs/msg`` directory (see :func:`hri_message_dir`).
    :param distro: ROS 2 distribution of the standard types.
    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    from humanpose.ros.messages import message_definitions

    msg_dir = hri_message_dir(directory)
    try:
        store = get_typestore(getattr(Stores, f'ROS2_{distro.upper()}'))
    except AttributeError:
        raise HumanPoseError(f'rosbags does not know ROS 2 {distro!r}') from None
    texts = {**message_definitions(), **{
        f'hri_msgs/msg/{name}': (msg_dir / f'{name}.msg').read_text('utf-8')
        for name in HRI_MESSAGES}}
    types: dict[str, Any] = {}
    for typename, text in texts.items():
        types.update(get_types_from_msg(text, typename))
    store.register(types)
    return store


def rosbags_hri_namespace(store: Any) -> MessageNamespace:
    """Return the message namespace over a typestore from :func:`hri_typestore`."""
    from humanpose.ros.messages import _rosbags_default_fields

    classes = {short: store.types[full] for short, full in HRI_TYPE_NAMES.items()}
    fields = {short: frozenset(name for name, _ in store.fielddefs[full][1])
              for short, full in HRI_TYPE_NAMES.items()}
    return MessageNamespace(
        classes, lambda short: _rosbags_default_fields(store, HRI_TYPE_NAMES[short]), fields)


# --- message objects (the conversion of record) -------------------------------------------


def _header(ns: MessageNamespace, header: Any) -> Any:
    return ns.Header(stamp=ns.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                     frame_id=header.frame_id)


def ids_list_msg(ns: MessageNamespace, header: Any, ids: Sequence[str]) -> Any:
    """Return an ``hri_msgs/IdsList`` of ``ids`` with (a copy of) ``header``."""
    return ns.IdsList(header=_header(ns, header), ids=list(ids))


def roi_msg(ns: MessageNamespace, header: Any, roi: NDArray[np.float32]) -> Any:
    """Return an ``hri_msgs/NormalizedRegionOfInterest2D`` of one row of ``normalised_rois``."""
    xmin, ymin, xmax, ymax, c = (float(v) for v in roi)
    return ns.NormalizedRegionOfInterest2D(header=_header(ns, header), xmin=xmin, ymin=ymin,
                                           xmax=xmax, ymax=ymax, c=c)


def skeleton2d_msg(ns: MessageNamespace, header: Any, points: NDArray[np.float32]) -> Any:
    """Return an ``hri_msgs/Skeleton2D`` of one person's (18, 3) ``skeleton2d`` points."""
    poi = ns.NormalizedPointOfInterest2D
    return ns.Skeleton2D(header=_header(ns, header), skeleton=[
        poi(x=float(x), y=float(y), c=float(c)) for x, y, c in points.tolist()])


def tf_message(ns: MessageNamespace, header: Any, parents: Sequence[str],
               children: Sequence[str], values: NDArray[np.float64]) -> Any:
    """Return a ``tf2_msgs/TFMessage`` of :func:`humanpose.hri.tf_transforms` output.

    Every transform carries ``header``'s stamp; its frame_id is the parent.
    """
    transforms = []
    for parent, child, row in zip(parents, children, values.tolist()):
        transforms.append(ns.TransformStamped(
            header=ns.Header(stamp=ns.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                             frame_id=parent),
            child_frame_id=child,
            transform=ns.Transform(translation=ns.Vector3(x=row[0], y=row[1], z=row[2]),
                                   rotation=ns.Quaternion(x=row[3], y=row[4], z=row[5],
                                                          w=row[6]))))
    return ns.TFMessage(transforms=transforms)


# --- CDR bytes (what the node publishes) ---------------------------------------------------


def _header_writer(sec: int, nanosec: int, frame_id: str) -> CdrWriter:
    w = CdrWriter()
    w.stamp(sec, nanosec)
    w.string(frame_id)
    return w


def _prefix(sec: int, nanosec: int, frame_id: str) -> bytes:
    """Return the bytes a message of a header and 4-byte fields starts with (padded)."""
    w = _header_writer(sec, nanosec, frame_id)
    w.align(4)
    return w.bytes()


def encode_ids_list(sec: int, nanosec: int, frame_id: str, ids: Sequence[str]) -> bytes:
    """Return the CDR bytes of :func:`ids_list_msg`."""
    w = _header_writer(sec, nanosec, frame_id)
    w.u32(len(ids))
    for text in ids:
        w.string(text)
    return w.bytes()


def encode_roi(sec: int, nanosec: int, frame_id: str, roi: NDArray[np.float32]) -> bytes:
    """Return the CDR bytes of :func:`roi_msg`."""
    return _prefix(sec, nanosec, frame_id) + np.asarray(roi, '<f4').tobytes()


def encode_skeleton2d(sec: int, nanosec: int, frame_id: str,
                      points: NDArray[np.float32]) -> bytes:
    """Return the CDR bytes of :func:`skeleton2d_msg` (a fixed array: no count)."""
    return _prefix(sec, nanosec, frame_id) + np.ascontiguousarray(points, '<f4').tobytes()


def encode_tf_message(sec: int, nanosec: int, parents: Sequence[str], children: Sequence[str],
                      values: NDArray[np.float64]) -> bytes:
    """Return the CDR bytes of :func:`tf_message`.

    The layout of a set of frame names is made once (:func:`_tf_layout`); each call writes
    the stamps and the values into a copy of it with two array assignments.
    """
    template, stamp_at, value_at = _tf_layout(tuple(parents), tuple(children))
    data = np.frombuffer(bytearray(template), np.uint8)
    if len(stamp_at):
        stamp = np.frombuffer(np.int32(sec).tobytes() + np.uint32(nanosec).tobytes(), np.uint8)
        data[stamp_at[:, None] + np.arange(8)] = stamp
        rows = np.ascontiguousarray(values, '<f8').view(np.uint8).reshape(-1, 56)
        data[value_at[:, None] + np.arange(56)] = rows
    return data.tobytes()


@lru_cache(maxsize=32)
def _tf_layout(parents: tuple[str, ...], children: tuple[str, ...]
               ) -> tuple[bytes, NDArray[np.intp], NDArray[np.intp]]:
    """Return a TFMessage of these frames with zero stamps and values, and where they go.

    :return: the bytes, the byte offset of each transform's stamp and of its 7 float64
        (translation, rotation).
    """
    w = CdrWriter()
    w.u32(len(parents))
    stamps: list[int] = []
    values: list[int] = []
    start = len(CDR_LE_HEADER)  # offsets count from after the encapsulation header
    for parent, child in zip(parents, children):
        w.align(4)
        stamps.append(start + w.offset)
        w.raw(bytes(8))
        w.string(parent)
        w.string(child)
        w.align(8)
        values.append(start + w.offset)
        w.raw(bytes(56))
    return w.bytes(), np.array(stamps, np.intp), np.array(values, np.intp)


def encode_rgb8_image(sec: int, nanosec: int, frame_id: str, rgb: NDArray[np.uint8]) -> bytes:
    """Return the CDR bytes of an ``rgb8`` sensor_msgs/Image of ``rgb`` (H, W, 3), unpadded."""
    height, width = rgb.shape[:2]
    w = _header_writer(sec, nanosec, frame_id)
    w.u32(height)
    w.u32(width)
    w.string('rgb8')
    w.raw(b'\x00')  # is_bigendian
    w.u32(width * 3)
    w.u32(height * width * 3)
    w.raw(np.ascontiguousarray(rgb).tobytes())  # the one copy of the crop
    return w.bytes()


@dataclass(frozen=True)
class HriFrame:
    """The CDR bytes of one image's ROS4HRI output (see :func:`encode_hri_frame`).

    :param ids: body ids, in the order of the lists below.
    :param tracked: ``humans/bodies/tracked`` (IdsList).
    :param rois: per body, ``humans/bodies/<id>/roi``.
    :param skeletons: per body, ``humans/bodies/<id>/skeleton2d``.
    :param crops: per body, ``humans/bodies/<id>/cropped`` (rgb8 Image), None where not
        asked for.
    :param tf: the TFMessage of the body frames, or None without 3D.
    """

    ids: tuple[str, ...]
    tracked: bytes
    rois: list[bytes]
    skeletons: list[bytes]
    crops: list[Optional[bytes]]
    tf: Optional[bytes]


def encode_hri_frame(people: Poses, ids: tuple[str, ...], stamp: tuple[int, int],
                     frame_id: str, size: tuple[int, int],
                     rgb: Optional[NDArray[np.uint8]] = None,
                     crop_mask: Optional[Sequence[bool]] = None) -> HriFrame:
    """Return every message of one image's ROS4HRI output as CDR bytes.

    :param people: the tracked people (:func:`humanpose.hri.tracked_people`).
    :param ids: their body ids.
    :param stamp: (sec, nanosec) of the source image; every message carries it.
    :param frame_id: the source image's frame (parent of the body frames).
    :param size: (width, height) of the image.
    :param rgb: (H, W, 3) RGB image to crop, or None for no ``cropped``.
    :param crop_mask: per body, whether to crop it (default: all, when ``rgb`` is given).
    """
    width, height = size
    sec, nanosec = stamp
    points = skeleton2d(people, width, height)
    rois = normalised_rois(people, width, height)
    crops: list[Optional[bytes]] = [None] * len(ids)
    if rgb is not None:
        windows = crop_windows(people.boxes, width, height).tolist()
        for i, (x0, y0, x1, y1) in enumerate(windows):
            if crop_mask is None or crop_mask[i]:
                crops[i] = encode_rgb8_image(sec, nanosec, frame_id, rgb[y0:y1, x0:x1])
    frames = body_frames(people)
    tf = None
    if frames is not None and frames.valid.any():
        parents, children, values = tf_transforms(frames, ids, frame_id)
        tf = encode_tf_message(sec, nanosec, parents, children, values)
    prefix = _prefix(sec, nanosec, frame_id)  # the same header starts every message
    return HriFrame(
        ids=ids, tracked=encode_ids_list(sec, nanosec, frame_id, ids),
        rois=[prefix + roi.tobytes() for roi in rois.astype('<f4')],
        skeletons=[prefix + p.tobytes() for p in points.astype('<f4')],
        crops=crops, tf=tf)
