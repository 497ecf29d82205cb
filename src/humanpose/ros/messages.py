"""Message layer without ROS: our message definitions, a rosbags typestore, conversions.

The conversion from core results to ``pose_bringup/msg/HumanPoseArray`` is a pure function
of the results and a *message namespace*: an object that hands out message classes by
their short name (``ns.HumanPose``) and builds messages with defaults (``ns.new('Marker',
...)``). In the node the namespace wraps the generated rclpy modules; in tests and in the
bag writer it wraps a `rosbags` typestore built from our own ``msg/*.msg`` files. One
code path serves all three.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module, resources
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from humanpose.errors import HumanPoseError
from humanpose.ros.cdr import residual_3d_of, source_3d_of
from humanpose.types import Poses

PACKAGE = 'pose_bringup'
#: Our messages, in dependency order.
MESSAGE_NAMES: tuple[str, ...] = ('Keypoint2D', 'Keypoint3D', 'HumanPose', 'HumanPoseArray',
                                  'HumanCues', 'HumanCuesArray')

#: Short name -> full ROS 2 type name of every message humanpose builds or reads.
TYPE_NAMES: dict[str, str] = {
    **{name: f'{PACKAGE}/msg/{name}' for name in MESSAGE_NAMES},
    'Time': 'builtin_interfaces/msg/Time',
    'Duration': 'builtin_interfaces/msg/Duration',
    'Header': 'std_msgs/msg/Header',
    'ColorRGBA': 'std_msgs/msg/ColorRGBA',
    'Point': 'geometry_msgs/msg/Point',
    'Pose': 'geometry_msgs/msg/Pose',
    'Quaternion': 'geometry_msgs/msg/Quaternion',
    'Vector3': 'geometry_msgs/msg/Vector3',
    'Marker': 'visualization_msgs/msg/Marker',
    'MarkerArray': 'visualization_msgs/msg/MarkerArray',
    'Image': 'sensor_msgs/msg/Image',
    'CompressedImage': 'sensor_msgs/msg/CompressedImage',
    'CameraInfo': 'sensor_msgs/msg/CameraInfo',
    'DiagnosticArray': 'diagnostic_msgs/msg/DiagnosticArray',
    'DiagnosticStatus': 'diagnostic_msgs/msg/DiagnosticStatus',
    'KeyValue': 'diagnostic_msgs/msg/KeyValue',
}


def _message_dirs() -> list[Path]:
    """Places our .msg files may be, most specific first.

    A wheel carries them as ``humanpose/msg`` (setup.py copies them); a source checkout
    (editable install, tests) has them at the repository root; a colcon install has them
    in the package's share directory.
    """
    dirs = [Path(str(resources.files('humanpose').joinpath('msg')))]
    dirs.append(Path(__file__).resolve().parents[3] / 'msg')
    try:
        from ament_index_python.packages import get_package_share_directory
        dirs.append(Path(get_package_share_directory(PACKAGE)) / 'msg')
    except Exception:  # not a ROS environment, or the package is not installed there
        pass
    return dirs


@lru_cache(maxsize=1)
def message_definitions() -> dict[str, str]:
    """Return ``pose_bringup/msg/<Name>`` -> the text of our ``msg/<Name>.msg``.

    :raises HumanPoseError: the definitions cannot be found (a broken install).
    """
    for directory in _message_dirs():
        if all((directory / f'{name}.msg').is_file() for name in MESSAGE_NAMES):
            return {f'{PACKAGE}/msg/{name}': (directory / f'{name}.msg').read_text('utf-8')
                    for name in MESSAGE_NAMES}
    searched = ', '.join(str(d) for d in _message_dirs())
    raise HumanPoseError(
        f'cannot find the pose_bringup message definitions ({", ".join(MESSAGE_NAMES)}.msg) '
        f'in {searched}; reinstall humanpose (pip install .) from a full checkout')


@lru_cache(maxsize=4)
def build_typestore(distro: str = 'humble') -> Any:
    """Return a rosbags typestore with the standard ROS 2 types of ``distro`` plus ours.

    :param distro: ``humble``, ``jazzy`` or any other distribution rosbags knows.
    """
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    try:
        store = get_typestore(getattr(Stores, f'ROS2_{distro.upper()}'))
    except AttributeError:
        raise HumanPoseError(f'rosbags does not know ROS 2 {distro!r}') from None
    types: dict[str, Any] = {}
    for typename, text in message_definitions().items():
        types.update(get_types_from_msg(text, typename))
    store.register(types)
    return store


class MessageNamespace:
    """Message classes by short name, plus a constructor that fills unset fields.

    :param classes: short name (see :data:`TYPE_NAMES`) -> message class.
    :param defaults: builds the keyword arguments of a message with every field at its
        default value, or None where the classes default their fields themselves (rclpy).
    :param fields: short name -> the field names the class has.
    """

    def __init__(self, classes: Mapping[str, Any],
                 defaults: Callable[[str], dict[str, Any]] | None,
                 fields: Mapping[str, frozenset[str]]) -> None:
        self._classes = dict(classes)
        self._defaults = defaults
        self._fields = dict(fields)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__['_classes'][name]
        except KeyError:
            raise AttributeError(f'message namespace has no type {name!r}') from None

    def new(self, name: str, /, **values: Any) -> Any:
        """Build message ``name`` from ``values``; unset fields take their defaults.

        Fields a distribution's message lacks are dropped, so the same call works on
        Humble and Jazzy definitions.
        """
        known = self._fields[name]
        values = {k: v for k, v in values.items() if k in known}
        if self._defaults is not None:
            values = {**self._defaults(name), **values}
        return self._classes[name](**values)


def _rosbags_default(store: Any, typename: str) -> Any:
    """Return a default-valued message of ``typename`` as the rosbags class."""
    return store.types[typename](**_rosbags_default_fields(store, typename))


_NUMPY_DTYPES = {'bool': np.bool_, 'byte': np.uint8, 'char': np.uint8, 'int8': np.int8,
                 'uint8': np.uint8, 'int16': np.int16, 'uint16': np.uint16, 'int32': np.int32,
                 'uint32': np.uint32, 'int64': np.int64, 'uint64': np.uint64,
                 'float32': np.float32, 'float64': np.float64}


def _rosbags_default_value(store: Any, desc: tuple[Any, Any]) -> Any:
    from rosbags.interfaces import Nodetype

    kind, spec = desc
    if kind == Nodetype.BASE:
        basetype = spec[0]
        if basetype == 'string':
            return ''
        if basetype == 'bool':
            return False
        return 0.0 if basetype.startswith('float') else 0
    if kind == Nodetype.NAME:
        return _rosbags_default(store, spec)
    subdesc, length = spec
    is_primitive = subdesc[0] == Nodetype.BASE and subdesc[1][0] != 'string'
    count = length if kind == Nodetype.ARRAY else 0
    if is_primitive:
        return np.zeros(count, dtype=_NUMPY_DTYPES[subdesc[1][0]])
    return [_rosbags_default_value(store, subdesc) for _ in range(count)]


def _rosbags_default_fields(store: Any, typename: str) -> dict[str, Any]:
    _, fields = store.fielddefs[typename]
    return {name: _rosbags_default_value(store, desc) for name, desc in fields}


def rosbags_namespace(store: Any | None = None) -> MessageNamespace:
    """Return the message namespace over a rosbags typestore (default: Humble + ours)."""
    store = store if store is not None else build_typestore()
    classes = {short: store.types[full] for short, full in TYPE_NAMES.items()}
    fields = {short: frozenset(name for name, _ in store.fielddefs[full][1])
              for short, full in TYPE_NAMES.items()}
    return MessageNamespace(
        classes, lambda short: _rosbags_default_fields(store, TYPE_NAMES[short]), fields)


def rclpy_namespace() -> MessageNamespace:
    """Return the message namespace over the generated rclpy message modules.

    :raises HumanPoseError: a message package is not importable (ROS 2 not sourced, or
        pose_bringup not built).
    """
    def missing(package: str, err: ImportError) -> HumanPoseError:
        return HumanPoseError(
            f'cannot import {package}.msg ({err}); source your ROS 2 setup and the '
            'workspace that built pose_bringup (source install/setup.bash)')

    return generated_namespace(TYPE_NAMES, missing)


def generated_namespace(type_names: dict[str, str],
                        missing: Callable[[str, ImportError], HumanPoseError]
                        ) -> MessageNamespace:
    """Return the namespace of the generated (rclpy) classes of ``type_names``.

    :param type_names: short name -> ``package/msg/Name``.
    :param missing: builds the error raised when a package's messages cannot be imported.
    :raises HumanPoseError: the one ``missing`` built, from the ImportError.
    """
    classes: dict[str, Any] = {}
    for short, full in type_names.items():
        package, _, name = full.split('/')
        try:
            classes[short] = getattr(import_module(f'{package}.msg'), name)
        except ImportError as err:
            raise missing(package, err) from err
    fields = {short: frozenset(cls.get_fields_and_field_types()) for short, cls in classes.items()}
    return MessageNamespace(classes, None, fields)


def stamp_to_ns(stamp: Any) -> int:
    """Return a builtin_interfaces/Time as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def make_header(ns: MessageNamespace, stamp_ns: int, frame_id: str) -> Any:
    """Build a std_msgs/Header for ``stamp_ns`` nanoseconds and ``frame_id``."""
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return ns.Header(stamp=ns.Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def poses_to_msg(poses: Poses, ns: MessageNamespace, header: Any) -> Any:
    """Convert core results to a ``pose_bringup/msg/HumanPoseArray``.

    :param poses: results of one image.
    :param ns: message namespace (rclpy or rosbags).
    :param header: the source image's std_msgs/Header (from the same namespace); copied.
    :return: the HumanPoseArray message.
    """
    kp2d = ns.Keypoint2D
    kp3d = ns.Keypoint3D
    point = ns.Point
    xs = poses.keypoints[..., 0].tolist()
    ys = poses.keypoints[..., 1].tolist()
    confidence = np.clip(poses.confidence, 0.0, 1.0).tolist()
    has_3d = poses.keypoints_3d is not None and poses.confidence_3d is not None
    if has_3d:
        assert poses.keypoints_3d is not None and poses.confidence_3d is not None
        p3 = poses.keypoints_3d.astype(np.float64).tolist()
        c3 = np.clip(poses.confidence_3d, 0.0, 1.0).tolist()
    ids = poses.ids if poses.ids else ('',) * len(poses)
    box_scores = np.clip(poses.box_scores, 0.0, 1.0).tolist()
    sources = source_3d_of(poses).tolist()
    residuals = residual_3d_of(poses).tolist()
    humans = []
    for i in range(len(poses)):
        keypoints = [kp2d(x=x, y=y, confidence=c) for x, y, c in zip(xs[i], ys[i], confidence[i])]
        keypoints_3d = ([kp3d(position=point(x=p[0], y=p[1], z=p[2]), confidence=c)
                         for p, c in zip(p3[i], c3[i])] if has_3d else [])
        humans.append(ns.HumanPose(
            id=ids[i], score=box_scores[i], bbox=poses.boxes[i].astype(np.float32),
            keypoints=keypoints, keypoints_3d=keypoints_3d, source_3d=sources[i],
            residual_3d=residuals[i]))
    header_copy = ns.Header(stamp=ns.Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                            frame_id=header.frame_id)
    return ns.HumanPoseArray(header=header_copy, skeleton=poses.skeleton, humans=humans,
                             intrinsics_assumed=bool(poses.intrinsics_assumed))


def msg_to_poses(msg: Any) -> Poses:
    """Convert a HumanPoseArray (any namespace) back to :class:`Poses`.

    Raw scores are not part of the message; they come back equal to the confidence.
    """
    humans = list(msg.humans)
    assumed = bool(getattr(msg, 'intrinsics_assumed', False))
    if not humans:
        from dataclasses import replace

        from humanpose.skeletons import get_skeleton
        try:
            k = get_skeleton(msg.skeleton).num_keypoints
        except HumanPoseError:
            k = 0
        return replace(Poses.empty(msg.skeleton, k), intrinsics_assumed=assumed)
    kps = np.array([[(k.x, k.y) for k in h.keypoints] for h in humans], np.float32)
    conf = np.array([[k.confidence for k in h.keypoints] for h in humans], np.float32)
    has_3d = all(len(h.keypoints_3d) for h in humans)
    kp3 = c3 = None
    if has_3d:
        kp3 = np.array([[(k.position.x, k.position.y, k.position.z) for k in h.keypoints_3d]
                        for h in humans], np.float32)
        c3 = np.array([[k.confidence for k in h.keypoints_3d] for h in humans], np.float32)
    return Poses(
        keypoints=kps, confidence=conf, scores=conf.copy(),
        boxes=np.array([np.asarray(h.bbox, np.float32) for h in humans], np.float32),
        box_scores=np.array([h.score for h in humans], np.float32),
        skeleton=msg.skeleton, ids=tuple(h.id for h in humans),
        keypoints_3d=kp3, confidence_3d=c3,
        source_3d=np.array([getattr(h, 'source_3d', 0) for h in humans], np.uint8),
        residual_3d=np.array([getattr(h, 'residual_3d', np.nan) for h in humans], np.float32),
        intrinsics_assumed=assumed)
